//! `/system/chaos/*`: fault injection for drills, the original's chaos
//! controls. Make a tool down, slow or flaky, fail one plugin's calls, add
//! latency, pause a plugin or a whole domain, then watch `/system/status` and
//! the logs react (docs/operating.md, "Chaos drill").
//!
//! Opt-in only: the routes exist when `CHAOS_ENABLED=true`, and the app
//! refuses to boot with it under `MICROCORE_ENV=production`. Like every
//! `/system/*` route they are operator routes: only `HTTP_OPERATOR_TOKEN`'s
//! bearer once it is set, open in development without it; never enable them
//! where strangers reach the port without the token.
//!
//! Faults are armed in the kernel's probe, so an injected failure is the
//! tool's own error and the DEAD/recovery policy treats it as a real outage.
//! Every change publishes a `system.chaos.*` event.

use microcore::prelude::*;
use microcore::tools::registry::{CallerFault, Latency, ToolFaultMode, identity_within};

/// The fault-injection endpoints (only with `CHAOS_ENABLED=true`).
#[plugin]
pub struct ChaosControl {
    http: Http,
    event_bus: EventBus,
    registry: SystemRegistry,
    config: Config,
    logger: Logger,
}

/// `POST /system/chaos/tool`: a fault on one tool, for every caller.
#[model]
pub struct ToolFaultRequest {
    /// The tool's injection name (`db`, `state`, `event_bus`, `auth`, ...).
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    /// `down` (fails as unreachable), `slow` (waits `seconds`), `flaky`
    /// (fails with probability `rate`) or `off` (lifts the fault).
    #[validate(length(min = 1, max = 20))]
    pub mode: String,
    /// The wait for `slow`, in seconds (default 2).
    #[validate(range(min = 0.0, max = 3600.0))]
    pub seconds: Option<f64>,
    /// The share of failing calls for `flaky`, 0..=1 (default 0.5).
    #[validate(range(min = 0.0, max = 1.0))]
    pub rate: Option<f64>,
}

/// `POST /system/chaos/fail`: failures for the calls of one plugin or domain.
#[model]
pub struct FailRequest {
    /// A plugin (`users.CreateUser`) or a domain (`users`).
    #[validate(length(min = 1, max = 200))]
    pub plugin: String,
    /// Only this tool's calls; every tool that can fail when absent.
    #[validate(length(min = 1, max = 100))]
    pub tool: Option<String>,
    /// The share of its calls that fail, 0..=1 (0 lifts it).
    #[validate(range(min = 0.0, max = 1.0))]
    pub rate: f64,
}

/// `POST /system/chaos/latency`: a wait before matching calls.
#[model]
pub struct LatencyRequest {
    /// Only calls by this plugin or domain; every caller when absent.
    #[validate(length(min = 1, max = 200))]
    pub plugin: Option<String>,
    /// Only this tool's calls; every tool when absent.
    #[validate(length(min = 1, max = 100))]
    pub tool: Option<String>,
    /// The added wait in seconds (0 lifts it).
    #[validate(range(min = 0.0, max = 3600.0))]
    pub seconds: f64,
}

/// `POST /system/chaos/off` and `/on`: pause or resume a plugin or domain.
#[model]
pub struct PauseRequest {
    /// A plugin (`notifications.Welcome`) or a domain (`notifications`).
    #[validate(length(min = 1, max = 200))]
    pub plugin: String,
}

/// A tool fault was armed or lifted (`mode: off`).
#[event("system.chaos.tool_fault_armed")]
pub struct ToolFaultArmed {
    /// The tool.
    pub tool: String,
    /// `down`, `slow`, `flaky` or `off`.
    pub mode: String,
    /// The wait of `slow`.
    pub seconds: Option<f64>,
    /// The failure rate of `flaky`.
    pub rate: Option<f64>,
}

/// Failures were armed for one plugin's (or domain's) calls.
#[event("system.chaos.fail_armed")]
pub struct FailArmed {
    /// The plugin or domain.
    pub plugin: String,
    /// The tool, or every tool.
    pub tool: Option<String>,
    /// The share of its calls that fail.
    pub rate: f64,
}

/// Latency was added.
#[event("system.chaos.latency_armed")]
pub struct LatencyArmed {
    /// The plugin or domain, or every caller.
    pub plugin: Option<String>,
    /// The tool, or every tool.
    pub tool: Option<String>,
    /// The added wait.
    pub seconds: f64,
}

/// A plugin or domain was paused: its routes answer 503, its deliveries wait.
#[event("system.chaos.plugin_paused")]
pub struct PluginPaused {
    /// The plugin or domain.
    pub plugin: String,
}

/// A plugin or domain was resumed: what it held is delivered, in order.
#[event("system.chaos.plugin_resumed")]
pub struct PluginResumed {
    /// The plugin or domain.
    pub plugin: String,
}

/// Every fault was lifted and every pause resumed.
#[event("system.chaos.reset")]
pub struct ChaosReset {
    /// The paused plugins and domains that were resumed.
    pub resumed: Vec<String>,
}

impl Plugin for ChaosControl {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        if !chaos_enabled(&self.config)? {
            return Ok(());
        }
        let production = self.config.get_or("MICROCORE_ENV", "");
        if production.trim().eq_ignore_ascii_case("production") {
            bail!("setting CHAOS_ENABLED=true is refused with MICROCORE_ENV=production; unset it");
        }
        let post =
            |path: &str, summary: &str| Route::post(path).operator().tag("System").summary(summary);
        self.http.route(
            Route::get("/system/chaos")
                .operator()
                .tag("System")
                .summary("Armed faults and paused plugins"),
            &self,
            Self::show,
        )?;
        let tool = post("/system/chaos/tool", "Make a tool down, slow or flaky");
        self.http.route(tool, &self, Self::tool)?;
        let fail = post("/system/chaos/fail", "Fail one plugin's tool calls");
        self.http.route(fail, &self, Self::fail)?;
        let latency = post("/system/chaos/latency", "Add latency to tool calls");
        self.http.route(latency, &self, Self::latency)?;
        let off = post("/system/chaos/off", "Pause a plugin or a domain");
        self.http.route(off, &self, Self::pause)?;
        let on = post("/system/chaos/on", "Resume a paused plugin or domain");
        self.http.route(on, &self, Self::resume)?;
        let reset = post("/system/chaos/reset", "Lift every fault and pause");
        self.http.route(reset, &self, Self::reset)?;
        self.logger.warn(
            "chaos controls are on (CHAOS_ENABLED=true): /system/chaos/* can take tools down",
        );
        Ok(())
    }
}

impl ChaosControl {
    async fn show(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        Ok(self.state())
    }

    async fn tool(self: Arc<Self>, req: ToolFaultRequest, _: Ctx) -> HttpResult<serde_json::Value> {
        self.known_tool("name", &req.name)?;
        let seconds = req.seconds.unwrap_or(2.0);
        let rate = req.rate.unwrap_or(0.5);
        let (mode, shown_seconds, shown_rate) = match req.mode.trim().to_ascii_lowercase().as_str()
        {
            "down" => (Some(ToolFaultMode::Down), None, None),
            "slow" => (Some(ToolFaultMode::Slow { seconds }), Some(seconds), None),
            "flaky" => (Some(ToolFaultMode::Flaky { rate }), None, Some(rate)),
            "off" => (None, None, None),
            other => {
                return Err(HttpError::unprocessable(format!(
                    "field `mode`: `{other}` is not a mode; use down, slow, flaky or off"
                )));
            }
        };
        if matches!(
            mode,
            Some(ToolFaultMode::Down | ToolFaultMode::Flaky { .. })
        ) {
            self.can_fail("name", &req.name)?;
        }
        self.registry.faults().set_tool(&req.name, mode);
        let mode = req.mode.trim().to_ascii_lowercase();
        self.logger
            .warn(format!("chaos: tool `{}` is now {mode}", req.name));
        self.announce(ToolFaultArmed {
            tool: req.name,
            mode,
            seconds: shown_seconds,
            rate: shown_rate,
        })
        .await;
        Ok(self.state())
    }

    async fn fail(self: Arc<Self>, req: FailRequest, _: Ctx) -> HttpResult<serde_json::Value> {
        self.known_owner(&req.plugin)?;
        if let Some(tool) = &req.tool {
            self.known_tool("tool", tool)?;
            self.can_fail("tool", tool)?;
        }
        self.registry.faults().set_caller(CallerFault {
            plugin: req.plugin.clone(),
            tool: req.tool.clone(),
            rate: req.rate,
        });
        let tool = req.tool.as_deref().unwrap_or("every tool");
        let msg = format!(
            "chaos: `{}` calls to {tool} fail at rate {}",
            req.plugin, req.rate
        );
        self.logger.warn(msg);
        self.announce(FailArmed {
            plugin: req.plugin,
            tool: req.tool,
            rate: req.rate,
        })
        .await;
        Ok(self.state())
    }

    async fn latency(
        self: Arc<Self>,
        req: LatencyRequest,
        _: Ctx,
    ) -> HttpResult<serde_json::Value> {
        if let Some(plugin) = &req.plugin {
            self.known_owner(plugin)?;
        }
        if let Some(tool) = &req.tool {
            self.known_tool("tool", tool)?;
        }
        self.registry.faults().set_latency(Latency {
            plugin: req.plugin.clone(),
            tool: req.tool.clone(),
            seconds: req.seconds,
        });
        self.logger.warn(format!(
            "chaos: {} s added to calls of {} by {}",
            req.seconds,
            req.tool.as_deref().unwrap_or("every tool"),
            req.plugin.as_deref().unwrap_or("every caller")
        ));
        self.announce(LatencyArmed {
            plugin: req.plugin,
            tool: req.tool,
            seconds: req.seconds,
        })
        .await;
        Ok(self.state())
    }

    async fn pause(self: Arc<Self>, req: PauseRequest, _: Ctx) -> HttpResult<serde_json::Value> {
        self.known_owner(&req.plugin)?;
        let me = microcore::CallContext::current().identity;
        if identity_within(&me, &req.plugin) {
            return Err(HttpError::unprocessable(format!(
                "field `plugin`: pausing `{}` would pause the chaos controls themselves \
                 (`system.ChaosControl`), and nothing could resume it; pause a plugin instead",
                req.plugin
            )));
        }
        self.registry.pauses().pause(&req.plugin);
        self.logger.warn(format!(
            "chaos: `{}` paused: its routes answer 503, its deliveries wait",
            req.plugin
        ));
        self.announce(PluginPaused { plugin: req.plugin }).await;
        Ok(self.state())
    }

    async fn resume(self: Arc<Self>, req: PauseRequest, _: Ctx) -> HttpResult<serde_json::Value> {
        self.known_owner(&req.plugin)?;
        if !self.registry.pauses().resume(&req.plugin) {
            return Err(HttpError::unprocessable(format!(
                "field `plugin`: `{}` is not paused; paused now: {:?}",
                req.plugin,
                self.registry.pauses().paused()
            )));
        }
        self.logger.info(format!("chaos: `{}` resumed", req.plugin));
        self.announce(PluginResumed { plugin: req.plugin }).await;
        Ok(self.state())
    }

    async fn reset(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        let resumed = self.registry.pauses().paused();
        self.registry.faults().reset();
        self.registry.pauses().resume_all();
        self.logger
            .info("chaos: every fault lifted and every pause resumed");
        self.announce(ChaosReset { resumed }).await;
        Ok(self.state())
    }

    /// What is armed and paused now.
    fn state(&self) -> serde_json::Value {
        let table = self.registry.faults().table();
        json!({
            "tools": table.tools,
            "callers": table.callers,
            "latency": table.latency,
            "paused": self.registry.pauses().paused(),
            "faultable_tools": self.registry.faults().accepting(),
        })
    }

    /// Publishes a `system.chaos.*` event. The change is made already: a bus
    /// that cannot take the event (it may be the tool just made down) is
    /// logged, not turned into a failed request.
    async fn announce<E: microcore::Event>(&self, event: E) {
        if let Err(e) = self.event_bus.publish(event).await {
            self.logger.warn(format!(
                "chaos: the change is made but its event was not published: {e}"
            ));
        }
    }

    fn known_tool(&self, field: &str, name: &str) -> HttpResult<()> {
        let tools: Vec<String> = self
            .registry
            .status()
            .tools
            .into_iter()
            .map(|t| t.name)
            .collect();
        if tools.iter().any(|t| t == name) {
            return Ok(());
        }
        Err(HttpError::unprocessable(format!(
            "field `{field}`: there is no tool `{name}`; tools: {}",
            tools.join(", ")
        )))
    }

    fn can_fail(&self, field: &str, name: &str) -> HttpResult<()> {
        if self.registry.faults().accepts(name) {
            return Ok(());
        }
        Err(HttpError::unprocessable(format!(
            "field `{field}`: calls of `{name}` cannot fail (their error has no outage to \
             show), so down, flaky and failures do not apply; use mode slow or \
             /system/chaos/latency, or one of: {}",
            self.registry.faults().accepting().join(", ")
        )))
    }

    /// A plugin or a domain of this app.
    fn known_owner(&self, owner: &str) -> HttpResult<()> {
        let plugins = self.registry.status().plugins;
        if plugins.iter().any(|p| p.name == owner || p.domain == owner) {
            return Ok(());
        }
        let mut names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        Err(HttpError::unprocessable(format!(
            "field `plugin`: `{owner}` is neither a plugin nor a domain of this app; plugins: {}",
            names.join(", ")
        )))
    }
}

/// `CHAOS_ENABLED`, read as the kernel reads it (`true/1/yes/on`).
fn chaos_enabled(config: &Config) -> anyhow::Result<bool> {
    let raw = config.get("CHAOS_ENABLED").unwrap_or_default();
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        other => bail!("setting CHAOS_ENABLED={other:?} is not a boolean; use true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[event("test.chaos_tick")]
    struct Tick {
        n: i64,
    }

    /// Records the ticks it handles, in order.
    #[plugin]
    struct Recorder {
        event_bus: EventBus,
        #[state]
        seen: std::sync::Mutex<Vec<i64>>,
    }

    impl Plugin for Recorder {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            self.event_bus.subscribe(&self, Self::on_tick).await?;
            Ok(())
        }
    }

    impl Recorder {
        async fn on_tick(self: Arc<Self>, event: Envelope<Tick>) -> HandlerResult {
            self.seen.lock().unwrap().push(event.n);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_paused_subscriber_gets_nothing_until_resumed_then_everything_in_order() {
        let app = testing::TestApp::<crate::Tools>::builder()
            .plugin::<ChaosControl>()
            .plugin::<Recorder>()
            .env("CHAOS_ENABLED", "true")
            .boot()
            .await;
        let control = async |path: &str| {
            let req = TestRequest::post(path).json(json!({"plugin": "system.Recorder"}));
            let res = app.http().call(req).await;
            assert_eq!(res.status, 200, "{}", res.text);
        };
        control("/system/chaos/off").await;
        for n in 1..=5 {
            app.bus().publish(Tick { n }).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let recorder = app.plugin::<Recorder>();
        assert!(
            recorder.seen.lock().unwrap().is_empty(),
            "held while paused"
        );
        assert!(app.bus().dead_letters().is_empty(), "held, not failed");

        control("/system/chaos/on").await;
        for _ in 0..200 {
            if recorder.seen.lock().unwrap().len() == 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*recorder.seen.lock().unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(
            app.published("system.chaos.plugin_paused"),
            [json!({"plugin": "system.Recorder"})]
        );
        assert_eq!(app.published("system.chaos.plugin_resumed").len(), 1);
    }

    #[tokio::test]
    async fn without_the_setting_no_route_is_registered() {
        let app = testing::boot::<ChaosControl>().await;
        let res = app.http().call(TestRequest::get("/system/chaos")).await;
        assert_eq!(res.status, 404, "{}", res.text);
        assert!(app.http().routes().is_empty());
    }

    #[tokio::test]
    async fn a_bad_setting_kills_the_plugin_with_its_name() {
        let app = testing::TestApp::<crate::Tools>::builder()
            .plugin::<ChaosControl>()
            .env("CHAOS_ENABLED", "maybe")
            .boot()
            .await;
        let me = app.status().plugins.into_iter().next().unwrap();
        assert_eq!(me.status, microcore::PluginStatus::Dead);
        assert!(me.error.unwrap().contains("CHAOS_ENABLED=\"maybe\""));
    }
}
