//! The one response shape: `{"success":true,"data":...}` or
//! `{"success":false,"error":"...","details":[...]}`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::error::HttpError;

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"success\":false}".to_vec());
    json_bytes(status, bytes)
}

/// An already serialised JSON body with `status`.
pub(crate) fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `{"success":false,"error":msg}` (plus `details` for validation errors).
pub(crate) fn failure(e: &HttpError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = json!({"success": false, "error": e.message});
    if !e.details.is_empty() {
        body["details"] = serde_json::to_value(&e.details).unwrap_or_default();
    }
    json_response(status, &body)
}

/// A failure with a status and a message.
pub(crate) fn failure_with(status: u16, message: impl Into<String>) -> Response {
    failure(&HttpError::status(status, message))
}
