//! The auth tool: signed access tokens (JWT, HMAC) and argon2id passwords.
//!
//! The secret comes from `AUTH_SECRET_KEY` (at least 32 bytes). Without one
//! the tool refuses to start under `MICROCORE_ENV=production` and otherwise
//! runs on a random per-process secret with a loud warning, so the zero-config
//! run command works while a forgotten secret never reaches production.
//! Only the configured HMAC algorithm is ever accepted when decoding, which
//! rules out `alg: none` and algorithm-confusion tokens. Password hashing runs
//! on a few dedicated threads so it never stalls the async workers and its
//! memory stays bounded under a burst of sign-ups.
//!
//! Settings: `AUTH_SECRET_KEY`, `AUTH_ALGORITHM` (`HS256` default, `HS384`,
//! `HS512`), `AUTH_TOKEN_EXPIRE_MINUTES` (60), `AUTH_ISSUER` and
//! `AUTH_AUDIENCE` (optional: when set, tokens carry them and must match),
//! `AUTH_REVOCATION_LIST` (`shared` when serving: a plugin installs the list
//! and tokens are refused until it does; `memory` for one process, the test
//! default), `AUTH_HASH_QUEUE_LIMIT` (64 hashes waiting, then `Unavailable`).

mod auth;
mod error;
mod fast_check;
mod hashing;
mod hmac_key;
mod password;
mod revocation;
mod settings;
mod token;

#[cfg(test)]
mod tests;

pub use auth::Auth;
pub use error::AuthError;
pub use microcore_kernel::Claims;
pub use settings::MIN_SECRET_BYTES;
