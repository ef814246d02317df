//! The event bus contract, written once and run against every driver:
//! each `parity!` test runs in-process, on NATS and on NATS JetStream.
//! `durability` and `delayed` hold what only the durable driver promises.

#[macro_use]
mod common;

mod blocking;
mod bounds;
#[cfg(feature = "nats")]
mod delayed;
mod dlq;
mod drain;
mod dropping;
#[cfg(feature = "nats")]
mod durability;
mod emitter;
mod groups;
#[cfg(feature = "nats")]
mod handover;
mod isolation;
mod ordering;
mod retries;
mod rpc;
mod setup;
mod timing;
#[cfg(feature = "nats")]
mod wire;
