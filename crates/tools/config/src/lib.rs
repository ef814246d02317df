//! The config tool: settings for plugins.
//!
//! Tools read their own settings at setup; plugins read theirs through
//! `config`, from the same immutable snapshot the kernel booted with, so a
//! test can boot a kernel with its own settings without touching the process
//! environment. A plugin that cannot run without some settings calls
//! [`Config::require`] in `on_boot` and fails once, with every missing key.

mod config;
mod error;

pub use config::Config;
pub use error::ConfigError;
