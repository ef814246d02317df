//! Revocation lists the auth tool owns: the default in-memory one (per
//! process, entries expire with the tokens they revoke), and the placeholder
//! that refuses everything until a plugin installs a shared one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use microcore_kernel::RevocationList;
use parking_lot::Mutex;

/// Revoked token ids and per-subject "not before" times, with their expiry;
/// expired entries are swept on write.
#[derive(Default)]
pub(crate) struct MemoryRevocations {
    tokens: Mutex<HashMap<String, Instant>>,
    subjects: Mutex<HashMap<String, (i64, Instant)>>,
}

impl RevocationList for MemoryRevocations {
    fn revoke<'a>(&'a self, jti: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut entries = self.tokens.lock();
            entries.retain(|_, until| *until > now);
            entries.insert(jti.to_owned(), now + ttl);
            Ok(())
        })
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            Ok(self
                .tokens
                .lock()
                .get(jti)
                .is_some_and(|until| *until > Instant::now()))
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        not_before: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut entries = self.subjects.lock();
            entries.retain(|_, (_, until)| *until > now);
            entries.insert(sub.to_owned(), (not_before, now + ttl));
            Ok(())
        })
    }

    fn revoked_before<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Option<i64>, String>> {
        Box::pin(async move {
            Ok(self
                .subjects
                .lock()
                .get(sub)
                .filter(|(_, until)| *until > Instant::now())
                .map(|(not_before, _)| *not_before))
        })
    }
}

/// The list in place under `AUTH_REVOCATION_LIST=shared` until a plugin
/// installs the shared one. Every call fails, so tokens are refused and
/// logouts answer 503 instead of being honoured by this process only.
pub(crate) struct NotInstalled;

/// Why [`NotInstalled`] refuses, as operators read it in the log.
pub(crate) const NOT_INSTALLED: &str = "no shared revocation list is installed \
     (AUTH_REVOCATION_LIST=shared): the plugin that installs one (users.Sessions in the example app) \
     is not running, see its boot error (often the state tool: check REDIS_URL); \
     a single process without replicas may set AUTH_REVOCATION_LIST=memory";

impl RevocationList for NotInstalled {
    fn revoke<'a>(&'a self, _: &'a str, _: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err(NOT_INSTALLED.to_owned()) })
    }

    fn is_revoked<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async { Err(NOT_INSTALLED.to_owned()) })
    }

    fn revoke_subject<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err(NOT_INSTALLED.to_owned()) })
    }

    fn revoked_before<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<i64>, String>> {
        Box::pin(async { Err(NOT_INSTALLED.to_owned()) })
    }
}
