//! What an event is: a fact with a stable name and a serialisable payload.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The payload of one named event. `#[event("user.created")]` implements it.
///
/// Publisher and subscriber live in different domains, so each declares its
/// own struct under the same [`Event::NAME`]; only the JSON travels.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "this type is published or subscribed to as an event",
    note = "mark the payload struct with `#[event(\"noun.verb_past\")]`, e.g. `#[event(\"user.created\")] pub struct UserCreated {{ pub id: i64 }}`"
)]
pub trait Event:
    Serialize + DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static
{
    /// The event's name, a fact named `noun.verb_past` (`user.created`).
    const NAME: &'static str;
}

/// Published once when a subscriber is unsubscribed after
/// [`DROP_THRESHOLD`](crate::DROP_THRESHOLD) consecutive final failures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SubscriberDropped {
    /// The event the subscriber no longer receives.
    pub event: String,
    /// `"<plugin>.<method>"` of the dropped subscriber.
    pub subscriber: String,
    /// The last error it returned.
    pub error: String,
    /// How many final failures in a row it had.
    pub consecutive_failures: u32,
}

impl Event for SubscriberDropped {
    const NAME: &'static str = crate::SUBSCRIBER_DROPPED_EVENT;
}

/// The payload of a `_dlq.<event>` dead letter: what failed, where and how often.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DeadLetter {
    /// The envelope that could not be handled, as JSON.
    pub original: serde_json::Value,
    /// `"<plugin>.<method>"` of the failing subscriber.
    pub subscriber: String,
    /// The last error.
    pub error: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// Seconds since the Unix epoch when the last attempt failed.
    pub failed_at: f64,
}
