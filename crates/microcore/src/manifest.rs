//! The app's metadata, gathered by a dry boot: every plugin built and booted
//! against the tools' test backends (in-memory SQLite with every migration
//! applied, the in-process bus, http without a socket), then the tools asked
//! what was registered. Routes and subscriptions are made in `on_boot`, so
//! running the real `on_boot` is the only way to see them exactly; the rest
//! (tool contracts, events, models, migrations) comes from link-time slices.
//! `cargo xtask context` renders the result into AI_CONTEXT.md.

use std::time::Duration;

use microcore_kernel::{
    BootOptions, EVENTS, Kernel, MODELS, Running, TOOL_CONTRACTS, ToolSet, registered_plugins,
};
use microcore_manifest as m;

pub use microcore_manifest::Manifest;

/// Dry-boots the app with in-memory tools and returns its metadata, sorted,
/// with paths relative to the project root.
pub async fn dry_boot_manifest<T: ToolSet>() -> Result<Manifest, String> {
    let running = Kernel::<T>::boot(BootOptions::tests()).await;
    let manifest = collect(&running).await;
    running.shutdown(Duration::from_secs(1)).await;
    manifest
}

async fn collect<T: ToolSet>(running: &Running<T>) -> Result<Manifest, String> {
    let mut out = Manifest {
        tools: tools::<T>(),
        plugins: plugins(running),
        ..Manifest::default()
    };
    for slot in running.tools().slots() {
        let Some(any) = slot.as_any() else { continue };
        if let Some(http) = any.downcast_ref::<microcore_http::Http>() {
            out.endpoints = endpoints(http);
        } else if let Some(bus) = any.downcast_ref::<microcore_event_bus::EventBus>() {
            out.subscriptions = subscriptions(bus);
        } else if let Some(db) = any.downcast_ref::<microcore_db::Db>() {
            out.migrations = migrations();
            out.tables = tables(db, &out.migrations).await?;
        }
    }
    out.events = events(&out.plugins, &out.subscriptions);
    out.models = models();
    out.sort();
    Ok(out)
}

fn tools<T: ToolSet>() -> Vec<m::Tool> {
    let names = T::names();
    // Kits (`#[contract(kit = "testing")]`) come after the tools, by name.
    let mut kits: Vec<&'static str> = TOOL_CONTRACTS
        .iter()
        .map(|c| c.tool)
        .filter(|t| !names.contains(t))
        .collect();
    kits.sort_unstable();
    kits.dedup();
    names
        .iter()
        .map(|name| (*name, false))
        .chain(kits.into_iter().map(|k| (k, true)))
        .map(|(name, kit)| tool(name, kit))
        .collect()
}

fn tool(name: &str, kit: bool) -> m::Tool {
    let mut contracts: Vec<_> = TOOL_CONTRACTS.iter().filter(|c| c.tool == name).collect();
    // The block that describes the tool (backends, settings) is its handle's.
    let described = contracts
        .iter()
        .find(|c| !c.backends.is_empty() || !c.env.is_empty())
        .copied();
    let handle = described.map(|c| c.type_name);
    // Every block of the handle first, then the companion types by name; a
    // type's blocks in source order.
    contracts.sort_by_key(|c| (Some(c.type_name) != handle, c.type_name, c.file, c.line));
    m::Tool {
        name: name.to_owned(),
        backends: described.map(|c| c.backends.to_owned()).unwrap_or_default(),
        env: described.map(|c| c.env.to_owned()).unwrap_or_default(),
        errors: contracts
            .iter()
            .find(|c| !c.errors.is_empty())
            .map(|c| c.errors.to_owned())
            .unwrap_or_default(),
        methods: contracts
            .iter()
            .flat_map(|c| {
                c.methods.iter().map(|meth| m::Method {
                    type_name: c.type_name.to_owned(),
                    signature: meth.signature.to_owned(),
                    doc: meth.doc.to_owned(),
                })
            })
            .collect(),
        kit,
    }
}

fn plugins<T: ToolSet>(running: &Running<T>) -> Vec<m::Plugin> {
    let status = running.registry().snapshot();
    registered_plugins::<T>()
        .into_iter()
        .map(|d| {
            let id = d.id();
            let state = status.plugins.iter().find(|p| p.name == *id.name);
            m::Plugin {
                name: id.name.to_string(),
                domain: id.domain.to_string(),
                file: id.file.to_string(),
                doc: d.doc.to_owned(),
                tools: d.tools.iter().map(|t| (*t).to_owned()).collect(),
                status: state.map(status_text).unwrap_or_default(),
            }
        })
        .collect()
}

fn status_text(state: &microcore_kernel::PluginState) -> String {
    let status = format!("{:?}", state.status).to_uppercase();
    match &state.error {
        Some(why) => format!("{status}: {why}"),
        None => status,
    }
}

fn endpoints(http: &microcore_http::Http) -> Vec<m::Endpoint> {
    http.routes()
        .into_iter()
        .map(|r| m::Endpoint {
            method: match r.kind {
                microcore_http::RouteKind::Sse => "SSE".to_owned(),
                microcore_http::RouteKind::WebSocket => "WS".to_owned(),
                microcore_http::RouteKind::Json => r.method,
            },
            path: r.path,
            auth: r.auth,
            owner: r.owner,
            summary: r.summary,
            status: r.status,
            request: r.request_schema,
            response: r.response_schema,
        })
        .collect()
}

fn subscriptions(bus: &microcore_event_bus::EventBus) -> Vec<m::Subscription> {
    bus.subscriptions()
        .into_iter()
        .filter(|s| !s.event.starts_with('_'))
        .map(|s| m::Subscription {
            plugin: s
                .subscriber
                .rsplit_once('.')
                .map_or(s.subscriber.as_str(), |(p, _)| p)
                .to_owned(),
            event: s.event,
            subscriber: s.subscriber,
            payload_type: short_type(s.payload_type),
            schema: s.schema,
        })
        .collect()
}

/// `app::users::create_user::plugin::UserCreated` → `UserCreated`.
fn short_type(name: &str) -> String {
    let base = name.split('<').next().unwrap_or(name);
    base.rsplit("::").next().unwrap_or(base).to_owned()
}

fn events(plugins: &[m::Plugin], subs: &[m::Subscription]) -> Vec<m::EventDecl> {
    EVENTS
        .iter()
        .map(|e| {
            let file = m::relative_file(e.file);
            let plugin = plugins
                .iter()
                .find(|p| p.file == file)
                .map(|p| p.name.clone());
            let role = match &plugin {
                Some(p) if subs.iter().any(|s| s.event == e.name && s.plugin == *p) => {
                    m::EventRole::Consumed
                }
                Some(_) => m::EventRole::Published,
                None => m::EventRole::Declared,
            };
            m::EventDecl {
                name: e.name.to_owned(),
                type_name: e.type_name.to_owned(),
                domain: m::domain_of(&file).unwrap_or_default(),
                file,
                plugin,
                role,
                doc: e.doc.to_owned(),
                schema: (e.schema)(),
            }
        })
        .collect()
}

fn models() -> Vec<m::Model> {
    MODELS
        .iter()
        .filter_map(|d| {
            let file = m::relative_file(d.file);
            let domain = m::domain_of(&file)?;
            file.starts_with(&format!("domains/{domain}/models/"))
                .then(|| m::Model {
                    name: d.name.to_owned(),
                    domain,
                    file,
                    doc: d.doc.to_owned(),
                    schema: (d.schema)(),
                })
        })
        .collect()
}

fn migrations() -> Vec<m::Migration> {
    microcore_db::MIGRATIONS
        .iter()
        .map(|mig| m::Migration {
            domain: mig.domain.to_owned(),
            file: mig.file.to_owned(),
            creates: m::created_tables(mig.sql),
            sql: mig.sql.to_owned(),
        })
        .collect()
}

async fn tables(
    db: &microcore_db::Db,
    migrations: &[m::Migration],
) -> Result<Vec<m::Table>, String> {
    let schema = db
        .describe_schema()
        .await
        .map_err(|e| format!("the dry boot could not describe the migrated schema: {e}"))?;
    let mut sorted: Vec<&m::Migration> = migrations.iter().collect();
    sorted.sort_by(|a, b| (&a.domain, &a.file).cmp(&(&b.domain, &b.file)));
    Ok(schema
        .tables
        .into_iter()
        .filter(|(_, t)| !t.internal)
        .map(|(name, t)| m::Table {
            domain: sorted
                .iter()
                .find(|mig| mig.creates.contains(&name))
                .map(|mig| mig.domain.clone())
                .unwrap_or_default(),
            columns: t
                .columns
                .into_iter()
                .map(|c| m::Column {
                    ty: serde_json::to_value(c.ty)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    name: c.name,
                    nullable: c.nullable,
                    primary_key: c.primary_key,
                    default: c.default,
                })
                .collect(),
            unique: t.unique,
            foreign_keys: t
                .foreign_keys
                .into_iter()
                .map(|f| m::ForeignKey {
                    column: f.column,
                    references_table: f.references_table,
                    references_column: f.references_column,
                })
                .collect(),
            name,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::short_type;

    #[test]
    fn payload_types_lose_their_module_path() {
        assert_eq!(
            short_type("app::users::create_user::plugin::UserCreated"),
            "UserCreated"
        );
        assert_eq!(short_type("Plain"), "Plain");
    }
}
