//! Shared test setup: an http tool in test mode and a tiny token validator.
#![allow(dead_code, unreachable_pub)]

use futures::future::BoxFuture;
use microcore_http::Http;
use microcore_kernel::{Claims, Env, Probe, Registry, TokenValidator, Tool, ToolSetup};

/// Accepts the token `good` as user 7; nothing else.
#[derive(Clone)]
pub struct TestAuth;

impl TokenValidator for TestAuth {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<Claims>> {
        Box::pin(async move {
            (token == "good").then(|| Claims {
                sub: "7".into(),
                exp: i64::MAX,
                iat: 0,
                jti: "j1".into(),
                extra: Default::default(),
            })
        })
    }
}

fn setup(env: Env) -> ToolSetup {
    ToolSetup {
        env,
        probe: Probe::detached("http"),
        registry: Registry::new(),
    }
}

/// The tool in test mode (no socket).
pub async fn http() -> Http {
    http_with(&[]).await
}

/// The tool in test mode with settings.
pub async fn http_with(pairs: &[(&str, &str)]) -> Http {
    Http::setup_for_tests(setup(Env::from_pairs(pairs.iter().copied())))
        .await
        .expect("test setup")
}

/// The tool in test mode in an app whose kernel holds `TestAuth` as the
/// default token validator (what the auth tool installs at setup).
pub async fn http_with_app_validator() -> Http {
    let registry = Registry::new();
    registry.set_token_validator(std::sync::Arc::new(TestAuth));
    Http::setup_for_tests(ToolSetup {
        env: Env::default(),
        probe: Probe::detached("http"),
        registry,
    })
    .await
    .expect("test setup")
}

/// The real tool (binds a socket in `on_boot_complete`), on a free loopback port unless told otherwise.
pub async fn serving_http(pairs: &[(&str, &str)]) -> Result<Http, microcore_kernel::ToolError> {
    let mut env = Env::from_pairs([("HTTP_HOST", "127.0.0.1"), ("HTTP_PORT", "0")]);
    for (k, v) in pairs {
        env = env.with(*k, *v);
    }
    Http::setup(setup(env)).await
}
