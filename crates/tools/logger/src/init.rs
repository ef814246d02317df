use std::io::IsTerminal;

use microcore_kernel::Env;
use tracing_subscriber::EnvFilter;

/// Installs the process-wide `tracing` subscriber: the app calls it once at
/// startup, and a second call (tests, a CLI subcommand) changes nothing.
///
/// `RUST_LOG` (from `env`, default `info`) filters; `LOG_FORMAT=json` writes
/// one JSON object per line for log shippers, anything else human-readable
/// lines, coloured only when stdout is a terminal. A bad `RUST_LOG` or
/// `LOG_FORMAT` falls back to the default and says so.
pub fn init(env: &Env) {
    let directives = env.get_or("RUST_LOG", "info");
    let (filter, bad_filter) = match EnvFilter::try_new(directives) {
        Ok(filter) => (filter, None),
        Err(e) => (EnvFilter::new("info"), Some(e.to_string())),
    };
    let format = env
        .get_or("LOG_FORMAT", "human")
        .trim()
        .to_ascii_lowercase();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = if format == "json" {
        builder.json().try_init().is_ok()
    } else {
        builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init()
            .is_ok()
    };
    if !installed {
        return;
    }
    if let Some(e) = bad_filter {
        tracing::warn!(
            "RUST_LOG={directives:?} is not a valid filter ({e}); logging at info. \
             Example: RUST_LOG=info,plugin=debug"
        );
    }
    if !matches!(format.as_str(), "json" | "human") {
        tracing::warn!(
            "LOG_FORMAT={format:?} is not known; writing human-readable lines. Use LOG_FORMAT=json for JSON lines"
        );
    }
}
