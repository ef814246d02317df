//! The compact report printed at boot, and the one block printed when the
//! application cannot serve.

use std::fmt;

use crate::registry::{PluginStatus, Registry, SystemStatus, ToolStatus};
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
        }
    }

    /// True when a tool could not complete its boot (e.g. the port is taken).
    pub fn cannot_serve(&self) -> bool {
        !self.fatal.is_empty()
    }

    /// The block printed when the application cannot serve: what, why, what to do.
    pub fn failure_block(&self) -> String {
        let mut out = String::from("MicroCore cannot serve.\n");
        for (tool, why) in &self.fatal {
            out.push_str(&format!("  tool `{tool}` failed to start: {why}\n"));
        }
        out.push_str("  Fix the cause above (a setting, a busy port, an unreachable service) and start again.\n");
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
