//! The behaviours every state backend must show (reference behaviour 29 and more).

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::join_all;
use microcore_state::StateError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Fixture;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Session {
    user: i64,
    roles: Vec<String>,
}

pub(crate) async fn set_then_get_round_trips_typed_values(fx: &Fixture) {
    let ns = fx.ns("typed");
    let session = Session {
        user: 7,
        roles: vec!["admin".into()],
    };
    ns.set("s1", &session, None).await.unwrap();
    assert_eq!(ns.get::<Session>("s1").await.unwrap(), Some(session));
    ns.set("n", 2.5, None).await.unwrap();
    assert_eq!(ns.get::<f64>("n").await.unwrap(), Some(2.5));
    ns.set("text", "hello", None).await.unwrap();
    assert_eq!(
        ns.get::<String>("text").await.unwrap().as_deref(),
        Some("hello")
    );
    ns.set("nothing", Value::Null, None).await.unwrap();
    assert!(
        ns.has("nothing").await.unwrap(),
        "a stored null is still a key"
    );
    assert_eq!(ns.get::<Session>("missing").await.unwrap(), None);
    assert!(!ns.has("missing").await.unwrap());
}

pub(crate) async fn reading_as_the_wrong_type_names_the_key(fx: &Fixture) {
    let ns = fx.ns("wrong_type");
    ns.set("count", "seven", None).await.unwrap();
    let err = ns.get::<i64>("count").await.unwrap_err();
    assert!(
        matches!(&err, StateError::Deserialize { key, .. } if key == "count"),
        "{err}"
    );
    assert!(err.to_string().contains("count"), "{err}");
}

pub(crate) async fn set_with_ttl_expires(fx: &Fixture) {
    let ns = fx.ns("ttl");
    ns.set("short", 1, Some(ms(200))).await.unwrap();
    ns.set("long", 2, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(ns.get::<i64>("short").await.unwrap(), Some(1));
    sleep(ms(450)).await;
    assert_eq!(ns.get::<i64>("short").await.unwrap(), None);
    assert!(!ns.has("short").await.unwrap());
    assert_eq!(ns.keys().await.unwrap(), vec!["long".to_owned()]);
    assert_eq!(ns.get_all().await.unwrap().len(), 1);
}

pub(crate) async fn set_replaces_the_value_and_its_ttl(fx: &Fixture) {
    let ns = fx.ns("replace");
    ns.set("k", "first", Some(ms(200))).await.unwrap();
    ns.set("k", "second", None).await.unwrap();
    sleep(ms(450)).await;
    assert_eq!(
        ns.get::<String>("k").await.unwrap().as_deref(),
        Some("second")
    );
}

pub(crate) async fn increment_starts_at_zero_and_returns_the_new_value(fx: &Fixture) {
    let ns = fx.ns("counter");
    assert_eq!(ns.increment("hits", 1, None).await.unwrap(), 1);
    assert_eq!(ns.increment("hits", 5, None).await.unwrap(), 6);
    assert_eq!(ns.increment("hits", -2, None).await.unwrap(), 4);
    assert_eq!(ns.get::<i64>("hits").await.unwrap(), Some(4));
    assert_eq!(ns.increment("down", -3, None).await.unwrap(), -3);
    ns.set("preset", 10, None).await.unwrap();
    assert_eq!(ns.increment("preset", 1, None).await.unwrap(), 11);
}

pub(crate) async fn increment_ttl_applies_only_when_the_key_is_created(fx: &Fixture) {
    let ns = fx.ns("window");
    assert_eq!(ns.increment("fails", 1, Some(ms(1000))).await.unwrap(), 1);
    sleep(ms(300)).await;
    // A later increment with a longer ttl must not extend the window.
    assert_eq!(
        ns.increment("fails", 1, Some(Duration::from_secs(60)))
            .await
            .unwrap(),
        2
    );
    sleep(ms(1100)).await;
    assert_eq!(
        ns.get::<i64>("fails").await.unwrap(),
        None,
        "the window is fixed at creation"
    );
}

pub(crate) async fn increment_restarts_from_zero_after_expiry(fx: &Fixture) {
    let ns = fx.ns("restart");
    ns.increment("k", 3, Some(ms(200))).await.unwrap();
    assert_eq!(ns.increment("k", 3, Some(ms(200))).await.unwrap(), 6);
    sleep(ms(450)).await;
    assert_eq!(ns.increment("k", 1, Some(ms(200))).await.unwrap(), 1);
}

pub(crate) async fn increment_never_adds_a_ttl_to_an_existing_key(fx: &Fixture) {
    let ns = fx.ns("no_new_ttl");
    ns.set("k", 5, None).await.unwrap();
    assert_eq!(ns.increment("k", 1, Some(ms(200))).await.unwrap(), 6);
    sleep(ms(450)).await;
    assert_eq!(ns.get::<i64>("k").await.unwrap(), Some(6));
}

pub(crate) async fn increment_of_a_non_integer_fails_naming_the_key(fx: &Fixture) {
    let ns = fx.ns("nan");
    for (key, value) in [
        ("word", json!("abc")),
        ("float", json!(1.5)),
        ("list", json!([1])),
    ] {
        ns.set(key, &value, None).await.unwrap();
        let err = ns.increment(key, 1, None).await.unwrap_err();
        assert!(
            matches!(&err, StateError::NotANumber { key: k, .. } if k == key),
            "{key}: {err}"
        );
        assert!(err.to_string().contains(key), "{err}");
        assert_eq!(
            ns.get::<Value>(key).await.unwrap(),
            Some(value),
            "a failed increment changes nothing"
        );
    }
}

pub(crate) async fn increment_overflow_is_an_error(fx: &Fixture) {
    let ns = fx.ns("overflow");
    ns.set("big", i64::MAX, None).await.unwrap();
    let err = ns.increment("big", 1, None).await.unwrap_err();
    assert!(matches!(err, StateError::Overflow { .. }), "{err}");
    assert_eq!(ns.get::<i64>("big").await.unwrap(), Some(i64::MAX));
}

pub(crate) async fn fifty_concurrent_increments_are_exact(fx: &Fixture) {
    let ns = fx.ns("concurrent");
    let calls = (0..50).map(|_| {
        let ns = ns.clone();
        tokio::spawn(async move {
            ns.increment("n", 1, Some(Duration::from_secs(60)))
                .await
                .unwrap()
        })
    });
    let results: BTreeSet<i64> = join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results,
        (1..=50).collect::<BTreeSet<i64>>(),
        "each caller saw a distinct value"
    );
    assert_eq!(ns.get::<i64>("n").await.unwrap(), Some(50));
}

pub(crate) async fn namespaces_are_isolated(fx: &Fixture) {
    let (a, b) = (fx.ns("a"), fx.ns("b"));
    a.set("k", "in a", None).await.unwrap();
    b.set("k", "in b", None).await.unwrap();
    a.increment("n", 1, None).await.unwrap();
    assert_eq!(b.get::<String>("k").await.unwrap().as_deref(), Some("in b"));
    assert!(!b.has("n").await.unwrap());
    assert_eq!(
        a.keys().await.unwrap(),
        vec!["k".to_owned(), "n".to_owned()]
    );
    assert_eq!(b.keys().await.unwrap(), vec!["k".to_owned()]);
    a.delete("k").await.unwrap();
    assert!(b.has("k").await.unwrap());
    a.clear().await.unwrap();
    assert!(a.keys().await.unwrap().is_empty());
    assert_eq!(b.get::<String>("k").await.unwrap().as_deref(), Some("in b"));
    // A prefix of another namespace's name is a different namespace.
    let ab = fx.ns("a_b");
    ab.set("x", 1, None).await.unwrap();
    fx.ns("a").clear().await.unwrap();
    assert!(ab.has("x").await.unwrap());
}

pub(crate) async fn get_all_is_a_deep_copy(fx: &Fixture) {
    let ns = fx.ns("copy");
    ns.set("cfg", json!({"limits": {"max": 5}, "tags": ["a"]}), None)
        .await
        .unwrap();
    ns.set("n", 1, None).await.unwrap();
    let mut all = ns.get_all().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["cfg"]["limits"]["max"], 5);
    all.get_mut("cfg").unwrap()["limits"]["max"] = json!(99);
    all.get_mut("cfg").unwrap()["tags"]
        .as_array_mut()
        .unwrap()
        .push(json!("b"));
    all.remove("n");
    let again = ns.get_all().await.unwrap();
    assert_eq!(again["cfg"], json!({"limits": {"max": 5}, "tags": ["a"]}));
    assert_eq!(again["n"], json!(1));
}

pub(crate) async fn keys_are_sorted_and_live_only(fx: &Fixture) {
    let ns = fx.ns("keys");
    for key in ["charlie", "alpha", "bravo", "with:colon", "with space"] {
        ns.set(key, true, None).await.unwrap();
    }
    ns.set("ephemeral", true, Some(ms(150))).await.unwrap();
    sleep(ms(400)).await;
    assert_eq!(
        ns.keys().await.unwrap(),
        vec!["alpha", "bravo", "charlie", "with space", "with:colon"]
    );
    assert!(fx.ns("never_used").keys().await.unwrap().is_empty());
    assert!(fx.ns("never_used").get_all().await.unwrap().is_empty());
}

pub(crate) async fn delete_and_clear(fx: &Fixture) {
    let ns = fx.ns("delete");
    ns.delete("missing").await.unwrap();
    ns.set("a", 1, None).await.unwrap();
    ns.set("b", 2, Some(Duration::from_secs(60))).await.unwrap();
    ns.delete("a").await.unwrap();
    assert!(!ns.has("a").await.unwrap());
    ns.clear().await.unwrap();
    assert!(ns.keys().await.unwrap().is_empty());
    ns.clear().await.unwrap();
    assert_eq!(
        ns.increment("b", 1, None).await.unwrap(),
        1,
        "cleared keys start over"
    );
}

pub(crate) async fn zero_ttl_and_bad_namespaces_are_refused(fx: &Fixture) {
    let ns = fx.ns("zero");
    let err = ns.set("k", 1, Some(Duration::ZERO)).await.unwrap_err();
    assert!(matches!(err, StateError::ZeroTtl { .. }), "{err}");
    let err = ns
        .increment("k", 1, Some(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::ZeroTtl { .. }), "{err}");
    assert!(!ns.has("k").await.unwrap());
    for bad in ["", "has:colon"] {
        let err = fx.state.namespace(bad).set("k", 1, None).await.unwrap_err();
        assert!(matches!(err, StateError::InvalidNamespace { .. }), "{err}");
    }
}

pub(crate) async fn a_ttl_too_long_is_refused_before_anything_is_written(fx: &Fixture) {
    let ns = fx.ns("ttl_too_long");
    let forever = Duration::from_secs(i64::MAX as u64 / 1000);
    let err = ns.increment("hits", 1, Some(forever)).await.unwrap_err();
    assert!(matches!(err, StateError::TtlTooLong { .. }), "{err}");
    assert!(err.to_string().contains("hits"), "{err}");
    let err = ns.set("k", 1, Some(forever)).await.unwrap_err();
    assert!(matches!(err, StateError::TtlTooLong { .. }), "{err}");
    assert!(
        !ns.has("hits").await.unwrap() && !ns.has("k").await.unwrap(),
        "nothing was written, so no counter lives on without a ttl"
    );
}

pub(crate) async fn floats_round_trip_exactly(fx: &Fixture) {
    let ns = fx.ns("floats");
    // Deterministic spread over many magnitudes, including the awkward ones.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut floats = vec![
        0.1,
        0.1 + 0.2,
        1.0 / 3.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        -2.5e-300,
    ];
    while floats.len() < 2000 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let f = f64::from_bits(seed);
        if f.is_finite() {
            floats.push(f);
        }
    }
    ns.set("all", &floats, None).await.unwrap();
    let back: Vec<f64> = ns.get("all").await.unwrap().unwrap();
    let differ = floats.iter().zip(&back).filter(|(a, b)| a != b).count();
    assert_eq!(
        differ,
        0,
        "{differ} of {} floats came back changed",
        floats.len()
    );
}

pub(crate) async fn listing_and_clearing_never_touch_keys_outside_the_app_prefix(fx: &Fixture) {
    let ns = fx.ns("shared_db");
    let Some(mut raw) = fx.raw_redis() else {
        return; // In memory nothing else shares the keyspace.
    };
    // Another app on the same Redis database, with the same namespace name.
    let foreign = format!("{}:theirs", ns.name());
    let _: () = redis::Commands::set(&mut raw, &foreign, "1").unwrap();
    ns.set("mine", 1, None).await.unwrap();
    assert_eq!(ns.keys().await.unwrap(), ["mine"]);
    ns.clear().await.unwrap();
    assert!(ns.keys().await.unwrap().is_empty());
    let theirs: Option<String> = redis::Commands::get(&mut raw, &foreign).unwrap();
    assert_eq!(
        theirs.as_deref(),
        Some("1"),
        "another app's key survived clear()"
    );
}
