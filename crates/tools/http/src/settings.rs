//! The tool's settings, read once at setup.

use std::time::Duration;

use microcore_kernel::Env;

use crate::operator::OperatorAccess;

/// Where and how the server listens.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) max_body: usize,
    pub(crate) timeout: Duration,
    /// Allowed CORS origins; empty means no CORS headers (same-origin only).
    pub(crate) cors_origins: Vec<String>,
    pub(crate) cors_credentials: bool,
    /// Largest WebSocket message (and frame) accepted; a larger one closes with 1009.
    pub(crate) ws_max_message: usize,
    /// `HTTP_ACCESS_LOG`: one INFO line per request (off by default: it costs
    /// a clock read and a log write per request).
    pub(crate) access_log: bool,
    /// Who may call `Route::operator()` routes (`HTTP_OPERATOR_TOKEN`).
    pub(crate) operator: OperatorAccess,
}

/// Default body limit: 1 MiB.
pub(crate) const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// Default WebSocket message limit: 64 KiB.
pub(crate) const DEFAULT_WS_MAX_MESSAGE: usize = 64 * 1024;

impl Settings {
    pub(crate) fn from_env(env: &Env) -> Result<Self, String> {
        let host = env.get_or("HTTP_HOST", "127.0.0.1").trim().to_owned();
        let port = env.parse_or::<u16>("HTTP_PORT", 5000)?;
        let max_body = env.parse_or::<usize>("HTTP_MAX_BODY_BYTES", DEFAULT_MAX_BODY)?;
        let timeout_secs = env.parse_or::<u64>("HTTP_REQUEST_TIMEOUT_SECS", 30)?;
        if timeout_secs == 0 {
            return Err(
                "setting HTTP_REQUEST_TIMEOUT_SECS=0 would time out every request; use at least 1"
                    .into(),
            );
        }
        let ws_max_message =
            env.parse_or::<usize>("HTTP_WS_MAX_MESSAGE_BYTES", DEFAULT_WS_MAX_MESSAGE)?;
        if ws_max_message == 0 {
            return Err(
                "setting HTTP_WS_MAX_MESSAGE_BYTES=0 would refuse every WebSocket message; use at least 1 (default 65536)"
                    .into(),
            );
        }
        let cors_origins: Vec<String> = env
            .get_or("HTTP_CORS_ORIGINS", "")
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let cors_credentials = env.flag("HTTP_CORS_CREDENTIALS", false)?;
        let access_log = env.flag("HTTP_ACCESS_LOG", false)?;
        if cors_credentials && cors_origins.iter().any(|o| o == "*") {
            return Err("HTTP_CORS_CREDENTIALS=true with HTTP_CORS_ORIGINS=* would let any site make \
                        authenticated requests, and browsers refuse it anyway; list the allowed origins \
                        (e.g. HTTP_CORS_ORIGINS=https://app.example.com) or turn credentials off"
                .into());
        }
        for origin in cors_origins.iter().filter(|o| *o != "*") {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(format!(
                    "HTTP_CORS_ORIGINS entry {origin:?} is not an origin; write it as scheme://host[:port]"
                ));
            }
        }
        if host == "0.0.0.0" && cors_origins.iter().any(|o| o == "*") {
            tracing::warn!(
                "HTTP_HOST=0.0.0.0 with HTTP_CORS_ORIGINS=*: any website can call this API from a browser"
            );
        }
        let operator = OperatorAccess::from_env(env)?;
        Ok(Self {
            host,
            port,
            max_body,
            timeout: Duration::from_secs(timeout_secs),
            cors_origins,
            cors_credentials,
            ws_max_message,
            access_log,
            operator,
        })
    }
}
