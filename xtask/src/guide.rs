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
- SQL takes `$1, $2` placeholders with `params![…]`; never format values into SQL. Branch on error kinds, never on message text.
- Tell the caller only what it can fix (`HttpError::conflict(..)`); anything else is a logged 500.
- Events are facts named `noun.verb_past`; publisher and subscriber each declare their own `#[event]` struct; subscribers are idempotent on `event.id`. An event that announces a write is published in the write's transaction (`tx.publish`).
- Start from `cargo xtask new plugin` (template below), then `cargo xtask context` and `check`.
";

/// Facts about files, requests, responses, errors and tests that the
/// signatures below do not show. Each is pinned by a test of the behaviour it
/// states; the compiled template and the task suite's reference solutions
/// (`tests/tasks/*/solution/`) use every one of them.
pub const FACTS: &str = "\
### Files
- The build finds every `domains/<d>/plugins/*.rs` (a new domain too): no `mod` line, no list to edit. One plugin may register several routes.
- `domains/<d>/models/<name>.rs`: `#[model]` types shared inside one domain; any file's types are `use super::models::{User};`, never from another domain.
- Plugin fields are tools, or plugin-owned state marked `#[state]` and built with `Default` (`#[state] seen: std::sync::Mutex<Vec<String>>`). `tokio` is a dependency (`tokio::time::sleep`); other crates (regex, chrono) are not.
- Tests live in the plugin file (template below). `testing::boot::<P>().await` is a `testing::TestApp<crate::Tools>` with every migration applied; several plugins or settings: `testing::TestApp::<crate::Tools>::builder().plugin::<A>().env(\"K\", \"v\").boot().await`. A token for user 7: `app.auth().create_token(7, json!({}), None).unwrap()`. `tx.publish` events reach `app.published(..)` after `app.flush_outbox().await`.

### Requests
- Handler: `async fn h(self: Arc<Self>, req: R, ctx: Ctx) -> HttpResult<T>`, `R` a `#[model]` struct or `()`. Handler futures are `Send` (no `Rc` or `std` lock guard across `.await`).
- `R` is filled by field name from path parameters (`/items/{id}` → `id`), then the query (GET, DELETE) or the `application/json` body (POST, PUT, PATCH; another content type is 415). Path parameters win (a conflicting key is 400); a scalar query key given twice is 400. Path and query text is converted to the field's type.
- Malformed JSON is 400. A missing field, a wrong type or a failed `#[validate]` rule is 422 before the handler runs: `{\"success\":false,\"error\":\"…\",\"details\":[{\"field\":\"items[2].name\",\"message\":\"…\"}]}`. `Option<T>` fields may be absent (rules apply when present);
- `Route::post(\"/x\").auth()` admits only a valid, unrevoked bearer token (or `access_token` cookie), else 401 before validation; no `auth` field needed. The handler reads `ctx.user()?.user_id()`. `ctx.header(\"idempotency-key\")` ignores case.

### Responses
- `T`: a `#[model]` (also Deserialize: one type serves as row, reply and response), `Vec<T>`, `Option<T>`, `serde_json::Value` or `()`, sent as `{\"success\":true,\"data\":T}` with the route's `.status(201)` (default 200); `None` is `null`.
- Not JSON: return `HttpResult<Raw>` (`Raw::csv(text).attachment(\"x.csv\")`), sent as is. Server-sent events: `self.http.sse(route, &self, Self::h)?`, `h` returning `HttpResult<impl Stream<Item = SseEvent> + use<>>` built with `stream::iter`, `stream::unfold` or `.map`.
- Cookies: `ctx.set_cookie(Cookie::new(name, value).max_age(d))` (HttpOnly, Secure, Lax), `ctx.remove_cookie(name)`. WebSocket: `self.http.websocket(Route::get(\"/ws/{room}\"), &self, Self::h)?`, `async fn h(self: Arc<Self>, mut ws: WsConnection) -> HttpResult<()>` looping on `ws.recv_text().await` (None when closed), `recv_json::<T>()`, `send_text(..)`, `send_json(&v)`, `path_param(\"room\")`, `user()?`.
- Errors: `HttpError::not_found(msg)` and siblings, or `HttpError::new(status, msg)`. `?` (or `e.into()`) on a tool error or any `std::error::Error` is a logged 500 with a generic message; `anyhow::Error` needs `.map_err(HttpError::from_anyhow)?`. Branch where the caller can act: `Err(e) if e.kind == DbErrorKind::UniqueViolation => Err(HttpError::conflict(..))`.

### Data
- `params![a, b]` (or `params![]`) takes integers (`usize` too), floats, bools, `String`/`&str`, `Option`s of them, `serde_json::Value` and bytes, owned or borrowed. Rows decode into any `#[model]` by column name; `query_one` on `… RETURNING` is `Ok(None)` when no row matched.
- `self.db.transaction(|tx| { let v = v.clone(); async move { tx.execute(..).await?; Ok(v) } }).await?` commits on `Ok`, rolls back on `Err`; read-then-write inside is safe. The closure may run again (PostgreSQL conflict): clone what it moves. `try_transaction` returns your own error enum (`E: From<DbError>`), e.g. a 409 from inside.

### Events
- Publish inside the write's transaction: `tx.publish(ThingCreated { .. }).await?` (sent once, after commit). Otherwise `self.event_bus.publish(e).await?`, or `publish_with(e, PublishOptions::default().key(k).delay(d))`. Subscriber: `async fn on_x(self: Arc<Self>, event: Envelope<X>) -> HandlerResult`, registered in `on_boot` with `subscribe` or `subscribe_with(.., SubOptions::default().retries(3).backoff(d))`; `event.id` is the idempotency key, `event.payload` (or `event.field`) the data. A failed delivery is dead-lettered, retried first only with `retries(n)`.
- Request/reply: `self.event_bus.request::<_, Reply>(Ask { .. }, Duration::from_secs(2)).await`; the responder is a subscriber returning `HandlerResult<Reply>`, or refusing with `bail_reply!(\"not_found\", \"no item {}\", id)`: the requester gets `Err(e)` at once with `e.reply_code() == Some(\"not_found\")`; silence is `BusError::Timeout { .. }`. Requests are never retried or dead-lettered.

### Models and validation
- `#[model]` derives serde, JSON Schema and validation (make request fields `pub`). A model-typed field (`M`, `Vec<M>`, `Option<M>`) is validated with its parent; an enum can be a model (`#[serde(rename_all = \"snake_case\")]`). `#[event(\"noun.verb_past\")]` declares an event payload; each side declares its own copy.
- Rules share one attribute: `#[validate(length(min = 1, max = 64), custom(function = check_slug))]`, `fn check_slug(v: &String) -> Result<(), ValidationError>` returning `Err(ValidationError::new(\"slug\"))`. The rules: RULES (`regex` needs a crate the app lacks).
";

/// The facts with the validation rules filled in.
pub fn facts() -> String {
    FACTS.replace("RULES", &validation_rules())
}

/// The `#[validate(...)]` rules `#[model]` accepts, as the macro itself lists
/// them: their syntax says what they check, so only the syntax is shown.
fn validation_rules() -> String {
    microcore_codegen::model::rules::FIELD_RULES
        .iter()
        .map(|(rule, _)| format!("`{rule}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The migrations section's text around the app's own example.
pub const MIGRATIONS: &str = "\
### Migrations
- `domains/<d>/migrations/NNN_name.sql` (several statements allowed), numbered per domain, run once each in name order at boot and in `testing::boot`. Never edit an applied file (boot fails): add the next number. A first line `-- depends: d/001_x.sql` orders across domains.
- SQL is not translated: write what SQLite and PostgreSQL share (`TEXT`, `BIGINT`, `REAL`, `BOOLEAN`, `$1`, `RETURNING`, `ON CONFLICT … DO UPDATE`, `CURRENT_TIMESTAMP`); a twin `NNN_name.postgres.sql` replaces a file on PostgreSQL (auto-numbered keys). Ids never reused on SQLite: `INTEGER PRIMARY KEY AUTOINCREMENT`.
- A `BOOLEAN` column reads as `bool`; a computed truth (`count(*) > 0`) is 0/1 on SQLite: read `i64`.

The app's own:
";

/// The template's heading.
pub const TEMPLATE_HEADING: &str = "\
Template (`cargo xtask new plugin things/create_thing …`):
";

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `fn`, method or macro the guide's prose names in code, collected
    /// from `name(` and `name!(` inside backticks.
    fn called_names(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        for (i, span) in text.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            let chars: Vec<char> = span.chars().collect();
            for (at, c) in chars.iter().enumerate() {
                if *c != '(' {
                    continue;
                }
                let mut start = at;
                while start > 0 && (chars[start - 1].is_alphanumeric() || chars[start - 1] == '_') {
                    start -= 1;
                }
                let name: String = chars[start..at].iter().collect();
                let before: String = chars[..start].iter().collect();
                // `#[serde(..)]` is an attribute, `fn h(` the user's own function.
                let own = before.ends_with("#[") || before.ends_with("fn ");
                if !own && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                    names.push(name);
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    fn all_sources(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                all_sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }

    /// The guide is prose, so it is checked against the code: a renamed or
    /// removed method it still names fails here instead of in an agent's build.
    #[test]
    fn every_function_the_guide_names_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut code = String::new();
        all_sources(&root.join("crates"), &mut code);
        // Standard library and futures names the guide uses as they are.
        let std_names = [
            "from_secs",
            "map_err",
            "iter",
            "unfold",
            "map",
            "env",
            "json",
            "count",
            "into",
            "unwrap",
            "clone",
        ];
        let rules: Vec<String> = microcore_codegen::model::rules::FIELD_RULES
            .iter()
            .map(|(rule, _)| rule.split('(').next().unwrap_or(rule).to_owned())
            .collect();
        let text = format!("{GUIDE}{FACTS}{MIGRATIONS}");
        let missing: Vec<String> = called_names(&text)
            .into_iter()
            .filter(|n| !std_names.contains(&n.as_str()) && !rules.contains(n))
            .filter(|n| {
                !code.contains(&format!("fn {n}("))
                    && !code.contains(&format!("fn {n}<"))
                    && !code.contains(&format!("macro_rules! {n}"))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "the guide names functions the code does not have: {missing:?}"
        );
    }
}
