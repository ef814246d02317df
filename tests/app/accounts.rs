//! Accounts and sessions over real HTTP: a deleted account's tokens die with
//! it and its id is never handed out again; revocation fails closed when its
//! store is out of reach; the login throttle holds under parallel guesses;
//! sign-up bursts beyond the hashing queue get 503, not a pile-up.

use crate::support;

use futures::future::join_all;
use microcore::PluginStatus;
use serde_json::{Value, json};

#[tokio::test]
async fn a_deleted_accounts_tokens_never_reach_the_next_account() {
    let db = support::TempDb::new("takeover");
    let (running, base) = support::serve(&db).await;
    let c = reqwest::Client::new();

    support::sign_up(&c, &base, "ana@example.com").await;
    let mallory = support::sign_up(&c, &base, "mallory@example.com").await;
    let used = support::log_in(&c, &base, "mallory@example.com").await;
    let other = support::log_in(&c, &base, "mallory@example.com").await;
    let delete = c.delete(format!("{base}/users/{mallory}"));
    assert_eq!(support::status_with(delete, &used).await, 200);

    let bob = support::sign_up(&c, &base, "bob@example.com").await;
    assert!(
        bob > mallory,
        "a deleted account's id is never handed out again (bob got {bob}, mallory had {mallory})"
    );
    for (which, token) in [
        ("the token used to delete", &used),
        ("another token", &other),
    ] {
        let me = c.get(format!("{base}/users/me"));
        assert_eq!(support::status_with(me, token).await, 401, "{which}");
        let edit = c
            .put(format!("{base}/users/{mallory}"))
            .json(&json!({"name": "Mallory again"}));
        assert_eq!(support::status_with(edit, token).await, 401, "{which}");
        let edit_bob = c
            .put(format!("{base}/users/{bob}"))
            .json(&json!({"email": "mallory@example.com"}));
        assert_eq!(support::status_with(edit_bob, token).await, 401, "{which}");
    }
    let bob_token = support::log_in(&c, &base, "bob@example.com").await;
    let me: Value = c
        .get(format!("{base}/users/me"))
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["email"], "bob@example.com", "{me}");
    support::stop(running).await;
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn with_the_revocation_store_unreachable_tokens_are_refused_and_logout_is_absent() {
    let db = support::TempDb::new("fail-closed");
    let redis = format!("redis://127.0.0.1:{}", closed_port());
    let (running, base) = support::serve_with(&[
        ("DATABASE_URL", &db.url()),
        ("STATE_BACKEND", "redis"),
        ("REDIS_URL", &redis),
    ])
    .await;
    let c = reqwest::Client::new();
    let registry = running.registry();
    assert_eq!(
        registry.plugin("users.Sessions").map(|p| p.status),
        Some(PluginStatus::Dead)
    );
    assert_eq!(
        registry.plugin("users.Logout").map(|p| p.status),
        Some(PluginStatus::Dead),
        "logout is not READY without a revocation list that works"
    );

    // A token another replica issued: this one cannot see the fleet's revocations.
    let id = support::sign_up(&c, &base, "ana@example.com").await;
    let auth = running.tools().auth.get().unwrap().clone();
    let token = auth
        .create_token(id, json!({"email": "ana@example.com"}), None)
        .unwrap();
    let me = c.get(format!("{base}/users/me"));
    assert_eq!(support::status_with(me, &token).await, 401, "fails closed");

    let logout = c
        .post(format!("{base}/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status = logout.status().as_u16();
    let body = logout.text().await.unwrap();
    assert_ne!(status, 200, "{body}");
    assert!(!body.contains("logged_out"), "no pretend logout: {body}");
    support::stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_parallel_wrong_guesses_get_five_401s_and_the_rest_429() {
    let db = support::TempDb::new("throttle");
    let (running, base) = support::serve(&db).await;
    let c = reqwest::Client::new();
    support::sign_up(&c, &base, "ana@example.com").await;
    let guesses = (0..30).map(|i| {
        let (c, base) = (c.clone(), base.clone());
        tokio::spawn(async move {
            c.post(format!("{base}/auth/login"))
                .json(&json!({"email": "ana@example.com", "password": format!("guess {i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    let statuses: Vec<u16> = join_all(guesses)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let count = |s| statuses.iter().filter(|x| **x == s).count();
    assert_eq!((count(401), count(429)), (5, 25), "{statuses:?}");
    support::stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_up_burst_beyond_the_hashing_queue_gets_503_with_retry_after() {
    let db = support::TempDb::new("hash-queue");
    let (running, base) =
        support::serve_with(&[("DATABASE_URL", &db.url()), ("AUTH_HASH_QUEUE_LIMIT", "1")]).await;
    let c = reqwest::Client::new();
    let sign_ups = (0..24).map(|i| {
        let (c, base) = (c.clone(), base.clone());
        tokio::spawn(async move {
            let res = c
                .post(format!("{base}/users"))
                .json(&json!({"name": "U", "email": format!("u{i}@example.com"), "password": "correct horse"}))
                .send()
                .await
                .unwrap();
            let retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (res.status().as_u16(), retry_after, res.text().await.unwrap())
        })
    });
    let answers: Vec<_> = join_all(sign_ups)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert!(!busy.is_empty(), "some sign-ups are refused: {answers:?}");
    assert!(answers.iter().any(|a| a.0 == 201), "{answers:?}");
    assert!(
        answers.iter().all(|a| a.0 == 201 || a.0 == 503),
        "{answers:?}"
    );
    for (_, retry_after, body) in busy {
        assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
        assert!(body.contains("retry"), "{body}");
    }
    support::stop(running).await;
}

#[tokio::test]
async fn a_duplicate_sign_up_costs_no_password_hash() {
    let db = support::TempDb::new("dup-hash");
    let (running, base) = support::serve(&db).await;
    let c = reqwest::Client::new();
    support::sign_up(&c, &base, "ana@example.com").await;
    let hashes = || {
        running
            .registry()
            .recent_calls()
            .iter()
            .filter(|call| call.tool == "auth" && call.method == "hash_password")
            .count()
    };
    let before = hashes();
    let again = c
        .post(format!("{base}/users"))
        .json(&json!({"name": "Ana", "email": "ANA@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(hashes(), before, "the duplicate was refused before hashing");
    support::stop(running).await;
}
