use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use microcore_kernel::{Claims, Probe, RevocationList, TokenValidator, Tool, ToolError, ToolSetup};
use parking_lot::RwLock;

use crate::error::AuthError;
use crate::hashing::HashPool;
use crate::password;
use crate::revocation::{MemoryRevocations, NOT_INSTALLED, NotInstalled};
use crate::settings::{RevocationMode, SecretSource, Settings, algorithm_name};
use crate::token::Codec;

struct Inner {
    probe: Probe,
    codec: Codec,
    source: SecretSource,
    revocations: RwLock<Arc<dyn RevocationList>>,
    mode: RevocationMode,
    /// Whether a plugin installed a list (`use_revocation_list`).
    installed: AtomicBool,
    /// The longest lifetime of a token this process signed, in seconds: a
    /// subject's revocation is kept at least that long.
    longest_ttl: AtomicU64,
    /// Dedicated argon2id workers (see `hashing.rs`: resident memory).
    hashing: HashPool,
}

/// Tokens and passwords. Cheap to clone; plugins receive it as `auth: Auth`,
/// and it is the app's token validator: `Route::auth()` validates through it.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("algorithm", &self.inner.codec.algorithm())
            .finish_non_exhaustive()
    }
}

#[microcore_kernel::contract(
    backends = "HMAC JWT (HS256|HS384|HS512), argon2id",
    env = "AUTH_SECRET_KEY (required in production), AUTH_ALGORITHM, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_TOKEN_EXPIRE_MINUTES",
    errors = "AuthError: Expired, Invalid, MalformedHash, BadClaims, Unavailable, Internal"
)]
impl Auth {
    fn build(settings: &Settings, probe: Probe) -> Self {
        probe.accept_faults();
        let revocations: Arc<dyn RevocationList> = match settings.revocations {
            RevocationMode::Memory => Arc::new(MemoryRevocations::default()),
            RevocationMode::Shared => Arc::new(NotInstalled),
        };
        Self {
            inner: Arc::new(Inner {
                probe,
                codec: Codec::new(settings),
                source: settings.source,
                revocations: RwLock::new(revocations),
                mode: settings.revocations,
                installed: AtomicBool::new(false),
                longest_ttl: AtomicU64::new(settings.ttl.as_secs()),
                hashing: HashPool::new(settings.hash_queue),
            }),
        }
    }

    /// An argon2id PHC string for `password`.
    ///
    /// Computed on a dedicated hashing thread; `Err(AuthError::Unavailable)`
    /// when the hashing queue is full.
    pub async fn hash_password(&self, password: &str) -> Result<String, AuthError> {
        let password = password.to_owned();
        self.inner
            .probe
            .observe("hash_password", async move {
                self.inner
                    .hashing
                    .run(move || password::hash(&password))
                    .await?
            })
            .await
    }

    /// Whether `password` matches `hash`.
    ///
    /// `hash` is a string from [`Auth::hash_password`]; `Ok(false)` for a
    /// wrong password, `Err` only for a malformed hash, or
    /// `AuthError::Unavailable` when the hashing queue is full. Runs on a
    /// dedicated hashing thread.
    pub async fn verify_password(&self, password: &str, hash: &str) -> Result<bool, AuthError> {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.inner
            .probe
            .observe("verify_password", async move {
                self.inner
                    .hashing
                    .run(move || password::verify(&password, &hash))
                    .await?
            })
            .await
    }

    /// A signed JWT for `subject` and `extra`.
    ///
    /// `subject` becomes `sub`; `extra` is a JSON object of further claims, or
    /// `null` for none. Valid for `ttl`, or `AUTH_TOKEN_EXPIRE_MINUTES` when
    /// `None`. Adds `exp`, `iat`, a random `jti`, and `iss`/`aud` when
    /// configured.
    pub fn create_token(
        &self,
        subject: impl ToString,
        extra: serde_json::Value,
        ttl: Option<Duration>,
    ) -> Result<String, AuthError> {
        if let Some(ttl) = ttl {
            let secs = ttl.as_secs().saturating_add(1);
            self.inner.longest_ttl.fetch_max(secs, Ordering::Relaxed);
        }
        self.inner.probe.observe_sync("create_token", || {
            self.inner.codec.create(subject.to_string(), extra, ttl)
        })
    }

    /// A token's claims, revocation unchecked.
    ///
    /// Checks signature, expiry, issuer and audience, and says which failed.
    /// Revocations are not checked here; routes use the validator, which does.
    pub fn decode_token(&self, token: &str) -> Result<Claims, AuthError> {
        self.inner
            .probe
            .observe_sync("decode_token", || self.inner.codec.decode(token))
    }

    /// [`Auth::decode_token`] for callers that only need yes or no; it does
    /// not check revocations either (routes' `.auth` does), so it is left out
    /// of the plugin contract.
    #[doc(hidden)]
    pub fn validate_token(&self, token: &str) -> Option<Claims> {
        self.inner
            .probe
            .observe_sync("validate_token", || self.inner.codec.decode(token))
            .ok()
    }

    /// An HMAC of `value` under the secret.
    ///
    /// For state keys that must not hold a value (an email) in clear: the
    /// HMAC under `AUTH_SECRET_KEY`, base64url. The same value gives the same text on every replica sharing the
    /// secret; without the secret it cannot be reversed by guessing values.
    pub fn keyed_hash(&self, value: &str) -> Result<String, AuthError> {
        self.inner.codec.mac(value.as_bytes())
    }

    /// Revokes `token` until it expires.
    ///
    /// Route validation refuses it from now on. An already expired token needs no revocation and is accepted silently.
    /// `Err(AuthError::Unavailable)` when the revocation list cannot be
    /// written: nothing was revoked and the token still works.
    pub async fn revoke(&self, token: &str) -> Result<(), AuthError> {
        let claims = match self.decode_token(token) {
            Ok(claims) => claims,
            Err(AuthError::Expired) => return Ok(()),
            Err(e) => return Err(e),
        };
        let left = claims.exp - unix_now();
        if left <= 0 {
            return Ok(());
        }
        let list = self.inner.revocations.read().clone();
        self.inner
            .probe
            .observe("revoke", async {
                list.revoke(&claims.jti, Duration::from_secs(left as u64))
                    .await
                    .map_err(list_unavailable)
            })
            .await
    }

    /// Revokes all tokens issued to `subject`.
    ///
    /// Every token issued to `subject` up to this second is refused by route
    /// validation from now on. For a deleted account or "log out everywhere": one entry per subject,
    /// kept as long as the longest token lifetime, so validation stays one
    /// lookup. Tokens issued in the same second are refused too.
    /// `Err(AuthError::Unavailable)` when the revocation list cannot be written.
    pub async fn revoke_subject(&self, subject: impl ToString) -> Result<(), AuthError> {
        let subject = subject.to_string();
        let keep = Duration::from_secs(self.inner.longest_ttl.load(Ordering::Relaxed));
        let list = self.inner.revocations.read().clone();
        self.inner
            .probe
            .observe("revoke_subject", async {
                list.revoke_subject(&subject, unix_now(), keep)
                    .await
                    .map_err(list_unavailable)
            })
            .await
    }
}

fn list_unavailable(reason: String) -> AuthError {
    AuthError::Unavailable {
        reason: format!(
            "the token revocation list cannot be reached ({reason}); nothing was revoked"
        ),
    }
}

/// Wiring used by plugins that compose tools (users.Sessions) and by the
/// http tool's validator; not part of the everyday plugin contract, so
/// AI_CONTEXT.md leaves it out.
impl Auth {
    /// Replaces the in-memory revocation list with a shared one (e.g. on the
    /// `state` tool, installed by a plugin), so every replica honours a logout.
    pub fn use_revocation_list(&self, list: impl RevocationList) {
        *self.inner.revocations.write() = Arc::new(list);
        self.inner.installed.store(true, Ordering::Release);
    }

    /// Signature, expiry and claims checks plus the revocation list (the
    /// token's id and its subject's "not before"): what routes use. Fails
    /// closed: if the list cannot be read, the token is refused.
    pub async fn validate_session(&self, token: &str) -> Option<Claims> {
        let claims = self.validate_token(token)?;
        let list = self.inner.revocations.read().clone();
        let (token, subject) = futures::join!(
            list.is_revoked(&claims.jti),
            list.revoked_before(&claims.sub)
        );
        match (token, subject) {
            (Ok(false), Ok(not_before)) => not_before
                .is_none_or(|nb| claims.iat > nb)
                .then_some(claims),
            (Ok(true), _) => None,
            (Err(reason), _) | (_, Err(reason)) => {
                tracing::error!(%reason, "the token revocation list cannot be read; refusing the token");
                None
            }
        }
    }

    /// The lifetime of a token created without an explicit ttl.
    pub fn default_ttl(&self) -> Duration {
        self.inner.codec.default_ttl()
    }

    /// Signs exactly `claims`, bypassing the checks of `create_token`: for
    /// tests that need an expired or otherwise unusual token.
    #[doc(hidden)]
    pub fn sign_claims_for_tests(&self, claims: &Claims) -> Result<String, AuthError> {
        self.inner.codec.encode(claims)
    }
}

impl Auth {
    /// Installs this tool as the app's default token validator (what
    /// `Route::auth()` uses), through the kernel: the http tool never depends
    /// on the auth tool. Validation goes through [`Auth::validate_session`], so
    /// a revocation list a plugin installs later still applies.
    fn installed(self, registry: &microcore_kernel::Registry) -> Self {
        registry.set_token_validator(Arc::new(Installed(Arc::downgrade(&self.inner))));
        self
    }
}

/// The auth tool as the registry holds it: weakly, because the tool's probe
/// holds the registry (a strong handle would keep both alive forever). Once
/// the tool is gone every token is refused.
struct Installed(std::sync::Weak<Inner>);

impl TokenValidator for Installed {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Claims>> + Send + 'a>> {
        Box::pin(async move {
            let inner = self.0.upgrade()?;
            Auth { inner }.validate_session(token).await
        })
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Tool for Auth {
    const NAME: &'static str = "auth";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        let settings = Settings::from_env(&setup.env)?;
        Ok(Self::build(&settings, setup.probe).installed(&setup.registry))
    }

    async fn setup_for_tests(setup: ToolSetup) -> Result<Self, ToolError> {
        let settings = Settings::for_tests(&setup.env)?;
        Ok(Self::build(&settings, setup.probe).installed(&setup.registry))
    }

    async fn on_boot_complete(&self) -> Result<(), ToolError> {
        if self.inner.mode == RevocationMode::Shared
            && !self.inner.installed.load(Ordering::Acquire)
        {
            // Not fatal: routes without auth keep working. Every token is
            // refused and every logout answers 503 until this is fixed.
            tracing::error!(
                "{NOT_INSTALLED}. Until then every token is refused and logout answers 503."
            );
        }
        Ok(())
    }

    fn report(&self) -> Vec<String> {
        let secret = match self.inner.source {
            SecretSource::Env => "secret from AUTH_SECRET_KEY",
            SecretSource::Ephemeral => "EPHEMERAL dev secret: tokens die with this process",
            SecretSource::Test => "fixed test secret",
        };
        let revocations = match (
            self.inner.mode,
            self.inner.installed.load(Ordering::Acquire),
        ) {
            (RevocationMode::Memory, _) => "revocations in this process's memory",
            (RevocationMode::Shared, true) => "revocations in a shared list",
            (RevocationMode::Shared, false) => {
                "NO shared revocation list installed: every token is refused"
            }
        };
        vec![format!(
            "{}, tokens last {} min, {secret}, {revocations}",
            algorithm_name(self.inner.codec.algorithm()),
            self.inner.codec.default_ttl().as_secs() / 60
        )]
    }
}

impl TokenValidator for Auth {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Claims>> + Send + 'a>> {
        Box::pin(self.validate_session(token))
    }
}
