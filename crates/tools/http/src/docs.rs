//! Swagger UI at `/docs`, served from assets compiled into the binary (the
//! `vendored` feature), so it works with no network.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, header};
use utoipa_swagger_ui::Config;

use crate::envelope;

fn serve(path: &str, config: Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(path, config) {
        Ok(Some(file)) => {
            let mut res = file.bytes.into_owned().into_response();
            if let Ok(ct) = HeaderValue::from_str(&file.content_type) {
                res.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            res
        }
        Ok(None) => envelope::failure_with(404, format!("no docs asset {path}")),
        Err(e) => {
            tracing::error!("serving docs asset {path}: {e}");
            envelope::failure_with(500, crate::error::INTERNAL_MESSAGE)
        }
    }
}

/// `/docs` (redirects to `/docs/`), `/docs/` and its assets.
pub(crate) fn routes() -> Router {
    // "none" turns off the badge that would call validator.swagger.io.
    let config = Arc::new(Config::new(["/openapi.json"]).validator_url("none"));
    let index = config.clone();
    Router::new()
        .route("/docs", get(|| async { Redirect::permanent("/docs/") }))
        .route(
            "/docs/",
            get(move || async move { serve("index.html", index) }),
        )
        .route(
            "/docs/{*file}",
            get(move |Path(file): Path<String>| async move { serve(&file, config) }),
        )
}
