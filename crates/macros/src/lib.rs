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
#[proc_macro_attribute]
pub fn model(args: TokenStream, item: TokenStream) -> TokenStream {
    microcore_codegen::model::expand(args.into(), item.into()).into()
}

/// Marks a struct as the payload of the event named in the argument.
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
