//! What `serve` tells the operator on stdout: text lines, or with
//! `LOG_FORMAT=json` structured events, so every stdout line is one JSON
//! object a log shipper can parse (the boot report included).

use microcore_kernel::{BootReport, Env, ShutdownReport};

/// Where the boot and shutdown messages go.
pub(crate) struct Console {
    json: bool,
}

impl Console {
    /// JSON events when `LOG_FORMAT=json` (as the logger decides), else text.
    pub(crate) fn new(env: &Env) -> Self {
        let json = env
            .get_or("LOG_FORMAT", "human")
            .trim()
            .eq_ignore_ascii_case("json");
        Self { json }
    }

    /// The boot report: one event per tool, plugin and served line in JSON.
    pub(crate) fn boot_report(&self, report: &BootReport) {
        if !self.json {
            println!("{report}");
            return;
        }
        for t in &report.status.tools {
            tracing::info!(target: "microcore::boot", tool = %t.name, status = ?t.status,
                reason = t.message.as_deref().unwrap_or(""), "tool");
        }
        for p in &report.status.plugins {
            tracing::info!(target: "microcore::boot", plugin = %p.name, status = ?p.status,
                reason = p.error.as_deref().unwrap_or(""), "plugin");
        }
        for (tool, lines) in &report.tool_lines {
            for line in lines {
                tracing::info!(target: "microcore::boot", tool = %tool, line = %line, "serves");
            }
        }
    }

    /// The "cannot serve" block: stderr as text, error events in JSON.
    pub(crate) fn cannot_serve(&self, report: &BootReport) {
        let block = report.failure_block();
        if self.json {
            for line in block.lines().skip(1) {
                tracing::error!(target: "microcore::boot", reason = %line.trim(), "MicroCore cannot serve");
            }
        } else {
            eprintln!("{block}");
        }
    }

    /// The line saying the app serves, ready or degraded.
    pub(crate) fn serving(&self, report: &BootReport) {
        if !self.json {
            println!("{}", report.serving_line());
            return;
        }
        let failures = report.failures();
        if failures.is_empty() {
            tracing::info!(target: "microcore::boot", state = "ready", "MicroCore is ready");
        } else {
            tracing::warn!(target: "microcore::boot", state = "degraded",
                failures = %failures.join("; "), "MicroCore is serving DEGRADED");
        }
    }

    /// One plain message (shutdown progress).
    pub(crate) fn say(&self, message: &str) {
        if self.json {
            tracing::info!(target: "microcore::shutdown", "{message}");
        } else {
            println!("{message}");
        }
    }

    /// The shutdown summary (the kernel also logs it as an event).
    pub(crate) fn shutdown(&self, report: &ShutdownReport) {
        if !self.json {
            println!("{report}");
        }
    }
}
