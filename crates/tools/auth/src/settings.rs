//! The auth settings, read and checked once at setup.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use microcore_kernel::{Env, ToolError};

/// The shortest `AUTH_SECRET_KEY` accepted: an HMAC key shorter than the
/// hash output weakens the signature.
pub const MIN_SECRET_BYTES: usize = 32;

/// How to make a good secret, quoted in every secret-related message.
const HOW_TO_GENERATE: &str = "generate one with `openssl rand -base64 48` \
     (or `head -c 48 /dev/urandom | base64`) and set AUTH_SECRET_KEY to it";

/// The secret used by `setup_for_tests`: fixed, so tokens made in one test
/// tool set verify in another.
pub(crate) const TEST_SECRET: &[u8] = b"microcore-test-secret-never-use-it-in-production";

/// Where the signing secret came from (for the boot report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SecretSource {
    /// `AUTH_SECRET_KEY`.
    Env,
    /// Random, for this process only.
    Ephemeral,
    /// The fixed test secret.
    Test,
}

/// Where revocations (logout, deleted accounts) are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RevocationMode {
    /// In this process's memory: right for one process and for tests.
    Memory,
    /// In a list a plugin installs (users.Sessions, on the `state` tool);
    /// until one is installed every token is refused (fail closed).
    Shared,
}

/// Everything the tool needs, validated.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) secret: Vec<u8>,
    pub(crate) source: SecretSource,
    pub(crate) algorithm: Algorithm,
    pub(crate) ttl: Duration,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) revocations: RevocationMode,
    /// Password hashes allowed to wait for a worker (`AUTH_HASH_QUEUE_LIMIT`).
    pub(crate) hash_queue: usize,
}

impl Settings {
    /// Reads the settings for serving. Never logs or echoes the secret.
    pub(crate) fn from_env(env: &Env) -> Result<Self, ToolError> {
        let (secret, source) = match env.get("AUTH_SECRET_KEY").filter(|s| !s.is_empty()) {
            Some(secret) if secret.len() < MIN_SECRET_BYTES => {
                return Err(ToolError::new(format!(
                    "AUTH_SECRET_KEY is {} bytes long; it must be at least {MIN_SECRET_BYTES} bytes: {HOW_TO_GENERATE}",
                    secret.len()
                )));
            }
            Some(secret) => (secret.as_bytes().to_vec(), SecretSource::Env),
            None if env.is_production() => {
                return Err(ToolError::new(format!(
                    "AUTH_SECRET_KEY is not set and MICROCORE_ENV=production: tokens need a stable secret \
                     of at least {MIN_SECRET_BYTES} bytes; {HOW_TO_GENERATE}"
                )));
            }
            None => {
                tracing::warn!(
                    "AUTH_SECRET_KEY is not set: signing tokens with a random secret for this process only. \
                     Tokens will NOT survive a restart and replicas will reject each other's tokens. \
                     For anything but local development, {HOW_TO_GENERATE} (at least {MIN_SECRET_BYTES} bytes). \
                     With MICROCORE_ENV=production a missing secret is an error."
                );
                (rand::random::<[u8; 48]>().to_vec(), SecretSource::Ephemeral)
            }
        };
        Self::rest(env, secret, source, RevocationMode::Shared)
    }

    /// The test settings: the fixed test secret, everything else from `env`.
    pub(crate) fn for_tests(env: &Env) -> Result<Self, ToolError> {
        Self::rest(
            env,
            TEST_SECRET.to_vec(),
            SecretSource::Test,
            RevocationMode::Memory,
        )
    }

    fn rest(
        env: &Env,
        secret: Vec<u8>,
        source: SecretSource,
        revocations: RevocationMode,
    ) -> Result<Self, ToolError> {
        let algorithm = parse_algorithm(env.get_or("AUTH_ALGORITHM", "HS256"))?;
        let minutes: u64 = env
            .parse_or("AUTH_TOKEN_EXPIRE_MINUTES", 60)
            .map_err(ToolError::new)?;
        if minutes == 0 {
            return Err(ToolError::new(
                "AUTH_TOKEN_EXPIRE_MINUTES=0 would make every token expire at once; \
                 set it to 1 or more (default 60)",
            ));
        }
        let ttl = Duration::from_secs(minutes.saturating_mul(60));
        let hash_queue: usize = env
            .parse_or("AUTH_HASH_QUEUE_LIMIT", crate::hashing::DEFAULT_QUEUE_LIMIT)
            .map_err(ToolError::new)?;
        if hash_queue == 0 {
            return Err(ToolError::new(format!(
                "AUTH_HASH_QUEUE_LIMIT=0 would refuse every sign-up and login; \
                 set it to 1 or more (default {})",
                crate::hashing::DEFAULT_QUEUE_LIMIT
            )));
        }
        let optional = |key| {
            Some(env.get_or(key, "").trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Ok(Self {
            secret,
            source,
            algorithm,
            ttl,
            issuer: optional("AUTH_ISSUER"),
            audience: optional("AUTH_AUDIENCE"),
            hash_queue,
            revocations: match optional("AUTH_REVOCATION_LIST") {
                None => revocations,
                Some(raw) => parse_revocations(&raw)?,
            },
        })
    }
}

fn parse_revocations(raw: &str) -> Result<RevocationMode, ToolError> {
    match raw.to_ascii_lowercase().as_str() {
        "shared" => Ok(RevocationMode::Shared),
        "memory" => Ok(RevocationMode::Memory),
        _ => Err(ToolError::new(format!(
            "AUTH_REVOCATION_LIST={raw:?} is not supported: use `shared` (default when serving: \
             a plugin such as users.Sessions installs the list, tokens are refused until it does) \
             or `memory` (this process only, for a single process without replicas)"
        ))),
    }
}

fn parse_algorithm(raw: &str) -> Result<Algorithm, ToolError> {
    match raw.trim().to_ascii_uppercase().as_str() {
        "HS256" => Ok(Algorithm::HS256),
        "HS384" => Ok(Algorithm::HS384),
        "HS512" => Ok(Algorithm::HS512),
        _ => Err(ToolError::new(format!(
            "AUTH_ALGORITHM={raw:?} is not supported: the auth tool signs with a shared secret, \
             so use HS256 (default), HS384 or HS512"
        ))),
    }
}

/// The name of an algorithm as it appears in a token header.
pub(crate) fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        _ => "an asymmetric algorithm",
    }
}
