//! The task that owns one socket: reads into the handler's channel (only
//! when the handler has room), writes what the handler sends, and closes on
//! the handler's word, on drain, or when the peer breaks a limit.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite;

use super::connection::Outgoing;

/// How long to wait for the peer's answer to our close frame, so the TCP
/// connection ends cleanly instead of with a reset that could eat the frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);

/// Runs one socket until it is closed.
pub(crate) async fn run(
    mut socket: WebSocket,
    to_handler: mpsc::Sender<String>,
    mut from_handler: mpsc::Receiver<Outgoing>,
    mut shutdown: watch::Receiver<bool>,
    limit: usize,
    label: String,
) {
    // Incoming messages are read only when the handler has room for one.
    let mut permit = None;
    // The handler dropped its receiver: keep reading (pings, the peer's
    // close) but there is no one to give messages to.
    let mut deaf = false;
    let ours: Option<(u16, String)> = loop {
        tokio::select! {
            biased;
            true = async { shutdown.wait_for(|down| *down).await.is_ok() } => {
                break Some((1001, "server shutting down".to_owned()));
            }
            out = from_handler.recv() => match out {
                Some(Outgoing::Text(text)) => {
                    if let Err(e) = socket.send(Message::text(text)).await {
                        tracing::debug!("{label}: send failed, the peer is gone: {e}");
                        return;
                    }
                }
                Some(Outgoing::Close(code, reason)) => break Some((code, reason)),
                None => break Some((1000, String::new())),
            },
            reserved = to_handler.reserve(), if permit.is_none() && !deaf => match reserved {
                Ok(p) => permit = Some(p),
                Err(_) => deaf = true,
            },
            msg = socket.recv(), if permit.is_some() || deaf => match msg {
                None => return,
                Some(Ok(Message::Text(text))) => {
                    if let Some(p) = permit.take() {
                        p.send(text.as_str().to_owned());
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    break Some((1003, "binary messages are not accepted; send text (JSON)".to_owned()));
                }
                // The protocol layer queued our answer to the peer's close; flush it below.
                Some(Ok(Message::Close(_))) => break None,
                // Pings are answered by the protocol layer.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(e)) if too_long(&e) => {
                    tracing::debug!("{label}: a message exceeded HTTP_WS_MAX_MESSAGE_BYTES ({limit})");
                    break Some((1009, format!("message larger than {limit} bytes")));
                }
                Some(Err(e)) => {
                    tracing::debug!("{label}: the connection failed: {e}");
                    return;
                }
            },
        }
    };
    // The handler learns at once: `recv` gives `None`, `send` fails.
    drop(permit);
    drop(to_handler);
    drop(from_handler);
    if let Some((code, reason)) = ours {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if socket.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
    }
    // Flush and wait for the closing handshake to finish (bounded).
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}

/// Whether the error is tungstenite's "message (or frame) too long".
fn too_long(e: &axum::Error) -> bool {
    matches!(
        std::error::Error::source(e).and_then(|inner| inner.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(
            tungstenite::error::CapacityError::MessageTooLong { .. }
        ))
    )
}
