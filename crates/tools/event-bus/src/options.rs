//! How one publish travels and how one subscription behaves.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::EventBus;

/// Options of [`EventBus::publish_with`]: build them with
/// `PublishOptions::default().key(k).delay(d)`, or set the fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PublishOptions {
    /// Ordering key: events with the same key reach each subscriber in publish
    /// order. Unkeyed events are ordered per event name.
    pub key: Option<String>,
    /// Deliver no earlier than this. A delayed event is ordered by its due
    /// time and never holds back later publishes.
    pub delay: Option<Duration>,
    /// Drop the event (recorded as `ttl_expired`) if it is older than this at delivery.
    pub ttl: Option<Duration>,
    /// Free-form metadata for subscribers.
    pub headers: BTreeMap<String, String>,
    /// Ties this event to a flow; copied onto its dead letter.
    pub correlation_id: Option<String>,
}

/// Options of [`EventBus::subscribe_with`]: build them with
/// `SubOptions::default().retries(3).backoff(d)`, or set the fields.
#[derive(Clone, Debug, PartialEq)]
pub struct SubOptions {
    /// A worker pool: each event goes to one member of the group. Unset, the
    /// group is the subscriber name, so replicas of one plugin share the work
    /// while distinct plugins each get a copy.
    pub group: Option<String>,
    /// Every instance gets every event (no group). Cannot be combined with `group`.
    pub broadcast: bool,
    /// Extra attempts after a failure before the event is dead-lettered.
    /// A request (see [`EventBus::request`]) is never retried: its failure
    /// answers the requester at once.
    pub retries: u32,
    /// Wait before retry n (from 0): `backoff × 2^n`.
    pub backoff: Duration,
}

impl Default for SubOptions {
    fn default() -> Self {
        Self {
            group: None,
            broadcast: false,
            retries: 0,
            backoff: Duration::from_millis(500),
        }
    }
}

#[microcore_kernel::contract(of = EventBus)]
impl PublishOptions {
    /// Options with ordering key `key`, so same-key events keep publish order.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Options delaying delivery by at least `delay`.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Options dropping the event if it is older than `ttl` at delivery.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Options with metadata header `name` set to `value`.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Options tying the event and its dead letter to flow `id`.
    #[must_use]
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
}

#[microcore_kernel::contract(of = EventBus)]
impl SubOptions {
    /// Options sharing events among the members of worker pool `group`.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Options giving every instance every event, with no group.
    #[must_use]
    pub fn broadcast(mut self) -> Self {
        self.broadcast = true;
        self
    }

    /// Options with `retries` extra attempts before a dead letter.
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Options waiting `backoff × 2^n` before retry n, counted from 0.
    #[must_use]
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }
}

impl SubOptions {
    /// The wait before the attempt following failed attempt `attempt` (from 1).
    pub(crate) fn backoff_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff.saturating_mul(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_the_fields_they_name() {
        let p = PublishOptions::default()
            .key("k")
            .delay(Duration::from_secs(1))
            .ttl(Duration::from_secs(2))
            .header("h", "v")
            .correlation_id("c");
        assert_eq!(p.key.as_deref(), Some("k"));
        assert_eq!(p.delay, Some(Duration::from_secs(1)));
        assert_eq!(p.ttl, Some(Duration::from_secs(2)));
        assert_eq!(p.headers["h"], "v");
        assert_eq!(p.correlation_id.as_deref(), Some("c"));
        let s = SubOptions::default()
            .group("g")
            .retries(3)
            .backoff(Duration::from_millis(7));
        assert_eq!(
            (s.group.as_deref(), s.broadcast, s.retries, s.backoff),
            (Some("g"), false, 3, Duration::from_millis(7))
        );
        assert!(SubOptions::default().broadcast().broadcast);
    }

    #[test]
    fn backoff_doubles_from_the_base_and_never_overflows() {
        let o = SubOptions::default();
        let waits: Vec<_> = (1..=3).map(|a| o.backoff_after(a)).collect();
        assert_eq!(waits, [500, 1000, 2000].map(Duration::from_millis).to_vec());
        assert!(o.backoff_after(200) > Duration::from_secs(1_000_000));
    }
}
