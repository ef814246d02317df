//! `toolset!`: the one place an application lists its tools.
//!
//! MicroCore's standard tools are always included; extra entries add custom
//! tools (`toolset! { payments: crate::tools::Payments }`). The output is a
//! `Tools` struct with one field per tool, which is what `#[plugin]` fields
//! are checked against, so a tool name registered twice is a build error here
//! instead of Python's silent last-one-wins.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;

use crate::errors::Errors;
use crate::paths::private;

/// MicroCore's standard tools: injection name and handle type under the facade.
pub const STANDARD_TOOLS: &[(&str, &str)] = &[
    ("config", "Config"),
    ("logger", "Logger"),
    ("state", "State"),
    ("auth", "Auth"),
    ("db", "Db"),
    ("event_bus", "EventBus"),
    ("registry", "SystemRegistry"),
    ("scheduler", "Scheduler"),
    ("http", "Http"),
];

/// One `name: Type` entry.
pub struct ToolEntry {
    /// Injection name.
    pub name: syn::Ident,
    /// Handle type.
    pub ty: syn::Type,
}

impl Parse for ToolEntry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: syn::Ident = input.parse()?;
        input.parse::<syn::Token![:]>().map_err(|e| {
            syn::Error::new(e.span(), "write each custom tool as `name: HandleType`, e.g. `payments: crate::tools::Payments`")
        })?;
        Ok(Self {
            name,
            ty: input.parse()?,
        })
    }
}

struct Entries(Punctuated<ToolEntry, syn::Token![,]>);

impl Parse for Entries {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(Self(Punctuated::parse_terminated(input)?))
    }
}

/// Expands `toolset! { custom: Type, ... }`.
pub fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Entries>(input).and_then(|e| build(e.0.into_iter().collect())) {
        Ok(tokens) => tokens,
        Err(e) => e.into_compile_error(),
    }
}

fn build(custom: Vec<ToolEntry>) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut entries: Vec<ToolEntry> = STANDARD_TOOLS
        .iter()
        .map(|(name, ty)| {
            let ty: syn::Type = syn::parse_str(&format!("::microcore::{ty}"))?;
            Ok(ToolEntry {
                name: syn::Ident::new(name, Span::call_site()),
                ty,
            })
        })
        .collect::<syn::Result<_>>()?;
    for entry in custom {
        // Names compare without `r#`: `r#type` and `type` are the same tool.
        let name = entry.name.unraw().to_string();
        if let Some(first) = entries.iter().find(|e| e.name.unraw() == name) {
            let by = if STANDARD_TOOLS.iter().any(|(n, _)| first.name.unraw() == n) {
                "MicroCore's standard tools already include".to_owned()
            } else {
                "this list already registers".to_owned()
            };
            errors.at(
                &entry.name,
                format!(
                    "tool `{name}` is registered twice: {by} a tool named `{name}`; a tool name selects exactly one tool, \
                     so give this one another name (plugins name it as a field)",
                ),
            );
            continue;
        }
        entries.push(entry);
    }
    errors.finish()?;

    let p = private();
    let names: Vec<_> = entries.iter().map(|e| &e.name).collect();
    let name_strs: Vec<String> = names.iter().map(|n| n.unraw().to_string()).collect();
    let tys: Vec<_> = entries.iter().map(|e| &e.ty).collect();
    let checks = entries.iter().map(|e| {
        let (name, ty) = (e.name.unraw().to_string(), &e.ty);
        let msg = format!(
            "the tool listed as `{name}` has a different Tool::NAME; list it under its own name"
        );
        quote! { ::core::assert!(#p::str_eq(<#ty as #p::Tool>::NAME, #name), #msg); }
    });
    Ok(quote! {
        /// The application's tools, one field per tool name. `#[plugin]` fields
        /// are read from here by name.
        pub struct Tools {
            #(
                #[doc = ::core::concat!("The `", #name_strs, "` tool.")]
                pub #names: #p::Slot<#tys>,
            )*
        }

        const _: () = { #(#checks)* };

        impl #p::ToolSet for Tools {
            async fn setup(env: &#p::Env, registry: &#p::Registry, for_tests: bool) -> Self {
                let (#(#names,)*) = #p::futures::join!(
                    #(#p::Slot::<#tys>::setup(env, registry, for_tests),)*
                );
                Self { #(#names,)* }
            }
            fn slots(&self) -> ::std::vec::Vec<&dyn #p::DynTool> {
                ::std::vec![#(&self.#names as &dyn #p::DynTool,)*]
            }
            fn names() -> &'static [&'static str] {
                &[#(#name_strs,)*]
            }
        }
    })
}

/// The tool names a `toolset!` invocation in `source` declares: the standard
/// ones plus its entries. Read by the app's build script so `#[plugin]` can
/// name every available tool in its error (see [`crate::plugin`]).
pub fn declared_names(source: &str) -> syn::Result<Vec<String>> {
    let file = syn::parse_file(source)?;
    let mut names: Vec<String> = STANDARD_TOOLS
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    for item in file.items {
        if let syn::Item::Macro(m) = item
            && m.mac
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "toolset")
        {
            let entries: Entries = syn::parse2(m.mac.tokens)?;
            names.extend(entries.0.into_iter().map(|e| e.name.unraw().to_string()));
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::declared_names;

    #[test]
    fn the_build_script_sees_standard_and_custom_tool_names() {
        let names = declared_names("microcore::toolset! { payments: crate::Payments, }").unwrap();
        assert!(
            names.contains(&"payments".to_owned()) && names.contains(&"db".to_owned()),
            "{names:?}"
        );
        assert_eq!(names.len(), super::STANDARD_TOOLS.len() + 1);
    }

    #[test]
    fn raw_identifiers_are_tool_names_without_r_hash() {
        let names = declared_names("microcore::toolset! { r#type: crate::Kind }").unwrap();
        assert!(names.contains(&"type".to_owned()), "{names:?}");
    }
}
