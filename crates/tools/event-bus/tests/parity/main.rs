//! The event bus contract, written once and run against every driver:
//! each `parity!` test runs in-process and on NATS.

#[macro_use]
mod common;

mod blocking;
mod dlq;
mod drain;
mod dropping;
mod emitter;
mod groups;
mod isolation;
mod ordering;
mod retries;
mod rpc;
mod setup;
mod timing;
