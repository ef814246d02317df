//! The default revocation list: in memory, per process, entries expire with
//! the tokens they revoke.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use microcore_kernel::RevocationList;
use parking_lot::Mutex;

/// Revoked token ids with their expiry; expired entries are swept on write.
#[derive(Default)]
pub(crate) struct MemoryRevocations {
    entries: Mutex<HashMap<String, Instant>>,
}

impl RevocationList for MemoryRevocations {
    fn revoke<'a>(&'a self, jti: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut entries = self.entries.lock();
            entries.retain(|_, until| *until > now);
            entries.insert(jti.to_owned(), now + ttl);
            Ok(())
        })
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            Ok(self
                .entries
                .lock()
                .get(jti)
                .is_some_and(|until| *until > Instant::now()))
        })
    }
}
