//! Project tasks, run as `cargo xtask <task>`:
//! - `context [--check]`: AI_CONTEXT.md from the app's manifest (a dry boot);
//! - `env-example [--check]`: `.env.example` from the tools' declared settings;
//! - `check`: cross-feature checks over the same manifest;
//! - `new app <dir> [--git URL | --version V]`: a standalone app outside this repository;
//! - `new plugin <domain>/<feature> [...]`, `new domain <name>`: starting points that compile;
//! - `tasks [--solutions DIR] [--only NN_slug]... [--allow-fail]`: the feature-task suite.

pub mod app;
pub mod check;
pub mod context;
pub mod env_example;
pub mod guide;
pub mod new;
pub mod prelude;
pub mod render;
pub mod schema;
pub mod tasks;
