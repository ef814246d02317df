//! The `Http` handle plugins hold: registering endpoints, and what the tool
//! knows about them.

use std::any::{Any, TypeId};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use microcore_kernel::{Probe, Registry, TokenValidator, spawn_blocking_in_context};
use parking_lot::Mutex;
use serde_json::Value;

use crate::ctx::Ctx;
use crate::error::{HttpError, HttpResult};
use crate::input::Input;
use crate::model::ResponseModel;
use crate::pipeline::{Endpoint, Handler, Invoke, Output, panic_text};
use crate::raw::Raw;
use crate::route::{
    Route, RouteAuth, RouteError, RouteInfo, RouteKind, catch_all_clash, check_path, path_shape,
};
use crate::server::Serving;
use crate::settings::Settings;
use crate::{router, static_files};

/// The http tool: registers endpoints from `on_boot`, serves them after boot.
///
/// Cheap to clone. Each plugin's copy is stamped with the plugin's identity,
/// which names the owner of its routes.
#[derive(Clone)]
pub struct Http {
    pub(crate) shared: Arc<Shared>,
    pub(crate) owner: Option<Arc<str>>,
}

pub(crate) struct Shared {
    pub(crate) probe: Probe,
    /// The kernel's registry: where `.auth()` routes find the app's validator.
    pub(crate) registry: Registry,
    pub(crate) settings: Arc<Settings>,
    /// Tests and dry boots: never bind a socket.
    pub(crate) no_socket: bool,
    pub(crate) endpoints: Mutex<Vec<Arc<Endpoint>>>,
    pub(crate) statics: Mutex<Vec<Arc<static_files::Mount>>>,
    pub(crate) cached: Mutex<Option<Router>>,
    pub(crate) serving: Mutex<Option<Serving>>,
    pub(crate) addr: Mutex<Option<SocketAddr>>,
    /// Open WebSockets, closed with 1001 on drain.
    pub(crate) sockets: crate::ws::WsHub,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("owner", &self.owner)
            .field("addr", &self.local_addr())
            .finish()
    }
}

/// The schema of `T` as JSON, as it deserializes (for request models).
pub(crate) fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default()
}

/// The schema of `T` as it serializes (for responses): a field with
/// `#[serde(default)]` is always sent, one with `skip_serializing_if` may
/// be missing, and the two modes can disagree on what is required.
pub(crate) fn serialized_schema_of<T: schemars::JsonSchema>() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    serde_json::to_value(schema).unwrap_or_default()
}

/// `<plugin id>.<method>` from the handler's type name.
pub(crate) fn handler_identity<F>(owner: &str) -> String {
    let name = std::any::type_name::<F>();
    let name = name.split('<').next().unwrap_or(name);
    let method = name.rsplit("::").next().unwrap_or("handler");
    let method = if method.contains('{') {
        "handler"
    } else {
        method
    };
    format!("{owner}.{method}")
}

#[microcore_kernel::contract(
    backends = "axum; tests: in-process `call`, no socket",
    env = "HTTP_HOST, HTTP_PORT, HTTP_* limits",
    errors = "HttpError (see its constructors), sent with its message; `?` on any other error is a logged 500 \"Internal server error\""
)]
impl Http {
    pub(crate) fn new(
        probe: Probe,
        registry: Registry,
        settings: Settings,
        no_socket: bool,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                probe,
                registry,
                settings: Arc::new(settings),
                no_socket,
                endpoints: Mutex::new(Vec::new()),
                statics: Mutex::new(Vec::new()),
                cached: Mutex::new(None),
                serving: Mutex::new(None),
                addr: Mutex::new(None),
                sockets: crate::ws::WsHub::new(),
            }),
            owner: None,
        }
    }

    /// The owner named in reports: the stamped plugin, else `P`'s type name.
    pub(crate) fn owner_of<P>(&self) -> String {
        match &self.owner {
            Some(o) => o.to_string(),
            None => std::any::type_name::<P>()
                .rsplit("::")
                .next()
                .unwrap_or("app")
                .to_owned(),
        }
    }

    /// Registers an async endpoint answering `{"success":true,"data":..}` or a `Raw` body.
    ///
    /// `Req` is a `#[model]` filled from the path, the query (GET, DELETE)
    /// and the JSON body, then validated (see `Ctx`), or `()` for no input.
    pub fn route<P, Req, M, Res, F, Fut>(
        &self,
        route: Route,
        plugin: &Arc<P>,
        handler: F,
    ) -> Result<(), RouteError>
    where
        P: Send + Sync + 'static,
        Req: Input<M>,
        Res: ResponseModel,
        F: Fn(Arc<P>, Req, Ctx) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = HttpResult<Res>> + Send + 'static,
    {
        let plugin = plugin.clone();
        let handler_id = handler_identity::<F>(&self.owner_of::<P>());
        let invoke: Invoke = Arc::new(move |input, ctx| {
            let plugin = plugin.clone();
            let handler = handler.clone();
            Box::pin(async move {
                let req = Req::decode(input)?;
                let res = handler(plugin, req, ctx).await?;
                to_output(res)
            })
        });
        self.register::<P, Res>(route, handler_id, Req::schema(), RouteKind::Json, invoke)
    }

    /// Registers an endpoint whose handler is blocking code, run on the blocking thread pool.
    ///
    /// It keeps the caller's context and never occupies the async workers.
    #[not_in_manifest]
    pub fn route_blocking<P, Req, M, Res, F>(
        &self,
        route: Route,
        plugin: &Arc<P>,
        handler: F,
    ) -> Result<(), RouteError>
    where
        P: Send + Sync + 'static,
        Req: Input<M>,
        Res: ResponseModel,
        F: Fn(Arc<P>, Req, Ctx) -> HttpResult<Res> + Clone + Send + Sync + 'static,
    {
        let plugin = plugin.clone();
        let handler_id = handler_identity::<F>(&self.owner_of::<P>());
        let invoke: Invoke = Arc::new(move |input, ctx| {
            let plugin = plugin.clone();
            let handler = handler.clone();
            Box::pin(async move {
                let req = Req::decode(input)?;
                let joined = spawn_blocking_in_context(move || handler(plugin, req, ctx)).await;
                match joined {
                    Ok(res) => to_output(res?),
                    Err(e) if e.is_panic() => Err(HttpError::internal(format!(
                        "handler panicked: {}",
                        panic_text(&*e.into_panic())
                    ))),
                    Err(e) => Err(HttpError::internal(format!(
                        "blocking handler did not finish: {e}"
                    ))),
                }
            })
        });
        self.register::<P, Res>(route, handler_id, Req::schema(), RouteKind::Json, invoke)
    }

    pub(crate) fn register<P, Res: ResponseModel>(
        &self,
        route: Route,
        handler: String,
        request_schema: Value,
        kind: RouteKind,
        invoke: Invoke,
    ) -> Result<(), RouteError> {
        let owner = self.owner_of::<P>();
        self.shared.probe.observe_sync("route", || {
            let auth = self.validator(&route, &owner)?;
            let info = RouteInfo {
                method: route.method.to_string(),
                path: route.path.clone(),
                auth: auth.is_some(),
                tags: route.tags.clone(),
                summary: route.summary.clone(),
                owner,
                handler,
                request_schema,
                response_schema: serialized_schema_of::<Res>(),
                status: route.status,
                kind,
                produces: (TypeId::of::<Res>() == TypeId::of::<Raw>())
                    .then(|| route.produces.clone().unwrap_or_else(|| "*/*".to_owned())),
            };
            if !(200..=399).contains(&route.status) {
                return Err(RouteError::InvalidStatus {
                    method: info.method,
                    path: info.path,
                    owner: info.owner,
                    status: route.status,
                });
            }
            let endpoint = Arc::new(Endpoint {
                identity: Arc::from(info.handler.as_str()),
                info,
                method: route.method.clone(),
                auth,
                handler: Handler::Request(invoke),
            });
            self.add(endpoint)
        })
    }

    /// The validator that checks `route`'s tokens: none for an open route,
    /// the app's (installed in the kernel by the auth tool) for `.auth()`.
    pub(crate) fn validator(
        &self,
        route: &Route,
        owner: &str,
    ) -> Result<Option<Arc<dyn TokenValidator>>, RouteError> {
        match &route.auth {
            RouteAuth::Open => Ok(None),
            RouteAuth::With(v) => Ok(Some(v.clone())),
            RouteAuth::Operator => Ok(self.shared.settings.operator.validator()),
            RouteAuth::App => match self.shared.registry.token_validator() {
                Some(v) => Ok(Some(v)),
                None => Err(RouteError::NoValidator {
                    method: route.method.to_string(),
                    path: route.path.clone(),
                    owner: owner.to_owned(),
                }),
            },
        }
    }

    /// Adds an endpoint after checking its path against every other route.
    pub(crate) fn add(&self, endpoint: Arc<Endpoint>) -> Result<(), RouteError> {
        let info = &endpoint.info;
        let err_path = |reason: String| RouteError::InvalidPath {
            method: info.method.clone(),
            path: info.path.clone(),
            owner: info.owner.clone(),
            reason,
        };
        check_path(&info.path).map_err(err_path)?;
        if router::is_reserved(&info.path) {
            return Err(err_path(
                "`/openapi.json` and `/docs` are served by the http tool".into(),
            ));
        }
        if self.shared.serving.lock().is_some() {
            return Err(RouteError::TooLate {
                method: info.method.clone(),
                path: info.path.clone(),
                owner: info.owner.clone(),
            });
        }
        let mut endpoints = self.shared.endpoints.lock();
        for other in endpoints.iter() {
            let o = &other.info;
            if o.path == info.path && o.method == info.method {
                return Err(RouteError::Duplicate {
                    method: info.method.clone(),
                    path: info.path.clone(),
                    first: o.owner.clone(),
                    second: info.owner.clone(),
                });
            }
            if catch_all_clash(&o.path, &info.path) {
                return Err(RouteError::CatchAllClash {
                    method: info.method.clone(),
                    path: info.path.clone(),
                    owner: info.owner.clone(),
                    other: format!("{} {}", o.method, o.path),
                    other_owner: o.owner.clone(),
                });
            }
            if o.path != info.path && path_shape(&o.path) == path_shape(&info.path) {
                return Err(RouteError::Ambiguous {
                    method: info.method.clone(),
                    path: info.path.clone(),
                    owner: info.owner.clone(),
                    other: o.path.clone(),
                    other_owner: o.owner.clone(),
                });
            }
        }
        endpoints.push(endpoint);
        *self.shared.cached.lock() = None;
        Ok(())
    }
}

/// Framework-facing: used by the kernel, the test kit, `/system/*` and the
/// manifest generator. Not part of the plugin contract, so AI_CONTEXT.md
/// leaves it out.
impl Http {
    /// Every registered endpoint, sorted by path then method.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let mut all: Vec<RouteInfo> = self
            .shared
            .endpoints
            .lock()
            .iter()
            .map(|e| e.info.clone())
            .collect();
        all.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        all
    }

    /// The OpenAPI 3.1 document of every registered endpoint (served at `/openapi.json`).
    pub fn openapi(&self) -> Value {
        crate::openapi::document(&self.routes())
    }

    /// The complete router with every layer, as the server runs it.
    pub fn router(&self) -> Router {
        if let Some(r) = self.shared.cached.lock().clone() {
            return r;
        }
        let built = router::build(self);
        *self.shared.cached.lock() = Some(built.clone());
        built
    }

    /// The address the server listens on, once `on_boot_complete` bound it.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *self.shared.addr.lock()
    }
}

/// A [`Raw`] as it is, anything else inside the success envelope. The
/// downcast is a `TypeId` comparison the compiler folds per `T`.
fn to_output<T: serde::Serialize + 'static>(res: T) -> Result<Output, HttpError> {
    let mut slot = Some(res);
    if let Some(raw) = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<Raw>>()
        .and_then(Option::take)
    {
        return Ok(Output::Raw(raw));
    }
    match slot {
        Some(res) => to_data(res),
        None => Err(HttpError::internal("the response was taken twice")),
    }
}

/// The success envelope around `res`, serialised straight from `T`: going
/// through a `serde_json::Value` first cost an allocation per field.
fn to_data<T: serde::Serialize>(res: T) -> Result<Output, HttpError> {
    #[derive(serde::Serialize)]
    struct Success<D> {
        success: bool,
        data: D,
    }
    serde_json::to_vec(&Success {
        success: true,
        data: res,
    })
    .map(Output::Data)
    .map_err(|e| HttpError::internal(format!("the response could not be serialized: {e}")))
}
