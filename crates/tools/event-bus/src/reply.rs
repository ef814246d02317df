//! A responder's answer that is a refusal: a short machine code the
//! requester branches on, and a message a person can read. Without it, a
//! responder could only fail, and the requester waited for its timeout.

use serde::{Deserialize, Serialize};

use crate::EventBus;

/// The header that marks a reply envelope as a [`ReplyError`]; its value is the code.
pub(crate) const REPLY_ERROR_HEADER: &str = "microcore-reply-error";

/// An error a request handler answers with: the requester gets
/// [`BusError::Replied`](crate::BusError::Replied) with the same code and message.
///
/// Return it from a handler with `Err(ReplyError::new("not_found", "no such key").into())`
/// or [`bail_reply!`](crate::bail_reply). Any other error of a request handler
/// answers [`ReplyError::INTERNAL`] with a message that does not leak its
/// text (the text goes to the responder's log and trace); a request whose
/// payload does not fit the handler answers [`ReplyError::BAD_REQUEST`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ReplyError {
    /// A stable, machine-readable code (`not_found`, `conflict`, ...) the requester matches on.
    pub code: String,
    /// What went wrong, for a person; sent to the requester as is.
    pub message: String,
}

#[microcore_kernel::contract(of = EventBus)]
impl ReplyError {
    /// The code the bus answers when a request handler fails with any other error or panics.
    pub const INTERNAL: &'static str = "internal";

    /// The code the bus answers when a request's payload does not fit the handler's type.
    pub const BAD_REQUEST: &'static str = "bad_request";

    /// Creates the error a handler returns to refuse a request with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Returns early from a request handler with a [`ReplyError`]:
/// `bail_reply!("not_found", "no order {id}")`. The message takes `format!`
/// arguments; the requester gets [`BusError::Replied`](crate::BusError::Replied).
#[macro_export]
macro_rules! bail_reply {
    ($code:expr, $($message:tt)+) => {
        return ::core::result::Result::Err(
            $crate::ReplyError::new($code, ::std::format!($($message)+)).into(),
        )
    };
}
