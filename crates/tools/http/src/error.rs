//! What a handler returns when it cannot answer: a status and a message the
//! client may read. Internal failures keep their detail in the log only.

use std::fmt;

use serde::Serialize;

/// One field that failed deserialization or validation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldError {
    /// The field's name (a dotted path for nested fields).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error a handler returns; it becomes `{"success":false,"error":...}`.
///
/// It deliberately does not implement `std::error::Error`, so that any
/// `std::error::Error` converts into it with `?` (as a 500 whose detail goes to
/// the log, never to the client).
pub struct HttpError {
    pub(crate) status: u16,
    pub(crate) message: String,
    pub(crate) details: Vec<FieldError>,
    pub(crate) internal: Option<String>,
}

/// What every handler returns.
pub type HttpResult<T> = Result<T, HttpError>;

/// The message clients see for every internal failure.
pub(crate) const INTERNAL_MESSAGE: &str = "Internal server error";

#[microcore_kernel::contract(of = crate::Http)]
impl HttpError {
    /// Any 4xx/5xx status with a message the client sees (for a 5xx too).
    ///
    /// `HttpError::new(503, "maintenance until 14:00")` answers 503 with that
    /// message: a status the plugin picks is a message it means to send. Only
    /// failures nobody chose (`?` on a `std::error::Error`, a panic,
    /// [`HttpError::internal`]) hide their text behind "Internal server error".
    /// A code outside 400..=599 becomes a logged 500.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self::status(status, message)
    }

    /// Same as [`HttpError::new`]: an error with any 4xx/5xx status and the message the client sees.
    #[not_in_manifest]
    pub fn status(code: u16, message: impl Into<String>) -> Self {
        let message = message.into();
        if (400..=599).contains(&code) {
            Self {
                status: code,
                message,
                details: Vec::new(),
                internal: None,
            }
        } else {
            Self::internal(format!(
                "HttpError::status({code}, {message:?}): {code} is not an error status; use 400..=599"
            ))
        }
    }

    /// 400: the request is wrong in a way the client can fix.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::status(400, message)
    }

    /// 401: the caller is not authenticated.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::status(401, message)
    }

    /// 403: the caller is authenticated but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::status(403, message)
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::status(404, message)
    }

    /// 409: the request conflicts with the current state (a duplicate, say).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::status(409, message)
    }

    /// 422: the input is well-formed but not acceptable.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::status(422, message)
    }

    /// 429: the caller must slow down.
    ///
    /// Say when to retry, as every 429 of the framework and its example app
    /// does: `ctx.set_header("retry-after", "30")` (seconds).
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::status(429, message)
    }

    /// 500 whose `detail` goes to the log only; the client sees "Internal server error".
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            status: 500,
            message: INTERNAL_MESSAGE.to_owned(),
            details: Vec::new(),
            internal: Some(detail.into()),
        }
    }

    /// A logged 500 from an `anyhow::Error`: `.map_err(HttpError::from_anyhow)?`.
    ///
    /// `anyhow::Error` is not a `std::error::Error`, so `?` cannot convert it.
    pub fn from_anyhow(e: anyhow::Error) -> Self {
        Self::internal(format!("{e:#}"))
    }

    /// 503: the service cannot answer right now; the client may retry later.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::status(503, message)
    }

    /// A 422 listing every failing field; the message is the first one.
    pub(crate) fn validation(details: Vec<FieldError>) -> Self {
        let message = details
            .first()
            .map(|d| format!("{}: {}", d.field, d.message))
            .unwrap_or_else(|| "invalid request".to_owned());
        Self {
            status: 422,
            message,
            details,
            internal: None,
        }
    }

    /// The HTTP status code.
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// The message the client sees.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The failing fields of a 422 validation error, empty for any other error.
    pub fn details(&self) -> &[FieldError] {
        &self.details
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HttpError");
        d.field("status", &self.status)
            .field("message", &self.message);
        if !self.details.is_empty() {
            d.field("details", &self.details);
        }
        if let Some(internal) = &self.internal {
            d.field("internal", internal);
        }
        d.finish()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)?;
        if let Some(internal) = &self.internal {
            write!(f, " ({internal})")?;
        }
        Ok(())
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HttpError {
    fn from(e: E) -> Self {
        Self::internal(format!("{}: {e}", std::any::type_name::<E>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_errors_become_500_with_the_detail_kept_out_of_the_message() {
        let io = std::io::Error::other("disk on fire");
        let e: HttpError = io.into();
        assert_eq!((e.status_code(), e.message()), (500, INTERNAL_MESSAGE));
        assert!(e.internal.as_deref().unwrap().contains("disk on fire"));
    }

    #[test]
    fn new_takes_any_error_status_and_an_explicit_5xx_keeps_its_message() {
        let e = HttpError::new(418, "short and stout");
        assert_eq!((e.status_code(), e.message()), (418, "short and stout"));
        let e = HttpError::new(503, "maintenance until 14:00");
        assert_eq!(
            (e.status_code(), e.message()),
            (503, "maintenance until 14:00")
        );
        assert_eq!(HttpError::new(302, "moved").status_code(), 500);
    }

    #[test]
    fn a_non_error_status_is_refused_as_an_internal_error() {
        let e = HttpError::status(200, "fine");
        assert_eq!(e.status_code(), 500);
    }
}
