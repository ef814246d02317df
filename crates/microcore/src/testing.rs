//! The plugin testing kit: boot one plugin (or a few) on real in-memory tools
//! in a few lines.
//!
//! ```ignore
//! #[tokio::test]
//! async fn creates_a_user() {
//!     let app = microcore::testing::boot::<CreateUser>().await;
//!     let res = app.http().call(TestRequest::post("/users").json(json!({...}))).await;
//!     assert_eq!(res.status, 201);
//!     assert_eq!(app.published("user.created").len(), 1);
//! }
//! ```
//!
//! The tools are the real ones on in-memory backends: SQLite in memory with
//! every domain migration applied, the in-process event bus (whose trace
//! history records what was published and delivered), the http tool without
//! a socket (`call` runs the real router in-process), auth with a fixed test
//! secret, in-memory state.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use microcore_kernel::{
    BootOptions, Env, Kernel, PluginBuild, Running, SystemStatus, Tool, ToolSet, registered_plugins,
};

pub use microcore_http::testing::{TestRequest, TestResponse};

/// Boots plugin `P` alone on test tools.
pub async fn boot<P: PluginBuild>() -> TestApp<P::Tools> {
    TestApp::<P::Tools>::builder().plugin::<P>().boot().await
}

/// Chooses which plugins and settings a [`TestApp`] boots with.
pub struct TestAppBuilder<T> {
    plugins: Vec<String>,
    env: Env,
    _tools: PhantomData<T>,
}

#[microcore_kernel::contract(kit = "testing")]
impl<T: ToolSet> TestAppBuilder<T> {
    /// Adds plugin `P`.
    pub fn plugin<P: PluginBuild<Tools = T>>(mut self) -> Self {
        let full = std::any::type_name::<P>();
        let id = registered_plugins::<T>()
            .into_iter()
            .find(|d| format!("{}::{}", d.module_path, d.type_name) == full)
            .map(|d| d.id().name.to_string());
        match id {
            Some(id) => self.plugins.push(id),
            None => {
                panic!("{full} is not a registered #[plugin] of this tool set; put #[plugin] on it")
            }
        }
        self
    }

    /// Sets a setting the tools read at setup.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env = self.env.with(key, value);
        self
    }

    /// Boots the chosen plugins on test tools.
    pub async fn boot(self) -> TestApp<T> {
        let options = BootOptions {
            env: self.env,
            only: Some(self.plugins),
            ..BootOptions::tests()
        };
        TestApp {
            running: Some(Kernel::<T>::boot(options).await),
        }
    }
}

/// A booted test application.
pub struct TestApp<T: ToolSet> {
    running: Option<Running<T>>,
}

#[microcore_kernel::contract(kit = "testing")]
impl<T: ToolSet> TestApp<T> {
    /// Starts choosing plugins and settings.
    pub fn builder() -> TestAppBuilder<T> {
        TestAppBuilder {
            plugins: Vec::new(),
            env: Env::default(),
            _tools: PhantomData,
        }
    }

    fn running(&self) -> &Running<T> {
        self.running
            .as_ref()
            .expect("a TestApp is running until dropped")
    }

    /// The tool named `H::NAME`; panics with the tool's failure if it is not set up.
    #[not_in_manifest]
    pub fn tool<H: Tool>(&self) -> H {
        for slot in self.running().tools().slots() {
            if slot.name() == H::NAME
                && let Some(tool) = slot.as_any().and_then(|a| a.downcast_ref::<H>())
            {
                return tool.clone();
            }
        }
        panic!(
            "tool `{}` is not set up in this test app: {:?}",
            H::NAME,
            self.status().tools
        )
    }

    /// The http tool; `app.http().call(TestRequest::get("/ping")).await`.
    pub fn http(&self) -> microcore_http::Http {
        self.tool()
    }

    /// The db tool.
    ///
    /// In-memory SQLite with every migration applied.
    pub fn db(&self) -> microcore_db::Db {
        self.tool()
    }

    /// The event bus.
    pub fn bus(&self) -> microcore_event_bus::EventBus {
        self.tool()
    }

    /// The auth tool.
    ///
    /// It signs with a fixed test secret.
    pub fn auth(&self) -> microcore_auth::Auth {
        self.tool()
    }

    /// The state tool.
    ///
    /// It keeps its entries in memory.
    pub fn state(&self) -> microcore_state::State {
        self.tool()
    }

    /// The booted plugin of type `P`.
    pub fn plugin<P: Send + Sync + 'static>(&self) -> Arc<P> {
        self.running().plugin::<P>().unwrap_or_else(|| {
            panic!(
                "plugin {} did not boot: {:?}",
                std::any::type_name::<P>(),
                self.status().plugins
            )
        })
    }

    /// Tool and plugin status.
    #[not_in_manifest]
    pub fn status(&self) -> SystemStatus {
        self.running().registry().snapshot()
    }

    /// The kernel's status registry (to put a tool DEAD in a health test).
    #[not_in_manifest]
    pub fn registry(&self) -> microcore_kernel::Registry {
        self.running().registry().clone()
    }

    /// The payloads published under `event` so far, oldest first.
    pub fn published(&self, event: &str) -> Vec<serde_json::Value> {
        self.bus().published_payloads(event)
    }

    /// The payloads of `event`, once published, waiting up to `timeout`.
    pub async fn wait_for(&self, event: &str, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = self.published(event);
            if !found.is_empty() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Publishes the events transactions stored with `tx.publish` and returns how many.
    ///
    /// What the outbox relay (`system.OutboxRelay`) does in the background,
    /// done here at once so a test reads `published` right after a request.
    pub async fn flush_outbox(&self) -> usize {
        let outbox = self.db().outbox();
        let bus = self.bus();
        let settings = outbox.settings();
        let mut count = 0;
        loop {
            let rows = outbox
                .claim(settings.batch, settings.lease)
                .await
                .unwrap_or_else(|e| panic!("the outbox cannot be read: {e}"));
            if rows.is_empty() {
                return count;
            }
            for row in rows {
                let id = row.id.clone();
                let envelope = microcore_event_bus::RawEnvelope::stored(
                    row.id,
                    row.event,
                    row.payload,
                    row.emitter,
                    row.timestamp,
                    row.parent_id,
                )
                .with_trace(row.trace);
                bus.publish_stored(envelope)
                    .await
                    .unwrap_or_else(|e| panic!("a stored event cannot be published: {e}"));
                outbox
                    .sent(&id)
                    .await
                    .unwrap_or_else(|e| panic!("the outbox cannot be written: {e}"));
                count += 1;
            }
        }
    }

    /// Shuts down in order (tests usually just drop the app).
    #[not_in_manifest]
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown(Duration::from_secs(2)).await;
        }
    }
}

/// A revocation list that reads as "nothing revoked" but refuses every write,
/// as a store gone read-only would: install it with
/// `app.auth().use_revocation_list(ReadOnlyRevocations)` to test that logout
/// and account deletion fail closed instead of pretending.
pub struct ReadOnlyRevocations;

impl microcore_kernel::RevocationList for ReadOnlyRevocations {
    fn revoke<'a>(&'a self, _: &'a str, _: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err("store is read-only".to_owned()) })
    }

    fn is_revoked<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async { Ok(false) })
    }

    fn revoke_subject<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err("store is read-only".to_owned()) })
    }

    fn revoked_before<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<i64>, String>> {
        Box::pin(async { Ok(None) })
    }
}
