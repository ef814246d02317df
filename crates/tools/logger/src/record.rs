use std::sync::Arc;

use serde::Serialize;

/// Severity of a plugin log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// Detail for developers.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the plugin handled.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// The upper-case name used on the wire (`INFO`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One plugin log line as sent to [`Logger::subscribe`](crate::Logger::subscribe)
/// receivers (a future live log stream serialises it as is).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// The message as the plugin formatted it.
    pub message: String,
    /// Who wrote it: `"<domain>.<Type>"`, or `"system"`.
    #[serde(serialize_with = "as_str")]
    pub identity: Arc<str>,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
}

fn as_str<S: serde::Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value)
}
