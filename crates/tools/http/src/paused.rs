//! The answer of a route whose plugin (or domain) the chaos controls paused:
//! 503 in the usual envelope, with `Retry-After`, before auth and before the
//! handler. The pause board is the kernel's, so this tool needs nothing from
//! the plugin that pauses.

use axum::response::Response;
use http::{HeaderValue, header};
use microcore_kernel::Registry;

use crate::envelope;

/// Seconds a client is told to wait before trying a paused route again.
const RETRY_AFTER_SECS: &str = "5";

/// The 503 to send when `owner` is paused; `None` (one atomic load) otherwise.
pub(crate) fn answer(registry: &Registry, owner: &str) -> Option<Response> {
    let holder = registry.pauses().holder(owner)?;
    let mut res = envelope::failure_with(
        503,
        format!(
            "Service temporarily unavailable: `{holder}` is paused by the chaos controls \
             (POST /system/chaos/on resumes it) (paused)"
        ),
    );
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    Some(res)
}
