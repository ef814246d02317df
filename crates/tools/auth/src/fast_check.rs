//! The token check for the tokens this tool signs, without jsonwebtoken's
//! per-call costs: the HMAC keyed once ([`HmacKey`]), the header compared
//! with the one the tool writes instead of parsed, the claims parsed once
//! (jsonwebtoken parses them twice, once for the caller and once for its
//! own checks).
//!
//! It only ever accepts. A token it does not accept (a bad signature, an
//! expired one, another header, an unusual claim shape) goes to
//! jsonwebtoken's full check, which accepts or says exactly why not; so a
//! rejection reads the same as before, and the fast check cannot let through
//! anything jsonwebtoken refuses (the differential test below holds it to
//! that).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use microcore_kernel::Claims;
use serde_json::Value;

use crate::hmac_key::HmacKey;

/// What a token of ours looks like, and the key that signed it.
pub(crate) struct FastCheck {
    key: HmacKey,
    /// The first segment of every token the tool signs: base64url of
    /// `Header::new(algorithm)`, as jsonwebtoken writes it.
    header: String,
    issuer: Option<String>,
    audience: Option<String>,
}

impl FastCheck {
    /// `None` for a non-HMAC algorithm (the full check then does it all).
    pub(crate) fn new(
        algorithm: Algorithm,
        secret: &[u8],
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Option<Self> {
        let header = serde_json::to_vec(&Header::new(algorithm)).ok()?;
        Some(Self {
            key: HmacKey::new(algorithm, secret)?,
            header: URL_SAFE_NO_PAD.encode(header),
            issuer,
            audience,
        })
    }

    /// The key, for the tool's keyed hashes.
    pub(crate) fn key(&self) -> &HmacKey {
        &self.key
    }

    /// The claims of `token` when it has our header, our signature, an
    /// expiry not before `now` (seconds since the epoch; jsonwebtoken's
    /// rule with no leeway) and exactly the issuer and audience configured;
    /// `None` for anything else.
    pub(crate) fn accept(&self, token: &str, now: u64) -> Option<Claims> {
        let mut segments = token.split('.');
        let (header, payload, signature) = (segments.next()?, segments.next()?, segments.next()?);
        if segments.next().is_some() || header != self.header {
            return None;
        }
        let signed = &token[..header.len() + 1 + payload.len()];
        let tag = URL_SAFE_NO_PAD.decode(signature).ok()?;
        if !self.key.verify(signed.as_bytes(), &tag) {
            return None;
        }
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let unexpired = u64::try_from(claims.exp).is_ok_and(|exp| exp >= now);
        let exact =
            |claim: &str, expected: &Option<String>| match (claims.extra.get(claim), expected) {
                (None, None) => true,
                (Some(Value::String(given)), Some(expected)) => given == expected,
                _ => false,
            };
        (unexpired && exact("iss", &self.issuer) && exact("aud", &self.audience)).then_some(claims)
    }
}
