//! A typed view of `#[plugin]`'s input.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::spanned::Spanned;

/// `#[plugin(tools = path::To::Tools)]`; the tool set defaults to `crate::Tools`.
pub struct PluginArgs {
    /// The tool set type the plugin is built from.
    pub tools: syn::Path,
}

impl PluginArgs {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Self> {
        let mut tools: syn::Path = syn::parse_quote!(crate::Tools);
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("tools") {
                tools = meta.value()?.parse()?;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown #[plugin] option; the only option is `tools = path::to::Tools` (usually none: write `#[plugin]`)",
                ))
            }
        });
        parser.parse2(args)?;
        Ok(Self { tools })
    }
}

/// One field of a plugin struct.
pub struct PluginField {
    /// The field name: the tool's injection name.
    pub ident: syn::Ident,
    /// The declared type: the tool's handle type, or `Option` of it.
    pub ty: syn::Type,
    /// `#[state]`: plugin-owned state initialised with `Default`, not a tool.
    pub is_state: bool,
    /// The field's `#[cfg(...)]` attributes, repeated on everything generated for it.
    pub cfg: Vec<syn::Attribute>,
}

/// The struct under `#[plugin]`.
pub struct PluginInput {
    /// The struct with helper attributes removed, re-emitted as is.
    pub item: syn::ItemStruct,
    /// Its named fields (empty for a unit struct).
    pub fields: Vec<PluginField>,
    /// The first line of its doc comment.
    pub doc: String,
}

impl PluginInput {
    pub(crate) fn parse(item: TokenStream) -> syn::Result<Self> {
        let parsed: syn::Item = syn::parse2(item)?;
        let mut item = match parsed {
            syn::Item::Struct(s) => s,
            other => {
                return Err(syn::Error::new(
                    item_span(&other),
                    "#[plugin] goes on a struct whose fields are the tools the feature needs, \
                     e.g. `#[plugin] pub struct CreateUser { http: Http, db: Db }`",
                ));
            }
        };
        let mut fields = Vec::new();
        match &mut item.fields {
            syn::Fields::Named(named) => {
                for field in named.named.iter_mut() {
                    let before = field.attrs.len();
                    field.attrs.retain(|a| !a.path().is_ident("state"));
                    let is_state = field.attrs.len() != before;
                    let Some(ident) = field.ident.clone() else {
                        continue;
                    };
                    let cfg = field
                        .attrs
                        .iter()
                        .filter(|a| a.path().is_ident("cfg"))
                        .cloned()
                        .collect();
                    fields.push(PluginField {
                        ident,
                        ty: field.ty.clone(),
                        is_state,
                        cfg,
                    });
                }
            }
            syn::Fields::Unit => {}
            syn::Fields::Unnamed(unnamed) => {
                return Err(syn::Error::new(
                    unnamed.span(),
                    "a plugin names its tools as fields: write `struct Name { db: Db, http: Http }` \
                     (each field name is a tool name) instead of a tuple struct",
                ));
            }
        }
        let doc = crate::paths::first_doc_line(&item.attrs);
        Ok(Self { item, fields, doc })
    }
}

/// The item as written minus `#[state]`, which only `#[plugin]` understands:
/// re-emitted next to an error, it must not add "cannot find attribute `state`".
pub(crate) fn without_state(item: TokenStream) -> TokenStream {
    match syn::parse2::<syn::ItemStruct>(item.clone()) {
        Ok(mut s) => {
            for field in s.fields.iter_mut() {
                field.attrs.retain(|a| !a.path().is_ident("state"));
            }
            quote::ToTokens::into_token_stream(s)
        }
        Err(_) => item,
    }
}

fn item_span(item: &syn::Item) -> proc_macro2::Span {
    match item {
        syn::Item::Enum(e) => e.enum_token.span,
        syn::Item::Fn(f) => f.sig.fn_token.span,
        syn::Item::Impl(i) => i.impl_token.span,
        syn::Item::Trait(t) => t.trait_token.span,
        syn::Item::Mod(m) => m.mod_token.span,
        other => other.span(),
    }
}
