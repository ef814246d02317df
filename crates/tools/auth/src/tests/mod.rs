//! Unit tests of the auth tool, grouped by concern.

mod fast_check;
mod passwords;
mod properties;
mod revocation;
mod settings;
mod tokens;

use microcore_kernel::{Env, Probe, Registry, Tool, ToolError, ToolSetup};

use crate::Auth;

fn tool_setup(pairs: &[(&str, &str)]) -> ToolSetup {
    ToolSetup {
        env: Env::from_pairs(pairs.iter().copied()),
        probe: Probe::detached("auth"),
        registry: Registry::new(),
    }
}

/// The serving setup with exactly these settings.
async fn serving(pairs: &[(&str, &str)]) -> Result<Auth, ToolError> {
    Auth::setup(tool_setup(pairs)).await
}

/// The test setup (fixed secret) with these other settings.
async fn testing(pairs: &[(&str, &str)]) -> Auth {
    Auth::setup_for_tests(tool_setup(pairs)).await.unwrap()
}

const SECRET_A: &str = "a-secret-that-is-long-enough-0123456789";
const SECRET_B: &str = "another-secret-that-is-long-enough-9876";
