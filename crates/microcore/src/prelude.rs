//! Everything a plugin file imports: `use microcore::prelude::*;`.

pub use std::sync::Arc;
pub use std::time::Duration;

pub use anyhow::{self, bail, ensure};
pub use serde_json::{self, json};

pub use crate::{event, model, plugin};

/// What an SSE handler needs to build its stream: `stream::iter`, `stream::unfold`, `.map(..)`.
pub use futures::{Stream, StreamExt, stream};
pub use microcore_auth::Auth;
pub use microcore_config::{Config, ConfigError};
pub use microcore_db::{Db, DbError, DbErrorKind, Tx, params};
pub use microcore_event_bus::{
    BusError, PublishOptions, ReplyError, SubOptions, Subscription, bail_reply,
};
pub use microcore_event_bus::{Envelope, EventBus};
pub use microcore_http::Raw;
pub use microcore_http::{
    Cookie, Ctx, Empty, Http, HttpError, HttpResult, Route, SseEvent, StaticOptions, WsConnection,
    WsError, WsSender,
};
pub use microcore_kernel::{BootResult, Claims, Plugin};
pub use microcore_logger::Logger;
pub use microcore_registry::SystemRegistry;
pub use microcore_scheduler::{Fire, JobOptions, Scheduler};
pub use microcore_state::{State, StateError, StateNamespace};

/// What a `#[validate(custom(function = ...))]` or `schema` check returns on failure.
pub use validator::ValidationError;

/// What an event subscriber returns: `Ok(())`, or `Ok(reply)` for a request.
pub type HandlerResult<T = ()> = anyhow::Result<T>;
