//! MicroCore's procedural macros. Each entry point is one line over
//! `microcore-codegen`, where the parsing, validation and expansion live and
//! are unit tested. Use them through the `microcore` facade.

use proc_macro::TokenStream;

/// Marks a struct as a plugin; each field is named after the tool it receives.
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    microcore_codegen::plugin::expand(args.into(), item.into()).into()
}

/// Marks a data type as a model: serde, JSON Schema and validation in one line.
///
/// A struct with named fields takes validation rules on its fields; a request
/// model that fails them is answered `422` with
/// `{"success":false,"error":...,"details":[{"field":"items[2].name","message":...}]}`
/// before the handler runs. The rules (several may share one attribute,
/// `#[validate(length(min = 1, max = 500), nested)]`; each also takes
/// `message = "..."` and `code = "..."`):
///
/// - `email`: a string is an email address as the schema states it (`format: email` and a
///   pattern: `name@example.com`, no dot at either end of the name or two in a row, a host name)
/// - `url`: a string is a URL
/// - `length(min = 1, max = 100)`: characters of a string or items of a list (`equal = n` too)
/// - `range(min = 0, max = 100)`: a number is within bounds (`exclusive_min`, `exclusive_max` too)
/// - `contains(pattern = "x")` / `does_not_contain(pattern = "x")`: a string contains the text, or not
/// - `must_match(other = "field")`: the value equals another field's
/// - `regex(path = *RE)`: a string matches a `regex::Regex` static
/// - `custom(function = path::to::check)`: `fn check(&T) -> Result<(), ValidationError>` accepts it
/// - `required`: an `Option` field is present
/// - `ip`: a string is an IP address (`ip(v4)`, `ip(v6)`)
/// - `nested`: validate a model-typed field; the default, so it may be left out
/// - `skip`: do not validate this field, nested models included
///
/// On the struct itself: `#[validate(schema(function = path::to::check))]`,
/// `fn check(&Self) -> Result<(), ValidationError>`, reported under `__all__`
/// and run only when every field passed.
///
/// The rules are in the model's JSON Schema too, so `/openapi.json` refuses
/// what validation refuses: lengths, ranges (exclusive ones too), `email` and
/// `url` as a `format` plus a `pattern`, `ip(v4)`/`ip(v6)` as a `format`;
/// `custom`, `must_match`, `does_not_contain` and the struct's `schema` check
/// are stated in the description. A rule about the whole object ("at least
/// one of") goes in `#[schemars(extend("anyOf" = [...]))]` on the struct.
///
/// A field whose type is another model (`Item`, `Vec<Item>`, `Option<Item>`,
/// `Option<Vec<Item>>`) is validated with its parent and its errors are named
/// by path (`address.city`, `items[2].name`); strings, numbers, lists of
/// them, `serde_json::Value` and dates are not models. An enum
/// (`#[model] pub enum Status { Open, Closed }`, sent as `"Open"`; add
/// `#[serde(rename_all = "snake_case")]` for `"open"`), a tuple struct and a
/// unit struct are models too, with nothing to validate. A rule that does not
/// exist is a compile error naming the rule to write.
#[proc_macro_attribute]
pub fn model(args: TokenStream, item: TokenStream) -> TokenStream {
    microcore_codegen::model::expand(args.into(), item.into()).into()
}

/// Marks a struct (or enum) as the payload of the event named in the argument.
#[proc_macro_attribute]
pub fn event(args: TokenStream, item: TokenStream) -> TokenStream {
    microcore_codegen::event::expand(args.into(), item.into()).into()
}

/// Records a tool's public methods (signature and first doc line) for AI_CONTEXT.md.
#[proc_macro_attribute]
pub fn contract(args: TokenStream, item: TokenStream) -> TokenStream {
    microcore_codegen::contract::expand(args.into(), item.into()).into()
}

/// Declares the application's tools: the standard ones plus `name: Type` entries.
#[proc_macro]
pub fn toolset(input: TokenStream) -> TokenStream {
    microcore_codegen::toolset::expand(input.into()).into()
}
