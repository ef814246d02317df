//! Who is running right now, and because of which event.
//!
//! The event bus stamps every envelope with the emitter and the parent event
//! from here, so a plugin can neither spoof its identity nor lose causality.
//! The kernel sets it around `on_boot`; the http tool around each handler; the
//! event bus around each delivery.

use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static CURRENT: CallContext;
}

/// The identity and causal parent of the code that is running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallContext {
    /// `"<domain>.<Type>"` or `"<domain>.<Type>.<method>"`; `"system"` outside any plugin.
    pub identity: Arc<str>,
    /// The id of the event (or HTTP request) being handled, if any.
    pub event_id: Option<Arc<str>>,
}

impl CallContext {
    /// A context for `identity` caused by `event_id`.
    pub fn new(identity: impl Into<Arc<str>>, event_id: Option<Arc<str>>) -> Self {
        Self {
            identity: identity.into(),
            event_id,
        }
    }

    /// The context of the running task, or `system` with no parent.
    pub fn current() -> Self {
        CURRENT
            .try_with(Clone::clone)
            .unwrap_or_else(|_| Self::new("system", None))
    }
}

/// The identity of the running code (`"system"` outside any plugin).
pub fn current_identity() -> Arc<str> {
    CURRENT
        .try_with(|c| c.identity.clone())
        .unwrap_or_else(|_| Arc::from("system"))
}

/// The id of the event or request being handled, if any.
pub fn current_event_id() -> Option<Arc<str>> {
    CURRENT.try_with(|c| c.event_id.clone()).ok().flatten()
}

/// True when `identity` is `owner` or inside it: a plugin (`users.CreateUser`)
/// owns its handlers (`users.CreateUser.create`), a domain (`users`) owns its
/// plugins. `users.Create` does not own `users.CreateUser`.
pub fn identity_within(identity: &str, owner: &str) -> bool {
    identity
        .strip_prefix(owner)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Runs `fut` with `ctx` as the current call context.
///
/// A plain function returning a future, not an `async fn`, which would keep
/// `fut` twice in its state (as its argument and inside the scope it awaits).
pub fn in_context<F: Future>(ctx: CallContext, fut: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(ctx, fut)
}

/// Runs blocking `f` with `ctx` as the current call context (on this thread).
pub fn in_context_blocking<R>(ctx: CallContext, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(ctx, f)
}

/// Runs blocking `f` on tokio's blocking pool, carrying the current call
/// context across: the "hybrid engine" that keeps sync code off the async workers.
pub async fn spawn_blocking_in_context<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, tokio::task::JoinError> {
    let ctx = CallContext::current();
    tokio::task::spawn_blocking(move || in_context_blocking(ctx, f)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_within_its_plugin_and_its_domain_only() {
        assert!(identity_within(
            "users.CreateUser.create",
            "users.CreateUser"
        ));
        assert!(identity_within("users.CreateUser", "users.CreateUser"));
        assert!(identity_within("users.CreateUser.create", "users"));
        assert!(!identity_within(
            "users.CreateUserV2.create",
            "users.CreateUser"
        ));
        assert!(!identity_within("usersx.A", "users"));
        assert!(!identity_within("system", "users"));
    }

    #[tokio::test]
    async fn outside_any_plugin_the_identity_is_system() {
        assert_eq!(&*current_identity(), "system");
        assert_eq!(current_event_id(), None);
    }

    #[tokio::test]
    async fn blocking_code_sees_the_callers_context() {
        let ctx = CallContext::new("users.CreateUser", Some(Arc::from("ev-1")));
        let seen = in_context(ctx.clone(), async {
            spawn_blocking_in_context(|| {
                (
                    current_identity(),
                    current_event_id(),
                    std::thread::current().id(),
                )
            })
            .await
            .unwrap()
        })
        .await;
        assert_eq!(&*seen.0, "users.CreateUser");
        assert_eq!(seen.1.as_deref(), Some("ev-1"));
        assert_ne!(
            seen.2,
            std::thread::current().id(),
            "sync code must leave the async worker"
        );
    }
}
