//! The http tool: axum behind the MicroCore endpoint contract.
//!
//! A plugin registers endpoints from `on_boot`:
//!
//! ```ignore
//! self.http.route(Route::get("/users/{id}").tag("Users").auth(), &self, Self::get)?;
//! // async fn get(self: Arc<Self>, req: UserPath, ctx: Ctx) -> HttpResult<User>
//! ```
//!
//! `.auth()` validates tokens through the app's auth tool, which installs
//! itself in the kernel registry at setup (tools never depend on each other);
//! `.auth_with(validator)` names another validator.
//!
//! The request model is assembled from the path parameters, the query string
//! (GET and DELETE only) and the JSON body (POST, PUT and PATCH read nothing
//! else, so a cross-site form or URL cannot fill a model), with path and query
//! text coerced to the types the model's JSON Schema declares; path parameters
//! cannot be overridden. It is deserialized, then validated; `()` takes no
//! input. Every answer is an envelope: `{"success":true,"data":...}` or
//! `{"success":false,"error":"...","details":[...]}`, unless the handler
//! returns a [`Raw`] body (CSV, text, bytes) with its own content type.
//!
//! Settings: `HTTP_HOST` (127.0.0.1), `HTTP_PORT` (5000; 0 picks a free port),
//! `HTTP_MAX_BODY_BYTES` (1 MiB), `HTTP_REQUEST_TIMEOUT_SECS` (30; a slow
//! handler gets 503), `HTTP_CORS_ORIGINS` (comma list, `*` for any; unset
//! means no CORS headers at all, i.e. same-origin only — the Python original
//! defaulted to `*`, which we consider unsafe), `HTTP_CORS_CREDENTIALS`
//! (false; refused together with `*`).
//!
//! WebSocket endpoints: `self.http.websocket(Route::get("/chat/{room}").auth(), &self, Self::chat)?`
//! with `async fn chat(self: Arc<Self>, conn: WsConnection) -> HttpResult<()>`; the
//! token comes from the header, `?token=` or the cookie and a bad one gets 401
//! before the upgrade; messages over `HTTP_WS_MAX_MESSAGE_BYTES` (64 KiB) close
//! with 1009, a failing handler with 1011, drain with 1001.
//!
//! The tool serves `/openapi.json` (OpenAPI 3.1) and `/docs` (Swagger UI,
//! compiled into the binary, so it works offline).

mod assemble;
mod connections;
mod cookie;
mod ctx;
mod docs;
mod envelope;
mod error;
mod handle;
mod input;
mod layers;
mod model;
mod openapi;
mod operator;
mod paused;
mod pipeline;
mod raw;
mod route;
mod router;
mod server;
mod settings;
mod sse;
mod sse_event;
mod static_files;
mod telemetry;
pub mod testing;
mod tool;
mod ws;

pub use cookie::{Cookie, SameSite};
pub use ctx::Ctx;
pub use error::{FieldError, HttpError, HttpResult};
pub use handle::Http;
pub use input::{Input, ModelInput, NoInput};
pub use model::{Empty, RequestModel, ResponseModel};
pub use raw::Raw;
pub use route::{Route, RouteError, RouteInfo, RouteKind};
pub use sse_event::SseEvent;
pub use static_files::{DEFAULT_STATIC_EXTENSIONS, StaticOptions};
pub use testing::{TestRequest, TestResponse};
pub use ws::{WsConnection, WsError, WsSender};
