//! Choosing the backend, and the `"default"` namespace of the handle itself.

use microcore_kernel::{Env, Probe, Registry, Tool, ToolFailure, ToolSetup, ToolStatus};
use microcore_state::{DEFAULT_NAMESPACE, State, StateError};

fn setup(pairs: &[(&str, &str)]) -> ToolSetup {
    let registry = Registry::new();
    registry.set_tool("state", ToolStatus::Ok, None);
    ToolSetup {
        env: Env::from_pairs(pairs.iter().copied()),
        probe: Probe::new("state", registry.clone()),
        registry,
    }
}

#[tokio::test]
async fn memory_is_the_default_backend() {
    let state = State::setup(setup(&[])).await.unwrap();
    assert!(
        state.report()[0].starts_with("backend: memory"),
        "{:?}",
        state.report()
    );
}

#[tokio::test]
async fn an_unreachable_redis_fails_setup_naming_the_url_without_its_password() {
    let err = State::setup(setup(&[
        ("STATE_BACKEND", "redis"),
        ("REDIS_URL", "redis://:hunter2@127.0.0.1:1/0"),
    ]))
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("redis://***@127.0.0.1:1/0"), "{err}");
    assert!(
        err.contains("unreachable") && err.contains("REDIS_URL"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn an_unknown_backend_or_url_fails_setup_with_the_choices() {
    let err = State::setup(setup(&[("STATE_BACKEND", "memcached")]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("memcached") && err.contains("`memory`") && err.contains("`redis`"),
        "{err}"
    );
    let err = State::setup(setup(&[
        ("STATE_BACKEND", "redis"),
        ("REDIS_URL", "http://nope"),
    ]))
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("REDIS_URL=http://nope"), "{err}");
}

#[tokio::test]
async fn the_test_setup_never_opens_a_socket() {
    let state = State::setup_for_tests(setup(&[
        ("STATE_BACKEND", "redis"),
        ("REDIS_URL", "redis://127.0.0.1:1"),
    ]))
    .await
    .unwrap();
    assert!(state.report()[0].contains("memory"));
}

#[tokio::test]
async fn methods_on_the_handle_use_the_default_namespace() {
    let state = State::in_memory(Probe::detached("state"));
    state.set("greeting", "hola", None).await.unwrap();
    assert_eq!(state.increment("n", 2, None).await.unwrap(), 2);
    let default = state.namespace(DEFAULT_NAMESPACE);
    assert_eq!(
        default.get::<String>("greeting").await.unwrap().as_deref(),
        Some("hola")
    );
    assert_eq!(state.keys().await.unwrap(), vec!["greeting", "n"]);
    assert!(state.has("n").await.unwrap());
    assert_eq!(state.get_all().await.unwrap().len(), 2);
    assert!(!state.namespace("other").has("greeting").await.unwrap());
    state.delete("n").await.unwrap();
    state.clear().await.unwrap();
    assert!(default.keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn caller_mistakes_are_measured_without_hurting_health() {
    let ts = setup(&[]);
    let registry = ts.registry.clone();
    let state = State::setup(ts).await.unwrap();
    state.set("word", "abc", None).await.unwrap();
    for _ in 0..6 {
        assert!(state.increment("word", 1, None).await.is_err());
    }
    assert_eq!(registry.tool("state").unwrap().status, ToolStatus::Ok);
    let calls = registry.recent_calls();
    assert_eq!(calls.len(), 7);
    assert!(calls.iter().any(|c| c.method == "increment" && !c.success));
}

#[test]
fn only_an_unreachable_backend_marks_the_tool_dead_at_once() {
    let down = StateError::Unavailable {
        backend: "redis at x".into(),
        reason: "refused".into(),
    };
    assert!(down.is_unavailable() && !down.is_caller_error());
    let odd = StateError::Backend {
        backend: "redis at x".into(),
        reason: "OOM".into(),
    };
    assert!(!odd.is_unavailable() && !odd.is_caller_error());
    let nan = StateError::NotANumber {
        namespace: "n".into(),
        key: "k".into(),
    };
    assert!(nan.is_caller_error());
}
