//! The logger tool: `tracing` events attributed to the calling plugin, and
//! the process's telemetry (the subscriber, and OpenTelemetry export when
//! configured).
//!
//! Each plugin's handle is stamped with its identity at injection, and the
//! running [`CallContext`](microcore_kernel::CallContext) (the handler, the
//! subscriber, ...) takes precedence when there is one, so a log line always
//! says which feature wrote it. [`init`] installs the process-wide subscriber
//! once; [`Logger::subscribe`] feeds a live stream of plugin log records.

mod init;
mod logger;
mod record;
pub mod telemetry;

pub use init::{init, subscriber};
pub use logger::Logger;
pub use record::{LogLevel, LogRecord};
pub use telemetry::Telemetry;

/// The `tracing` target of plugin log lines: `RUST_LOG=info,plugin=debug`
/// shows plugins' debug lines only.
pub const TARGET: &str = "plugin";
