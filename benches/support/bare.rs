//! The baseline's side of the HTTP comparisons: what a hand-written axum
//! handler answering the same envelope looks like.

use axum::Json;
use serde::Serialize;

/// The `data` of the ping answer.
#[derive(Serialize)]
pub(crate) struct BarePong {
    status: &'static str,
    message: &'static str,
}

/// The success envelope MicroCore answers with, written by hand.
#[derive(Serialize)]
pub(crate) struct Envelope<T> {
    pub(crate) success: bool,
    pub(crate) data: T,
}

/// `GET /ping` in bare axum, answering what the app's `ping.Ping` answers.
pub(crate) async fn bare_ping() -> Json<Envelope<BarePong>> {
    Json(Envelope {
        success: true,
        data: BarePong {
            status: "ok",
            message: "pong",
        },
    })
}
