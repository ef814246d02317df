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
use crate::error::HttpResult;
use crate::handle::{Http, handler_identity};
use crate::model::RequestModel;
use crate::pipeline::{Invoke, Output};
use crate::route::{Route, RouteError, RouteKind};
use crate::{assemble, error::HttpError};

/// One Server-Sent Event: `SseEvent::default().data("text")`,
/// `.json_data(value)`, `.event("name")`, `.id("1")`.
pub use axum::response::sse::Event as SseEvent;

#[microcore_kernel::contract]
impl Http {
    /// Registers a `GET` endpoint that streams Server-Sent Events.
    ///
    /// The handler returns the stream (or an error, answered as JSON like any
    /// endpoint); the stream ends when it ends or when the client goes away,
    /// and is dropped then. Headers: `Cache-Control: no-cache`,
    /// `X-Accel-Buffering: no`.
    pub fn sse<P, Req, S, F, Fut>(
        &self,
        route: Route,
        plugin: &Arc<P>,
        handler: F,
    ) -> Result<(), RouteError>
    where
        P: Send + Sync + 'static,
        Req: RequestModel,
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
                let req = assemble::decode::<Req>(input)?;
                let stream = handler(plugin, req, ctx).await?;
                let mut res = Sse::new(stream.map(Ok::<_, Infallible>))
                    .keep_alive(KeepAlive::default())
                    .into_response();
                let headers = res.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
                Ok::<_, HttpError>(Output::Response(res))
            })
        });
        self.register::<P, Req, String>(route, handler_id, RouteKind::Sse, invoke)
    }
}
