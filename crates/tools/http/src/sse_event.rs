//! One Server-Sent Event as a plugin builds it. Our own type rather than
//! axum's `Event`: axum panics on a newline in a name or id and on a second
//! `.id()`, and a panic inside a running stream would drop the connection.
//! Here text is cleaned and the last call wins.

use std::time::Duration;

use axum::response::sse::Event;
use serde::Serialize;

/// One Server-Sent Event: `SseEvent::data("text").event("tick").id("1")`, or `SseEvent::json(&value)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    data: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    comment: Option<String>,
}

#[microcore_kernel::contract(of = crate::Http)]
impl SseEvent {
    /// An event whose data is `text`; newlines become several `data:` lines, as the format says.
    pub fn data(text: impl Into<String>) -> Self {
        Self {
            data: Some(text.into()),
            ..Self::default()
        }
    }

    /// An event whose data is `value` as one line of JSON.
    ///
    /// A value that cannot be serialized is logged and sent as `null`.
    pub fn json(value: &impl Serialize) -> Self {
        let text = serde_json::to_string(value).unwrap_or_else(|e| {
            tracing::error!("SseEvent::json: the value could not be serialized: {e}");
            "null".to_owned()
        });
        Self::data(text)
    }

    /// A comment line (`: text`) that clients ignore, e.g. to show the stream is alive.
    #[not_in_manifest]
    pub fn comment(text: impl Into<String>) -> Self {
        Self {
            comment: Some(text.into()),
            ..Self::default()
        }
    }

    /// Names the event, so the browser fires `addEventListener(name, ..)` instead of `message`.
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }

    /// Sets the event id, which the browser sends back as `Last-Event-ID` when it reconnects.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Tells the browser how long to wait before reconnecting after the stream drops.
    #[not_in_manifest]
    pub fn retry(mut self, after: Duration) -> Self {
        self.retry = Some(after);
        self
    }
}

impl SseEvent {
    /// The axum event, with line breaks (and NULs in the id) replaced by spaces.
    pub(crate) fn into_axum(self) -> Event {
        let one_line = |s: String| s.replace(['\r', '\n', '\0'], " ");
        let mut event = Event::default();
        if let Some(c) = self.comment {
            event = event.comment(one_line(c));
        }
        if let Some(name) = self.event {
            event = event.event(one_line(name));
        }
        if let Some(id) = self.id {
            event = event.id(one_line(id));
        }
        if let Some(retry) = self.retry {
            event = event.retry(retry);
        }
        if let Some(data) = self.data {
            event = event.data(data);
        }
        event
    }
}
