//! The kernel's side of the http tool: setup, serving after boot, draining,
//! the boot report, and static mounts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use microcore_kernel::{PluginId, Tool, ToolError, ToolSetup};

use crate::handle::Http;
use crate::route::RouteError;
use crate::settings::Settings;
use crate::static_files::{Mount, StaticOptions};
use crate::{router, server};

impl Tool for Http {
    const NAME: &'static str = "http";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        let settings = Settings::from_env(&setup.env).map_err(ToolError::new)?;
        Ok(Http::new(setup.probe, setup.registry, settings, false))
    }

    async fn setup_for_tests(setup: ToolSetup) -> Result<Self, ToolError> {
        let settings = Settings::from_env(&setup.env).map_err(ToolError::new)?;
        Ok(Http::new(setup.probe, setup.registry, settings, true))
    }

    fn for_plugin(&self, plugin: &PluginId) -> Self {
        Self {
            shared: self.shared.clone(),
            owner: Some(plugin.name.clone()),
        }
    }

    /// Removes the routes of a plugin whose `on_boot` failed (the server is not
    /// listening yet: boot completes after every on_boot), so they answer 404
    /// instead of running a half-booted plugin.
    async fn plugin_failed(&self, plugin: &PluginId) {
        let mut endpoints = self.shared.endpoints.lock();
        endpoints.retain(|e| e.info.owner != *plugin.name);
        *self.shared.cached.lock() = None;
    }

    async fn on_boot_complete(&self) -> Result<(), ToolError> {
        let router = router::try_build(self).map_err(|e| ToolError::new(format!("http: {e}")))?;
        *self.shared.cached.lock() = Some(router.clone());
        if self.shared.no_socket {
            return Ok(());
        }
        let s = &self.shared.settings;
        let serving = server::start(router, &s.host, s.port)
            .await
            .map_err(ToolError::new)?;
        *self.shared.addr.lock() = Some(serving.addr);
        *self.shared.serving.lock() = Some(serving);
        Ok(())
    }

    /// Stops accepting, lets requests finish and sockets close within
    /// `grace`, then cuts off whatever still runs: once this returns (or is
    /// dropped), no handler of this tool runs against the tools the kernel
    /// shuts down next.
    async fn drain(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        let _cut_off_on_drop = self.shared.sockets.cut_off_on_drop();
        // WebSockets are not requests the server waits for: close them (1001) alongside.
        let hub = self.shared.sockets.clone();
        let sockets = async move { hub.drain(grace).await };
        let serving = self.shared.serving.lock().take();
        let server = async move {
            if let Some(serving) = serving {
                serving
                    .drain(deadline.saturating_duration_since(tokio::time::Instant::now()))
                    .await;
            }
        };
        tokio::join!(sockets, server);
        self.shared.sockets.cut_off().await;
    }

    fn report(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .routes()
            .iter()
            .map(|r| {
                let method = match r.kind {
                    crate::route::RouteKind::WebSocket => "WS",
                    _ => r.method.as_str(),
                };
                let method_path = format!("{method} {}", r.path);
                let auth = if r.auth { "  auth" } else { "" };
                format!("{method_path:<32} {}{auth}", r.handler)
            })
            .collect();
        for m in self.shared.statics.lock().iter() {
            lines.push(format!("static {} -> {}", m.prefix, m.dir.display()));
        }
        match self.local_addr() {
            Some(addr) => lines.push(format!(
                "listening on http://{addr} (docs at http://{addr}/docs)"
            )),
            None if self.shared.no_socket => {
                lines.push("not listening (test mode: in-process calls only)".into())
            }
            None => {
                let s = &self.shared.settings;
                lines.push(format!("will listen on {}:{}", s.host, s.port));
            }
        }
        lines
    }
}

#[microcore_kernel::contract]
impl Http {
    /// Serves the files of `dir` under `prefix` for GET requests no route
    /// matched. A mount at `/` never hides the API. Only allowlisted
    /// extensions are served and dotfiles never (except `.well-known/`);
    /// a blocked file answers 404 exactly like a missing one.
    pub fn mount_static(
        &self,
        prefix: &str,
        dir: impl AsRef<Path>,
        options: StaticOptions,
    ) -> Result<(), RouteError> {
        self.shared.probe.observe_sync("mount_static", || {
            let mount = Mount::new(prefix, dir.as_ref(), options).map_err(|reason| {
                RouteError::StaticDir {
                    prefix: prefix.to_owned(),
                    owner: self.owner.as_deref().unwrap_or("app").to_owned(),
                    reason,
                }
            })?;
            self.shared.statics.lock().push(Arc::new(mount));
            *self.shared.cached.lock() = None;
            Ok(())
        })
    }
}
