//! The transactional outbox: an event stored by [`Tx::publish`](crate::Tx::publish)
//! commits or rolls back with the writes it announces, and a relay hands it to
//! the event bus afterwards, at least once.
//!
//! The db tool does not know the event bus (a tool never depends on another
//! tool): it stores rows and leases them. The relay that publishes them is a
//! plugin holding both tools (`system.OutboxRelay`); it takes due rows with
//! [`Outbox::claim`], publishes each under its stored id, then calls
//! [`Outbox::sent`] or [`Outbox::retry_later`].
//!
//! A claim leases its rows for [`OutboxSettings::lease`]: a relay that dies
//! mid-way leaves them to be claimed again when the lease ends, by any
//! replica (at least once; the bus and subscribers de-duplicate on the id).
//! On PostgreSQL concurrent claims skip each other's rows
//! (`FOR UPDATE SKIP LOCKED`), so two replicas never publish one row at once.

pub(crate) mod table;

use std::sync::Arc;
use std::time::Duration;

use microcore_kernel::{Env, TraceContext};

use crate::core::Core;
use crate::error::DbError;
use crate::tx;
use crate::value::Value;

/// How this process relays the outbox, read from `DB_OUTBOX_*` at setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxSettings {
    /// `DB_OUTBOX_RELAY` (default true): false stores events here but leaves
    /// publishing them to other replicas.
    pub relay: bool,
    /// `DB_OUTBOX_POLL_MS` (default 1000): how often the relay looks for rows
    /// left by another process; a commit in this process wakes it at once.
    pub poll: Duration,
    /// `DB_OUTBOX_LEASE_MS` (default 30000): how long a claimed row is kept
    /// from other relays before it is claimed again.
    pub lease: Duration,
    /// `DB_OUTBOX_BATCH` (default 100): rows taken per claim.
    pub batch: u32,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            relay: true,
            poll: Duration::from_millis(1000),
            lease: Duration::from_millis(30_000),
            batch: 100,
        }
    }
}

impl OutboxSettings {
    /// Reads `DB_OUTBOX_RELAY`, `DB_OUTBOX_POLL_MS`, `DB_OUTBOX_LEASE_MS`, `DB_OUTBOX_BATCH`.
    pub(crate) fn from_env(env: &Env) -> Result<Self, String> {
        let d = Self::default();
        let positive = |key: &str, default: u64| -> Result<u64, String> {
            match env.parse_or(key, default)? {
                0 => Err(format!(
                    "{key}=0 is not allowed; set a positive number or unset it"
                )),
                n => Ok(n),
            }
        };
        Ok(Self {
            relay: env.flag("DB_OUTBOX_RELAY", d.relay)?,
            poll: Duration::from_millis(positive("DB_OUTBOX_POLL_MS", millis(d.poll))?),
            lease: Duration::from_millis(positive("DB_OUTBOX_LEASE_MS", millis(d.lease))?),
            batch: u32::try_from(positive("DB_OUTBOX_BATCH", u64::from(d.batch))?)
                .map_err(|_| "DB_OUTBOX_BATCH is too large; use at most 4294967295".to_owned())?,
        })
    }
}

/// `d` in whole milliseconds (the defaults are far below `u64::MAX` ms).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// An event stored by a committed transaction, waiting to be published.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// The id [`Tx::publish`](crate::Tx::publish) returned: publish it as the envelope id.
    pub id: String,
    /// The event name (`user.created`).
    pub event: String,
    /// The payload.
    pub payload: serde_json::Value,
    /// The identity of the code that stored it (the envelope's emitter).
    pub emitter: String,
    /// The event or request being handled when it was stored, if any.
    pub parent_id: Option<String>,
    /// When it was stored, in seconds since the Unix epoch.
    pub timestamp: f64,
    /// How many times it has been claimed, this claim included.
    pub attempts: u32,
    /// The W3C trace context of the transaction that stored it (OpenTelemetry
    /// on), so its deliveries join that trace; `None` otherwise.
    pub trace: Option<TraceContext>,
}

/// The relay's side of the outbox; from [`Db::outbox`](crate::Db::outbox).
///
/// Framework-facing (the relay plugin and tests), not part of the plugin contract.
#[derive(Clone)]
pub struct Outbox {
    core: Arc<Core>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Row {
    seq: i64,
    id: String,
    event: String,
    payload: String,
    emitter: String,
    parent_id: Option<String>,
    created_at: i64,
    attempts: i64,
    trace: Option<String>,
}

impl Outbox {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// How this process relays the outbox (`DB_OUTBOX_*`).
    pub fn settings(&self) -> OutboxSettings {
        *self.core.outbox_settings.lock()
    }

    /// Creates the outbox table if it does not exist (migrations create it too).
    pub async fn ensure(&self) -> Result<(), DbError> {
        self.core
            .observe("outbox_ensure", table::ensure(&self.core))
            .await
    }

    /// Waits until a transaction of this process that stored events commits.
    ///
    /// A commit that happened since the last wait counts, so none is missed.
    pub async fn committed(&self) {
        self.core.outbox_committed.notified().await;
    }

    /// Leases up to `limit` due events for `lease` and returns them, oldest first.
    ///
    /// A claim that finds nothing is not recorded in the tool's metrics;
    /// one that fails is, and counts towards the tool's health.
    pub async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<StoredEvent>, DbError> {
        let now = table::now_ms();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let params = [Value::Int(until), Value::Int(now), Value::Int(limit.into())];
        let sql = table::claim(self.core.engine());
        let out = match tx::statement(&self.core, sql, &params).await {
            // An idle poll is not recorded: a relay polling every second
            // would otherwise push real calls out of the metrics ring.
            Ok(out) if out.rows.is_empty() => return Ok(Vec::new()),
            result => self.core.observe("outbox_claim", async { result }).await?,
        };
        let mut rows: Vec<Row> = crate::ops::rows(out)?;
        // RETURNING comes in no particular order.
        rows.sort_by_key(|r| r.seq);
        rows.into_iter()
            .map(|r| {
                let payload = serde_json::from_str(&r.payload).map_err(|e| {
                    DbError::tool(format!(
                        "outbox row {} (`{}`) holds a payload that is not JSON: {e}; delete the \
                         row from _outbox",
                        r.id, r.event
                    ))
                })?;
                Ok(StoredEvent {
                    id: r.id,
                    event: r.event,
                    payload,
                    emitter: r.emitter,
                    parent_id: r.parent_id,
                    timestamp: r.created_at as f64 / 1000.0,
                    attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
                    // A malformed context only loses the link to the trace.
                    trace: r.trace.and_then(|t| serde_json::from_str(&t).ok()),
                })
            })
            .collect()
    }

    /// Deletes event `id`: the bus has it.
    pub async fn sent(&self, id: &str) -> Result<(), DbError> {
        let params = [Value::Text(id.to_owned())];
        self.core
            .observe(
                "outbox_sent",
                tx::statement(&self.core, table::SENT, &params),
            )
            .await
            .map(drop)
    }

    /// Makes event `id` due again after `delay`, recording `error` (why it was not published).
    pub async fn retry_later(&self, id: &str, delay: Duration, error: &str) -> Result<(), DbError> {
        let at =
            table::now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        let params = [
            Value::Text(id.to_owned()),
            Value::Int(at),
            Value::Text(error.to_owned()),
        ];
        self.core
            .observe(
                "outbox_retry",
                tx::statement(&self.core, table::RETRY, &params),
            )
            .await
            .map(drop)
    }

    /// Returns how many events wait to be published, leased ones included.
    pub async fn pending(&self) -> Result<i64, DbError> {
        let out = self
            .core
            .observe(
                "outbox_pending",
                tx::statement(&self.core, table::PENDING, &[]),
            )
            .await?;
        let count: Option<serde_json::Value> = crate::ops::first(out)?;
        Ok(count
            .and_then(|c| c.get("pending").and_then(serde_json::Value::as_i64))
            .unwrap_or(0))
    }
}
