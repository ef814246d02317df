//! Semantic checks on a plugin struct, each with the fix in its message.

use syn::ext::IdentExt;

use crate::errors::Errors;

use super::ast::{PluginArgs, PluginInput};
use super::known;

pub(crate) fn check(args: &PluginArgs, input: &PluginInput) -> syn::Result<()> {
    let mut errors = Errors::default();
    let default_tools: syn::Path = syn::parse_quote!(crate::Tools);
    let declared = if args.tools == default_tools {
        known::declared_tools()
    } else {
        None
    };
    let generics = &input.item.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        errors.at(
            generics,
            "a plugin cannot be generic: the kernel builds exactly one of each plugin; \
             remove the generic parameters and name concrete tool types",
        );
    }
    for field in &input.fields {
        // `r#type` is the tool `type`.
        let name = field.ident.unraw().to_string();
        if let Some(tools) = &declared
            && !field.is_state
            && !name.starts_with('_')
            && !tools.contains(&name)
        {
            errors.at(&field.ident, known::unknown_tool_message(&name, tools));
        }
        if !field.is_state && name.starts_with('_') {
            errors.at(
                &field.ident,
                format!(
                    "`{}` is not a tool name: a plugin field is named after the tool it receives \
                     (`db`, `http`, ...); mark plugin-owned state with `#[state]`",
                    field.ident
                ),
            );
        }
    }
    errors.finish()
}
