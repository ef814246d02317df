//! Section 1 of AI_CONTEXT.md: the operating guide. The template in it is a
//! real file (`xtask/tests/template/create_thing.rs`), compiled and tested by
//! `tests/template.rs` and equal to what `cargo xtask new plugin` writes for
//! [`TEMPLATE_ARGS`], so the example an agent copies cannot rot.

/// The `new plugin` arguments that produce the guide's template.
pub const TEMPLATE_ARGS: [&str; 7] = [
    "things/create_thing",
    "--route",
    "POST /things",
    "--publish",
    "thing.created",
    "--subscribe",
    "order.placed",
];

/// The template's text.
pub const TEMPLATE: &str = include_str!("../tests/template/create_thing.rs");

/// The template as the guide shows it: without comment lines, which cost an
/// agent tokens and carry nothing the guide's rules do not say. It compiles
/// as shown: only comments are removed.
pub fn template_without_comments() -> String {
    TEMPLATE
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .fold(String::new(), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        })
        .trim_start()
        .to_owned()
}

/// The guide, before the template.
pub const GUIDE: &str = "\
Three concepts. **Tools**: infrastructure injected into a plugin by field name. **Plugins**: one file \
= one feature, `domains/<domain>/plugins/<feature>.rs`; `on_boot` registers routes and subscriptions. \
**Events**: facts between features; a domain never imports another domain's code.

Rules:
- One file per feature; types shared inside a domain go in `domains/<d>/models/`.
- SQL takes `$1, $2` placeholders with `params![…]`; never format values into SQL.
- Branch on error kinds (`Err(e) if e.kind == DbErrorKind::UniqueViolation`), never on message text.
- Handlers return `HttpResult<T>`; clients get `{\"success\": true, \"data\": T}` or `{\"success\": false, \"error\": \"…\"}`.
- Never leak internals: `?` on a tool error is a logged, generic 500; tell the caller only what it can fix (`HttpError::conflict(..)`).
- Events are facts named `noun.verb_past`; publisher and subscriber each declare their own `#[event]` struct (`cargo xtask check` compares them); subscribers are idempotent on `event.id`.
- Start from `cargo xtask new plugin` (template below); then run `cargo xtask context` and `cargo xtask check`.
";

/// Facts about files, requests, responses, errors and tests that the
/// signatures below do not show. Each is pinned by a test of the behaviour it
/// states; the compiled template and the task suite's reference solutions
/// (`tests/tasks/*/solution/`) use every one of them.
pub const FACTS: &str = "\
### Files
- Every `domains/<d>/plugins/*.rs` is found by the build (a new `domains/<d>/` folder too): no `mod` line, no list to edit.
- `domains/<d>/models/<name>.rs` holds `#[model]` types shared by one domain; its plugins import them as `use super::models::{User};`. Never import another domain.
- `domains/<d>/migrations/NNN_name.sql` (numbered per domain, applied in name order, once): see Migrations below.
- Tests live in the plugin file (`#[cfg(test)] mod tests`, see the template and the `testing` kit); `cargo test <feature>` runs them.
- `env!(\"CARGO_PKG_VERSION\")` in a plugin is the app crate's version. `cargo xtask context` rewrites this file; CI fails when it is stale.

### Requests
- A handler is `async fn h(self: Arc<Self>, req: R, ctx: Ctx) -> HttpResult<T>`; `R` is a `#[model]` struct, or `Empty` / `()` for no input.
- `R` is filled by field name from path parameters (`/items/{id}` → `id`), then the query string (GET, DELETE) or the `application/json` body (POST, PUT, PATCH; any other content type is 415). Path parameters win: a query or body key with another value is 400; a scalar query key given twice is 400. Text from the path or query is converted to the field's type (`i64`, `bool`, `Vec<T>` from repeated keys).
- Malformed JSON is 400; a missing field, a wrong type or a failed `#[validate]` rule is 422 naming the field (`items[2].name`), before the handler runs. `Option<T>` fields may be absent; `#[serde(default)]` gives a default.
- Authentication: `Route::post(\"/x\").auth()` accepts only a valid, unrevoked bearer token (or the `access_token` cookie; a cookie write also needs `X-Requested-With`), else 401; the handler reads `ctx.user()?` (`Claims`; `claims.user_id()`). The plugin needs no `auth` field for that.
- Headers: `ctx.header(\"Idempotency-Key\")`; the caller's id: `ctx.user()?.user_id()`.

### Responses
- `T` is any `#[model]`, `Vec<T>`, `Option<T>`, `serde_json::Value`, `Empty` or `()`, sent as `{\"success\":true,\"data\":T}` with the route's `.status(201)` (default 200). `ctx.set_status(..)`, `ctx.set_header(..)`, `ctx.set_cookie(..)` adjust one answer.
- Not JSON: return `HttpResult<Raw>`: `Raw::csv(text)`, `Raw::text(..)`, `Raw::html(..)`, `Raw::bytes(content_type, bytes)`, then `.attachment(\"x.csv\")` or `.header(name, value)`; sent as is, no envelope.
- Server-sent events: `self.http.sse(Route::get(\"/x\"), &self, Self::h)?` with `h` returning `HttpResult<impl Stream<Item = SseEvent>>`; build it with `stream::iter(..)`, `stream::unfold(..)` or `.map(..)` (all in the prelude).
- Errors: `HttpError::not_found(msg)` and its siblings (below), or `HttpError::new(status, msg)` for any 4xx/5xx. `?` on a tool error (`DbError`, `StateError`, `BusError`, `AuthError`) or any `std::error::Error` is a 500 whose detail goes to the log only; `anyhow::Error` needs `.map_err(HttpError::from_anyhow)?`. Branch first when the caller can fix it: `Err(e) if e.kind == DbErrorKind::UniqueViolation => Err(HttpError::conflict(..))`.

### Events
- Publish after the write commits: `self.event_bus.publish(ThingCreated { .. }).await?` (or `publish_with(e, PublishOptions::default().key(k).delay(d))`). A subscriber is `async fn on_x(self: Arc<Self>, event: Envelope<X>) -> HandlerResult` registered in `on_boot` with `subscribe` or `subscribe_with(.., SubOptions::default().retries(3).backoff(d))`; `event.id` is the idempotency key, `event.payload` (or `event.field` by deref) the data. By default a failed delivery is not retried: it is dead-lettered (`retries(n)` adds attempts).
- Request/reply between domains: the requester calls `self.event_bus.request::<_, Reply>(Ask { .. }, Duration::from_secs(2)).await`; the responder is a subscriber returning `HandlerResult<Reply>`, or refusing with `bail_reply!(\"not_found\", \"no item {}\", id)` / `Err(ReplyError::new(code, msg).into())`. The requester gets `Err(BusError::Replied { code, .. })` at once: `Err(e) if e.reply_code() == Some(\"not_found\") => Err(HttpError::not_found(..))`. A request is never retried or dead-lettered; no answer in time is `BusError::Timeout`.

### Models and validation
- `#[model]` derives serde, JSON Schema and validation; fields of a request model usually `pub`. Rules for `#[validate(...)]`: RULES. A field whose type is a `#[model]` (also `Vec<M>`, `Option<M>`) is validated with its parent. An enum can be a `#[model]` (`#[serde(rename_all = \"snake_case\")]` for `\"open\"`).
- `#[event(\"noun.verb_past\")]` on a struct declares an event payload; each side declares its own copy.
";

/// The facts with the validation rules filled in.
pub fn facts() -> String {
    FACTS.replace("RULES", &validation_rules())
}

/// The `#[validate(...)]` rules `#[model]` accepts, as the macro itself lists them.
fn validation_rules() -> String {
    microcore_codegen::model::rules::FIELD_RULES
        .iter()
        .map(|(rule, what)| format!("`{rule}`: {what}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The migrations section's text around the app's own example.
pub const MIGRATIONS: &str = "\
### Migrations
- `domains/<d>/migrations/NNN_name.sql`, numbered per domain (`001_`, `002_`, …); each file runs once, in one transaction with its history record, at boot (`DB_AUTO_MIGRATE`, default on) and in `testing::boot`. Several statements per file are fine. Never edit an applied file (boot fails naming it): add the next number.
- SQL is not translated. Write what SQLite and PostgreSQL both accept (`TEXT`, `INTEGER`/`BIGINT`, `REAL`, `BOOLEAN`, `CURRENT_TIMESTAMP`, `$1` placeholders, `RETURNING`, `ON CONFLICT … DO UPDATE`); where they differ (auto-numbered keys) add a twin `NNN_name.postgres.sql`, used instead on PostgreSQL. A first-line comment `-- depends: otherdomain/001_x.sql` orders files across domains.
- An id that must never be reused on SQLite: `INTEGER PRIMARY KEY AUTOINCREMENT`. A column declared `BOOLEAN` reads back as `bool` on both engines; a computed truth value (`count(*) > 0`) is 0/1 on SQLite: read it as `i64`. Rows decode into a struct by column name (`SELECT id, name`), or into `serde_json::Value`.

The app's own example:
";

/// The template's heading.
pub const TEMPLATE_HEADING: &str = "\
Template (`cargo xtask new plugin things/create_thing --route \"POST /things\" --publish thing.created --subscribe order.placed`):
";
