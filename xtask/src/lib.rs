//! Project tasks, run as `cargo xtask <task>`:
//! - `context [--check]`: AI_CONTEXT.md from the app's manifest (a dry boot);
//! - `check`: cross-feature checks over the same manifest;
//! - `new plugin <domain>/<feature> [...]`, `new domain <name>`: starting points that compile;
//! - `tasks [--solutions DIR] [--only NN_slug]... [--allow-fail]`: the feature-task suite.

pub mod check;
pub mod context;
pub mod guide;
pub mod new;
pub mod prelude;
pub mod render;
pub mod schema;
pub mod tasks;
