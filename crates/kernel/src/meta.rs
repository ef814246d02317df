//! Link-time metadata the macros register for AI_CONTEXT.md and `xtask check`:
//! event payloads and domain models, with their JSON Schemas, and the tools'
//! contracts (every public method's signature, as `#[contract]` read it).

use linkme::distributed_slice;

/// An `#[event("name")]` struct.
#[derive(Debug)]
pub struct EventDescriptor {
    /// The event name (`user.created`).
    pub name: &'static str,
    /// The payload struct's name.
    pub type_name: &'static str,
    /// `module_path!()` of the struct.
    pub module_path: &'static str,
    /// `file!()` of the struct.
    pub file: &'static str,
    /// First doc line.
    pub doc: &'static str,
    /// The payload's JSON Schema.
    pub schema: fn() -> serde_json::Value,
}

/// A `#[model]` type.
#[derive(Debug)]
pub struct ModelDescriptor {
    /// The type's name.
    pub name: &'static str,
    /// `module_path!()` of the type.
    pub module_path: &'static str,
    /// `file!()` of the type.
    pub file: &'static str,
    /// First doc line.
    pub doc: &'static str,
    /// The type's JSON Schema.
    pub schema: fn() -> serde_json::Value,
}

/// Every `#[event]` linked into the binary.
#[distributed_slice]
pub static EVENTS: [EventDescriptor];

/// Every `#[model]` linked into the binary.
#[distributed_slice]
pub static MODELS: [ModelDescriptor];

/// One `#[contract]` impl block: the public methods of a tool's handle (or of
/// a type plugins receive from it, like `Ctx`), as written in the source, so
/// AI_CONTEXT.md shows agents the exact signatures instead of a paraphrase.
#[derive(Debug)]
pub struct ToolContract {
    /// The tool's injection name (`db`).
    pub tool: &'static str,
    /// The type whose impl block this is (`Db`, `Ctx`).
    pub type_name: &'static str,
    /// `file!()` of the impl block.
    pub file: &'static str,
    /// `line!()` of the impl block, to order several blocks of one type.
    pub line: u32,
    /// Its public methods, in source order.
    pub methods: &'static [ContractMethod],
    /// The backends and how each is selected, e.g. `sqlite (default) | postgres (DATABASE_URL=postgres://…)`.
    pub backends: &'static str,
    /// The settings the tool reads, e.g. `DATABASE_URL, DB_AUTO_MIGRATE`.
    pub env: &'static str,
    /// What its errors are and how to branch on them, e.g. `DbError; branch on e.kind`.
    pub errors: &'static str,
}

/// One public method of a [`ToolContract`].
#[derive(Debug)]
pub struct ContractMethod {
    /// The method's name.
    pub name: &'static str,
    /// The full signature without `pub`, on one line (`async fn get(&self, key: &str) -> Option<String>`).
    pub signature: &'static str,
    /// First doc line.
    pub doc: &'static str,
}

/// Every `#[contract]` impl block linked into the binary.
#[distributed_slice]
pub static TOOL_CONTRACTS: [ToolContract];

/// Const string equality, for compile-time checks in generated code.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
