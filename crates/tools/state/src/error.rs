use microcore_kernel::ToolFailure;

/// Why a state call failed. Every variant names the namespace and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The value could not be turned into JSON (e.g. a map with non-string keys).
    #[error("state `{namespace}`/`{key}`: the value cannot be stored as JSON ({reason})")]
    Serialize {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
        /// What serde said.
        reason: String,
    },
    /// The stored value does not fit the type asked for.
    #[error(
        "state `{namespace}`/`{key}` holds a value that is not a `{expected}` ({reason}); \
         read it as the type it was stored with, or delete it"
    )]
    Deserialize {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
        /// The type asked for.
        expected: &'static str,
        /// What serde said.
        reason: String,
    },
    /// `increment` on a key holding something other than an integer.
    #[error(
        "cannot increment state `{namespace}`/`{key}`: it holds a value that is not an integer; \
         delete it first or count under another key"
    )]
    NotANumber {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
    },
    /// `increment` would leave the i64 range.
    #[error("incrementing state `{namespace}`/`{key}` would overflow a 64-bit integer")]
    Overflow {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
    },
    /// A ttl of zero: it would expire before anyone could read it.
    #[error(
        "state `{namespace}`/`{key}`: a ttl of zero expires at once; pass None for no expiry \
         or a positive duration"
    )]
    ZeroTtl {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
    },
    /// A ttl longer than the backend can hold (Redis would fail after writing).
    #[error(
        "state `{namespace}`/`{key}`: a ttl of {ttl_secs} s is longer than the longest allowed \
         ({max_secs} s, about 100 years); pass None for no expiry or a shorter duration"
    )]
    TtlTooLong {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
        /// The ttl asked for, in whole seconds.
        ttl_secs: u64,
        /// The longest ttl accepted, in seconds.
        max_secs: u64,
    },
    /// A namespace name that cannot be used.
    #[error("state namespace `{namespace}` is not usable: {reason}")]
    InvalidNamespace {
        /// The name as given.
        namespace: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The backend cannot be reached (the tool is DEAD until it can).
    #[error("state backend {backend} is unavailable: {reason}")]
    Unavailable {
        /// Which backend, with its address.
        backend: String,
        /// The underlying error.
        reason: String,
    },
    /// The backend answered with an error.
    #[error("state backend {backend} failed: {reason}")]
    Backend {
        /// Which backend, with its address.
        backend: String,
        /// The underlying error.
        reason: String,
    },
}

impl ToolFailure for StateError {
    fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Bad values, types, keys and namespaces are the caller's doing.
    fn is_caller_error(&self) -> bool {
        !matches!(self, Self::Unavailable { .. } | Self::Backend { .. })
    }

    /// `down` is `Unavailable`, a flaky call `Backend`.
    fn injected(fault: &microcore_kernel::InjectedFault) -> Option<Self> {
        let backend = "(chaos)".to_owned();
        let reason = fault.message().to_owned();
        Some(if fault.is_unavailable() {
            Self::Unavailable { backend, reason }
        } else {
            Self::Backend { backend, reason }
        })
    }
}
