//! The fast token check against jsonwebtoken's full one: over tokens of
//! every shape, signed with the right and the wrong secret and header, the
//! fast check accepts only what the full check accepts, with the same
//! claims, and it does accept the tokens the tool signs.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use microcore_kernel::Env;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::settings::Settings;
use crate::token::Codec;

const ISSUER: &str = "issuer.example";
const AUDIENCE: &str = "api.example";

fn codec(issuer: bool, audience: bool) -> Codec {
    let mut pairs = vec![];
    if issuer {
        pairs.push(("AUTH_ISSUER", ISSUER));
    }
    if audience {
        pairs.push(("AUTH_AUDIENCE", AUDIENCE));
    }
    Codec::new(&Settings::for_tests(&Env::from_pairs(pairs)).unwrap())
}

/// A claim's value: absent, or one of the shapes a token could carry,
/// mostly absent or right so that many tokens get to the expiry rule.
fn claim(good: Value) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(None),
        8 => Just(Some(good.clone())),
        1 => Just(Some(json!("other"))),
        1 => Just(Some(json!(12))),
        1 => Just(Some(json!(-5))),
        1 => Just(Some(json!(1.5e9))),
        1 => Just(Some(json!([good]))),
        1 => Just(Some(json!(null))),
    ]
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// The payload: each claim absent or of some shape, expiry around now.
fn payload() -> impl Strategy<Value = Map<String, Value>> {
    (
        claim(json!("7")),
        prop_oneof![
            1 => Just(None),
            4 => (-3i64..3600).prop_map(|d| Some(json!(now() + d))),
            4 => (1i64..100_000).prop_map(|d| Some(json!(now() - d))),
            1 => Just(Some(json!("soon"))),
            1 => Just(Some(json!(-1))),
            1 => Just(Some(json!((now() + 60) as f64 + 0.5))),
        ],
        claim(json!(ISSUER)),
        claim(json!(AUDIENCE)),
        claim(json!(now())),
        claim(json!("a-token-id")),
    )
        .prop_map(|(sub, exp, iss, aud, iat, jti)| {
            let mut map = Map::new();
            for (key, value) in [
                ("sub", sub),
                ("exp", exp),
                ("iss", iss),
                ("aud", aud),
                ("iat", iat),
                ("jti", jti),
            ] {
                if let Some(value) = value {
                    map.insert(key.into(), value);
                }
            }
            map.insert("email".into(), json!("someone@example.com"));
            map
        })
}

fn sign(header: &Header, payload: &Map<String, Value>, secret: &[u8]) -> String {
    jsonwebtoken::encode(header, payload, &EncodingKey::from_secret(secret)).unwrap()
}

/// A header of ours, another algorithm's, or ours with a field more.
fn header() -> impl Strategy<Value = Header> {
    prop_oneof![
        Just(Header::new(Algorithm::HS256)),
        Just(Header::new(Algorithm::HS384)),
        Just({
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("k1".into());
            h
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_fast_check_accepts_only_what_the_full_check_accepts(
        issuer in any::<bool>(),
        audience in any::<bool>(),
        payload in payload(),
        header in header(),
        right_secret in prop_oneof![4 => Just(true), 1 => Just(false)],
        tamper in proptest::option::of(0usize..400),
    ) {
        let codec = codec(issuer, audience);
        let secret: &[u8] = if right_secret { crate::settings::TEST_SECRET } else { b"a-different-secret-of-enough-length-000" };
        let mut token = sign(&header, &payload, secret);
        if let Some(at) = tamper {
            let at = at % token.len();
            let swapped = if token.as_bytes()[at] == b'A' { "B" } else { "A" };
            token.replace_range(at..=at, swapped);
        }
        let fast = codec.fast_check().unwrap().accept(&token, jsonwebtoken::get_current_timestamp());
        let full = codec.full_check(&token);
        if let Some(claims) = fast {
            prop_assert_eq!(Ok(claims), full.map_err(|e| e.to_string()), "{}", token);
        }
    }
}

/// The tokens the tool signs take the fast path, with and without an
/// issuer and an audience (without this the property above holds vacuously).
#[test]
fn the_tools_own_tokens_take_the_fast_path() {
    for (issuer, audience) in [(false, false), (true, false), (false, true), (true, true)] {
        let codec = codec(issuer, audience);
        let token = codec
            .create("7".into(), json!({"email": "someone@example.com"}), None)
            .unwrap();
        let fast = codec
            .fast_check()
            .unwrap()
            .accept(&token, jsonwebtoken::get_current_timestamp());
        assert_eq!(fast, codec.full_check(&token).ok(), "{issuer} {audience}");
        assert!(fast.is_some(), "{issuer} {audience}");
    }
}

/// An expired token is left to the full check, which says it expired.
#[test]
fn an_expired_token_is_left_to_the_full_check() {
    let codec = codec(false, false);
    let mut payload = Map::new();
    payload.insert("sub".into(), json!("7"));
    payload.insert("exp".into(), json!(now() - 1));
    let token = sign(
        &Header::new(Algorithm::HS256),
        &payload,
        crate::settings::TEST_SECRET,
    );
    let fast = codec
        .fast_check()
        .unwrap()
        .accept(&token, jsonwebtoken::get_current_timestamp());
    assert_eq!(fast, None);
    assert!(matches!(
        codec.decode(&token),
        Err(crate::AuthError::Expired)
    ));
}
