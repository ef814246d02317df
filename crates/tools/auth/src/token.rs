//! Signing and checking tokens with the one configured algorithm.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use microcore_kernel::Claims;
use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::fast_check::FastCheck;
use crate::settings::{Settings, algorithm_name};

/// Claims the tool sets itself; `extra` may not carry them.
const RESERVED: &[&str] = &["sub", "exp", "iat", "jti", "iss", "aud", "nbf"];

/// Keys and validation rules, built once at setup.
pub(crate) struct Codec {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    /// The check of our own valid tokens, ahead of jsonwebtoken's.
    fast: Option<FastCheck>,
}

impl Codec {
    pub(crate) fn new(settings: &Settings) -> Self {
        let mut validation = Validation::new(settings.algorithm);
        // Expiry is exact, as in the original; replicas share one clock source
        // in practice, and a minute of grace would outlive short test tokens.
        validation.leeway = 0;
        let mut required = vec!["exp", "sub"];
        if let Some(iss) = &settings.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        if let Some(aud) = &settings.audience {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Self {
            algorithm: settings.algorithm,
            encoding: EncodingKey::from_secret(&settings.secret),
            decoding: DecodingKey::from_secret(&settings.secret),
            validation,
            ttl: settings.ttl,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            fast: FastCheck::new(
                settings.algorithm,
                &settings.secret,
                settings.issuer.clone(),
                settings.audience.clone(),
            ),
        }
    }

    pub(crate) fn default_ttl(&self) -> Duration {
        self.ttl
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn create(
        &self,
        subject: String,
        extra: Value,
        ttl: Option<Duration>,
    ) -> Result<String, AuthError> {
        let mut extra = match extra {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(AuthError::BadClaims {
                    reason: format!(
                        "extra claims must be a JSON object such as json!({{\"email\": ...}}), not {other}"
                    ),
                });
            }
        };
        if let Some(key) = RESERVED.iter().find(|k| extra.contains_key(**k)) {
            return Err(AuthError::BadClaims {
                reason: format!(
                    "claim `{key}` is set by the auth tool; remove it from the extra claims \
                     (the subject is the first argument, the lifetime the ttl)"
                ),
            });
        }
        let now = jsonwebtoken::get_current_timestamp();
        let ttl = ttl.unwrap_or(self.ttl);
        // Round up so a sub-second ttl still yields a token valid for a moment.
        let ttl_secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let exp = now
            .checked_add(ttl_secs)
            .and_then(|e| i64::try_from(e).ok())
            .ok_or_else(|| AuthError::BadClaims {
                reason: format!("a ttl of {ttl:?} is too long to express as an expiry time"),
            })?;
        if let Some(iss) = &self.issuer {
            extra.insert("iss".into(), Value::from(iss.as_str()));
        }
        if let Some(aud) = &self.audience {
            extra.insert("aud".into(), Value::from(aud.as_str()));
        }
        let claims = Claims {
            sub: subject,
            exp,
            iat: i64::try_from(now).unwrap_or(i64::MAX),
            jti: uuid::Uuid::new_v4().to_string(),
            extra,
        };
        self.encode(&claims)
    }

    /// The HMAC of `message` under the token secret, base64url.
    pub(crate) fn mac(&self, message: &[u8]) -> Result<String, AuthError> {
        if let Some(fast) = &self.fast {
            return Ok(URL_SAFE_NO_PAD.encode(fast.key().sign(message)));
        }
        jsonwebtoken::crypto::sign(message, &self.encoding, self.algorithm).map_err(|e| {
            AuthError::Internal {
                reason: format!("keyed hash failed: {e}"),
            }
        })
    }

    pub(crate) fn encode(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &self.encoding).map_err(|e| {
            AuthError::Internal {
                reason: format!("signing failed: {e}"),
            }
        })
    }

    pub(crate) fn decode(&self, token: &str) -> Result<Claims, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(invalid("the token is empty"));
        }
        let now = jsonwebtoken::get_current_timestamp();
        match self.fast.as_ref().and_then(|f| f.accept(token, now)) {
            Some(claims) => Ok(claims),
            None => self.full_check(token),
        }
    }

    /// jsonwebtoken's check: what decides every token the fast check does
    /// not accept, and says why it is refused.
    pub(crate) fn full_check(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| self.explain(token, e.into_kind()))
    }

    /// The fast check, for the test that holds it to the full one.
    #[cfg(test)]
    pub(crate) fn fast_check(&self) -> Option<&FastCheck> {
        self.fast.as_ref()
    }

    fn explain(&self, token: &str, kind: ErrorKind) -> AuthError {
        let expected = algorithm_name(self.algorithm);
        // A header naming an algorithm other than ours (`none`, `RS256`, a
        // different HMAC) fails either as an unknown algorithm or as a
        // mismatch; both deserve the same plain reason.
        if let Some(alg) = header_alg(token).filter(|a| a != expected) {
            return invalid(&format!(
                "it is signed with `{alg}`, but only `{expected}` is accepted"
            ));
        }
        match kind {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidSignature => invalid(
                "the signature does not match (tampered with, or signed with another secret)",
            ),
            ErrorKind::InvalidIssuer => invalid(&format!(
                "it was issued by someone other than `{}`",
                self.issuer.as_deref().unwrap_or("")
            )),
            ErrorKind::InvalidAudience => match &self.audience {
                Some(aud) => invalid(&format!("it is not meant for audience `{aud}`")),
                None => invalid("it names an audience, and this service has no AUTH_AUDIENCE"),
            },
            ErrorKind::MissingRequiredClaim(claim) => {
                invalid(&format!("the `{claim}` claim is missing"))
            }
            ErrorKind::InvalidClaimFormat(claim) => {
                invalid(&format!("the `{claim}` claim has the wrong type"))
            }
            ErrorKind::InvalidAlgorithm => invalid(&format!("only `{expected}` is accepted")),
            ErrorKind::Json(e) => invalid(&format!("its JSON is not acceptable ({e})")),
            _ => invalid("it is not a well-formed JWT (header.payload.signature)"),
        }
    }
}

fn invalid(reason: &str) -> AuthError {
    AuthError::Invalid {
        reason: reason.to_owned(),
    }
}

/// The `alg` a token's header claims, read without trusting anything else.
fn header_alg(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("alg")?.as_str().map(str::to_owned)
}
