//! How one publish travels and how one subscription behaves.

use std::collections::BTreeMap;
use std::time::Duration;

/// Options of [`EventBus::publish_with`](crate::EventBus::publish_with).
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

/// Options of [`EventBus::subscribe_with`](crate::EventBus::subscribe_with).
#[derive(Clone, Debug, PartialEq)]
pub struct SubOptions {
    /// A worker pool: each event goes to one member of the group. Unset, the
    /// group is the subscriber name, so replicas of one plugin share the work
    /// while distinct plugins each get a copy.
    pub group: Option<String>,
    /// Every instance gets every event (no group). Cannot be combined with `group`.
    pub broadcast: bool,
    /// Extra attempts after a failure before the event is dead-lettered.
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
    fn backoff_doubles_from_the_base_and_never_overflows() {
        let o = SubOptions::default();
        let waits: Vec<_> = (1..=3).map(|a| o.backoff_after(a)).collect();
        assert_eq!(waits, [500, 1000, 2000].map(Duration::from_millis).to_vec());
        assert!(o.backoff_after(200) > Duration::from_secs(1_000_000));
    }
}
