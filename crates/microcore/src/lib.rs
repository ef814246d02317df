//! # MicroCore: one file is one feature
//!
//! A plugin is one file under `domains/<domain>/plugins/<feature>.rs`. It
//! names the tools it needs as fields, registers its routes and subscriptions
//! in `on_boot`, and talks to other features only through events:
//!
//! ```ignore
//! use microcore::prelude::*;
//!
//! /// Answers `GET /ping`.
//! #[plugin]
//! pub struct Ping {
//!     http: Http,
//! }
//!
//! #[model]
//! pub struct Pong {
//!     status: String,
//!     message: String,
//! }
//!
//! impl Plugin for Ping {
//!     async fn on_boot(self: Arc<Self>) -> BootResult {
//!         self.http.route(Route::get("/ping").tag("Health"), &self, Self::ping)?;
//!         Ok(())
//!     }
//! }
//!
//! impl Ping {
//!     async fn ping(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Pong> {
//!         Ok(Pong { status: "ok".into(), message: "pong".into() })
//!     }
//! }
//! ```
//!
//! A field named after a tool that does not exist (`dbx: Db`) is a compile
//! error at that field naming the closest tool; a field of the wrong type
//! (`db: Logger`) is a compile error saying which type the tool has. See
//! `docs/` for the guides and `AI_CONTEXT.md` for the generated manifest.

pub mod prelude;
pub mod testing;

mod console;
mod email;
mod manifest;
mod migrate;
mod nested;
mod run;

pub use manifest::{Manifest, dry_boot_manifest};
pub use run::{main, run};

pub use microcore_macros::{event, model, plugin, toolset};

pub use microcore_auth::{Auth, AuthError};
pub use microcore_config::{Config, ConfigError};
pub use microcore_db::{Db, DbError, DbErrorKind, Migration, params};
pub use microcore_event_bus::{BusError, Envelope, Event, EventBus};
pub use microcore_event_bus::{PublishOptions, ReplyError, SubOptions, Subscription, bail_reply};
pub use microcore_http::{Cookie, Ctx, Empty, Http, HttpError, HttpResult, Route};
pub use microcore_kernel::{
    BootOptions, BootReport, BootResult, CallContext, Claims, Env, Kernel, KernelSettings, Plugin,
    PluginId, PluginState, PluginStatus, Registry, RevocationList, Running, SystemStatus,
    TokenValidator, Tool, ToolError, ToolSet, ToolSetup, ToolState, ToolStatus,
};
pub use microcore_logger::Logger;
pub use microcore_registry::SystemRegistry;
pub use microcore_scheduler::{Fire, JobOptions, Scheduler, SchedulerError};
pub use microcore_state::{State, StateError, StateNamespace};

/// A boxed future, for implementing object-safe traits such as [`RevocationList`].
pub use futures::future::BoxFuture;

/// The crates behind each tool, for users who need more than the prelude.
pub mod tools {
    pub use microcore_auth as auth;
    pub use microcore_config as config;
    pub use microcore_db as db;
    pub use microcore_event_bus as event_bus;
    pub use microcore_http as http;
    pub use microcore_logger as logger;
    pub use microcore_registry as registry;
    pub use microcore_scheduler as scheduler;
    pub use microcore_state as state;
}

/// One plugin file as a module: a private `plugin` module inside a wrapper
/// named after the feature, so sibling plugins cannot import each other.
/// Emitted by the app's build script for every `domains/<d>/plugins/*.rs`.
#[doc(hidden)]
#[macro_export]
macro_rules! plugin_module {
    ($feature:ident, $path:literal) => {
        #[doc = ::core::concat!("Feature `", ::core::stringify!($feature), "`.")]
        mod $feature {
            #[allow(unused_imports)]
            use super::models;
            // A plugin file is user code: `pub` on its items is natural and harmless.
            #[allow(unreachable_pub)]
            #[path = $path]
            mod plugin;
        }
    };
    ($feature:ident { $($body:tt)* }) => {
        mod $feature {
            #[allow(unused_imports)]
            use super::models;
            #[allow(unreachable_pub)]
            mod plugin {
                $($body)*
            }
        }
    };
}

/// Registers one migration file of a domain for the db tool. Emitted by the
/// app's build script for every `domains/<d>/migrations/*.sql`.
#[doc(hidden)]
#[macro_export]
macro_rules! migration {
    ($domain:literal, $file:literal, $path:literal) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::__private::MIGRATIONS)]
            #[linkme(crate = $crate::__private::linkme)]
            static MIGRATION: $crate::Migration = $crate::Migration {
                domain: $domain,
                file: $file,
                sql: ::core::include_str!($path),
            };
        };
    };
}

/// What generated code needs. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use futures;
    pub use linkme;
    pub use schemars;
    pub use serde;
    pub use serde_json;
    pub use validator;

    pub use microcore_db::MIGRATIONS;
    pub use microcore_event_bus::Event;
    pub use microcore_kernel::EventName;

    /// The rule `#[validate(email)]` checks, and the pattern the schema states for it.
    pub mod email {
        pub use crate::email::{EmailText, PATTERN, check};
    }

    /// Nested validation of `#[model]` fields.
    pub mod nested {
        pub use crate::nested::{
            ModelContext, Nested, OptionalValidatedField, PlainField, ValidatedField,
        };
    }
    pub use microcore_kernel::{
        DynTool, EVENTS, Env, EventDescriptor, MODELS, MissingTools, ModelDescriptor, PLUGINS,
        PluginBuild, PluginDescriptor, PluginId, Registry, Slot, Tool, ToolSet, build_erased,
        str_eq,
    };

    /// The JSON Schema of `T`, for link-time descriptors.
    pub fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default()
    }
}
