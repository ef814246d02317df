//! Server-Sent Events endpoints: the same assembly, auth and context as JSON
//! endpoints, answered with a stream.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::response::sse::{KeepAlive, Sse};
use futures::{Stream, StreamExt};
use http::{HeaderValue, Method, header};

use crate::ctx::Ctx;
use crate::error::HttpError;
use crate::error::HttpResult;
use crate::handle::{Http, handler_identity};
use crate::input::Input;
use crate::pipeline::{Invoke, Output};
use crate::route::{Route, RouteError, RouteKind};
use crate::sse_event::SseEvent;

#[microcore_kernel::contract]
impl Http {
    /// Registers a `GET` endpoint whose handler returns any `Stream<Item = SseEvent>` to send.
    ///
    /// The handler returns the stream (or an error, answered as JSON like any
    /// endpoint); the stream ends when it ends or when the client goes away,
    /// and is dropped then. Headers: `Cache-Control: no-cache`,
    /// `X-Accel-Buffering: no`. Keep-alive: after 15 s without an event a
    /// comment line is sent, so proxies do not close an idle stream.
    ///
    /// Building the stream (all from the prelude): a fixed list,
    /// `stream::iter(items.into_iter().map(|i| SseEvent::json(&i)))`; a tokio
    /// channel fed by an event subscriber or a task,
    /// `stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })`;
    /// a timer, `stream::unfold(0, |n| async move { tokio::time::sleep(d).await; Some((SseEvent::data(n.to_string()), n + 1)) })`.
    /// Return it as `HttpResult<impl Stream<Item = SseEvent> + use<>>`.
    pub fn sse<P, Req, M, S, F, Fut>(
        &self,
        route: Route,
        plugin: &Arc<P>,
        handler: F,
    ) -> Result<(), RouteError>
    where
        P: Send + Sync + 'static,
        Req: Input<M>,
        S: Stream<Item = SseEvent> + Send + 'static,
        F: Fn(Arc<P>, Req, Ctx) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = HttpResult<S>> + Send + 'static,
    {
        let route = if route.method == Method::GET {
            route
        } else {
            Route {
                method: Method::GET,
                ..route
            }
        };
        let plugin = plugin.clone();
        let handler_id = handler_identity::<F>(&self.owner_of::<P>());
        let invoke: Invoke = Arc::new(move |input, ctx| {
            let plugin = plugin.clone();
            let handler = handler.clone();
            Box::pin(async move {
                let req = Req::decode(input)?;
                let stream = handler(plugin, req, ctx).await?;
                let mut res = Sse::new(stream.map(|e| Ok::<_, Infallible>(e.into_axum())))
                    .keep_alive(KeepAlive::default())
                    .into_response();
                let headers = res.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
                Ok::<_, HttpError>(Output::Response(res))
            })
        });
        self.register::<P, String>(route, handler_id, Req::schema(), RouteKind::Sse, invoke)
    }
}
