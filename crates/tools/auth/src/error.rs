use microcore_kernel::ToolFailure;

/// Why an auth call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token was valid once but its `exp` has passed.
    #[error("token has expired; log in again")]
    Expired,
    /// The token is not acceptable: malformed, tampered with, signed with
    /// another key or algorithm, or for another issuer or audience.
    #[error("invalid token: {reason}")]
    Invalid {
        /// What exactly is wrong with it (never the secret).
        reason: String,
    },
    /// A stored password hash that is not an argon2 PHC string.
    #[error(
        "the stored password hash is malformed ({reason}); store the string \
         hash_password returns, e.g. `$argon2id$v=19$...`"
    )]
    MalformedHash {
        /// What the parser rejected.
        reason: String,
    },
    /// The claims given to `create_token` cannot go into a token.
    #[error("cannot create a token: {reason}")]
    BadClaims {
        /// Which claim is wrong and what to do instead.
        reason: String,
    },
    /// A dependency the answer needs is out of reach for now: the revocation
    /// list cannot be read or written, or the password hashing queue is full.
    /// Nothing was done; the same call may succeed later (an http layer
    /// answers 503 with `Retry-After`).
    #[error("auth is unavailable for now: {reason}")]
    Unavailable {
        /// What is out of reach and what to check.
        reason: String,
    },
    /// The tool itself failed (a hashing task died, signing failed).
    #[error("auth tool failure: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
}

impl AuthError {
    /// True for errors that mean "the caller is not authenticated" (an http
    /// layer answers them with 401).
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self, Self::Expired | Self::Invalid { .. })
    }

    /// True for errors that mean "try again later" (an http layer answers them
    /// with 503 and `Retry-After`).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

impl ToolFailure for AuthError {
    /// Bad tokens, hashes and claims come from the caller; only an internal
    /// failure says something about the tool's health.
    fn is_caller_error(&self) -> bool {
        // A full hashing queue or an unreachable revocation store is load or
        // another component's outage, not the auth tool failing.
        !matches!(self, Self::Internal { .. })
    }

    /// `down` is `Unavailable` (an http layer answers 503), a flaky call `Internal`.
    fn injected(fault: &microcore_kernel::InjectedFault) -> Option<Self> {
        let reason = fault.message().to_owned();
        Some(if fault.is_unavailable() {
            Self::Unavailable { reason }
        } else {
            Self::Internal { reason }
        })
    }
}
