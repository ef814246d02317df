//! Boot and shutdown.

use std::any::Any;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use crate::context::{CallContext, in_context};
use crate::env::Env;
use crate::isolate::panic_message;
use crate::plugin::{DynPlugin, PluginDescriptor, PluginId, registered_plugins};
use crate::registry::{PluginStatus, Registry, ToolStatus};
use crate::report::BootReport;
use crate::settings::KernelSettings;
use crate::step::{self, StepError};
use crate::tool::ToolSet;

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
    /// Serve for real with the tools reading `env`, under `settings` that the
    /// caller has already validated ([`KernelSettings::from_env`]), so a bad
    /// value is refused once, where it can be reported, never defaulted here.
    pub fn serve(env: Env, settings: &KernelSettings) -> Self {
        Self {
            env,
            test_tools: false,
            only: None,
            boot_timeout: settings.boot_timeout,
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
    pub(crate) tools: Arc<T>,
    pub(crate) plugins: Vec<(PluginId, Arc<dyn DynPlugin>)>,
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

        // Every on_boot is its own task, timed out on its handle: one that
        // blocks its thread cannot hold the others or the timeout back.
        let boots = built.iter().map(|(id, plugin)| {
            let ctx = CallContext::new(format!("{}.on_boot", id.name), None);
            let fut = in_context(ctx, plugin.clone().boot());
            step::run(fut, options.boot_timeout)
        });
        let outcomes = futures::future::join_all(boots).await;
        let mut plugins = Vec::new();
        let mut failed = Vec::new();
        for ((id, plugin), outcome) in built.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    registry.set_plugin(&id.name, PluginStatus::Ready, None);
                    plugins.push((id, plugin));
                }
                Err(e) => {
                    let why = match e {
                        StepError::TimedOut(d) => {
                            format!("on_boot did not finish within {d:?} (BOOT_TIMEOUT_SECS)")
                        }
                        other => format!("on_boot {other}"),
                    };
                    registry.set_plugin(&id.name, PluginStatus::Dead, Some(why));
                    failed.push((id, plugin));
                }
            }
        }
        // Side by side: boot takes at most twice BOOT_TIMEOUT_SECS however many failed.
        let withdrawals = (failed.into_iter())
            .map(|(id, plugin)| withdraw(&*tools, id, plugin, options.boot_timeout));
        futures::future::join_all(withdrawals).await;

        let report = BootReport::new(&registry, &*tools, Vec::new());
        let mut running = Running {
            registry,
            tools,
            plugins,
            report,
        };
        if options.boot_complete {
            running.complete_boot().await;
        }
        running
    }
}

impl<T: ToolSet> Running<T> {
    /// Runs every tool's `on_boot_complete` (the http tool starts listening)
    /// and refreshes the report; a tool failing here makes it cannot-serve.
    ///
    /// [`Kernel::boot`] calls it unless `boot_complete` is false: the entry
    /// point boots without it to refuse a failed boot before opening a port.
    pub async fn complete_boot(&mut self) {
        let mut fatal = Vec::new();
        for slot in self.tools.slots() {
            if let Err(e) = slot.on_boot_complete().await {
                tracing::error!(tool = slot.name(), error = %e, "tool could not complete its boot");
                self.registry
                    .set_tool(slot.name(), ToolStatus::Dead, Some(e.0.clone()));
                fatal.push((slot.name(), e.0));
            }
        }
        self.report = BootReport::new(&self.registry, &*self.tools, fatal);
    }

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
}

/// Undoes what a plugin that failed `on_boot` may have registered: every tool
/// withdraws it (routes answer 503, subscriptions end), then its `shutdown`
/// runs so it can release what it acquired before failing.
async fn withdraw<T: ToolSet>(
    tools: &T,
    id: PluginId,
    plugin: Arc<dyn DynPlugin>,
    within: Duration,
) {
    for slot in tools.slots() {
        slot.plugin_failed(&id).await;
    }
    let ctx = CallContext::new(format!("{}.shutdown", id.name), None);
    if let Err(e) = step::run(in_context(ctx, plugin.stop()), within).await {
        tracing::error!(plugin = %id.name, error = %e, "shutdown of a plugin that failed on_boot");
    }
}
