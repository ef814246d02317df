//! Properties of reading tokens: any `Authorization` text a client sends
//! reaches `decode_token`.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;

/// One test-mode tool for every case (setup is async; proptest is not).
fn auth() -> &'static Auth {
    static AUTH: OnceLock<Auth> = OnceLock::new();
    AUTH.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(testing(&[]))
    })
}

/// Three dot-separated base64url parts, the shape that reaches the JWT library.
fn token_shaped() -> impl Strategy<Value = String> {
    (
        any::<Vec<u8>>(),
        any::<Vec<u8>>(),
        any::<Vec<u8>>(),
        prop_oneof![
            Just(None),
            Just(Some(r#"{"alg":"HS256","typ":"JWT"}"#.to_owned())),
            Just(Some(r#"{"alg":"none"}"#.to_owned())),
            any::<String>().prop_map(|a| Some(format!(r#"{{"alg":{a:?}}}"#))),
        ],
    )
        .prop_map(|(h, p, s, header)| {
            let h = header.map_or(h, String::into_bytes);
            [h, p, s].map(|b| URL_SAFE_NO_PAD.encode(b)).join(".")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_is_refused_without_panicking(token in prop_oneof![any::<String>(), token_shaped()]) {
        prop_assert!(auth().decode_token(&token).is_err());
        prop_assert!(auth().validate_token(&token).is_none());
    }

    #[test]
    fn a_created_token_reads_back_its_subject_and_claims(
        subject in any::<String>(),
        extra in proptest::collection::btree_map("[a-z]{1,8}", any::<String>(), 0..4),
    ) {
        let extra: Map<String, Value> = extra
            .into_iter()
            .filter(|(k, _)| !["sub", "exp", "iat", "jti", "iss", "aud", "nbf"].contains(&k.as_str()))
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let token = auth().create_token(&subject, Value::Object(extra.clone()), None).unwrap();
        let claims = auth().decode_token(&token).unwrap();
        prop_assert_eq!(&claims.sub, &subject);
        for (k, v) in &extra {
            prop_assert_eq!(claims.extra.get(k), Some(v));
        }
    }

    #[test]
    fn changing_any_character_of_the_payload_is_refused(
        subject in "[a-z0-9]{1,12}",
        at in any::<prop::sample::Index>(),
        with in proptest::char::range('!', '~'),
    ) {
        let token = auth().create_token(&subject, Value::Null, None).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let payload: Vec<char> = parts[1].chars().collect();
        let i = at.index(payload.len());
        prop_assume!(payload[i] != with);
        let mut changed = payload.clone();
        changed[i] = with;
        let changed: String = changed.into_iter().collect();
        let tampered = format!("{}.{changed}.{}", parts[0], parts[2]);
        prop_assert!(auth().decode_token(&tampered).is_err(), "{}", tampered);
    }
}
