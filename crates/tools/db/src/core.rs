//! What every layer of the tool runs on: the engine, the health probe and the
//! turn-taking of transactions. One per database; [`Db`](crate::Db) handles
//! and open transactions share it.
//!
//! The modules form layers, each using only those below it:
//! `backend` < `retry` < `core` < `outbox::table` < `tx` < `migrate`, `schema`, `outbox` < `handle`
//! (the `Db` plugins hold).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use microcore_kernel::Probe;

use crate::backend::{Backend, Engine};
use crate::error::DbError;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Core {
    id: u64,
    backend: Box<dyn Backend>,
    probe: Probe,
    /// Held for its whole length by a migration, the tool's own DDL, and on
    /// SQLite (one writer) by a top-level transaction, so this process's
    /// writers queue here in order rather than in SQLite's busy handler.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Runs of a transaction's closure at most (`DB_TX_MAX_ATTEMPTS`).
    tx_max_attempts: AtomicU32,
    /// What the last migration run did, for the boot report.
    pub(crate) migrations: parking_lot::Mutex<String>,
    /// Woken when a transaction that stored outbox events commits, so the
    /// relay of this process publishes them at once instead of at its next poll.
    pub(crate) outbox_committed: tokio::sync::Notify,
    /// How this process relays the outbox (`DB_OUTBOX_*`).
    pub(crate) outbox_settings: parking_lot::Mutex<crate::outbox::OutboxSettings>,
    /// Set once this process made sure the `_outbox` table exists: boot runs
    /// the migrations (which ensure it) and then the relay's `on_boot` (which
    /// ensures it for a replica that skips migrations); the second is free.
    pub(crate) outbox_table: tokio::sync::OnceCell<()>,
}

impl Core {
    pub(crate) fn new(backend: Box<dyn Backend>, probe: Probe) -> Self {
        probe.accept_faults();
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            backend,
            probe,
            gate: Arc::new(tokio::sync::Mutex::new(())),
            tx_max_attempts: AtomicU32::new(crate::retry::DEFAULT_MAX_ATTEMPTS),
            migrations: parking_lot::Mutex::new("not run".to_owned()),
            outbox_committed: tokio::sync::Notify::new(),
            outbox_settings: parking_lot::Mutex::default(),
            outbox_table: tokio::sync::OnceCell::new(),
        }
    }

    /// Whether both are the same database (handles cloned from one another).
    pub(crate) fn same(&self, other: &Core) -> bool {
        self.id == other.id
    }

    pub(crate) fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    pub(crate) fn engine(&self) -> Engine {
        self.backend.engine()
    }

    /// The turn of one migration (or SQLite transaction) at a time.
    pub(crate) fn gate(&self) -> Arc<tokio::sync::Mutex<()>> {
        self.gate.clone()
    }

    /// Runs of a transaction's closure at most, on conflicts (PostgreSQL).
    pub(crate) fn tx_max_attempts(&self) -> u32 {
        self.tx_max_attempts.load(Ordering::Relaxed)
    }

    pub(crate) fn set_tx_max_attempts(&self, attempts: u32) {
        self.tx_max_attempts
            .store(attempts.max(1), Ordering::Relaxed);
    }

    /// Runs `call`, reporting its outcome to the kernel under `method`.
    pub(crate) async fn observe<T>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        self.probe.observe(method, call).await
    }
}
