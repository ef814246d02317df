//! The state tool: small shared values with expiry, in namespaces.
//!
//! For counters, throttles, deny lists and caches: JSON values under string
//! keys, grouped into namespaces (`state.namespace("login_throttle")`), each
//! with an optional time to live. In memory by default (one process); with
//! `STATE_BACKEND=redis` (and `REDIS_URL`) in Redis, so replicas share it. The
//! same parity suite runs against both backends, so switching is a setting,
//! never a code change.
//!
//! `increment` is atomic and its ttl is a fixed window: it is applied only
//! when the key is created, and the next increment after expiry starts again
//! from zero. Unlike the original's Redis tool, a key created by `set`
//! without a ttl does not gain one from a later `increment`, on either backend.

mod backend;
mod error;
mod namespace;
mod state;

pub use error::StateError;
pub use namespace::StateNamespace;
pub use state::{DEFAULT_NAMESPACE, State};
