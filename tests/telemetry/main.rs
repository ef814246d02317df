//! OpenTelemetry end to end: one trace from an HTTP request through its db
//! call and the event it publishes to the subscriber's work (in process and
//! over NATS), the framework's metrics, and OTLP/HTTP export to a receiver
//! the test runs.
//!
//! Its own test binary: it installs a process-wide `tracing` subscriber
//! recording into the SDK's in-memory exporters.

#![allow(unreachable_pub)]

mod otlp;
mod plugins;
mod spans;
mod support;
