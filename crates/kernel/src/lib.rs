//! The MicroCore kernel.
//!
//! It knows three things only: how to set tools up, how to build and boot the
//! plugins registered in [`PLUGINS`], and how to shut everything down in order.
//! It knows no business rule and no concrete tool; the application names its
//! tools once (the facade's `toolset!`) and the kernel drives them through
//! [`ToolSet`].

// `#[contract]` expands to `::microcore_kernel::…` paths; this lets the
// kernel put one on its own types (`Claims`).
extern crate self as microcore_kernel;

mod auth;
mod context;
mod env;
mod event_name;
mod faults;
mod isolate;
mod kernel;
mod meta;
mod pause;
mod plugin;
mod probe;
mod redact;
mod registry;
mod report;
mod retry;
mod settings;
mod shutdown;
mod step;
mod telemetry;
mod tool;

pub use auth::{Claims, RevocationList, TokenValidator};
pub use context::{
    CallContext, current_event_id, current_identity, identity_within, in_context,
    in_context_blocking, spawn_blocking_in_context,
};
pub use env::Env;
pub use event_name::EventName;
pub use faults::{
    CallerFault, FaultTable, Faults, InjectedFault, Latency, ToolFault, ToolFaultMode,
};
pub use isolate::{Panicked, panic_message, run_isolated};
pub use kernel::{BootOptions, Kernel, Running};
pub use meta::{
    ContractMethod, EVENTS, EventDescriptor, MODELS, ModelDescriptor, TOOL_CONTRACTS, ToolContract,
    str_eq,
};
pub use pause::Pauses;
pub use plugin::{
    BootResult, BuildFn, DynPlugin, PLUGINS, Plugin, PluginBuild, PluginDescriptor, PluginId,
    build_erased, registered_plugins,
};
pub use probe::{DEAD_THRESHOLD, Probe, ToolCall, ToolFailure};
pub use redact::redact_url;
pub use registry::{
    METRICS_CAPACITY, PluginState, PluginStatus, Registry, SystemStatus, ToolState, ToolStatus,
};
pub use report::BootReport;
pub use retry::retry_transient;
pub use settings::KernelSettings;
pub use shutdown::{RELEASE_WINDOW, ShutdownReport};
pub use telemetry::{
    Instruments, SPAN_TARGET, TraceContext, install_metrics, metrics, scheduled_run_span,
};
pub use tool::{DynTool, InjectFrom, MissingTools, Slot, Tool, ToolError, ToolSet, ToolSetup};

#[doc(hidden)]
pub use linkme;

/// Records a tool's public methods for AI_CONTEXT.md; see [`ToolContract`].
pub use microcore_macros::contract;
