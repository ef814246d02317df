//! The app's metadata as plain data.
//!
//! The facade fills a [`Manifest`] by dry-booting the app (`<app> manifest`
//! prints it as JSON); `cargo xtask context` renders it into AI_CONTEXT.md and
//! `cargo xtask check` checks it. Every list is sorted and nothing in it
//! depends on the machine or the clock, so the JSON and everything rendered
//! from it is deterministic.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything AI_CONTEXT.md is rendered from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Tools, in the tool set's declaration order.
    pub tools: Vec<Tool>,
    /// Plugins, by identity.
    pub plugins: Vec<Plugin>,
    /// HTTP endpoints, by path then method.
    pub endpoints: Vec<Endpoint>,
    /// Event subscriptions, by event then subscriber.
    pub subscriptions: Vec<Subscription>,
    /// `#[event]` payload declarations, by name then file.
    pub events: Vec<EventDecl>,
    /// `#[model]` types of `domains/<d>/models/`, by domain then name.
    pub models: Vec<Model>,
    /// Tables, by name.
    pub tables: Vec<Table>,
    /// Migration files, by domain then file, with the tables each creates.
    pub migrations: Vec<Migration>,
}

/// One tool and its contract.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Injection name: the field name a plugin uses.
    pub name: String,
    /// Backends and how to select each.
    #[serde(default)]
    pub backends: String,
    /// Settings it reads.
    #[serde(default)]
    pub env: String,
    /// Its errors and how to branch on them.
    #[serde(default)]
    pub errors: String,
    /// Public methods, handle first, then the types plugins get from it.
    #[serde(default)]
    pub methods: Vec<Method>,
    /// A kit such as `testing`: types a plugin uses that no tool hands out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kit: bool,
}

/// One public method of a tool's handle or of a type it hands out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// The type it is defined on (`Db`, `Ctx`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Full signature without `pub`.
    pub signature: String,
    /// First doc line.
    #[serde(default)]
    pub doc: String,
}

/// One plugin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plugin {
    /// `<domain>.<Type>`.
    pub name: String,
    /// Domain folder.
    pub domain: String,
    /// Source file relative to the project root.
    pub file: String,
    /// First doc line.
    #[serde(default)]
    pub doc: String,
    /// Injected tools, in field order.
    #[serde(default)]
    pub tools: Vec<String>,
    /// `READY` or `DEAD: <why>` after the dry boot.
    #[serde(default)]
    pub status: String,
}

/// One HTTP endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `GET`, `POST`, ... (`SSE` and `WS` for streams).
    pub method: String,
    /// Path with `{param}` placeholders.
    pub path: String,
    /// Whether a valid token is required.
    #[serde(default)]
    pub auth: bool,
    /// The plugin that registered it.
    pub owner: String,
    /// Doc summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Status of a successful answer.
    #[serde(default)]
    pub status: u16,
    /// JSON Schema of the request model.
    #[serde(default)]
    pub request: Value,
    /// JSON Schema of the response's `data`.
    #[serde(default)]
    pub response: Value,
}

/// One subscription.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// Event name.
    pub event: String,
    /// `<plugin>.<method>`.
    pub subscriber: String,
    /// The subscribing plugin.
    pub plugin: String,
    /// Payload type name.
    #[serde(default)]
    pub payload_type: String,
    /// Payload JSON Schema as the subscriber reads it.
    #[serde(default)]
    pub schema: Value,
}

/// What a declaration of an event payload says about its plugin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventRole {
    /// Declared in a plugin file that does not subscribe to it: the plugin publishes it.
    Published,
    /// Declared in a plugin file that subscribes to it.
    Consumed,
    /// Declared outside a plugin file (a domain model file).
    #[default]
    Declared,
}

/// One `#[event("name")]` struct.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventDecl {
    /// Event name.
    pub name: String,
    /// Struct name.
    pub type_name: String,
    /// Domain of the declaring file.
    pub domain: String,
    /// Declaring file relative to the project root.
    pub file: String,
    /// The plugin declared in the same file, if any.
    #[serde(default)]
    pub plugin: Option<String>,
    /// Published, consumed or only declared.
    #[serde(default)]
    pub role: EventRole,
    /// First doc line.
    #[serde(default)]
    pub doc: String,
    /// Payload JSON Schema.
    #[serde(default)]
    pub schema: Value,
}

/// One `#[model]` of `domains/<d>/models/`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Type name.
    pub name: String,
    /// Domain.
    pub domain: String,
    /// File relative to the project root.
    pub file: String,
    /// First doc line.
    #[serde(default)]
    pub doc: String,
    /// JSON Schema.
    #[serde(default)]
    pub schema: Value,
}

/// One table of the migrated database.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Name.
    pub name: String,
    /// Domain whose migration creates it (the first, if several do).
    pub domain: String,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// Unique column sets (primary key excluded).
    #[serde(default)]
    pub unique: Vec<Vec<String>>,
    /// Foreign keys.
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
}

/// One column.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Normalised type (`int`, `text`, `float`, `bool`, `timestamp`, `json`, `blob`).
    #[serde(rename = "type")]
    pub ty: String,
    /// Nullable.
    #[serde(default)]
    pub nullable: bool,
    /// Part of the primary key.
    #[serde(default)]
    pub primary_key: bool,
    /// Default expression.
    #[serde(default)]
    pub default: Option<String>,
}

/// A foreign key of one column.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Referencing column.
    pub column: String,
    /// Referenced table.
    pub references_table: String,
    /// Referenced column.
    pub references_column: String,
}

/// One migration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    /// Domain folder.
    pub domain: String,
    /// File name.
    pub file: String,
    /// Tables its `CREATE TABLE` statements create.
    #[serde(default)]
    pub creates: Vec<String>,
    /// The file's SQL, so the guide can show a real migration of the app.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sql: String,
}

impl Manifest {
    /// Every domain: those with plugins, events, models, migrations or tables. Sorted.
    pub fn domains(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .plugins
            .iter()
            .map(|p| p.domain.clone())
            .chain(self.models.iter().map(|m| m.domain.clone()))
            .chain(self.migrations.iter().map(|m| m.domain.clone()))
            .chain(self.tables.iter().map(|t| t.domain.clone()))
            .chain(self.events.iter().map(|e| e.domain.clone()))
            .filter(|d| !d.is_empty())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Sorts every list into its documented order.
    pub fn sort(&mut self) {
        self.plugins.sort_by(|a, b| a.name.cmp(&b.name));
        self.endpoints
            .sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        self.subscriptions
            .sort_by(|a, b| (&a.event, &a.subscriber).cmp(&(&b.event, &b.subscriber)));
        self.events
            .sort_by(|a, b| (&a.name, &a.file).cmp(&(&b.name, &b.file)));
        self.models
            .sort_by(|a, b| (&a.domain, &a.name).cmp(&(&b.domain, &b.name)));
        self.tables.sort_by(|a, b| a.name.cmp(&b.name));
        self.migrations
            .sort_by(|a, b| (&a.domain, &a.file).cmp(&(&b.domain, &b.file)));
    }
}

/// The table names a migration's `CREATE TABLE` statements create, in order.
///
/// Reads only the statement heads (`CREATE [TEMP] TABLE [IF NOT EXISTS] name`),
/// skipping `--` comments; quotes around the name are removed.
pub fn created_tables(sql: &str) -> Vec<String> {
    let text: String = sql
        .lines()
        .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if words[i].eq_ignore_ascii_case("create") {
            let mut j = i + 1;
            while j < words.len()
                && ["temp", "temporary", "unlogged"]
                    .iter()
                    .any(|k| words[j].eq_ignore_ascii_case(k))
            {
                j += 1;
            }
            if j < words.len() && words[j].eq_ignore_ascii_case("table") {
                j += 1;
                if j + 2 < words.len()
                    && words[j].eq_ignore_ascii_case("if")
                    && words[j + 1].eq_ignore_ascii_case("not")
                    && words[j + 2].eq_ignore_ascii_case("exists")
                {
                    j += 3;
                }
                if let Some(name) = words.get(j) {
                    let name = name.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']');
                    let name = name.rsplit('.').next().unwrap_or(name);
                    out.push(name.trim_matches('"').to_owned());
                }
                i = j;
            }
        }
        i += 1;
    }
    out
}

/// `…/domains/users/plugins/login.rs` → `domains/users/plugins/login.rs`; other paths unchanged.
pub fn relative_file(file: &str) -> String {
    let file = file.replace('\\', "/");
    match file.rfind("domains/") {
        Some(at) if at == 0 || file[..at].ends_with('/') => file[at..].to_owned(),
        _ => file,
    }
}

/// The domain of a file under `domains/<d>/…`.
pub fn domain_of(file: &str) -> Option<String> {
    let rest = relative_file(file);
    let rest = rest.strip_prefix("domains/")?;
    let (domain, _) = rest.split_once('/')?;
    Some(domain.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_table_heads_name_the_tables() {
        let sql = "-- CREATE TABLE commented (x INT);\nCREATE TABLE users (id INT);\n\
                   create table if not exists \"orders\"(id int);\nCREATE TEMP TABLE scratch (x INT);\n\
                   CREATE INDEX users_email ON users (email);";
        assert_eq!(created_tables(sql), ["users", "orders", "scratch"]);
    }

    #[test]
    fn files_are_relative_to_the_project_and_name_their_domain() {
        assert_eq!(
            relative_file("/home/me/app/domains/users/models/user.rs"),
            "domains/users/models/user.rs"
        );
        assert_eq!(
            domain_of("/x/domains/users/models/user.rs").as_deref(),
            Some("users")
        );
        assert_eq!(domain_of("crates/tools/db/src/lib.rs"), None);
    }

    #[test]
    fn domains_include_those_with_tables_only() {
        let m = Manifest {
            tables: vec![Table {
                name: "t".into(),
                domain: "billing".into(),
                ..Table::default()
            }],
            plugins: vec![Plugin {
                name: "users.A".into(),
                domain: "users".into(),
                ..Plugin::default()
            }],
            ..Manifest::default()
        };
        assert_eq!(m.domains(), ["billing", "users"]);
    }
}
