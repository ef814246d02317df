//! What the app's http tool does around every request, written as one
//! hand-written axum middleware: the request id (the client's, sanitised, or
//! a fresh UUID v4), a request timeout, and the security headers.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The app's default `HTTP_REQUEST_TIMEOUT_SECS`.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The request id a handler can read, as the app's `Ctx` carries it.
#[derive(Clone)]
pub(crate) struct RequestId(#[allow(dead_code)] pub(crate) String);

/// Request id, timeout and security headers, as the app sends them.
pub(crate) async fn frame(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(|raw| {
            raw.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
                .take(128)
                .collect::<String>()
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let echoed = HeaderValue::from_str(&id).ok();
    req.extensions_mut().insert(RequestId(id));
    let mut res = match tokio::time::timeout(TIMEOUT, next.run(req)).await {
        Ok(res) => res,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Some(id) = echoed {
        headers.insert(REQUEST_ID, id);
    }
    res
}
