//! Who a log line is attributed to, as seen by `tracing`.

use std::sync::{Arc, OnceLock};

use microcore_kernel::{CallContext, PluginId, Probe, Tool, in_context};
use microcore_logger::{Logger, TARGET};
use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// One captured `tracing` event: level, `plugin` field, message.
type Captured = Arc<Mutex<Vec<(String, String, String)>>>;

struct Capture(Captured);

#[derive(Default)]
struct Fields {
    plugin: String,
    message: String,
    event_id: Option<String>,
}

/// `(message, event_id)` of every plugin event, for the cause test.
type Causes = Mutex<Vec<(String, Option<String>)>>;

fn causes() -> &'static Causes {
    static CAUSES: OnceLock<Causes> = OnceLock::new();
    CAUSES.get_or_init(Mutex::default)
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "plugin" => self.plugin = value.to_owned(),
            "event_id" => self.event_id = Some(value.to_owned()),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        causes()
            .lock()
            .push((fields.message.clone(), fields.event_id.clone()));
        self.0.lock().push((
            event.metadata().level().to_string(),
            fields.plugin,
            fields.message,
        ));
    }
}

/// Every plugin event of this test binary. A global subscriber, because
/// per-thread ones race on tracing's callsite cache when tests run in parallel.
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        tracing::subscriber::set_global_default(
            Registry::default().with(Capture(captured.clone())),
        )
        .expect("no other global subscriber in this test binary");
        captured
    })
}

/// Runs `f` and returns the captured events whose message contains `marker`.
fn capture<F: std::future::Future>(marker: &str, f: F) -> Vec<(String, String, String)> {
    let captured = captured();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f);
    captured
        .lock()
        .iter()
        .filter(|e| e.2.contains(marker))
        .cloned()
        .collect()
}

fn plugin_id(name: &str) -> PluginId {
    let (domain, ty) = name.split_once('.').unwrap();
    PluginId {
        name: name.into(),
        domain: domain.into(),
        feature: ty.to_lowercase().into(),
        file: format!("domains/{domain}/plugins/{}.rs", ty.to_lowercase()).into(),
    }
}

fn logger() -> Logger {
    Logger::new(Probe::detached("logger"))
}

#[test]
fn a_stamped_handle_attributes_lines_to_its_plugin() {
    let log = logger().for_plugin(&plugin_id("users.CreateUser"));
    let events = capture("[stamped]", async move {
        log.info(format_args!("[stamped] user {} created", 7));
        log.warn("[stamped] slow insert");
    });
    assert_eq!(
        events,
        vec![
            (
                "INFO".into(),
                "users.CreateUser".into(),
                "[stamped] user 7 created".into()
            ),
            (
                "WARN".into(),
                "users.CreateUser".into(),
                "[stamped] slow insert".into()
            ),
        ]
    );
}

#[test]
fn the_running_call_context_wins_over_the_handle() {
    let log = logger().for_plugin(&plugin_id("users.CreateUser"));
    let events = capture("[ctx]", async move {
        let ctx = CallContext::new("notifications.Welcome.on_user_created", None);
        in_context(ctx, async { log.error("[ctx] could not send") }).await;
    });
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, "notifications.Welcome.on_user_created");
}

#[test]
fn an_unstamped_handle_outside_any_plugin_is_system() {
    let log = logger();
    let events = capture("[system]", async move { log.debug("[system] booting") });
    assert_eq!(
        events,
        vec![("DEBUG".into(), "system".into(), "[system] booting".into())]
    );
}

#[test]
fn a_line_written_while_handling_an_event_names_the_event() {
    let log = logger().for_plugin(&plugin_id("notifications.Welcome"));
    let events = capture("[cause]", async move {
        let ctx = CallContext::new(
            "notifications.Welcome.on_user_created",
            Some("ev-42".into()),
        );
        in_context(ctx, async { log.info("[cause] sending") }).await;
        log.info("[cause] outside");
    });
    assert_eq!(events.len(), 2);
    let causes: Vec<_> = causes()
        .lock()
        .iter()
        .filter(|(m, _)| m.contains("[cause]"))
        .cloned()
        .collect();
    assert_eq!(
        causes,
        vec![
            ("[cause] sending".to_owned(), Some("ev-42".to_owned())),
            ("[cause] outside".to_owned(), None),
        ]
    );
}
