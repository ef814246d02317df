//! Choosing a driver from settings, and what the tool reports.

use std::sync::Arc;

use microcore_event_bus::{Delivery, Envelope, EventBus, Support};
use microcore_kernel::{Env, Probe, Registry, Tool, ToolSetup};

use crate::common::{Backend, plugin};

test_event!(Described, "t.setup.described", { id: i64, email: String });

/// Shaped like a plugin: a method taking `self: Arc<Self>`.
struct Describer;

impl Describer {
    async fn on_described(self: Arc<Self>, event: Envelope<Described>) -> anyhow::Result<()> {
        anyhow::ensure!(!event.email.is_empty(), "no email");
        Ok(())
    }
}

fn setup(pairs: &[(&str, &str)]) -> ToolSetup {
    ToolSetup {
        env: Env::from_pairs(pairs.iter().copied()),
        probe: Probe::detached("event_bus"),
        registry: Registry::new(),
    }
}

#[tokio::test]
async fn an_unknown_driver_is_refused_with_the_choices() {
    let err = EventBus::setup(setup(&[("EVENT_BUS_DRIVER", "kafka")]))
        .await
        .unwrap_err();
    assert!(
        err.0.contains("kafka")
            && err.0.contains("in_process")
            && err.0.contains("`nats`")
            && err.0.contains("`jetstream`"),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_nats_fails_setup_saying_where_and_what_to_do() {
    for driver in ["nats", "jetstream"] {
        let err = EventBus::setup(setup(&[
            ("EVENT_BUS_DRIVER", driver),
            ("NATS_URL", "nats://127.0.0.1:1"),
        ]))
        .await
        .unwrap_err();
        assert!(
            err.0.contains("nats://127.0.0.1:1") && err.0.contains("EVENT_BUS_DRIVER=in_process"),
            "{driver}: {err}"
        );
    }
}

#[tokio::test]
async fn jetstream_settings_that_cannot_work_are_refused_before_connecting() {
    let refused = |pairs: &'static [(&'static str, &'static str)]| async move {
        let mut all = vec![
            ("EVENT_BUS_DRIVER", "jetstream"),
            ("NATS_URL", "nats://127.0.0.1:1"),
        ];
        all.extend_from_slice(pairs);
        EventBus::setup(setup(&all)).await.unwrap_err().0
    };
    let err = refused(&[("EVENT_BUS_NATS_PREFIX", "bus")]).await;
    assert!(
        err.contains("EVENT_BUS_NATS_PREFIX=\"bus\"") && err.contains("end with `.`"),
        "{err}"
    );
    let err = refused(&[("EVENT_BUS_JETSTREAM_ACK_WAIT_SECS", "0")]).await;
    assert!(err.contains("EVENT_BUS_JETSTREAM_ACK_WAIT_SECS=0"), "{err}");
    let err = refused(&[("EVENT_BUS_JETSTREAM_MAX_AGE_SECS", "a week")]).await;
    assert!(
        err.contains("EVENT_BUS_JETSTREAM_MAX_AGE_SECS=\"a week\""),
        "{err}"
    );
}

parity!(each_driver_declares_how_it_delivers);

/// Only JetStream keeps an accepted event through a crash, and keeps a
/// delayed event stored until due; every driver leaves retries and dead
/// letters to the bus.
async fn each_driver_declares_how_it_delivers(backend: Backend) {
    let bus = backend.bus().await;
    let (name, delivery, delay) = match backend {
        Backend::InProcess => ("in_process", Delivery::AtMostOnce, Support::InBus),
        Backend::Nats { .. } => ("nats", Delivery::AtMostOnce, Support::InBus),
        Backend::JetStream { .. } => ("jetstream", Delivery::AtLeastOnce, Support::Durable),
    };
    assert_eq!(bus.driver_name(), name);
    let caps = bus.capabilities();
    assert_eq!(
        (caps.delivery, caps.delay, caps.retries, caps.dlq),
        (delivery, delay, Support::InBus, Support::InBus)
    );
    assert_eq!(
        bus.report()[0],
        format!(
            "driver {name} (delivery: {delivery}, delay: {delay}, retries: in_bus, dlq: in_bus)"
        )
    );
    if let Backend::JetStream { .. } = backend {
        assert!(
            bus.report()[0].contains("delay: durable"),
            "{}",
            bus.report()[0]
        );
    }
}

#[tokio::test]
async fn the_default_and_the_test_setup_are_in_process() {
    let bus = EventBus::setup(setup(&[])).await.unwrap();
    assert_eq!(bus.driver_name(), "in_process");
    let bus = EventBus::setup_for_tests(setup(&[("EVENT_BUS_DRIVER", "nats")]))
        .await
        .unwrap();
    assert_eq!(bus.driver_name(), "in_process");
    let caps = bus.capabilities();
    assert_eq!(
        (caps.delay, caps.retries, caps.dlq),
        (Support::InBus, Support::InBus, Support::InBus)
    );
}

#[tokio::test]
async fn subscriptions_carry_the_payload_schema_and_the_report_names_driver_and_subscribers() {
    let bus = Backend::InProcess.bus().await;
    let describer = Arc::new(Describer);
    bus.for_plugin(&plugin("Describer"))
        .subscribe(&describer, Describer::on_described)
        .await
        .unwrap();
    let subs = bus.subscriptions();
    assert_eq!(subs.len(), 1);
    let sub = &subs[0];
    assert_eq!(sub.event, "t.setup.described");
    assert_eq!(sub.payload_type, "Described");
    let properties = &sub.schema["properties"];
    assert!(
        properties["id"].is_object() && properties["email"].is_object(),
        "{}",
        sub.schema
    );
    let report = bus.report();
    assert_eq!(
        report[0],
        "driver in_process (delivery: at_most_once, delay: in_bus, retries: in_bus, dlq: in_bus)"
    );
    assert!(
        report
            .iter()
            .any(|l| l == "t.setup.described -> tests.Describer.on_described"),
        "{report:?}"
    );
    assert_eq!(
        bus.subscribers()["t.setup.described"],
        vec![sub.subscriber.clone()]
    );
}

test_event!(Counted, "t.setup.counted", { n: u32 });

#[tokio::test]
async fn the_trace_keeps_only_the_newest_records() {
    let bus = EventBus::setup_for_tests(setup(&[])).await.unwrap();
    let total = microcore_event_bus::TRACE_CAPACITY as u32 + 100;
    for n in 0..total {
        bus.publish(Counted { n }).await.unwrap();
    }
    let history = bus.trace_history();
    assert_eq!(history.len(), microcore_event_bus::TRACE_CAPACITY);
    assert_eq!(
        history[0].envelope.payload["n"], 100,
        "the oldest 100 records are gone"
    );
    assert_eq!(history.last().unwrap().envelope.payload["n"], total - 1);
    assert_eq!(
        bus.event_stats()["t.setup.counted"].published,
        u64::from(total),
        "counts are not bounded by the ring"
    );
}

/// A NATS server of the test's own, without JetStream, on a free port;
/// stopped when dropped.
struct PlainNats {
    child: std::process::Child,
    url: String,
}

impl PlainNats {
    /// `None` (with the reason printed) when `nats-server` is not installed;
    /// under `CI=true` that fails the test instead.
    fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        // `/usr/sbin` is where Debian puts it, and not always on PATH.
        let candidates = [
            std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into()),
            "/usr/sbin/nats-server".into(),
        ];
        let mut spawned = Err(std::io::Error::other("no candidate"));
        for bin in &candidates {
            spawned = std::process::Command::new(bin)
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            if spawned.is_ok() {
                break;
            }
        }
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("nats-server is required under CI=true (set NATS_SERVER_BIN): {e}")
            }
            Err(e) => {
                eprintln!("skipping: cannot start nats-server ({e}); set NATS_SERVER_BIN");
                return None;
            }
        };
        let server = Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not listen on port {port} within 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for PlainNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_nats_server_without_jetstream_fails_jetstream_setup_saying_how_to_enable_it() {
    let Some(server) = PlainNats::start() else {
        return;
    };
    let err = EventBus::setup(setup(&[
        ("EVENT_BUS_DRIVER", "jetstream"),
        ("NATS_URL", server.url.as_str()),
    ]))
    .await
    .unwrap_err();
    assert!(
        err.0.contains("JetStream is not available")
            && err.0.contains(&server.url)
            && err.0.contains("nats-server -js")
            && err.0.contains("EVENT_BUS_DRIVER=nats"),
        "{err}"
    );
    // The same server serves the at-most-once driver.
    let bus = EventBus::setup(setup(&[
        ("EVENT_BUS_DRIVER", "nats"),
        ("NATS_URL", server.url.as_str()),
    ]))
    .await
    .expect("core NATS needs no JetStream");
    assert_eq!(bus.driver_name(), "nats");
}
