//! The token check the app's `Route::auth()` does, by hand: HS256 signature,
//! exact expiry, required `exp` and `sub`, then the two in-memory revocation
//! lookups of the app's default setup (the token's id, and the subject's "not
//! before" time keyed by an HMAC of the subject, as users.Sessions keys it).

use std::collections::HashMap;
use std::time::Instant;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// The claims of a login token: the app's `Claims` shape.
#[derive(Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) sub: String,
    pub(crate) exp: i64,
    #[serde(default)]
    pub(crate) iat: i64,
    #[serde(default)]
    pub(crate) jti: String,
    #[serde(flatten)]
    pub(crate) extra: serde_json::Map<String, serde_json::Value>,
}

/// Keys, validation rules and revocation lists, built once.
pub(crate) struct Sessions {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Revoked token ids and their expiry.
    tokens: Mutex<HashMap<String, Instant>>,
    /// "Not before" per HMAC of a subject, and its expiry.
    subjects: Mutex<HashMap<String, (i64, Instant)>>,
}

impl Sessions {
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            tokens: Mutex::default(),
            subjects: Mutex::default(),
        }
    }

    /// A login-shaped token for `sub` with an `email` claim, valid an hour.
    pub(crate) fn sign(&self, sub: &str, email: &str) -> Result<String, String> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let mut extra = serde_json::Map::new();
        extra.insert("email".into(), email.into());
        let claims = Claims {
            sub: sub.to_owned(),
            exp: now + 3600,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            extra,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("signing the twin's token: {e}"))
    }

    /// The claims of a valid, unrevoked token.
    pub(crate) fn check(&self, token: &str) -> Option<Claims> {
        let token = token.trim();
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let now = Instant::now();
        let revoked = self
            .tokens
            .lock()
            .get(&claims.jti)
            .is_some_and(|until| *until > now);
        let key =
            jsonwebtoken::crypto::sign(claims.sub.as_bytes(), &self.encoding, Algorithm::HS256)
                .ok()?;
        let not_before = self
            .subjects
            .lock()
            .get(&key)
            .filter(|(_, until)| *until > now)
            .map(|(nb, _)| *nb);
        (!revoked && not_before.is_none_or(|nb| claims.iat > nb)).then_some(claims)
    }
}
