//! The in-process store: one process is the whole fleet, and nothing
//! survives a restart.

use std::collections::BTreeMap;

use futures::FutureExt;
use parking_lot::Mutex;

use super::{Claim, JobRow, OneShotRow, Outcome, Res, Store, claim_of};

#[derive(Default)]
struct Job {
    last_fire: i64,
    lease_owner: Option<String>,
    lease_until: i64,
    outcome: Option<Outcome>,
}

/// Jobs and one-shots in this process's memory.
#[derive(Default)]
pub(crate) struct MemoryStore {
    jobs: Mutex<BTreeMap<String, Job>>,
    shots: Mutex<BTreeMap<String, (OneShotRow, i64)>>,
}

fn ready<'a, T: Send + 'a>(value: T) -> Res<'a, T> {
    futures::future::ready(Ok(value)).boxed()
}

impl Store for MemoryStore {
    fn register<'a>(&'a self, key: &'a str, _: &'a str, _: &'a str) -> Res<'a, i64> {
        let mut jobs = self.jobs.lock();
        ready(jobs.entry(key.to_owned()).or_default().last_fire)
    }

    fn claim<'a>(
        &'a self,
        key: &'a str,
        fire: i64,
        owner: &'a str,
        now: i64,
        lease_until: i64,
        overlap: bool,
    ) -> Res<'a, Claim> {
        let mut jobs = self.jobs.lock();
        let job = jobs.entry(key.to_owned()).or_default();
        let leased = !overlap && job.lease_until > now;
        let claim = claim_of(Some(job.last_fire), fire, leased);
        if claim == Claim::Won {
            job.last_fire = fire;
            job.lease_owner = Some(owner.to_owned());
            job.lease_until = lease_until;
        }
        ready(claim)
    }

    fn renew<'a>(&'a self, key: &'a str, owner: &'a str, until: i64) -> Res<'a, ()> {
        if let Some(job) = self.jobs.lock().get_mut(key)
            && job.lease_owner.as_deref() == Some(owner)
        {
            job.lease_until = until;
        }
        ready(())
    }

    fn skip<'a>(&'a self, key: &'a str, fire: i64, at: i64, why: &'a str) -> Res<'a, bool> {
        let mut jobs = self.jobs.lock();
        let job = jobs.entry(key.to_owned()).or_default();
        if job.last_fire >= fire {
            return ready(false);
        }
        job.last_fire = fire;
        job.outcome = Some(Outcome {
            status: "skipped".into(),
            at: crate::clock::rfc3339(at),
            detail: Some(why.to_owned()),
        });
        ready(true)
    }

    fn finish<'a>(&'a self, key: &'a str, owner: &'a str, outcome: &'a Outcome) -> Res<'a, ()> {
        if let Some(job) = self.jobs.lock().get_mut(key) {
            if job.lease_owner.as_deref() == Some(owner) {
                job.lease_owner = None;
                job.lease_until = 0;
            }
            job.outcome = Some(outcome.clone());
        }
        ready(())
    }

    fn jobs(&self) -> Res<'_, Vec<JobRow>> {
        let rows = (self.jobs.lock().iter())
            .map(|(key, job)| JobRow {
                key: key.clone(),
                last_fire: job.last_fire,
                outcome: job.outcome.clone(),
            })
            .collect();
        ready(rows)
    }

    fn put<'a>(&'a self, shot: &'a OneShotRow) -> Res<'a, ()> {
        self.shots
            .lock()
            .insert(shot.key.clone(), (shot.clone(), 0));
        ready(())
    }

    fn cancel<'a>(&'a self, key: &'a str) -> Res<'a, bool> {
        ready(self.shots.lock().remove(key).is_some())
    }

    fn claim_due(&self, now: i64, until: i64, limit: i64) -> Res<'_, Vec<OneShotRow>> {
        let mut shots = self.shots.lock();
        let mut due: Vec<&mut (OneShotRow, i64)> = shots
            .values_mut()
            .filter(|(s, claimed)| s.due <= now && *claimed <= now)
            .collect();
        due.sort_by_key(|(s, _)| s.due);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let claimed = due
            .into_iter()
            .take(limit)
            .map(|(s, claimed)| {
                *claimed = until;
                s.attempts += 1;
                s.clone()
            })
            .collect();
        ready(claimed)
    }

    fn done<'a>(&'a self, key: &'a str, id: &'a str) -> Res<'a, ()> {
        let mut shots = self.shots.lock();
        if shots.get(key).is_some_and(|(s, _)| s.id == id) {
            shots.remove(key);
        }
        ready(())
    }

    fn retry<'a>(&'a self, key: &'a str, id: &'a str, at: i64, error: &'a str) -> Res<'a, ()> {
        if let Some((shot, claimed)) = self.shots.lock().get_mut(key)
            && shot.id == id
        {
            *claimed = at;
            shot.last_error = Some(error.to_owned());
        }
        ready(())
    }

    fn one_shots(&self) -> Res<'_, Vec<OneShotRow>> {
        let mut rows: Vec<OneShotRow> =
            self.shots.lock().values().map(|(s, _)| s.clone()).collect();
        rows.sort_by_key(|s| s.due);
        ready(rows)
    }

    fn describe(&self) -> String {
        "memory (this process is the fleet; one-shots do not survive a restart)".to_owned()
    }
}
