//! The vocabulary the http and auth tools share without depending on each
//! other: what a verified token says, and who can verify one.

use futures::future::BoxFuture;

pub use claims_contract::Claims;

/// The manifest entry for [`Claims`], filed under the auth tool by name (the
/// kernel cannot name the auth crate's handle, which depends on the kernel),
/// in its own module so the one lint exception it needs stays scoped:
/// `#[contract]` registers with linkme, whose `#[link_section]` static the
/// `unsafe_code` lint flags when the registering macro is this crate's own.
#[allow(unsafe_code)]
mod claims_contract {
    use serde::{Deserialize, Serialize};

    /// What a verified access token says about its bearer. In tokens from
    /// users.Login, `sub` is the user id as text and `extra` holds `email`.
    #[microcore_kernel::contract(kit = "auth")]
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Claims {
        /// The user id as text in tokens from users.Login (`user_id()` parses it).
        pub sub: String,
        /// The expiry, in seconds since the Unix epoch.
        pub exp: i64,
        /// When the token was issued, in seconds since the Unix epoch.
        #[serde(default)]
        pub iat: i64,
        /// The token's id, which `Auth::revoke` records.
        #[serde(default)]
        pub jti: String,
        /// Every other claim, such as `email` (from users.Login), `roles`, `iss` and `aud`.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }

    #[microcore_kernel::contract(kit = "auth")]
    impl Claims {
        /// `sub`, the user id, as a number.
        ///
        /// users.Login puts the user id in `sub` as text; None when `sub` is
        /// not a number.
        pub fn user_id(&self) -> Option<i64> {
            self.sub.parse().ok()
        }

        /// The `email` claim Login adds.
        ///
        /// None when the token carries no `email` (e.g. made by `create_token`
        /// without one).
        pub fn email(&self) -> Option<&str> {
            self.get_str("email")
        }

        /// A string claim from `extra` by `key`.
        ///
        /// None when it is absent or not a string.
        pub fn get_str(&self, key: &str) -> Option<&str> {
            self.extra.get(key).and_then(|v| v.as_str())
        }
    }
}

/// Something that can turn a bearer token into claims: the auth tool, or a
/// plugin-layer composition of it (e.g. with a revocation list on `state`).
pub trait TokenValidator: Send + Sync + 'static {
    /// The token's claims, or `None` when it is missing its signature,
    /// expired, tampered with, revoked or otherwise not acceptable.
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<Claims>>;

    /// Why this validator admits nobody at all, if it does not: the route
    /// then answers 403 with this text (what to set) before any token is
    /// read, instead of a 401 that would send the caller looking for a
    /// token. An operator route in production without an operator token is
    /// one.
    fn closed(&self) -> Option<&str> {
        None
    }
}

/// Where revocations are kept until the tokens they refuse would have expired
/// anyway: single token ids (logout) and per-subject "not before" times
/// (an account deleted: every token issued to it until then is refused).
///
/// The auth tool keeps one in memory by default (per process). A plugin can
/// hand it a shared one, e.g. backed by the `state` tool, so a logout on one
/// replica is honoured by all: tools compose in the plugin layer, never by
/// depending on each other. Every method answers `Err` when the store cannot
/// be reached; the auth tool then refuses the token (fails closed).
pub trait RevocationList: Send + Sync + 'static {
    /// Remembers `jti` as revoked for `ttl`.
    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// True when `jti` was revoked and its entry has not expired.
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, String>>;
    /// Remembers for `ttl` that tokens of `sub` issued at or before
    /// `not_before` (Unix seconds) are revoked; a later call with a later
    /// time replaces it.
    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        not_before: i64,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// The `not_before` recorded for `sub` by [`RevocationList::revoke_subject`],
    /// if its entry has not expired.
    fn revoked_before<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Option<i64>, String>>;
}
