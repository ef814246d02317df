use super::*;

#[tokio::test]
async fn a_short_secret_fails_setup_naming_the_variable_the_minimum_and_the_fix() {
    let err = serving(&[("AUTH_SECRET_KEY", "too-short")])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("AUTH_SECRET_KEY"), "{msg}");
    assert!(msg.contains("at least 32 bytes"), "{msg}");
    assert!(msg.contains("openssl rand"), "{msg}");
    assert!(
        !msg.contains("too-short"),
        "the secret must never be echoed: {msg}"
    );
}

#[tokio::test]
async fn an_unset_secret_in_production_fails_setup() {
    let err = serving(&[("MICROCORE_ENV", "production")])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("AUTH_SECRET_KEY is not set"), "{msg}");
    assert!(
        msg.contains("MICROCORE_ENV=production") && msg.contains("openssl rand"),
        "{msg}"
    );
    let empty = serving(&[("MICROCORE_ENV", "Production"), ("AUTH_SECRET_KEY", "")]).await;
    assert!(empty.is_err(), "an empty secret counts as unset");
}

#[tokio::test]
async fn outside_production_an_unset_secret_gives_a_working_ephemeral_one() {
    let first = serving(&[]).await.unwrap();
    let second = serving(&[]).await.unwrap();
    let token = first
        .create_token(1, serde_json::Value::Null, None)
        .unwrap();
    assert_eq!(first.decode_token(&token).unwrap().sub, "1");
    assert!(
        second.decode_token(&token).is_err(),
        "each process (here: each setup) must get its own random secret"
    );
    assert!(
        first.report()[0].contains("EPHEMERAL"),
        "{:?}",
        first.report()
    );
}

#[tokio::test]
async fn only_hmac_algorithms_are_accepted() {
    for alg in ["HS256", "hs384", "HS512"] {
        let auth = serving(&[("AUTH_SECRET_KEY", SECRET_A), ("AUTH_ALGORITHM", alg)]).await;
        assert!(auth.is_ok(), "{alg}");
    }
    for alg in ["none", "RS256", "ES256", "HS1024"] {
        let err = serving(&[("AUTH_SECRET_KEY", SECRET_A), ("AUTH_ALGORITHM", alg)])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AUTH_ALGORITHM") && err.contains("HS256"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn the_default_lifetime_comes_from_the_setting_and_must_be_positive() {
    let auth = serving(&[("AUTH_SECRET_KEY", SECRET_A)]).await.unwrap();
    assert_eq!(auth.default_ttl().as_secs(), 3600);
    let auth = testing(&[("AUTH_TOKEN_EXPIRE_MINUTES", "5")]).await;
    assert_eq!(auth.default_ttl().as_secs(), 300);
    for bad in ["0", "soon"] {
        let err = serving(&[
            ("AUTH_SECRET_KEY", SECRET_A),
            ("AUTH_TOKEN_EXPIRE_MINUTES", bad),
        ])
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("AUTH_TOKEN_EXPIRE_MINUTES"), "{err}");
    }
}

#[tokio::test]
async fn the_test_setup_uses_a_fixed_secret() {
    let a = testing(&[]).await;
    let b = testing(&[("AUTH_SECRET_KEY", "ignored-even-when-short")]).await;
    let token = a.create_token("7", serde_json::json!({}), None).unwrap();
    assert_eq!(b.decode_token(&token).unwrap().sub, "7");
}

#[tokio::test]
async fn serving_keeps_revocations_shared_and_bad_values_name_the_setting() {
    let shared = serving(&[("AUTH_SECRET_KEY", SECRET_A)]).await.unwrap();
    let token = shared.create_token(1, serde_json::json!({}), None).unwrap();
    assert!(
        microcore_kernel::TokenValidator::validate(&shared, &token)
            .await
            .is_none(),
        "serving without an installed shared list refuses tokens"
    );
    let memory = serving(&[
        ("AUTH_SECRET_KEY", SECRET_A),
        ("AUTH_REVOCATION_LIST", "memory"),
    ])
    .await
    .unwrap();
    let token = memory.create_token(1, serde_json::json!({}), None).unwrap();
    assert!(
        microcore_kernel::TokenValidator::validate(&memory, &token)
            .await
            .is_some()
    );
    for (key, bad) in [
        ("AUTH_REVOCATION_LIST", "redis"),
        ("AUTH_HASH_QUEUE_LIMIT", "0"),
        ("AUTH_HASH_QUEUE_LIMIT", "many"),
    ] {
        let err = serving(&[("AUTH_SECRET_KEY", SECRET_A), (key, bad)])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{err}");
    }
}
