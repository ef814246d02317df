//! The compact report printed at boot, and the one block printed when the
//! application cannot serve.

use std::fmt;

use crate::registry::{PluginStatus, Registry, SystemStatus, ToolStatus};
use crate::settings::KernelSettings;
use crate::tool::ToolSet;

/// What booted, what did not and why, and what each tool serves.
#[derive(Clone, Debug)]
pub struct BootReport {
    /// Registry snapshot taken at the end of boot.
    pub status: SystemStatus,
    /// Lines each tool reported (routes, subscriptions), by tool.
    pub tool_lines: Vec<(&'static str, Vec<String>)>,
    /// Tools that could not complete their boot: the application cannot serve.
    pub fatal: Vec<(&'static str, String)>,
    /// Failures the boot policy does not serve with (see [`BootReport::enforce`]).
    pub refused: Vec<String>,
    /// Whether `refused` came from the production policy (and can be relaxed).
    strict: bool,
}

impl BootReport {
    pub(crate) fn new<T: ToolSet>(
        registry: &Registry,
        tools: &T,
        fatal: Vec<(&'static str, String)>,
    ) -> Self {
        let tool_lines = tools
            .slots()
            .iter()
            .map(|s| (s.name(), s.report()))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        Self {
            status: registry.snapshot(),
            tool_lines,
            fatal,
            refused: Vec::new(),
            strict: false,
        }
    }

    /// Every tool that failed or died and every DEAD plugin, one line each with why.
    pub fn failures(&self) -> Vec<String> {
        self.status.failures()
    }

    /// Applies the boot policy, after which [`BootReport::cannot_serve`] tells
    /// whether to serve.
    ///
    /// A failed `essential` tool (the http tool: without it nothing is served)
    /// always refuses. Under [`KernelSettings::strict`] (production without
    /// `BOOT_ALLOW_DEGRADED=true`) every failure refuses.
    pub fn enforce(&mut self, settings: &KernelSettings, essential: &[&str]) {
        let strict = settings.strict();
        self.strict = strict;
        self.refused = self
            .status
            .tools
            .iter()
            .filter(|t| t.status != ToolStatus::Ok)
            .filter(|t| strict || essential.contains(&t.name.as_str()))
            .filter(|t| !self.fatal.iter().any(|(name, _)| *name == t.name))
            .map(|t| {
                let why = t.message.as_deref().unwrap_or("no reason recorded");
                format!("tool `{}` failed to set up: {why}", t.name)
            })
            .collect();
        if strict {
            let plugins = self
                .failures()
                .into_iter()
                .filter(|l| l.starts_with("plugin"));
            self.refused.extend(plugins);
        }
    }

    /// True when a tool could not complete its boot (e.g. the port is taken) or
    /// the boot policy refuses a failure.
    pub fn cannot_serve(&self) -> bool {
        !self.fatal.is_empty() || !self.refused.is_empty()
    }

    /// The line printed once serving starts: ready, or degraded naming what failed.
    pub fn serving_line(&self) -> String {
        let failures = self.failures();
        if failures.is_empty() {
            "MicroCore is ready. Press Ctrl-C to stop.".to_owned()
        } else {
            format!(
                "MicroCore is serving DEGRADED ({} failed: {}). Press Ctrl-C to stop.",
                failures.len(),
                failures.join("; ")
            )
        }
    }

    /// The block printed when the application cannot serve: what, why, what to do.
    pub fn failure_block(&self) -> String {
        let mut out = String::from("MicroCore cannot serve.\n");
        for (tool, why) in &self.fatal {
            out.push_str(&format!("  tool `{tool}` failed to start: {why}\n"));
        }
        for line in &self.refused {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str("  Fix the cause above (a setting, a busy port, an unreachable service) and start again.\n");
        if self.strict && !self.refused.is_empty() {
            out.push_str(
                "  MICROCORE_ENV=production refuses to serve with failures; \
                 set BOOT_ALLOW_DEGRADED=true to serve without the failed parts.\n",
            );
        }
        out
    }
}

impl fmt::Display for BootReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok_tools = self
            .status
            .tools
            .iter()
            .filter(|t| t.status == ToolStatus::Ok)
            .count();
        writeln!(f, "tools   {ok_tools}/{} OK", self.status.tools.len())?;
        for t in &self.status.tools {
            let status = format!("{:?}", t.status).to_uppercase();
            match &t.message {
                Some(m) if t.status != ToolStatus::Ok => {
                    writeln!(f, "  {status:<5} {:<10} {m}", t.name)?
                }
                _ => writeln!(f, "  {status:<5} {}", t.name)?,
            }
        }
        let ready = self
            .status
            .plugins
            .iter()
            .filter(|p| p.status == PluginStatus::Ready)
            .count();
        writeln!(f, "plugins {ready}/{} READY", self.status.plugins.len())?;
        for p in &self.status.plugins {
            let status = format!("{:?}", p.status).to_uppercase();
            match &p.error {
                Some(e) => writeln!(f, "  {status:<5} {:<28} {e}", p.name)?,
                None => writeln!(f, "  {status:<5} {}", p.name)?,
            }
        }
        for (tool, lines) in &self.tool_lines {
            writeln!(f, "{tool}")?;
            for line in lines {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}
