//! Operator routes (`Route::operator()`): the framework's `/system/*`
//! endpoints show what the app does (event traces, dead letters with their
//! payloads, metrics) and can replay events or take tools down, so they answer
//! only to the operator's token (`HTTP_OPERATOR_TOKEN`) once one is set, and
//! stay closed in production until it is. In development without a token
//! they are open, as a local tool should be.

use std::sync::Arc;

use futures::future::BoxFuture;
use microcore_kernel::{Claims, Env, TokenValidator};
use subtle::ConstantTimeEq;

/// `HTTP_OPERATOR_TOKEN`'s shortest accepted length: a guessable operator
/// token would open every `/system/*` route.
pub(crate) const MIN_OPERATOR_TOKEN_BYTES: usize = 32;

/// Who may call an operator route, read once at setup: anyone (`None`:
/// development without `HTTP_OPERATOR_TOKEN`), or whoever the validator
/// admits ([`OperatorToken`], or [`ClosedToOperators`] in production
/// without a token).
#[derive(Clone)]
pub(crate) struct OperatorAccess(Option<Arc<dyn TokenValidator>>);

impl std::fmt::Debug for OperatorAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself.
        f.write_str(if self.0.is_some() { "guarded" } else { "open" })
    }
}

impl OperatorAccess {
    pub(crate) fn from_env(env: &Env) -> Result<Self, String> {
        let validator: Option<Arc<dyn TokenValidator>> =
            match env.get("HTTP_OPERATOR_TOKEN").map(str::trim) {
                Some(token) if !token.is_empty() => {
                    if token.len() < MIN_OPERATOR_TOKEN_BYTES {
                        return Err(format!(
                            "HTTP_OPERATOR_TOKEN is {} bytes long; it must be at least \
                             {MIN_OPERATOR_TOKEN_BYTES} bytes (it opens every /system/* route): \
                             generate one with `openssl rand -hex 32`",
                            token.len()
                        ));
                    }
                    Some(Arc::new(OperatorToken(token.as_bytes().into())))
                }
                _ if env.is_production() => Some(Arc::new(ClosedToOperators)),
                _ => None,
            };
        Ok(Self(validator))
    }

    /// The validator an operator route gets: none when open.
    pub(crate) fn validator(&self) -> Option<Arc<dyn TokenValidator>> {
        self.0.clone()
    }
}

/// Admits the request bearing the operator's token, as subject `operator`.
pub(crate) struct OperatorToken(Box<[u8]>);

impl TokenValidator for OperatorToken {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<Claims>> {
        // Constant time: the comparison must not tell an attacker how many
        // leading bytes they guessed.
        let admitted = bool::from(self.0.ct_eq(token.as_bytes()));
        Box::pin(async move {
            admitted.then(|| Claims {
                sub: "operator".into(),
                exp: i64::MAX,
                iat: 0,
                jti: String::new(),
                extra: Default::default(),
            })
        })
    }
}

/// Admits nobody, and says what to set.
pub(crate) struct ClosedToOperators;

impl TokenValidator for ClosedToOperators {
    fn validate<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Option<Claims>> {
        Box::pin(async { None })
    }

    fn closed(&self) -> Option<&str> {
        Some(
            "operator routes are closed with MICROCORE_ENV=production until HTTP_OPERATOR_TOKEN is set; \
             set it (`openssl rand -hex 32`) and send it as `Authorization: Bearer <token>`",
        )
    }
}
