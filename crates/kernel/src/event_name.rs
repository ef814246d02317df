//! The one thing every tool may know about an event: its name.
//!
//! The event bus has its own, richer `Event` trait; the db tool stores events
//! in its transactional outbox and must not depend on the bus, so `#[event]`
//! also implements this kernel trait, which both tools can read.

/// A payload published under a stable name. `#[event("user.created")]` implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "this type is published as an event",
    note = "mark the payload struct with `#[event(\"noun.verb_past\")]`, e.g. `#[event(\"user.created\")] pub struct UserCreated {{ pub id: i64 }}`"
)]
pub trait EventName: serde::Serialize + Send + Sync + 'static {
    /// The event's name, a fact named `noun.verb_past` (`user.created`).
    const NAME: &'static str;
}
