//! Boot and shutdown.

use std::any::Any;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use crate::context::{CallContext, in_context};
use crate::env::Env;
use crate::plugin::{DynPlugin, PluginDescriptor, PluginId, registered_plugins};
use crate::registry::{PluginStatus, Registry, ToolStatus};
use crate::report::BootReport;
use crate::tool::{ToolSet, panic_message};

/// How to boot.
#[derive(Clone, Debug)]
pub struct BootOptions {
    /// Settings for the tools.
    pub env: Env,
    /// Use each tool's in-memory test backend (tests and dry boots).
    pub test_tools: bool,
    /// Boot only these plugins (by identity); `None` boots every registered one.
    pub only: Option<Vec<String>>,
    /// Longest a plugin's `on_boot` may take before it is DEAD.
    pub boot_timeout: Duration,
    /// Run the tools' `on_boot_complete` (the http tool starts listening there).
    pub boot_complete: bool,
}

impl BootOptions {
    /// Serve for real, with settings from `env` (`BOOT_TIMEOUT_SECS`, default 30).
    pub fn serve(env: Env) -> Self {
        let boot_timeout =
            Duration::from_secs(env.parse_or("BOOT_TIMEOUT_SECS", 30u64).unwrap_or(30));
        Self {
            env,
            test_tools: false,
            only: None,
            boot_timeout,
            boot_complete: true,
        }
    }

    /// In-memory backends, no listening socket.
    pub fn tests() -> Self {
        Self {
            env: Env::default(),
            test_tools: true,
            only: None,
            boot_timeout: Duration::from_secs(30),
            boot_complete: false,
        }
    }
}

/// The kernel. It knows no business rule: only lifecycles.
#[derive(Debug)]
pub struct Kernel<T> {
    _tools: PhantomData<T>,
}

/// A booted application.
pub struct Running<T: ToolSet> {
    registry: Registry,
    tools: Arc<T>,
    plugins: Vec<(PluginId, Arc<dyn DynPlugin>)>,
    report: BootReport,
}

impl<T: ToolSet> Kernel<T> {
    /// Sets tools up, builds and boots plugins, then completes the tools' boot.
    /// Failures are recorded per component; boot itself never fails.
    pub async fn boot(options: BootOptions) -> Running<T> {
        let registry = Registry::new();
        let tools = Arc::new(T::setup(&options.env, &registry, options.test_tools).await);

        let descriptors: Vec<&'static PluginDescriptor> = registered_plugins::<T>()
            .into_iter()
            .filter(|d| {
                options
                    .only
                    .as_ref()
                    .is_none_or(|only| only.iter().any(|n| *n == *d.id().name))
            })
            .collect();

        let mut built = Vec::new();
        for desc in descriptors {
            let id = desc.id();
            registry.add_plugin(&id.name, &id.domain, &id.file, desc.tools);
            let erased: &(dyn Any + Send + Sync) = &*tools;
            match std::panic::catch_unwind(AssertUnwindSafe(|| (desc.build)(erased, &id))) {
                Ok(Ok(plugin)) => built.push((id, plugin)),
                Ok(Err(missing)) => {
                    registry.set_plugin(&id.name, PluginStatus::Dead, Some(missing.to_string()))
                }
                Err(panic) => registry.set_plugin(
                    &id.name,
                    PluginStatus::Dead,
                    Some(format!(
                        "panicked while being built: {}",
                        panic_message(&*panic)
                    )),
                ),
            }
        }

        let boots = built.iter().map(|(id, plugin)| {
            let ctx = CallContext::new(format!("{}.on_boot", id.name), None);
            let fut = in_context(ctx, plugin.clone().boot());
            let timeout = options.boot_timeout;
            async move {
                let outcome =
                    tokio::time::timeout(timeout, AssertUnwindSafe(fut).catch_unwind()).await;
                match outcome {
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(e))) => Err(format!("on_boot failed: {e:#}")),
                    Ok(Err(panic)) => Err(format!("on_boot panicked: {}", panic_message(&*panic))),
                    Err(_) => Err(format!(
                        "on_boot did not finish within {timeout:?} (BOOT_TIMEOUT_SECS)"
                    )),
                }
            }
        });
        let outcomes = futures::future::join_all(boots).await;
        let mut plugins = Vec::new();
        for ((id, plugin), outcome) in built.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    registry.set_plugin(&id.name, PluginStatus::Ready, None);
                    plugins.push((id, plugin));
                }
                Err(e) => registry.set_plugin(&id.name, PluginStatus::Dead, Some(e)),
            }
        }

        let mut fatal = Vec::new();
        if options.boot_complete {
            for slot in tools.slots() {
                if let Err(e) = slot.on_boot_complete().await {
                    tracing::error!(tool = slot.name(), error = %e, "tool could not complete its boot");
                    registry.set_tool(slot.name(), ToolStatus::Dead, Some(e.0.clone()));
                    fatal.push((slot.name(), e.0));
                }
            }
        }

        let report = BootReport::new(&registry, &*tools, fatal);
        Running {
            registry,
            tools,
            plugins,
            report,
        }
    }
}

impl<T: ToolSet> Running<T> {
    /// The status registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The tool set.
    pub fn tools(&self) -> &T {
        &self.tools
    }

    /// What booted and what did not.
    pub fn report(&self) -> &BootReport {
        &self.report
    }

    /// A booted plugin of type `P`, for tests.
    pub fn plugin<P: Send + Sync + 'static>(&self) -> Option<Arc<P>> {
        self.plugins
            .iter()
            .find_map(|(_, p)| p.clone().into_any().downcast::<P>().ok())
    }

    /// Drains in-flight work (bounded by `grace`), then stops plugins, then
    /// tools in reverse order. A failing step is logged; the rest still run.
    pub async fn shutdown(self, grace: Duration) {
        let slots = self.tools.slots();
        let drains = slots.iter().map(|s| s.drain(grace));
        if tokio::time::timeout(grace, futures::future::join_all(drains))
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "in-flight work did not drain in time; stopping anyway"
            );
        }
        for (id, plugin) in self.plugins.iter().rev() {
            let ctx = CallContext::new(format!("{}.shutdown", id.name), None);
            let fut = in_context(ctx, plugin.clone().stop());
            match tokio::time::timeout(grace, AssertUnwindSafe(fut).catch_unwind()).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    tracing::error!(plugin = %id.name, error = %format!("{e:#}"), "plugin shutdown failed")
                }
                Ok(Err(panic)) => {
                    tracing::error!(plugin = %id.name, panic = %panic_message(&*panic), "plugin shutdown panicked")
                }
                Err(_) => tracing::error!(plugin = %id.name, "plugin shutdown timed out"),
            }
        }
        for slot in slots.iter().rev() {
            match tokio::time::timeout(grace, AssertUnwindSafe(slot.shutdown()).catch_unwind())
                .await
            {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    tracing::error!(tool = slot.name(), error = %e, "tool shutdown failed")
                }
                Ok(Err(panic)) => {
                    tracing::error!(tool = slot.name(), panic = %panic_message(&*panic), "tool shutdown panicked")
                }
                Err(_) => tracing::error!(tool = slot.name(), "tool shutdown timed out"),
            }
        }
    }
}
