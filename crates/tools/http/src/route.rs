//! What a plugin declares about an endpoint, and what the tool reports back.

use std::fmt;
use std::sync::Arc;

use http::Method;
use microcore_kernel::TokenValidator;
use serde::Serialize;

/// An endpoint declaration: method, path, documentation and auth.
///
/// `Route::get("/users/{id}").tag("Users").summary("One user").auth()`.
#[derive(Clone)]
pub struct Route {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) tags: Vec<String>,
    pub(crate) summary: Option<String>,
    pub(crate) auth: RouteAuth,
    pub(crate) status: u16,
    pub(crate) produces: Option<String>,
}

/// Who checks a route's token.
#[derive(Clone)]
pub(crate) enum RouteAuth {
    /// Anyone may call.
    Open,
    /// The app's default validator (the auth tool), looked up at registration.
    App,
    /// A validator the plugin chose.
    With(Arc<dyn TokenValidator>),
    /// The operator's token (`HTTP_OPERATOR_TOKEN`), see `Route::operator`.
    Operator,
}

impl RouteAuth {
    pub(crate) fn is_required(&self) -> bool {
        !matches!(self, Self::Open)
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("auth", &self.auth.is_required())
            .finish()
    }
}

#[microcore_kernel::contract(of = crate::Http)]
impl Route {
    fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            tags: Vec::new(),
            summary: None,
            auth: RouteAuth::Open,
            status: 200,
            produces: None,
        }
    }

    /// `GET path`.
    ///
    /// Path parameters are written `{name}`, a trailing catch-all `{*rest}`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// `POST path`.
    ///
    /// Its input comes from the path and a JSON body only.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// `PUT path`.
    ///
    /// Its input comes from the path and a JSON body only.
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }

    /// `PATCH path`.
    ///
    /// Its input comes from the path and a JSON body only.
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path)
    }

    /// `DELETE path`.
    ///
    /// Its input comes from the path, the query and an optional JSON body.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// Adds a tag that groups the endpoint in the docs; call it again for more tags.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets the one-line summary the docs show for the endpoint.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Requires a valid token, checked by the app's auth tool; the handler reads the claims from `Ctx`.
    ///
    /// The token comes from `Authorization: Bearer`, or the `access_token`
    /// cookie (on POST/PUT/PATCH/DELETE only with `X-Requested-With`). The
    /// plugin needs no `auth` field: the auth tool installs itself in the
    /// kernel at setup, with any revocation list a plugin gave it. Without an
    /// auth tool in the app, registering the route fails naming it.
    pub fn auth(mut self) -> Self {
        self.auth = RouteAuth::App;
        self
    }

    /// Requires a valid token, checked by `validator` instead of the app's auth tool.
    #[not_in_manifest]
    pub fn auth_with(mut self, validator: impl TokenValidator) -> Self {
        self.auth = RouteAuth::With(Arc::new(validator));
        self
    }

    /// Reserves the route to the app's operator: with `HTTP_OPERATOR_TOKEN`
    /// set, only `Authorization: Bearer <that token>` is admitted (as
    /// subject `operator`); without it the route is open in development and
    /// answers 403 under `MICROCORE_ENV=production`. The framework's
    /// `/system/*` routes use it: they show dead letters' payloads and can
    /// replay events.
    #[not_in_manifest]
    pub fn operator(mut self) -> Self {
        self.auth = RouteAuth::Operator;
        self
    }

    /// Sets the status of a successful answer, 200 by default, e.g. 201 for a creation.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Declares a `Raw` response's content type for OpenAPI (`"text/csv"`).
    pub fn produces(mut self, content_type: impl Into<String>) -> Self {
        self.produces = Some(content_type.into());
        self
    }

    /// The HTTP method of the endpoint.
    #[not_in_manifest]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path as written, with its `{param}` placeholders.
    #[not_in_manifest]
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// What kind of endpoint a route is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// A JSON endpoint.
    Json,
    /// A Server-Sent Events stream.
    Sse,
    /// A WebSocket endpoint.
    WebSocket,
}

/// A registered endpoint as the tool reports it (boot report, OpenAPI, manifest).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteInfo {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path with `{param}` placeholders.
    pub path: String,
    /// Whether a valid token is required.
    pub auth: bool,
    /// Doc tags.
    pub tags: Vec<String>,
    /// Doc summary.
    pub summary: Option<String>,
    /// The plugin that registered it (`users.GetUser`).
    pub owner: String,
    /// The handler identity set while it runs (`users.GetUser.get`).
    pub handler: String,
    /// JSON Schema of the request model.
    pub request_schema: serde_json::Value,
    /// JSON Schema of the response model (the `data` of the envelope).
    pub response_schema: serde_json::Value,
    /// Status of a successful answer.
    pub status: u16,
    /// JSON, SSE or WebSocket.
    pub kind: RouteKind,
    /// For a JSON-kind endpoint answering a [`Raw`](crate::Raw) body: the
    /// content type `Route::produces` declared, else `*/*`. `None` otherwise.
    pub produces: Option<String>,
}

/// Why an endpoint could not be registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The same method and path twice.
    #[error(
        "route {method} {path} is registered twice: first by `{first}`, again by `{second}`; change one path or remove one route"
    )]
    Duplicate {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Owner of the first registration.
        first: String,
        /// Owner of the second one.
        second: String,
    },
    /// A path the router cannot take.
    #[error("route {method} {path} (by `{owner}`) has an invalid path: {reason}")]
    InvalidPath {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Owner.
        owner: String,
        /// What is wrong and how to write it.
        reason: String,
    },
    /// Two paths the router cannot tell apart (`/a/{x}` and `/a/{y}`).
    #[error(
        "route {method} {path} (by `{owner}`) clashes with {other} (by `{other_owner}`): the same segments with different parameter names; use one parameter name for both"
    )]
    Ambiguous {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Owner.
        owner: String,
        /// The clashing path.
        other: String,
        /// Its owner.
        other_owner: String,
    },
    /// A catch-all `{*rest}` where another route has a parameter, or another
    /// catch-all name, at the same place (`/files/{name}` and `/files/{*rest}`).
    #[error(
        "route {method} {path} (by `{owner}`) clashes with {other} (by `{other_owner}`): the router cannot have a catch-all `{{*..}}` and another parameter at the same segment; give one of them a fixed segment first (e.g. `/files/raw/{{*rest}}`)"
    )]
    CatchAllClash {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Owner.
        owner: String,
        /// The clashing path.
        other: String,
        /// Its owner.
        other_owner: String,
    },
    /// A success status outside 100..=399.
    #[error(
        "route {method} {path} (by `{owner}`) sets success status {status}; use 200..=299 (or 3xx)"
    )]
    InvalidStatus {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Owner.
        owner: String,
        /// The status given.
        status: u16,
    },
    /// A static mount whose directory cannot be served.
    #[error("static mount {prefix} (by `{owner}`): {reason}")]
    StaticDir {
        /// The URL prefix.
        prefix: String,
        /// Owner.
        owner: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An `.auth()` route in an app without an auth tool.
    #[error(
        "route {method} {path} (by `{owner}`) requires auth (`.auth()`) but the app has no token validator; add the auth tool to the app's `toolset!` (and check it set up: see the boot report), or pass one with `.auth_with(validator)`"
    )]
    NoValidator {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Owner.
        owner: String,
    },
    /// Registered after the server started.
    #[error(
        "route {method} {path} (by `{owner}`) was registered after the server started; register routes in `on_boot`"
    )]
    TooLate {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Owner.
        owner: String,
    },
}

impl microcore_kernel::ToolFailure for RouteError {
    fn is_caller_error(&self) -> bool {
        true
    }
}

/// Checks a path against what the router accepts; the reason says how to fix it.
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!(
            "it must start with `/`, e.g. `/{}`",
            path.trim_start_matches('/')
        ));
    }
    if path.len() > 1 && path.ends_with('/') {
        return Err("it must not end with `/`".to_owned());
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().copied().enumerate() {
        if seg.is_empty() {
            return Err("it has an empty segment (`//`)".to_owned());
        }
        if let Some(rest) = seg.strip_prefix('*') {
            return Err(format!("write a catch-all as `{{*{rest}}}`, not `*{rest}`"));
        }
        if seg.starts_with("{*") && i + 1 != segments.len() {
            return Err(format!("the catch-all `{seg}` must be the last segment"));
        }
        if let Some(rest) = seg.strip_prefix(':') {
            return Err(format!(
                "write path parameters as `{{{rest}}}`, not `:{rest}`"
            ));
        }
        let opens = seg.matches('{').count();
        let closes = seg.matches('}').count();
        if opens != closes || opens > 1 {
            return Err(format!(
                "segment `{seg}` has unbalanced or several braces; write one `{{name}}` per segment"
            ));
        }
        if opens == 1 {
            if !(seg.starts_with('{') && seg.ends_with('}')) {
                return Err(format!(
                    "segment `{seg}` mixes text and a parameter; a parameter must be a whole segment"
                ));
            }
            let name = &seg[1..seg.len() - 1];
            let name = name.strip_prefix('*').unwrap_or(name);
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "parameter `{seg}` needs a name made of letters, digits and `_`"
                ));
            }
        }
    }
    Ok(())
}

/// The path with parameter names erased: two routes with the same shape clash.
pub(crate) fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.starts_with("{*") {
                "{*}"
            } else if s.starts_with('{') {
                "{}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router would refuse `a` and `b` together: after the same
/// leading segments (any two plain parameters count as the same), one has a
/// catch-all where the other has a parameter or a differently named catch-all.
/// Static segments never clash: they win over parameters.
pub(crate) fn catch_all_clash(a: &str, b: &str) -> bool {
    let kind = |s: &str| {
        if s.starts_with("{*") {
            2
        } else if s.starts_with('{') {
            1
        } else {
            0
        }
    };
    for (x, y) in a.split('/').zip(b.split('/')) {
        match (kind(x), kind(y)) {
            (0, 0) if x == y => continue,
            (1, 1) => continue,
            (2, 2) => return x != y,
            (2, 1) | (1, 2) => return true,
            _ => return false,
        }
    }
    false
}

/// The names of the `{param}` segments of a path.
pub(crate) fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_start_matches('*').to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_with_a_fix_in_the_reason() {
        assert!(check_path("/users/{id}").is_ok());
        assert!(check_path("/files/{*rest}").is_ok());
        assert!(check_path("users").unwrap_err().contains("start with"));
        assert!(check_path("/users/:id").unwrap_err().contains("{id}"));
        assert!(check_path("/users/x{id}").is_err());
        assert_eq!(path_shape("/a/{x}/b"), path_shape("/a/{y}/b"));
        assert_eq!(path_params("/a/{x}/b/{y}"), ["x", "y"]);
        assert!(check_path("/files/*rest").unwrap_err().contains("{*rest}"));
        assert!(check_path("/files/{*rest}/x").unwrap_err().contains("last"));
    }

    #[test]
    fn a_catch_all_clashes_with_a_parameter_at_the_same_place_only() {
        assert!(catch_all_clash("/files/{name}", "/files/{*rest}"));
        assert!(catch_all_clash("/a/{x}/{*r}", "/a/{y}/{z}/c"));
        assert!(catch_all_clash("/f/{*a}", "/f/{*b}"));
        assert!(!catch_all_clash("/files/raw", "/files/{*rest}"));
        assert!(!catch_all_clash("/files/{*rest}", "/files/{*rest}"));
        assert!(!catch_all_clash("/a/{x}", "/b/{*r}"));
    }
}
