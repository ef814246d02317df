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
- An event that announces a write commits with it: `db.try_transaction(|tx| async move { …; tx.publish(E { .. }).await?; Ok(..) })`, never `event_bus.publish` after the write (a crash or shutdown in between loses it).
- Start from `cargo xtask new plugin` (template below); then run `cargo xtask context` and `cargo xtask check`.

Template (`cargo xtask new plugin things/create_thing --route \"POST /things\" --publish thing.created --subscribe order.placed`):
";
