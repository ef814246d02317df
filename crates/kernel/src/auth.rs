//! The vocabulary the http and auth tools share without depending on each
//! other: what a verified token says, and who can verify one.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// What a verified access token says about its bearer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user id, as text.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: i64,
    /// Token id, for revocation.
    #[serde(default)]
    pub jti: String,
    /// Every other claim (`email`, `roles`, `iss`, `aud`, ...).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// The subject parsed as a number (user ids are numbers in most schemas).
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }

    /// A string claim other than the registered ones.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(|v| v.as_str())
    }
}

/// Something that can turn a bearer token into claims: the auth tool, or a
/// plugin-layer composition of it (e.g. with a revocation list on `state`).
pub trait TokenValidator: Send + Sync + 'static {
    /// The token's claims, or `None` when it is missing its signature,
    /// expired, tampered with, revoked or otherwise not acceptable.
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<Claims>>;
}

/// Where revoked token ids are kept until the token would have expired anyway.
///
/// The auth tool keeps one in memory by default (per process). A plugin can
/// hand it a shared one, e.g. backed by the `state` tool, so a logout on one
/// replica is honoured by all: tools compose in the plugin layer, never by
/// depending on each other.
pub trait RevocationList: Send + Sync + 'static {
    /// Remembers `jti` as revoked for `ttl`.
    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// True when `jti` was revoked and its entry has not expired.
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, String>>;
}
