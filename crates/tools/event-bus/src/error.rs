//! What can go wrong when a plugin uses the bus, in words that say the fix.

use std::time::Duration;

use microcore_kernel::ToolFailure;

use crate::EventBus;

/// An event bus call that did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The transport (e.g. NATS) cannot be reached.
    #[error("event bus unavailable ({driver} driver): {reason}")]
    Unavailable {
        /// The active driver.
        driver: &'static str,
        /// What the transport said.
        reason: String,
    },
    /// Nobody answered a request in time.
    #[error(
        "no reply to `{event}` within {timeout:?}: no subscriber answered; check that a plugin \
         subscribes to `{event}` and returns a value (not `()`)"
    )]
    Timeout {
        /// The requested event.
        event: String,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The bus is draining or shut down.
    #[error("event bus is shutting down: `{event}` was not published")]
    Closed {
        /// The refused event.
        event: String,
    },
    /// The bus holds as much as its bounds allow: a subscriber's queue
    /// (`EVENT_BUS_MAX_QUEUED`) or the delayed events (`EVENT_BUS_MAX_DELAYED`).
    #[error("`{event}` was not taken in full: {reason}")]
    Full {
        /// The refused event.
        event: String,
        /// Which bound is reached and what to do.
        reason: String,
    },
    /// The options contradict each other.
    #[error("invalid options for `{event}`: {reason}")]
    InvalidOptions {
        /// The event subscribed to or published.
        event: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The payload could not be turned into JSON.
    #[error("payload of `{event}` cannot be serialized to JSON: {source}")]
    Serialize {
        /// The event.
        event: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// The responder answered the request with an error: branch on `code`.
    ///
    /// A handler refuses with [`ReplyError`](crate::ReplyError) (or
    /// [`bail_reply!`](crate::bail_reply)); any other handler error arrives
    /// as code [`ReplyError::INTERNAL`](crate::ReplyError::INTERNAL).
    #[error("`{from}` answered `{event}` with error `{code}`: {message}")]
    Replied {
        /// The requested event.
        event: String,
        /// The replying subscriber (`"<plugin>.<method>"`).
        from: String,
        /// The responder's machine-readable code (`not_found`, `internal`, ...).
        code: String,
        /// The responder's message, for a person.
        message: String,
    },
    /// A reply arrived but is not the type the caller asked for.
    #[error("reply to `{event}` from `{from}` is not a `{expected}`: {source}")]
    BadReply {
        /// The requested event.
        event: String,
        /// The replying subscriber.
        from: String,
        /// The type the caller expected.
        expected: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
}

#[microcore_kernel::contract(of = EventBus)]
impl BusError {
    /// Returns the responder's error code when this is `BusError::Replied`, else `None`.
    pub fn reply_code(&self) -> Option<&str> {
        match self {
            Self::Replied { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl ToolFailure for BusError {
    fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// A full bound is the bus's load, not the caller's mistake.
    fn is_caller_error(&self) -> bool {
        !matches!(self, Self::Unavailable { .. } | Self::Full { .. })
    }

    /// Every injected failure reads as the transport being out of reach; the
    /// probe counts a flaky one as a failure, not as "DEAD at once".
    fn injected(fault: &microcore_kernel::InjectedFault) -> Option<Self> {
        Some(Self::Unavailable {
            driver: "chaos",
            reason: fault.message().to_owned(),
        })
    }
}
