//! One request through one endpoint: auth, assembly, validation, the handler
//! (in the plugin's call context, panics caught), and the envelope.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::{Body, HttpBody as _};
use axum::extract::{FromRequestParts, Query, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::BoxFuture;
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use microcore_kernel::{CallContext, TokenValidator, in_context};
use serde_json::{Map, Value};

/// The text of a panic payload; the kernel's, so every tool words it alike.
pub(crate) use microcore_kernel::panic_message as panic_text;

use crate::assemble;
use crate::ctx::Ctx;
use crate::envelope;
use crate::error::HttpError;
use crate::layers::RequestId;
use crate::route::RouteInfo;

/// What a handler produced.
pub(crate) enum Output {
    /// The whole success envelope, `{"success":true,"data":...}`, serialised.
    Data(Vec<u8>),
    /// A finished response (an event stream).
    Response(Response),
    /// A body with its own content type, sent with the route's success status.
    Raw(crate::raw::Raw),
}

/// The type-erased handler: assembled input and context in, output out.
pub(crate) type Invoke = Arc<
    dyn Fn(Map<String, Value>, Ctx) -> BoxFuture<'static, Result<Output, HttpError>> + Send + Sync,
>;

/// What runs for an endpoint.
pub(crate) enum Handler {
    /// A request answered with one response (JSON, SSE).
    Request(Invoke),
    /// A WebSocket: upgraded, then handed to the plugin's handler.
    Socket(Arc<crate::ws::SocketRoute>),
}

/// A registered endpoint.
pub(crate) struct Endpoint {
    pub(crate) info: RouteInfo,
    /// `info.handler` as the call context names it, made once at
    /// registration rather than copied for every request.
    pub(crate) identity: Arc<str>,
    pub(crate) method: Method,
    pub(crate) auth: Option<Arc<dyn TokenValidator>>,
    pub(crate) handler: Handler,
}

/// Where a request's token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// `Authorization: Bearer`.
    Header,
    /// `?token=` (WebSocket routes only: browsers cannot set headers there).
    Query,
    /// The `access_token` cookie.
    Cookie,
}

/// The token of a request: `Authorization: Bearer`, else the `access_token`
/// cookie, which does not count on a state-changing request without
/// `X-Requested-With` (a cross-site form cannot set that header).
pub(crate) fn bearer_token(parts: &Parts, allow_query: bool) -> Option<String> {
    token_with_source(parts, allow_query).map(|(token, _)| token)
}

/// [`bearer_token`], saying where the token was found.
pub(crate) fn token_with_source(parts: &Parts, allow_query: bool) -> Option<(String, TokenSource)> {
    if let Some(auth) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut it = auth.splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (it.next(), it.next())
            && scheme.eq_ignore_ascii_case("bearer")
            && !token.trim().is_empty()
        {
            return Some((token.trim().to_owned(), TokenSource::Header));
        }
    }
    if allow_query
        && let Some(q) = parts.uri.query()
        && let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        && !q.is_empty()
        && let Some((_, t)) = pairs
            .into_iter()
            .find(|(k, v)| k == "token" && !v.is_empty())
    {
        return Some((t, TokenSource::Query));
    }
    let cookie = cookie_value(&parts.headers, "access_token")?;
    let unsafe_method = matches!(
        parts.method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if unsafe_method && !parts.headers.contains_key("x-requested-with") {
        return None;
    }
    Some((cookie, TokenSource::Cookie))
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// Runs auth for a route: the claims and token, or the 401 to send.
pub(crate) async fn authenticate(
    validator: &dyn TokenValidator,
    parts: &Parts,
    allow_query: bool,
) -> Result<(microcore_kernel::Claims, String), HttpError> {
    if let Some(reason) = validator.closed() {
        return Err(HttpError::forbidden(reason));
    }
    let token = bearer_token(parts, allow_query)
        .ok_or_else(|| HttpError::unauthorized("Missing authorization token"))?;
    match validator.validate(&token).await {
        Some(claims) => Ok((claims, token)),
        None => Err(HttpError::unauthorized("Invalid or expired token")),
    }
}

/// Path parameters and query pairs of a request, or the 400 answer saying
/// which one is malformed. Shared by JSON, SSE and WebSocket endpoints.
pub(crate) async fn path_and_query(
    parts: &mut Parts,
) -> Result<(Vec<(String, String)>, Vec<(String, String)>), Response> {
    let path = match RawPathParams::from_request_parts(parts, &()).await {
        Ok(p) => p
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        Err(e) => {
            return Err(envelope::failure_with(
                400,
                format!("bad path parameter: {}", e.body_text()),
            ));
        }
    };
    if parts.uri.query().is_none_or(str::is_empty) {
        return Ok((path, Vec::new()));
    }
    let query = match Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
        Ok(Query(q)) => q,
        Err(e) => {
            return Err(envelope::failure_with(
                400,
                format!("malformed query string: {}", e.body_text()),
            ));
        }
    };
    Ok((path, query))
}

/// Handles one request for `ep`; a body longer than `max_body` bytes
/// (`HTTP_MAX_BODY_BYTES`) is a 413.
pub(crate) async fn handle(ep: Arc<Endpoint>, mut req: Request, max_body: usize) -> Response {
    let invoke = match &ep.handler {
        Handler::Request(invoke) => invoke,
        // Boxed, as the body reading below: kept inline, these rarer
        // paths would make every request's future (moved a few times on
        // its way to the runtime) a kilobyte or more larger.
        Handler::Socket(socket) => {
            return Box::pin(crate::ws::handle(socket.clone(), ep.clone(), req)).await;
        }
    };
    // Taken, not cloned: nothing after this reads the extension.
    let request_id = req
        .extensions_mut()
        .remove::<RequestId>()
        .map_or_else(crate::layers::new_request_id, |r| r.0);
    let (mut parts, body) = req.into_parts();
    let (claims, token) = match &ep.auth {
        Some(v) => match authenticate(&**v, &parts, false).await {
            Ok((c, t)) => (Some(c), Some(t)),
            Err(e) => return envelope::failure(&e),
        },
        None => (None, None),
    };
    let (path, query) = match path_and_query(&mut parts).await {
        Ok(pq) => pq,
        Err(response) => return response,
    };
    let query = match query_for(&ep.method, &ep.info.request_schema, query) {
        Ok(q) => q,
        Err(e) => return envelope::failure(&e),
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    let headers = std::mem::take(&mut parts.headers);
    // A request known to have no body (a GET, `Content-Length: 0`) reads as
    // an empty one would, without building a request to collect nothing.
    let body = if body.is_end_stream() {
        None
    } else {
        match Box::pin(read_body(content_type, body, max_body)).await {
            Ok(b) => b,
            Err(res) => return res,
        }
    };
    let input = match assemble::merge(&ep.info.request_schema, query, path, body) {
        Ok(input) => input,
        Err(e) => return envelope::failure(&e),
    };
    let ctx = Ctx::new(request_id.clone(), headers, claims, token);
    let call = CallContext::new(ep.identity.clone(), Some(request_id.clone()));
    let handler_ctx = ctx.clone();
    let run = AssertUnwindSafe(in_context(
        call,
        async move { invoke(input, handler_ctx).await },
    ))
    .catch_unwind();
    let result = match run.await {
        Ok(r) => r,
        Err(panic) => Err(HttpError::internal(format!(
            "handler panicked: {}",
            panic_text(&*panic)
        ))),
    };
    respond(&ep.info, &request_id, &ctx, result)
}

/// Whether the method carries its input in a body only (POST, PUT, PATCH).
pub(crate) fn body_only(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// The query pairs that feed the request model. On POST, PUT and PATCH none
/// do: a cross-site page can put anything in a URL (`POST
/// /auth/login?email=..&password=..` from a form), so input comes from the
/// JSON body only, and a query key naming a model field is a 400 saying where
/// to send it. Other query keys are ignored there. GET and DELETE read the query.
pub(crate) fn query_for(
    method: &Method,
    schema: &Value,
    query: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, HttpError> {
    if !body_only(method) {
        return Ok(query);
    }
    match query
        .iter()
        .find(|(k, _)| assemble::property(schema, k).is_some())
    {
        Some((k, _)) => Err(HttpError::bad_request(format!(
            "query parameter `{k}` is not read on {method}: send it in the JSON body \
             (Content-Type: application/json)"
        ))),
        None => Ok(Vec::new()),
    }
}

/// The body as a JSON object (`None` when empty), or the response to send.
/// A body must say `Content-Type: application/json` (or `+json`): a body
/// without a content type is refused like a form, since a cross-site page can
/// send one.
async fn read_body(
    content_type: Option<http::HeaderValue>,
    body: Body,
    max_body: usize,
) -> Result<Option<Map<String, Value>>, Response> {
    let content_type = content_type.map(|v| v.to_str().unwrap_or("?").to_owned());
    let bytes = match Limited::new(body, max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return Err(envelope::failure_with(
                413,
                format!(
                    "request body is larger than the limit of {max_body} bytes (HTTP_MAX_BODY_BYTES)"
                ),
            ));
        }
        Err(e) => {
            return Err(envelope::failure_with(
                400,
                format!("could not read the request body: {e}"),
            ));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let ct = content_type.unwrap_or_default();
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !(mime == "application/json" || mime.ends_with("+json")) {
        let given = if ct.is_empty() {
            "no Content-Type".to_owned()
        } else {
            format!("Content-Type `{ct}`")
        };
        return Err(envelope::failure_with(
            415,
            format!(
                "unsupported body with {given}: send the body as JSON with `Content-Type: application/json`"
            ),
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(Value::Null) => Ok(None),
        Ok(_) => Err(envelope::failure_with(
            422,
            "the request body must be a JSON object",
        )),
        Err(e) => Err(envelope::failure_with(
            400,
            format!("malformed JSON body: {e}"),
        )),
    }
}

/// Turns the handler's result and its context requests into the response.
fn respond(
    info: &RouteInfo,
    request_id: &str,
    ctx: &Ctx,
    result: Result<Output, HttpError>,
) -> Response {
    let reply = ctx.take_reply();
    let result = if reply.problems.is_empty() {
        result
    } else {
        Err(HttpError::internal(format!(
            "the handler misused its context: {}",
            reply.problems.join("; ")
        )))
    };
    let success =
        StatusCode::from_u16(reply.status.unwrap_or(info.status)).unwrap_or(StatusCode::OK);
    let mut res = match (result, reply.redirect, reply.binary) {
        (Err(e), _, _) => {
            log_failure(info, request_id, &e);
            envelope::failure(&e)
        }
        (Ok(Output::Response(r)), _, _) => r,
        (Ok(_), Some((location, status)), _) => {
            let mut r = StatusCode::from_u16(status)
                .unwrap_or(StatusCode::FOUND)
                .into_response();
            r.headers_mut().insert(header::LOCATION, location);
            r
        }
        (Ok(_), None, Some((bytes, content_type))) => {
            let mut r = (success, bytes).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, content_type);
            r
        }
        (Ok(Output::Raw(raw)), None, None) => match raw_response(success, raw) {
            Ok(r) => r,
            Err(e) => {
                log_failure(info, request_id, &e);
                envelope::failure(&e)
            }
        },
        (Ok(Output::Data(body)), None, None) => envelope::json_bytes(success, body),
    };
    let headers = res.headers_mut();
    for (k, v) in reply.headers {
        headers.append(k, v);
    }
    for c in reply.cookies {
        headers.append(header::SET_COOKIE, c);
    }
    res
}

/// A [`Raw`](crate::raw::Raw) body as the response, or the 500 naming the
/// header the handler got wrong.
fn raw_response(status: StatusCode, raw: crate::raw::Raw) -> Result<Response, HttpError> {
    let content_type = http::HeaderValue::try_from(raw.content_type.as_str()).map_err(|_| {
        HttpError::internal(format!(
            "Raw::bytes({:?}, ..): invalid content type",
            raw.content_type
        ))
    })?;
    let mut res = (status, raw.body).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    for (name, value) in raw.headers {
        match (
            http::HeaderName::try_from(name.as_str()),
            http::HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => {
                return Err(HttpError::internal(format!(
                    "Raw::header({name:?}, {value:?}): invalid header name or value"
                )));
            }
        }
    }
    Ok(res)
}

/// Internal failures are logged with the request id and handler; client
/// errors are not worth more than a debug line.
fn log_failure(info: &RouteInfo, request_id: &str, e: &HttpError) {
    match &e.internal {
        Some(detail) => tracing::error!(
            request_id,
            handler = %info.handler,
            route = %format!("{} {}", info.method, info.path),
            "request failed: {detail}"
        ),
        None => {
            tracing::debug!(request_id, handler = %info.handler, status = e.status, "{}", e.message)
        }
    }
}

/// Properties of reading the token from `Cookie` headers a client controls.
#[cfg(test)]
mod properties {
    use super::*;

    use http::HeaderValue;
    use proptest::prelude::*;

    fn parts(method: Method, cookies: &[String], requested_with: bool) -> Parts {
        let mut req = http::Request::builder().method(method).uri("/x");
        for c in cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                req = req.header(header::COOKIE, v);
            }
        }
        if requested_with {
            req = req.header("x-requested-with", "fetch");
        }
        req.body(()).unwrap().into_parts().0
    }

    fn method() -> impl Strategy<Value = Method> {
        proptest::sample::select(vec![
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_cookie_header_is_read_without_panicking(
            headers in proptest::collection::vec("[ -~]{0,64}", 0..3),
            method in method(),
            requested_with in any::<bool>(),
        ) {
            let p = parts(method, &headers, requested_with);
            let _ = cookie_value(&p.headers, "access_token");
            let _ = token_with_source(&p, true);
        }

        /// `Authorization: <any case of bearer> <token>` gives the trimmed
        /// token; any other header text gives no header token and no panic.
        #[test]
        fn the_bearer_token_is_read_from_any_authorization_text(
            scheme in "[bB][eE][aA][rR][eE][rR]",
            token in "[!-~]{1,64}",
            pad in " {0,3}",
            junk in "[ -~]{0,64}",
            query in "[ -~]{0,40}",
        ) {
            let mut req = http::Request::builder()
                .header(header::AUTHORIZATION, format!("{scheme} {pad}{token}{pad}"));
            let p = req.body(()).unwrap().into_parts().0;
            prop_assert_eq!(token_with_source(&p, false).map(|(t, _)| t), Some(token));
            req = http::Request::builder().header(header::AUTHORIZATION, junk.clone());
            if let Ok(uri) = format!("/x?{}", query.replace([' ', '#'], "")).parse::<http::Uri>() {
                req = req.uri(uri);
            }
            if let Ok(r) = req.body(()) {
                let p = r.into_parts().0;
                let got = token_with_source(&p, true);
                let bearer = junk.split_once(' ').is_some_and(|(s, t)| {
                    s.eq_ignore_ascii_case("bearer") && !t.trim().is_empty()
                });
                if !bearer {
                    prop_assert!(!matches!(got, Some((_, TokenSource::Header))), "{:?}", junk);
                }
            }
        }

        /// The token comes back exactly among other cookies, and a write takes
        /// it only with `X-Requested-With` (a cross-site form cannot set that).
        #[test]
        fn the_access_token_cookie_reads_back_and_writes_need_x_requested_with(
            token in "[A-Za-z0-9._~+/=-]{1,64}",
            before in proptest::collection::vec(("[a-z_]{1,8}", "[A-Za-z0-9=]{0,8}"), 0..3),
            after in proptest::collection::vec(("[a-z_]{1,8}", "[A-Za-z0-9=]{0,8}"), 0..3),
            method in method(),
            requested_with in any::<bool>(),
        ) {
            let others = |list: &[(String, String)]| {
                list.iter()
                    .filter(|(k, _)| k != "access_token")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
            };
            let mut all = others(&before);
            all.push(format!("access_token={token}"));
            all.extend(others(&after));
            let p = parts(method.clone(), &[all.join("; ")], requested_with);
            prop_assert_eq!(cookie_value(&p.headers, "access_token"), Some(token.clone()));
            let write = matches!(method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
            let got = token_with_source(&p, false).map(|(t, _)| t);
            if write && !requested_with {
                prop_assert_eq!(got, None);
            } else {
                prop_assert_eq!(got, Some(token));
            }
        }
    }
}
