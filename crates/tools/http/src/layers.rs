//! The layers every response goes through: request id, security headers,
//! CORS, envelopes for errors produced outside handlers, panics and timeouts.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::CatchUnwind;
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::instrument::Instrumented;

use crate::envelope;
use crate::settings::Settings;
use crate::telemetry::RequestTelemetry;
use tracing::Instrument;

/// The request id, as a request extension. Shared, not copied, by the
/// handler's context and its call context.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) Arc<str>);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id accepted from a client.
const MAX_REQUEST_ID: usize = 128;

/// A client's id with everything but `[A-Za-z0-9._:-]` removed, at most 128 characters.
fn sanitize(raw: &str) -> Option<String> {
    let id: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        .take(MAX_REQUEST_ID)
        .collect();
    (!id.is_empty()).then_some(id)
}

/// A fresh UUID v4, formatted on the stack and copied once into the `Arc`
/// the request shares.
pub(crate) fn new_request_id() -> Arc<str> {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    Arc::from(&*uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text))
}

/// What every request goes through, as one hand-written service around
/// each route (applied with `Router::layer`, so it runs after routing and
/// knows the route template). It replaces three axum layers (a `from_fn`
/// middleware, `CatchPanicLayer`, `DefaultBodyLimit`): each of those boxed
/// its inner service again and cloned it per request, about a dozen
/// allocations on every request. It calls the route directly instead of
/// cloning it (the route is always ready), and does:
/// - the request id: the client's `X-Request-ID` (sanitised) or a new one,
///   as a request extension and echoed on the response;
/// - `HTTP_REQUEST_TIMEOUT_SECS`, armed only when the request has to wait
///   (tower-http's `TimeoutLayer` arms a timer before polling, which cost a
///   syscall per request to wake the runtime's driver);
/// - a panic anywhere below it (an extractor, a layer, the router) answered
///   with the 500 envelope; handlers' own panics are caught closer, in
///   [`crate::pipeline`], where the handler is known;
/// - the envelope for error responses made outside handlers;
/// - the security headers;
/// - with `HTTP_ACCESS_LOG=true`, the access log line (when off, not even
///   the clock is read);
/// - the request's span and metrics ([`RequestTelemetry`]), which cost
///   nothing with OpenTelemetry off.
///
/// The body limit (`HTTP_MAX_BODY_BYTES`) is applied where the body is read.
#[derive(Clone)]
pub(crate) struct FrameLayer(Limits);

/// The settings the frame reads, copied into each route's service: a route
/// is cloned for every request, and an `Arc` here would be one more
/// reference count every worker writes.
#[derive(Clone, Copy)]
struct Limits {
    /// `HTTP_REQUEST_TIMEOUT_SECS`.
    timeout: Duration,
    /// `HTTP_MAX_BODY_BYTES`, for the 413's message.
    max_body: usize,
    /// `HTTP_ACCESS_LOG`.
    access_log: bool,
}

impl Limits {
    fn of(settings: &Settings) -> Self {
        Self {
            timeout: settings.timeout,
            max_body: settings.max_body,
            access_log: settings.access_log,
        }
    }
}

impl<S> Layer<S> for FrameLayer {
    type Service = Frame<S>;

    fn layer(&self, inner: S) -> Frame<S> {
        Frame {
            inner,
            limits: self.0,
        }
    }
}

/// A route inside [`FrameLayer`].
#[derive(Clone)]
pub(crate) struct Frame<S> {
    inner: S,
    limits: Limits,
}

impl<S> Service<Request> for Frame<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FrameFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let limits = self.limits;
        let telemetry = RequestTelemetry::start(&req);
        let started = limits.access_log.then(std::time::Instant::now);
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .and_then(sanitize)
            .map_or_else(new_request_id, Arc::from);
        let echoed = HeaderValue::from_str(&id).ok();
        let logged_id = started.map(|_| id.clone());
        req.extensions_mut().insert(RequestId(id));
        let method = req.method().clone();
        // A `Uri` clone shares its buffer; the path is only formatted on errors.
        let uri = req.uri().clone();
        // `poll_ready` said the route is ready, so it is called, not cloned.
        let answer = match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(route) => Answer::Route {
                route: AssertUnwindSafe(route)
                    .catch_unwind()
                    .instrument(telemetry.span.clone()),
            },
            Err(panic) => Answer::Early {
                res: panic_response(panic),
            },
        };
        FrameFuture {
            answer,
            expiry: None,
            framing: Some(Framing {
                limits,
                telemetry,
                method,
                uri,
                echoed,
                logged: started.zip(logged_id),
            }),
        }
    }
}

pin_project! {
    /// What the frame waits for: the route's future, or the answer already
    /// made when calling the route panicked.
    #[project = AnswerProj]
    enum Answer<F> {
        Route { #[pin] route: Instrumented<CatchUnwind<AssertUnwindSafe<F>>> },
        Early { res: Response },
    }
}

pin_project! {
    /// A route's answer in its frame: a written-out future rather than an
    /// `async` block, so that it needs no box of its own (the router boxes
    /// it once) and is not copied from one state machine into the next.
    pub(crate) struct FrameFuture<F> {
        #[pin]
        answer: Answer<F>,
        // Made (and boxed) only when the route does not answer at its
        // first poll: most requests never need a timer.
        expiry: Option<Pin<Box<Sleep>>>,
        // Taken when the answer is framed.
        framing: Option<Framing>,
    }
}

impl<F> Future for FrameFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(framing) = this.framing.take() else {
            // Polled again after it answered: a caller's bug, answered, not hung.
            return Poll::Ready(Ok(envelope::failure_with(
                500,
                crate::error::INTERNAL_MESSAGE,
            )));
        };
        let res = match this.answer.project() {
            AnswerProj::Early { res } => std::mem::take(res),
            AnswerProj::Route { route } => match route.poll(cx) {
                Poll::Ready(Ok(Ok(res))) => res,
                Poll::Ready(Ok(Err(never))) => match never {},
                Poll::Ready(Err(panic)) => panic_response(panic),
                Poll::Pending => {
                    let timeout = framing.limits.timeout;
                    let expiry = this
                        .expiry
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                    match expiry.as_mut().poll(cx) {
                        Poll::Ready(()) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        Poll::Pending => {
                            *this.framing = Some(framing);
                            return Poll::Pending;
                        }
                    }
                }
            },
        };
        Poll::Ready(Ok(framing.finish(res)))
    }
}

/// What the frame does to a route's response.
struct Framing {
    limits: Limits,
    telemetry: RequestTelemetry,
    method: Method,
    uri: Uri,
    echoed: Option<HeaderValue>,
    /// When the request started and its id, with `HTTP_ACCESS_LOG=true`.
    logged: Option<(std::time::Instant, Arc<str>)>,
}

impl Framing {
    fn finish(self, mut res: Response) -> Response {
        let Self {
            limits,
            telemetry,
            method,
            uri,
            echoed,
            logged,
        } = self;
        telemetry.finish(&method, &mut res);
        let mut res = envelope_errors(limits, &method, &uri, res);
        let headers = res.headers_mut();
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if let Some(id) = echoed {
            headers.insert(REQUEST_ID, id);
        }
        if let Some((started, request_id)) = logged {
            access_line(&method, &uri, res.status(), started.elapsed(), &request_id);
        }
        res
    }
}

/// The access log line: the path without its query (which may carry
/// secrets), fields through tracing so `LOG_FORMAT=json` makes them keys.
fn access_line(
    method: &Method,
    uri: &Uri,
    status: StatusCode,
    took: std::time::Duration,
    request_id: &str,
) {
    tracing::info!(
        target: "microcore::access",
        method = %method,
        path = uri.path(),
        status = status.as_u16(),
        duration_ms = took.as_secs_f64() * 1000.0,
        request_id,
        "{method} {} {}",
        uri.path(),
        status.as_u16()
    );
}

/// Error responses made by layers (404, 405, 413, 503...) have no body; give
/// them the envelope so clients see one shape everywhere.
fn envelope_errors(limits: Limits, method: &Method, uri: &Uri, res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || res.headers().contains_key(header::CONTENT_TYPE)
    {
        return res;
    }
    let message = match status {
        StatusCode::NOT_FOUND => format!("no route for {method} {}", uri.path()),
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("method {method} is not allowed on {}", uri.path())
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!(
                "request body is larger than the limit of {} bytes (HTTP_MAX_BODY_BYTES)",
                limits.max_body
            )
        }
        StatusCode::SERVICE_UNAVAILABLE => format!(
            "the request took longer than {} s (HTTP_REQUEST_TIMEOUT_SECS)",
            limits.timeout.as_secs()
        ),
        StatusCode::INTERNAL_SERVER_ERROR => crate::error::INTERNAL_MESSAGE.to_owned(),
        s => s.canonical_reason().unwrap_or("request failed").to_owned(),
    };
    let (parts, _) = res.into_parts();
    let mut fresh = envelope::failure_with(status.as_u16(), message);
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(k.clone(), v.clone());
        }
    }
    *fresh.status_mut() = status;
    fresh
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!(
        "request panicked outside a handler: {}",
        crate::pipeline::panic_text(&*panic)
    );
    envelope::failure_with(500, crate::error::INTERNAL_MESSAGE)
}

fn cors(settings: &Settings) -> Option<CorsLayer> {
    if settings.cors_origins.is_empty() {
        return None;
    }
    let origin = if settings.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list: Vec<HeaderValue> = settings
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        AllowOrigin::list(list)
    };
    let layer = CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-with"),
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID])
        .allow_credentials(settings.cors_credentials);
    Some(layer)
}

/// Wraps the routes in every layer, innermost first.
pub(crate) fn wrap(router: Router, settings: &Arc<Settings>) -> Router {
    let router = match cors(settings) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(FrameLayer(Limits::of(settings)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::routing::get;
    use tower::ServiceExt;

    async fn panics() -> &'static str {
        panic!("in the future")
    }

    /// A panic below the frame, where no handler catches it: in an axum
    /// handler's future, and in a service's `call` itself.
    #[tokio::test]
    async fn a_panic_below_the_frame_is_the_500_envelope_with_the_request_id() {
        let settings = Arc::new(Settings::from_env(&microcore_kernel::Env::default()).unwrap());
        #[derive(Clone)]
        struct PanicsOnCall;
        impl Service<Request> for PanicsOnCall {
            type Response = Response;
            type Error = Infallible;
            type Future = std::future::Ready<Result<Response, Infallible>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: Request) -> Self::Future {
                panic!("in call")
            }
        }
        let router = wrap(
            Router::new()
                .route("/future", get(panics))
                .route_service("/call", PanicsOnCall),
            &settings,
        );
        for path in ["/future", "/call"] {
            let req = http::Request::get(path)
                .header(&REQUEST_ID, "trace-me")
                .body(axum::body::Body::empty())
                .unwrap();
            let res = router.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert_eq!(res.headers()[&REQUEST_ID], "trace-me", "{path}");
            assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY", "{path}");
            let body = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["success"], false, "{path}");
            assert_eq!(body["error"], crate::error::INTERNAL_MESSAGE, "{path}");
        }
    }

    #[test]
    fn request_ids_are_sanitised_and_bounded() {
        assert_eq!(sanitize("abc-123"), Some("abc-123".into()));
        assert_eq!(sanitize("a b\r\n<c>"), Some("abc".into()));
        assert_eq!(sanitize(&"x".repeat(500)).unwrap().len(), 128);
        assert_eq!(sanitize("<>"), None);
    }
}

/// Properties of the request-id sanitiser over any header text.
#[cfg(test)]
mod properties {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_sanitised_id_is_a_bounded_valid_header_and_sanitising_is_idempotent(raw in any::<String>()) {
            if let Some(id) = sanitize(&raw) {
                prop_assert!(!id.is_empty() && id.len() <= MAX_REQUEST_ID);
                prop_assert!(HeaderValue::from_str(&id).is_ok(), "{:?}", id);
                prop_assert_eq!(sanitize(&id), Some(id.clone()));
            }
        }

        #[test]
        fn a_clean_id_passes_unchanged(id in "[A-Za-z0-9._:-]{1,128}") {
            prop_assert_eq!(sanitize(&id), Some(id.clone()));
        }

        #[test]
        fn only_the_first_128_allowed_characters_are_kept(id in "[A-Za-z0-9._:-]{129,400}", junk in "[ <>\r\n\u{e9}]{0,8}") {
            let raw = format!("{junk}{id}");
            prop_assert_eq!(sanitize(&raw), Some(id[..MAX_REQUEST_ID].to_owned()));
        }
    }
}
