//! Registering a WebSocket endpoint, and one connection through it: auth
//! before the upgrade, then the handler in the plugin's call context with
//! errors and panics turned into close codes.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::response::Response;
use futures::FutureExt;
use futures::future::BoxFuture;
use http::request::Parts;
use http::{Method, header};
use microcore_kernel::{CallContext, Claims, TokenValidator, in_context};
use tokio::sync::mpsc;

use super::WsHub;
use super::connection::{Meta, Outgoing, WsConnection, close_reason};
use super::pump;
use crate::envelope;
use crate::error::{HttpError, HttpResult};
use crate::handle::{Http, handler_identity, schema_of};
use crate::layers::RequestId;
use crate::model::Empty;
use crate::pipeline::{
    Endpoint, Handler, TokenSource, panic_text, path_and_query, token_with_source,
};
use crate::route::{Route, RouteError, RouteInfo, RouteKind};
use crate::settings::Settings;

/// Messages buffered between the socket and the handler, each way.
const CHANNEL: usize = 16;

/// The type-erased WebSocket handler.
type SocketInvoke = Arc<dyn Fn(WsConnection) -> BoxFuture<'static, HttpResult<()>> + Send + Sync>;

/// A registered WebSocket endpoint: its handler and what a connection needs.
pub(crate) struct SocketRoute {
    invoke: SocketInvoke,
    settings: Arc<Settings>,
    hub: WsHub,
}

#[microcore_kernel::contract]
impl Http {
    /// Registers a WebSocket endpoint (always `GET`): the handler owns the
    /// connection until it returns.
    ///
    /// With `.auth()` the token is taken from `Authorization:
    /// Bearer`, then `?token=`, then the `access_token` cookie; a missing or
    /// invalid one is answered `401` with the error envelope and no upgrade
    /// (the HTTP equivalent of the original closing with 1008 before accept).
    /// A cookie token counts only from the same origin or one listed in
    /// `HTTP_CORS_ORIGINS` (else 403), since browsers send cookies with
    /// cross-site WebSocket handshakes.
    ///
    /// The handler returns `HttpResult<()>` like every http handler: `Ok`
    /// closes with 1000, a 4xx `HttpError` closes with 1008 and its message,
    /// any other error or a panic closes with 1011 and is logged. Messages
    /// over `HTTP_WS_MAX_MESSAGE_BYTES` (64 KiB) close with 1009; drain
    /// closes open sockets with 1001.
    ///
    /// ```ignore
    /// self.http.websocket(Route::get("/chat/{room}").auth(), &self, Self::chat)?;
    /// async fn chat(self: Arc<Self>, mut conn: WsConnection) -> HttpResult<()> {
    ///     while let Some(text) = conn.recv_text().await {
    ///         conn.send_text(text).await?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn websocket<P, F, Fut>(
        &self,
        route: Route,
        plugin: &Arc<P>,
        handler: F,
    ) -> Result<(), RouteError>
    where
        P: Send + Sync + 'static,
        F: Fn(Arc<P>, WsConnection) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = HttpResult<()>> + Send + 'static,
    {
        let plugin = plugin.clone();
        let owner = self.owner_of::<P>();
        let handler_id = handler_identity::<F>(&owner);
        let invoke: SocketInvoke = Arc::new(move |conn| {
            let plugin = plugin.clone();
            let handler = handler.clone();
            Box::pin(async move { handler(plugin, conn).await })
        });
        let socket = Arc::new(SocketRoute {
            invoke,
            settings: self.shared.settings.clone(),
            hub: self.shared.sockets.clone(),
        });
        self.shared.probe.observe_sync("websocket", || {
            let auth = self.validator(&route, &owner)?;
            let info = RouteInfo {
                method: Method::GET.to_string(),
                path: route.path.clone(),
                auth: auth.is_some(),
                tags: route.tags.clone(),
                summary: route.summary.clone(),
                owner,
                handler: handler_id,
                request_schema: schema_of::<Empty>(),
                response_schema: serde_json::Value::Null,
                status: 101,
                kind: RouteKind::WebSocket,
                produces: None,
            };
            self.add(Arc::new(Endpoint {
                identity: Arc::from(info.handler.as_str()),
                info,
                method: Method::GET,
                auth,
                handler: Handler::Socket(socket),
            }))
        })
    }
}

/// Handles one upgrade request for `ep`.
pub(crate) async fn handle(socket: Arc<SocketRoute>, ep: Arc<Endpoint>, req: Request) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), |r| r.0.to_string());
    let (mut parts, _body) = req.into_parts();
    let (claims, token) = match &ep.auth {
        Some(v) => match authenticate(&**v, &parts, &socket.settings).await {
            Ok((c, t)) => (Some(c), Some(t)),
            Err(e) => return envelope::failure(&e),
        },
        None => (None, None),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(rejection) => {
            return envelope::failure_with(
                426,
                format!(
                    "{} {} is a WebSocket endpoint: connect with a WebSocket client ({})",
                    ep.info.method,
                    ep.info.path,
                    rejection.body_text()
                ),
            );
        }
    };
    let (path, query) = match path_and_query(&mut parts).await {
        Ok(pq) => pq,
        Err(response) => return response,
    };
    let meta = Arc::new(Meta {
        request_id,
        claims,
        token,
        headers: parts.headers,
        path,
        query,
    });
    let limit = socket.settings.ws_max_message;
    let info = ep.info.clone();
    let failed_label = format!("{} {}", info.method, info.path);
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(move |e| {
            tracing::debug!("websocket {failed_label}: the upgrade failed: {e}")
        })
        .on_upgrade(move |ws| {
            let hub = socket.hub.clone();
            hub.run(run(ws, socket, info, meta))
        })
}

/// Auth for an upgrade: the claims and token, or the refusal to send.
async fn authenticate(
    validator: &dyn TokenValidator,
    parts: &Parts,
    settings: &Settings,
) -> Result<(Claims, String), HttpError> {
    if let Some(reason) = validator.closed() {
        return Err(HttpError::forbidden(reason));
    }
    let (token, source) = token_with_source(parts, true)
        .ok_or_else(|| HttpError::unauthorized("Missing authorization token"))?;
    if source == TokenSource::Cookie
        && let Some(origin) = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        && !origin_allowed(origin, parts, settings)
    {
        return Err(HttpError::forbidden(format!(
            "a cookie-authenticated WebSocket from origin {origin} is refused; connect from the same origin, \
             list it in HTTP_CORS_ORIGINS, or send the token in the Authorization header or ?token="
        )));
    }
    match validator.validate(&token).await {
        Some(claims) => Ok((claims, token)),
        None => Err(HttpError::unauthorized("Invalid or expired token")),
    }
}

/// Same origin as the `Host` the browser connected to, or listed in the CORS settings.
fn origin_allowed(origin: &str, parts: &Parts, settings: &Settings) -> bool {
    let origin = origin.trim_end_matches('/');
    if settings.cors_origins.iter().any(|o| o == origin) {
        return true;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let bare = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((bare, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// One upgraded connection: the pump on its own task, the handler here.
async fn run(ws: WebSocket, socket: Arc<SocketRoute>, info: RouteInfo, meta: Arc<Meta>) {
    let label = format!("websocket {} ({})", info.path, meta.request_id);
    let (in_tx, in_rx) = mpsc::channel(CHANNEL);
    let (out_tx, out_rx) = mpsc::channel(CHANNEL);
    let pump = tokio::spawn(pump::run(
        ws,
        in_tx,
        out_rx,
        socket.hub.join(),
        socket.settings.ws_max_message,
        label,
    ));
    let conn = WsConnection::new(meta.clone(), in_rx, out_tx.clone());
    let call = CallContext::new(
        info.handler.clone(),
        Some(Arc::from(meta.request_id.as_str())),
    );
    let invoke = socket.invoke.clone();
    let outcome = AssertUnwindSafe(in_context(call, async move { invoke(conn).await }))
        .catch_unwind()
        .await;
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(panic) => Some(HttpError::internal(format!(
            "handler panicked: {}",
            panic_text(&*panic)
        ))),
    };
    let close = match failure {
        None => (1000, String::new()),
        Some(e) if (400..=499).contains(&e.status) => {
            tracing::debug!(request_id = %meta.request_id, handler = %info.handler, "websocket closed: {}", e.message);
            (1008, close_reason(&e.message))
        }
        Some(e) => {
            let detail = e.internal.as_deref().unwrap_or(&e.message);
            if out_tx.is_closed() {
                // The socket was already gone; a send failing then is the usual way to notice.
                tracing::debug!(request_id = %meta.request_id, handler = %info.handler,
                    "websocket handler ended with an error after the socket closed: {detail}");
            } else {
                tracing::error!(request_id = %meta.request_id, handler = %info.handler,
                    route = %format!("WS {}", info.path), "websocket handler failed: {detail}");
            }
            (1011, crate::error::INTERNAL_MESSAGE.to_owned())
        }
    };
    let _ = out_tx.send(Outgoing::Close(close.0, close.1)).await;
    drop(out_tx);
    let _ = pump.await;
}
