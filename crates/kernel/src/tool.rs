//! Tools: stateless infrastructure the kernel sets up and plugins receive.
//!
//! A tool is a cheap-to-clone handle type implementing [`Tool`]. The
//! application lists its tools once (the facade's `toolset!`), which generates
//! a struct with one [`Slot`] per tool and implements [`ToolSet`] for it. A
//! `#[plugin]` reads `tools.<field name>` from that struct, so a misspelt tool
//! is a rustc "no field" error at the plugin's field.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::env::Env;
use crate::isolate::run_isolated;
use crate::plugin::PluginId;
use crate::probe::Probe;
use crate::registry::{Registry, ToolStatus};

/// Why a tool could not be set up or could not finish a lifecycle step.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(pub String);

impl ToolError {
    /// An error with a message that says what failed and how to fix it.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// What a tool receives at setup.
#[derive(Clone, Debug)]
pub struct ToolSetup {
    /// Settings (tools read their own, e.g. `DATABASE_URL`).
    pub env: Env,
    /// The probe every call of this tool must go through.
    pub probe: Probe,
    /// The kernel registry (read-only use: the `registry` tool exposes it).
    pub registry: Registry,
}

/// A tool: infrastructure behind a contract, injected into plugins by name.
///
/// Tools never depend on other tools: setup receives settings and a probe,
/// nothing else.
pub trait Tool: Clone + Send + Sync + Sized + 'static {
    /// The injection name plugins use as a field name (`db`, `http`, ...).
    const NAME: &'static str;

    /// Sets the tool up from its settings, choosing its backend.
    fn setup(setup: ToolSetup) -> impl Future<Output = Result<Self, ToolError>> + Send;

    /// Sets up the tool for tests and dry boots: in-memory backends, no
    /// sockets, no files. Defaults to [`Tool::setup`].
    fn setup_for_tests(setup: ToolSetup) -> impl Future<Output = Result<Self, ToolError>> + Send {
        Self::setup(setup)
    }

    /// The handle given to one plugin; tools that attribute work to the caller
    /// (logger, event bus) stamp the plugin's identity here.
    fn for_plugin(&self, _plugin: &PluginId) -> Self {
        self.clone()
    }

    /// Withdraws what `plugin` registered with this tool, because its `on_boot`
    /// failed after registering it: its routes must stop serving and its
    /// subscriptions end. The default keeps nothing per plugin, so does nothing.
    fn plugin_failed(&self, _plugin: &PluginId) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Runs after every plugin has booted (the http tool starts listening here).
    fn on_boot_complete(&self) -> impl Future<Output = Result<(), ToolError>> + Send {
        async { Ok(()) }
    }

    /// First step of shutdown: stop taking new work and finish what is in
    /// flight, within `grace`.
    fn drain(&self, _grace: Duration) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Last step of shutdown: release resources.
    fn shutdown(&self) -> impl Future<Output = Result<(), ToolError>> + Send {
        async { Ok(()) }
    }

    /// Lines for the boot report (routes, subscriptions, the active backend).
    fn report(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One tool's place in the application's tool set: the handle, or why it is missing.
pub struct Slot<T> {
    name: &'static str,
    inner: Result<T, Arc<str>>,
}

impl<T: Tool> Slot<T> {
    /// A slot holding a ready tool.
    pub fn ready(tool: T) -> Self {
        Self {
            name: T::NAME,
            inner: Ok(tool),
        }
    }

    /// A slot whose tool failed with `reason`.
    pub fn failed(reason: impl Into<Arc<str>>) -> Self {
        Self {
            name: T::NAME,
            inner: Err(reason.into()),
        }
    }

    /// Sets the tool up, recording OK or FAIL in `registry`. A panic in setup
    /// counts as a failure.
    pub async fn setup(env: &Env, registry: &Registry, for_tests: bool) -> Self {
        let setup = ToolSetup {
            env: env.clone(),
            probe: Probe::new(T::NAME, registry.clone()),
            registry: registry.clone(),
        };
        let fut = async move {
            if for_tests {
                T::setup_for_tests(setup).await
            } else {
                T::setup(setup).await
            }
        };
        let slot = match run_isolated(fut).await {
            Ok(Ok(tool)) => Self::ready(tool),
            Ok(Err(e)) => Self::failed(e.0),
            Err(panic) => Self::failed(format!("setup {panic}")),
        };
        match &slot.inner {
            Ok(_) => registry.set_tool(T::NAME, ToolStatus::Ok, None),
            Err(reason) => registry.set_tool(T::NAME, ToolStatus::Fail, Some(reason.to_string())),
        }
        slot
    }

    /// The tool, if it is set up.
    pub fn get(&self) -> Option<&T> {
        self.inner.as_ref().ok()
    }

    /// Why the tool is missing, if it is.
    pub fn failure(&self) -> Option<&str> {
        self.inner.as_ref().err().map(|r| &**r)
    }

    /// Hands the tool to one plugin as a field of type `H` (`T` or `Option<T>`).
    #[doc(hidden)]
    pub fn inject<H: InjectFrom<T>>(
        &self,
        plugin: &PluginId,
        missing: &mut MissingTools,
    ) -> Option<H> {
        let tool = match &self.inner {
            Ok(tool) => Ok(tool.for_plugin(plugin)),
            Err(reason) => Err(reason.clone()),
        };
        H::inject_from(self.name, tool, missing)
    }
}

/// How a plugin field receives a tool: `T` requires it, `Option<T>` makes it optional.
#[diagnostic::on_unimplemented(
    message = "a plugin field of type `{Self}` cannot receive the `{T}` tool",
    label = "this field names a tool whose handle type is `{T}`",
    note = "declare the field as `{T}`, or `Option<{T}>` if the plugin can run without it; or rename the field to the tool you meant"
)]
pub trait InjectFrom<T>: Sized {
    /// Converts the slot's content into the field value, noting a missing required tool.
    fn inject_from(
        name: &'static str,
        tool: Result<T, Arc<str>>,
        missing: &mut MissingTools,
    ) -> Option<Self>;
}

impl<T: Tool> InjectFrom<T> for T {
    fn inject_from(
        name: &'static str,
        tool: Result<T, Arc<str>>,
        missing: &mut MissingTools,
    ) -> Option<Self> {
        match tool {
            Ok(t) => Some(t),
            Err(reason) => {
                missing.0.push((name, reason));
                None
            }
        }
    }
}

impl<T: Tool> InjectFrom<T> for Option<T> {
    fn inject_from(
        _: &'static str,
        tool: Result<T, Arc<str>>,
        _: &mut MissingTools,
    ) -> Option<Self> {
        Some(tool.ok())
    }
}

/// The required tools a plugin could not receive, with each tool's failure.
#[derive(Debug, Default)]
pub struct MissingTools(pub Vec<(&'static str, Arc<str>)>);

impl MissingTools {
    /// `Ok` when nothing is missing.
    pub fn finish(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl std::fmt::Display for MissingTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, reason)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "missing tool {name}: {reason}")?;
        }
        Ok(())
    }
}

/// A tool slot with its type erased, so the kernel can drive any tool set.
pub trait DynTool: Send + Sync {
    /// Injection name.
    fn name(&self) -> &'static str;
    /// True when the tool is set up.
    fn is_ready(&self) -> bool;
    /// See [`Tool::plugin_failed`]; a no-op for a failed slot.
    fn plugin_failed<'a>(&'a self, plugin: &'a PluginId) -> BoxFuture<'a, ()>;
    /// See [`Tool::on_boot_complete`]; a no-op for a failed slot.
    fn on_boot_complete(&self) -> BoxFuture<'_, Result<(), ToolError>>;
    /// See [`Tool::drain`].
    fn drain(&self, grace: Duration) -> BoxFuture<'_, ()>;
    /// See [`Tool::shutdown`].
    fn shutdown(&self) -> BoxFuture<'_, Result<(), ToolError>>;
    /// See [`Tool::report`].
    fn report(&self) -> Vec<String>;
    /// The tool handle, for callers that know its type.
    fn as_any(&self) -> Option<&dyn Any>;
}

impl<T: Tool> DynTool for Slot<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn is_ready(&self) -> bool {
        self.inner.is_ok()
    }
    fn plugin_failed<'a>(&'a self, plugin: &'a PluginId) -> BoxFuture<'a, ()> {
        match &self.inner {
            Ok(t) => Box::pin(t.plugin_failed(plugin)),
            Err(_) => Box::pin(async {}),
        }
    }
    fn on_boot_complete(&self) -> BoxFuture<'_, Result<(), ToolError>> {
        match &self.inner {
            Ok(t) => Box::pin(t.on_boot_complete()),
            Err(_) => Box::pin(async { Ok(()) }),
        }
    }
    fn drain(&self, grace: Duration) -> BoxFuture<'_, ()> {
        match &self.inner {
            Ok(t) => Box::pin(t.drain(grace)),
            Err(_) => Box::pin(async {}),
        }
    }
    fn shutdown(&self) -> BoxFuture<'_, Result<(), ToolError>> {
        match &self.inner {
            Ok(t) => Box::pin(t.shutdown()),
            Err(_) => Box::pin(async { Ok(()) }),
        }
    }
    fn report(&self) -> Vec<String> {
        self.inner.as_ref().map(Tool::report).unwrap_or_default()
    }
    fn as_any(&self) -> Option<&dyn Any> {
        self.inner.as_ref().ok().map(|t| t as &dyn Any)
    }
}

/// The application's tools, generated by the facade's `toolset!`.
pub trait ToolSet: Send + Sync + Sized + 'static {
    /// Sets every tool up concurrently; a failure is recorded, never fatal.
    fn setup(env: &Env, registry: &Registry, for_tests: bool) -> impl Future<Output = Self> + Send;
    /// Every slot, in declaration order.
    fn slots(&self) -> Vec<&dyn DynTool>;
    /// Every tool name, in declaration order.
    fn names() -> &'static [&'static str];
}
