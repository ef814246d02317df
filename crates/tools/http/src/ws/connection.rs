//! What a WebSocket handler holds: the connection, who opened it, and a
//! cloneable sender for pushing from other tasks.

use std::sync::Arc;

use http::HeaderMap;
use microcore_kernel::Claims;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::error::{HttpError, HttpResult};

/// A frame the handler asks the pump to send.
pub(crate) enum Outgoing {
    Text(String),
    Close(u16, String),
}

/// Who opened the socket and with what URL.
pub(crate) struct Meta {
    pub(crate) request_id: String,
    pub(crate) claims: Option<Claims>,
    pub(crate) token: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) path: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
}

/// Why a WebSocket operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The peer left, the handler closed the socket, or the server is
    /// shutting down. Stop sending and return from the handler.
    #[error(
        "the WebSocket is closed (the peer left, the handler closed it, or the server is shutting down); return from the handler"
    )]
    Closed,
    /// A received message is not the JSON `recv_json` was asked for.
    #[error(
        "the message is not valid JSON for `{target}`: {reason}; answer with an error message or close with 1007"
    )]
    Json {
        /// The type asked for.
        target: &'static str,
        /// What serde said.
        reason: String,
    },
    /// A value given to `send_json` cannot be serialized.
    #[error("the value given to send_json cannot be serialized to JSON: {0}")]
    Serialize(String),
    /// A close code the protocol does not let an endpoint send.
    #[error(
        "close code {0} cannot be sent; use 1000 (normal), 1001 (going away), 1008 (policy), 1011 (server error) or an application code in 3000..=4999"
    )]
    InvalidCloseCode(u16),
}

/// Sends to one socket from anywhere (another task, an event subscriber).
/// Cheap to clone; every clone fails with [`WsError::Closed`] once the socket is gone.
#[derive(Clone, Debug)]
pub struct WsSender {
    out: mpsc::Sender<Outgoing>,
}

impl WsSender {
    /// Sends a text message.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), WsError> {
        self.out
            .send(Outgoing::Text(text.into()))
            .await
            .map_err(|_| WsError::Closed)
    }

    /// Sends `value` as one JSON text message.
    pub async fn send_json<T: Serialize>(&self, value: T) -> Result<(), WsError> {
        let text = serde_json::to_string(&value).map_err(|e| WsError::Serialize(e.to_string()))?;
        self.send_text(text).await
    }

    /// Whether the socket is gone (sending would fail).
    pub fn is_closed(&self) -> bool {
        self.out.is_closed()
    }
}

/// An open WebSocket, handed to the handler after a successful upgrade.
///
/// Read with [`recv_text`](Self::recv_text) / [`recv_json`](Self::recv_json)
/// until they return `None` (the peer closed, or the server is shutting
/// down), then return. Returning `Ok(())` closes with 1000; an `Err` with a
/// 4xx [`HttpError`] closes with 1008 and its message as the reason; any other
/// error or a panic closes with 1011 and is logged.
pub struct WsConnection {
    meta: Arc<Meta>,
    incoming: mpsc::Receiver<String>,
    sender: WsSender,
    closed: bool,
}

impl std::fmt::Debug for WsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConnection")
            .field("request_id", &self.meta.request_id)
            .field("authenticated", &self.meta.claims.is_some())
            .field("closed", &self.closed)
            .finish()
    }
}

/// The reason text of a close frame is at most 123 bytes.
const MAX_REASON: usize = 123;

/// Whether an endpoint may send `code` in a close frame (RFC 6455 §7.4).
pub(crate) fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// `reason` cut at a character boundary to fit a close frame.
pub(crate) fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

impl WsConnection {
    pub(crate) fn new(
        meta: Arc<Meta>,
        incoming: mpsc::Receiver<String>,
        out: mpsc::Sender<Outgoing>,
    ) -> Self {
        Self {
            meta,
            incoming,
            sender: WsSender { out },
            closed: false,
        }
    }

    /// The next text message; `None` once the peer closed, the handler
    /// closed, or the server is shutting down. A binary message closes the
    /// socket with 1003 and an oversize one with 1009 (`None` here).
    pub async fn recv_text(&mut self) -> Option<String> {
        if self.closed {
            return None;
        }
        let next = self.incoming.recv().await;
        if next.is_none() {
            self.closed = true;
        }
        next
    }

    /// The next message parsed as JSON `T`; `None` as for
    /// [`recv_text`](Self::recv_text). A message that does not parse is
    /// `Some(Err(..))` and the socket stays open, so the handler can answer it.
    pub async fn recv_json<T: DeserializeOwned>(&mut self) -> Option<Result<T, WsError>> {
        let text = self.recv_text().await?;
        Some(serde_json::from_str(&text).map_err(|e| WsError::Json {
            target: std::any::type_name::<T>(),
            reason: e.to_string(),
        }))
    }

    /// Sends a text message.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), WsError> {
        if self.closed {
            return Err(WsError::Closed);
        }
        self.sender.send_text(text).await
    }

    /// Sends `value` as one JSON text message.
    pub async fn send_json<T: Serialize>(&self, value: T) -> Result<(), WsError> {
        if self.closed {
            return Err(WsError::Closed);
        }
        self.sender.send_json(value).await
    }

    /// Closes with `code` (1000 normal, 1008 policy, 3000..=4999 your own).
    pub async fn close(&mut self, code: u16) -> Result<(), WsError> {
        self.close_with(code, "").await
    }

    /// The verified token's claims on an auth route.
    pub fn claims(&self) -> Option<&Claims> {
        self.meta.claims.as_ref()
    }

    /// The verified claims, or 401 when the route is not authenticated.
    pub fn user(&self) -> HttpResult<Claims> {
        self.meta
            .claims
            .clone()
            .ok_or_else(|| HttpError::unauthorized("Missing authorization token"))
    }

    /// The raw token of an auth route.
    pub fn token(&self) -> Option<&str> {
        self.meta.token.as_deref()
    }

    /// The id of the upgrade request (from `X-Request-ID`, or generated);
    /// also the parent id of every event published by the handler.
    pub fn request_id(&self) -> &str {
        &self.meta.request_id
    }

    /// A path parameter (`{room}` in `/chat/{room}`), as text.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        find(&self.meta.path, name)
    }

    /// A query parameter of the upgrade URL (the first, if repeated).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        find(&self.meta.query, name)
    }

    /// A header of the upgrade request, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.meta.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Less common calls, left out of AI_CONTEXT.md to keep it short; see the crate docs.
impl WsConnection {
    /// Closes with `code` and a reason the peer can read (cut to 123 bytes).
    pub async fn close_with(&mut self, code: u16, reason: &str) -> Result<(), WsError> {
        if !sendable_close_code(code) {
            return Err(WsError::InvalidCloseCode(code));
        }
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.incoming.close();
        // The pump may be gone already (peer left): then the socket is closed, as asked.
        let _ = self
            .sender
            .out
            .send(Outgoing::Close(code, close_reason(reason)))
            .await;
        Ok(())
    }
    /// A sender for other tasks (an event subscriber pushing to this client).
    pub fn sender(&self) -> WsSender {
        self.sender.clone()
    }
    /// Every path parameter, in path order.
    pub fn path_params(&self) -> &[(String, String)] {
        &self.meta.path
    }
    /// Every query parameter, in URL order.
    pub fn query_params(&self) -> &[(String, String)] {
        &self.meta.query
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_and_reasons_follow_the_protocol() {
        assert!(sendable_close_code(1000) && sendable_close_code(4000));
        assert!(!sendable_close_code(1005) && !sendable_close_code(1006));
        assert!(!sendable_close_code(999) && !sendable_close_code(1015));
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= MAX_REASON && long.starts_with(&cut));
    }
}
