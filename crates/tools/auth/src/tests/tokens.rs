use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use microcore_kernel::{Claims, TokenValidator, ToolStatus};
use serde_json::{Value, json};

use super::*;
use crate::AuthError;

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn reason(err: AuthError) -> String {
    match err {
        AuthError::Invalid { reason } => reason,
        other => panic!("expected AuthError::Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_round_trips_with_its_registered_and_extra_claims() {
    let auth = testing(&[]).await;
    let token = auth
        .create_token(
            42,
            json!({"email": "ana@example.com", "roles": ["admin"]}),
            None,
        )
        .unwrap();
    let claims = auth.decode_token(&token).unwrap();
    assert_eq!(claims.sub, "42");
    assert_eq!(claims.user_id(), Some(42));
    assert_eq!(claims.get_str("email"), Some("ana@example.com"));
    assert_eq!(claims.extra["roles"], json!(["admin"]));
    assert_eq!(claims.exp - claims.iat, 3600);
    assert!((claims.iat - now()).abs() <= 2);
    assert!(!claims.jti.is_empty());
    assert!(!claims.extra.contains_key("iss") && !claims.extra.contains_key("aud"));
    let other = auth.create_token(42, Value::Null, None).unwrap();
    assert_ne!(
        auth.decode_token(&other).unwrap().jti,
        claims.jti,
        "jti is unique"
    );
    assert_eq!(auth.validate_token(&token), Some(claims));
}

#[tokio::test]
async fn an_explicit_ttl_overrides_the_default() {
    let auth = testing(&[]).await;
    let token = auth
        .create_token("u", json!({}), Some(Duration::from_secs(120)))
        .unwrap();
    let claims = auth.decode_token(&token).unwrap();
    assert_eq!(claims.exp - claims.iat, 120);
}

#[tokio::test]
async fn an_expired_token_is_rejected_as_expired() {
    let auth = testing(&[]).await;
    let claims = Claims {
        sub: "1".into(),
        exp: now() - 5,
        iat: now() - 65,
        jti: "j".into(),
        extra: Default::default(),
    };
    let token = auth.sign_claims_for_tests(&claims).unwrap();
    assert_eq!(auth.decode_token(&token), Err(AuthError::Expired));
    assert_eq!(auth.validate_token(&token), None);
    assert!(AuthError::Expired.is_unauthenticated());
}

#[tokio::test]
async fn a_tampered_signature_is_rejected() {
    let auth = testing(&[]).await;
    let mut p = parts(&auth.create_token(1, json!({}), None).unwrap());
    let mut sig: Vec<char> = p[2].chars().collect();
    sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
    p[2] = sig.into_iter().collect();
    let err = auth.decode_token(&p.join(".")).unwrap_err();
    assert!(reason(err).contains("signature does not match"));
}

#[tokio::test]
async fn a_tampered_payload_is_rejected() {
    let auth = testing(&[]).await;
    let token = auth.create_token(1, json!({"role": "user"}), None).unwrap();
    let mut p = parts(&token);
    let payload = URL_SAFE_NO_PAD.decode(&p[1]).unwrap();
    let mut claims: Value = serde_json::from_slice(&payload).unwrap();
    claims["sub"] = json!("2");
    claims["role"] = json!("admin");
    p[1] = b64(&claims);
    let err = auth.decode_token(&p.join(".")).unwrap_err();
    assert!(reason(err).contains("signature does not match"));
}

#[tokio::test]
async fn an_alg_none_token_is_rejected() {
    let auth = testing(&[]).await;
    let payload = json!({"sub": "1", "exp": now() + 600, "iat": now()});
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        for sig in ["", "AAAA"] {
            let token = format!("{}.{}.{sig}", b64(&header), b64(&payload));
            let r = reason(auth.decode_token(&token).unwrap_err());
            assert!(
                r.contains(&format!("`{alg}`")) && r.contains("HS256"),
                "{r}"
            );
            assert_eq!(auth.validate_token(&token), None);
        }
    }
}

#[tokio::test]
async fn a_token_signed_with_another_algorithm_is_rejected_even_with_the_same_secret() {
    let hs256 = testing(&[]).await;
    let hs512 = testing(&[("AUTH_ALGORITHM", "HS512")]).await;
    let token = hs512.create_token(1, json!({}), None).unwrap();
    assert!(hs512.decode_token(&token).is_ok());
    let r = reason(hs256.decode_token(&token).unwrap_err());
    assert!(r.contains("`HS512`") && r.contains("only `HS256`"), "{r}");
}

#[tokio::test]
async fn an_asymmetric_algorithm_header_is_rejected_without_confusion() {
    let auth = testing(&[]).await;
    // The classic confusion attack: an RS256 header with an HMAC signature
    // made from whatever the attacker believes the public key is.
    let good = parts(&auth.create_token(1, json!({}), None).unwrap());
    let header = b64(&json!({"alg": "RS256", "typ": "JWT"}));
    let token = format!("{header}.{}.{}", good[1], good[2]);
    let r = reason(auth.decode_token(&token).unwrap_err());
    assert!(r.contains("`RS256`"), "{r}");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_rejected() {
    let a = serving(&[("AUTH_SECRET_KEY", SECRET_A)]).await.unwrap();
    let b = serving(&[("AUTH_SECRET_KEY", SECRET_B)]).await.unwrap();
    let token = b.create_token(1, json!({}), None).unwrap();
    assert!(reason(a.decode_token(&token).unwrap_err()).contains("signature does not match"));
}

#[tokio::test]
async fn issuer_and_audience_are_carried_and_checked_when_configured() {
    let ours = testing(&[("AUTH_ISSUER", "shop"), ("AUTH_AUDIENCE", "shop-api")]).await;
    let token = ours.create_token(1, json!({}), None).unwrap();
    let claims = ours.decode_token(&token).unwrap();
    assert_eq!(claims.get_str("iss"), Some("shop"));
    assert_eq!(claims.get_str("aud"), Some("shop-api"));

    let other_issuer = testing(&[("AUTH_ISSUER", "blog"), ("AUTH_AUDIENCE", "shop-api")]).await;
    let foreign = other_issuer.create_token(1, json!({}), None).unwrap();
    assert!(reason(ours.decode_token(&foreign).unwrap_err()).contains("`shop`"));

    let other_audience = testing(&[("AUTH_ISSUER", "shop"), ("AUTH_AUDIENCE", "admin-api")]).await;
    let foreign = other_audience.create_token(1, json!({}), None).unwrap();
    assert!(reason(ours.decode_token(&foreign).unwrap_err()).contains("audience `shop-api`"));

    let unconfigured = testing(&[]).await;
    let bare = unconfigured.create_token(1, json!({}), None).unwrap();
    assert!(reason(ours.decode_token(&bare).unwrap_err()).contains("missing"));
}

#[tokio::test]
async fn garbage_is_invalid_and_never_panics() {
    let auth = testing(&[]).await;
    for junk in [
        "",
        "   ",
        "abc",
        "a.b.c",
        "a.b",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "\u{1F600}.\u{1F600}.x",
    ] {
        assert!(
            matches!(auth.decode_token(junk), Err(AuthError::Invalid { .. })),
            "{junk:?}"
        );
        assert_eq!(auth.validate_token(junk), None);
    }
}

#[tokio::test]
async fn extra_claims_must_be_an_object_without_reserved_names() {
    let auth = testing(&[]).await;
    for reserved in ["sub", "exp", "iat", "jti", "iss", "aud", "nbf"] {
        let err = auth
            .create_token(1, json!({ reserved: 1 }), None)
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::BadClaims { reason } if reason.contains(&format!("`{reserved}`"))),
            "{err}"
        );
    }
    let err = auth
        .create_token(1, json!(["not", "an", "object"]), None)
        .unwrap_err();
    assert!(err.to_string().contains("JSON object"), "{err}");
    let err = auth
        .create_token(1, json!({}), Some(Duration::from_secs(u64::MAX)))
        .unwrap_err();
    assert!(matches!(err, AuthError::BadClaims { .. }), "{err}");
}

#[tokio::test]
async fn it_is_a_token_validator() {
    let auth = testing(&[]).await;
    let token = auth.create_token(3, json!({}), None).unwrap();
    let validator: &dyn TokenValidator = &auth;
    assert_eq!(
        validator.validate(&token).await.map(|c| c.sub),
        Some("3".into())
    );
    assert_eq!(validator.validate("nope").await, None);
}

#[tokio::test]
async fn bad_tokens_are_measured_but_do_not_hurt_the_tools_health() {
    let registry = Registry::new();
    registry.set_tool("auth", ToolStatus::Ok, None);
    let auth = Auth::setup_for_tests(ToolSetup {
        env: Env::default(),
        probe: Probe::new("auth", registry.clone()),
        registry: registry.clone(),
    })
    .await
    .unwrap();
    for _ in 0..10 {
        assert_eq!(auth.validate_token("forged"), None);
    }
    assert_eq!(registry.tool("auth").unwrap().status, ToolStatus::Ok);
    let calls = registry.recent_calls();
    assert_eq!(calls.len(), 10);
    assert!(
        calls
            .iter()
            .all(|c| c.method == "validate_token" && !c.success)
    );
}

#[tokio::test]
async fn a_keyed_hash_is_stable_secret_dependent_and_hides_the_value() {
    let a = serving(&[("AUTH_SECRET_KEY", SECRET_A)]).await.unwrap();
    let b = serving(&[("AUTH_SECRET_KEY", SECRET_B)]).await.unwrap();
    let h = a.keyed_hash("ana@example.com").unwrap();
    assert_eq!(h, a.keyed_hash("ana@example.com").unwrap());
    assert_ne!(h, a.keyed_hash("bob@example.com").unwrap());
    assert_ne!(h, b.keyed_hash("ana@example.com").unwrap());
    // An HMAC-SHA256 tag in URL-safe base64: 32 bytes, nothing of the value.
    use base64::Engine as _;
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&h)
        .unwrap_or_else(|e| panic!("{h} is not URL-safe base64: {e}"));
    assert_eq!(tag.len(), 32, "{h}");
    assert!(!h.contains("ana"), "{h}");
}
