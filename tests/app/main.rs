//! The example app from outside: its binary, its HTTP surface under hostile
//! input, its plugin registry, and two replicas scaled out on real services.
//!
//! One test binary for all of them keeps link time and disk use down; suites
//! that register their own plugins (`tests/kernel.rs`) stay separate so the
//! registry each one sees is exactly the app's.

mod support;

mod accounts;
mod binary;
mod chaos;
mod deploy;
mod hostile;
mod lifecycle;
mod operator_routes;
mod outbox;
mod plugin_registry;
mod scale_out;
mod schema_valid;
mod serve;
