//! Where jobs' fire claims, outcomes and one-shots live. The narrow contract
//! each store implements; the fleet-wide guarantees come from its
//! conditional updates (one winner per `(job, fire time)`).

use futures::future::BoxFuture;
use serde::Serialize;

use crate::error::SchedulerError;

mod former_file;
mod memory;
mod sql;

pub(crate) use self::memory::MemoryStore;
pub(crate) use self::sql::connect;

/// Result of a store call.
pub(crate) type Res<'a, T> = BoxFuture<'a, Result<T, SchedulerError>>;

/// What a claim on one fire of a recurring job found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This process runs the fire.
    Won,
    /// Another replica already claimed (or skipped) this fire or a later one.
    Taken,
    /// The previous run still holds the job's lease: the fire is to be skipped.
    Busy,
}

/// What a claim on fire `fire` of a job comes to, on every store: taken when
/// the job's last claimed fire is already at or past it (or the job is
/// unknown), busy while a lease of the previous run binds the job, else won.
pub(crate) fn claim_of(last_fire: Option<i64>, fire: i64, leased: bool) -> Claim {
    match last_fire {
        Some(last) if last < fire && leased => Claim::Busy,
        Some(last) if last < fire => Claim::Won,
        _ => Claim::Taken,
    }
}

/// How a run (or a fire) ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// `ok`, `failed` or `skipped`.
    pub status: String,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The error, or why it was skipped.
    pub detail: Option<String>,
}

/// A recurring job's row, as the store keeps it.
#[derive(Clone, Debug)]
pub(crate) struct JobRow {
    pub(crate) key: String,
    pub(crate) last_fire: i64,
    pub(crate) outcome: Option<Outcome>,
}

/// A one-shot as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OneShotRow {
    pub(crate) key: String,
    /// A fresh id per `schedule_at`: the published event's id, and what a
    /// delete matches, so a replacement is never deleted in its place.
    pub(crate) id: String,
    pub(crate) due: i64,
    pub(crate) event: String,
    pub(crate) payload: String,
    pub(crate) emitter: String,
    pub(crate) parent_id: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) attempts: i64,
    pub(crate) last_error: Option<String>,
}

/// One store. Times are milliseconds since the Unix epoch.
pub(crate) trait Store: Send + Sync + 'static {
    /// Creates the job's row if missing; returns its last claimed fire (0: none).
    fn register<'a>(&'a self, key: &'a str, kind: &'a str, schedule: &'a str) -> Res<'a, i64>;
    /// Claims fire `fire` of `key` for `owner` until `lease_until`: won only
    /// if no one claimed it or a later one, and (unless `overlap`) no lease is
    /// live at `now`.
    #[allow(clippy::too_many_arguments)]
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fire: i64,
        owner: &'a str,
        now: i64,
        lease_until: i64,
        overlap: bool,
    ) -> Res<'a, Claim>;
    /// Extends `owner`'s lease on `key`.
    fn renew<'a>(&'a self, key: &'a str, owner: &'a str, until: i64) -> Res<'a, ()>;
    /// Records fire `fire` of `key` as skipped, once fleet-wide: true for the
    /// one caller that recorded it.
    fn skip<'a>(&'a self, key: &'a str, fire: i64, at: i64, why: &'a str) -> Res<'a, bool>;
    /// Ends `owner`'s run of `key` with `outcome`, releasing the lease.
    fn finish<'a>(&'a self, key: &'a str, owner: &'a str, outcome: &'a Outcome) -> Res<'a, ()>;
    /// Every recurring job's row.
    fn jobs(&self) -> Res<'_, Vec<JobRow>>;
    /// Stores a one-shot, replacing one with the same key.
    fn put<'a>(&'a self, shot: &'a OneShotRow) -> Res<'a, ()>;
    /// Removes the one-shot `key`; true if there was one.
    fn cancel<'a>(&'a self, key: &'a str) -> Res<'a, bool>;
    /// Claims up to `limit` one-shots due at `now` until `until`, oldest first.
    fn claim_due(&self, now: i64, until: i64, limit: i64) -> Res<'_, Vec<OneShotRow>>;
    /// Deletes one-shot `key` if it is still the one with `id`.
    fn done<'a>(&'a self, key: &'a str, id: &'a str) -> Res<'a, ()>;
    /// Makes one-shot `key` (if still `id`) due again at `at`, noting `error`.
    fn retry<'a>(&'a self, key: &'a str, id: &'a str, at: i64, error: &'a str) -> Res<'a, ()>;
    /// Every pending one-shot, soonest first.
    fn one_shots(&self) -> Res<'_, Vec<OneShotRow>>;
    /// For the boot report: which store, where.
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::{Claim, claim_of};

    #[test]
    fn a_fire_is_won_once_ahead_of_the_last_busy_under_a_lease_and_taken_otherwise() {
        assert_eq!(claim_of(Some(10), 20, false), Claim::Won);
        assert_eq!(claim_of(Some(10), 20, true), Claim::Busy);
        assert_eq!(claim_of(Some(20), 20, false), Claim::Taken);
        assert_eq!(claim_of(Some(30), 20, true), Claim::Taken);
        assert_eq!(claim_of(None, 20, false), Claim::Taken);
    }
}
