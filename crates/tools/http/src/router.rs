//! Builds the axum router from the registered endpoints, the docs and the
//! static mounts.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::routing::{MethodFilter, MethodRouter, get};
use http::StatusCode;

use crate::handle::Http;
use crate::{docs, envelope, paused, pipeline, static_files};

/// Paths the tool serves itself.
pub(crate) fn is_reserved(path: &str) -> bool {
    path == "/openapi.json" || path == "/docs" || path.starts_with("/docs/")
}

/// The full router, or why it cannot be built.
pub(crate) fn try_build(http: &Http) -> Result<Router, String> {
    let endpoints = http.shared.endpoints.lock().clone();
    let mounts = http.shared.statics.lock().clone();
    let settings = http.shared.settings.clone();
    let doc = http.openapi();
    let registry = http.shared.registry.clone();
    let max_body = settings.max_body;
    let built = std::panic::catch_unwind(AssertUnwindSafe(move || {
        let mut by_path: BTreeMap<String, MethodRouter> = BTreeMap::new();
        for ep in endpoints {
            let filter = MethodFilter::try_from(ep.method.clone()).unwrap_or(MethodFilter::GET);
            let path = ep.info.path.clone();
            let registry = registry.clone();
            // axum calls a handler by value (a clone of it per request): its
            // captures move into the request's future rather than being
            // cloned again.
            let handler = move |req: Request| async move {
                match paused::answer(&registry, &ep.info.owner) {
                    Some(res) => res,
                    None => pipeline::handle(ep, req, max_body).await,
                }
            };
            let methods = by_path.remove(&path).unwrap_or_default();
            by_path.insert(path, methods.on(filter, handler));
        }
        let mut router = Router::new();
        for (path, methods) in by_path {
            router = router.route(&path, methods);
        }
        let doc = Arc::new(doc);
        router
            .route(
                "/openapi.json",
                get(move || async move { envelope::json_response(StatusCode::OK, &doc) }),
            )
            .merge(docs::routes())
            .fallback(move |req: Request| static_files::fallback(mounts.clone(), req))
    }));
    match built {
        // `with_state` turns every handler into its service once, here;
        // served without it, axum re-boxes the handler on every request.
        Ok(router) => Ok(crate::layers::wrap(router, &settings).with_state(())),
        Err(panic) => Err(format!(
            "the routes cannot be combined: {}",
            pipeline::panic_text(&*panic)
        )),
    }
}

/// The router, or one that answers 500 to everything after logging why.
pub(crate) fn build(http: &Http) -> Router {
    match try_build(http) {
        Ok(r) => r,
        Err(reason) => {
            tracing::error!("http: {reason}");
            Router::new()
                .fallback(|| async { envelope::failure_with(500, crate::error::INTERNAL_MESSAGE) })
        }
    }
}
