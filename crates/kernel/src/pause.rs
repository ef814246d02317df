//! Paused owners: plugins or domains the chaos controls switched off.
//!
//! A paused plugin's routes answer 503 and its event deliveries wait, in
//! order, until it is resumed. The http tool and the event bus both read this
//! board from the kernel's registry, so neither depends on the other or on the
//! plugin that pauses. With nothing paused a check is one atomic load.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::Notify;

use crate::context::identity_within;

/// How often a held delivery looks again even without a wake-up (a drain
/// beginning is not announced here).
const RECHECK: Duration = Duration::from_millis(200);

/// Which plugins and domains are paused. Shared through the [`Registry`](crate::Registry).
#[derive(Debug, Default)]
pub struct Pauses {
    /// Mirrors "the set is not empty".
    any: AtomicBool,
    owners: RwLock<BTreeSet<String>>,
    resumed: Notify,
}

impl Pauses {
    /// Pauses `owner` (a plugin `users.CreateUser` or a domain `users`);
    /// false when it already was.
    pub fn pause(&self, owner: &str) -> bool {
        let mut owners = self.owners.write();
        let added = owners.insert(owner.to_owned());
        self.any.store(true, Ordering::Release);
        added
    }

    /// Resumes `owner`; false when it was not paused. What it held runs, in order.
    pub fn resume(&self, owner: &str) -> bool {
        let removed = {
            let mut owners = self.owners.write();
            let removed = owners.remove(owner);
            self.any.store(!owners.is_empty(), Ordering::Release);
            removed
        };
        self.resumed.notify_waiters();
        removed
    }

    /// Resumes every owner.
    pub fn resume_all(&self) {
        {
            let mut owners = self.owners.write();
            owners.clear();
            self.any.store(false, Ordering::Release);
        }
        self.resumed.notify_waiters();
    }

    /// The paused owners, sorted.
    pub fn paused(&self) -> Vec<String> {
        self.owners.read().iter().cloned().collect()
    }

    /// The paused owner that holds `identity` (a route's owner, a
    /// subscriber), if any; `None` at the cost of one atomic load when
    /// nothing is paused.
    #[inline]
    pub fn holder(&self, identity: &str) -> Option<String> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.owners
            .read()
            .iter()
            .find(|owner| identity_within(identity, owner))
            .cloned()
    }

    /// Waits while `identity` is paused, or until `give_up` says to stop
    /// waiting (the bus is draining). Returns at once when it is not paused.
    pub async fn until_resumed(&self, identity: &str, give_up: impl Fn() -> bool) {
        loop {
            let resumed = self.resumed.notified();
            tokio::pin!(resumed);
            // Registered before the check, so a resume in between still wakes us.
            resumed.as_mut().enable();
            if self.holder(identity).is_none() || give_up() {
                return;
            }
            let _ = tokio::time::timeout(RECHECK, resumed).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_domain_holds_its_plugins_and_a_plugin_its_handlers() {
        let p = Pauses::default();
        assert_eq!(p.holder("users.CreateUser.create"), None);
        p.pause("users");
        assert_eq!(
            p.holder("users.CreateUser.create").as_deref(),
            Some("users")
        );
        assert_eq!(p.holder("notifications.Welcome.on_user"), None);
        p.pause("notifications.Welcome");
        assert!(p.holder("notifications.Welcome.on_user").is_some());
        assert!(p.resume("users") && !p.resume("users"));
        assert_eq!(p.holder("users.CreateUser.create"), None);
        p.resume_all();
        assert!(p.paused().is_empty());
    }

    #[tokio::test]
    async fn a_held_caller_goes_on_when_resumed() {
        let p = Arc::new(Pauses::default());
        p.pause("users.A");
        let waiter = {
            let p = p.clone();
            tokio::spawn(async move { p.until_resumed("users.A.h", || false).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "held while paused");
        p.resume("users.A");
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("released by the resume")
            .unwrap();
    }
}
