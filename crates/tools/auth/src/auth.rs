use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use microcore_kernel::{Claims, Probe, RevocationList, TokenValidator, Tool, ToolError, ToolSetup};
use parking_lot::RwLock;

use crate::error::AuthError;
use crate::hashing::HashPool;
use crate::password;
use crate::revocation::MemoryRevocations;
use crate::settings::{SecretSource, Settings, algorithm_name};
use crate::token::Codec;

struct Inner {
    probe: Probe,
    codec: Codec,
    source: SecretSource,
    revocations: RwLock<Arc<dyn RevocationList>>,
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
    errors = "AuthError: Expired, Invalid, MalformedHash, BadClaims, Internal"
)]
impl Auth {
    fn build(settings: &Settings, probe: Probe) -> Self {
        Self {
            inner: Arc::new(Inner {
                probe,
                codec: Codec::new(settings),
                source: settings.source,
                revocations: RwLock::new(Arc::new(MemoryRevocations::default())),
                hashing: HashPool::new(),
            }),
        }
    }

    /// An argon2id PHC string for `password`, computed on a dedicated hashing thread.
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

    /// Whether `password` matches `hash` (from [`Auth::hash_password`]):
    /// `Ok(false)` for a wrong password, `Err` only for a malformed hash.
    /// Runs on a dedicated hashing thread.
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

    /// A signed token for `subject` carrying `extra` (a JSON object, or
    /// `null` for none), valid for `ttl` or `AUTH_TOKEN_EXPIRE_MINUTES`.
    /// Adds `exp`, `iat`, a random `jti`, and `iss`/`aud` when configured.
    pub fn create_token(
        &self,
        subject: impl ToString,
        extra: serde_json::Value,
        ttl: Option<Duration>,
    ) -> Result<String, AuthError> {
        self.inner.probe.observe_sync("create_token", || {
            self.inner.codec.create(subject.to_string(), extra, ttl)
        })
    }

    /// The claims of a token this service issued and still accepts.
    pub fn decode_token(&self, token: &str) -> Result<Claims, AuthError> {
        self.inner
            .probe
            .observe_sync("decode_token", || self.inner.codec.decode(token))
    }

    /// [`Auth::decode_token`] for callers that only need yes or no.
    pub fn validate_token(&self, token: &str) -> Option<Claims> {
        self.inner
            .probe
            .observe_sync("validate_token", || self.inner.codec.decode(token))
            .ok()
    }

    /// Revokes a valid token until it would have expired: every later
    /// validation through the routes' validator refuses it. An already
    /// expired token needs no revocation and is accepted silently.
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
                    .map_err(|reason| AuthError::Internal {
                        reason: format!("the revocation list failed: {reason}"),
                    })
            })
            .await
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
    }

    /// Signature, expiry and claims checks plus the revocation list: what
    /// routes use. Fails closed: if the list cannot be read, the token is refused.
    pub async fn validate_session(&self, token: &str) -> Option<Claims> {
        let claims = self.validate_token(token)?;
        let list = self.inner.revocations.read().clone();
        match list.is_revoked(&claims.jti).await {
            Ok(false) => Some(claims),
            Ok(true) => None,
            Err(reason) => {
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

    fn report(&self) -> Vec<String> {
        let secret = match self.inner.source {
            SecretSource::Env => "secret from AUTH_SECRET_KEY",
            SecretSource::Ephemeral => "EPHEMERAL dev secret: tokens die with this process",
            SecretSource::Test => "fixed test secret",
        };
        vec![format!(
            "{}, tokens last {} min, {secret}",
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
