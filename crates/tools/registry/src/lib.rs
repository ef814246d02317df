//! The `registry` tool: read-only access to the kernel's status registry, for
//! the `/system/*` plugins. The kernel owns the registry; this tool only lets
//! plugins read it, through a contract like any other tool. The one thing it
//! lets a plugin change is the chaos switches (armed faults, paused plugins),
//! which only `system.ChaosControl` uses, and only with `CHAOS_ENABLED=true`.

use microcore_kernel::{
    Faults, Pauses, Registry, SystemStatus, Tool, ToolCall, ToolError, ToolSetup,
};

pub use microcore_kernel::{
    CallerFault, FaultTable, Latency, ToolFault, ToolFaultMode, identity_within,
};

/// Read-only view of tool and plugin status and of recent tool calls.
#[derive(Clone, Debug)]
pub struct SystemRegistry {
    registry: Registry,
}

#[microcore_kernel::contract(
    backends = "the kernel's registry",
    env = "",
    errors = "none: reads never fail"
)]
impl SystemRegistry {
    /// Every tool and plugin with its status and reason, sorted by name.
    pub fn status(&self) -> SystemStatus {
        self.registry.snapshot()
    }

    /// The most recent tool calls (at most 1000), newest first.
    #[not_in_manifest]
    pub fn recent_calls(&self) -> Vec<ToolCall> {
        self.registry.recent_calls()
    }

    /// Each failing tool and each plugin not READY as one line with its reason, empty when ready.
    pub fn failures(&self) -> Vec<String> {
        self.registry.snapshot().failures()
    }

    /// This process's random instance id, chosen at boot and stable until exit.
    #[not_in_manifest]
    pub fn instance_id(&self) -> String {
        self.registry.instance_id().to_owned()
    }

    /// Whole seconds since this process booted.
    #[not_in_manifest]
    pub fn uptime_secs(&self) -> u64 {
        self.registry.uptime().as_secs()
    }

    /// The faults armed by the chaos controls; every tool call reads them.
    #[not_in_manifest]
    pub fn faults(&self) -> &Faults {
        self.registry.faults()
    }

    /// The plugins and domains paused by the chaos controls.
    #[not_in_manifest]
    pub fn pauses(&self) -> &Pauses {
        self.registry.pauses()
    }
}

impl Tool for SystemRegistry {
    const NAME: &'static str = "registry";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        Ok(Self {
            registry: setup.registry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore_kernel::{Env, Probe, ToolStatus};

    #[tokio::test]
    async fn it_reads_what_the_kernel_records() {
        let registry = Registry::new();
        registry.set_tool("db", ToolStatus::Fail, Some("no file".into()));
        let setup = ToolSetup {
            env: Env::default(),
            probe: Probe::detached("registry"),
            registry,
        };
        let tool = SystemRegistry::setup(setup).await.unwrap();
        let status = tool.status();
        assert_eq!(status.tools.len(), 1);
        assert_eq!(status.tools[0].message.as_deref(), Some("no file"));
        assert!(tool.recent_calls().is_empty());
    }
}
