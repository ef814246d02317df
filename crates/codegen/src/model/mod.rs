//! `#[model]`: a data type for requests, responses and shared domain types.
//!
//! It adds serde, JSON Schema and validation (through crates re-exported by
//! the facade, so a domain depends on `microcore` alone) and, for types in
//! `domains/<d>/models/`, registers the schema for AI_CONTEXT.md. A struct
//! with named fields takes `#[validate(...)]` rules (see [`rules`]) and
//! validates its model-typed fields too; an enum, tuple or unit struct is
//! serialized and described, with nothing to validate.

mod expand;
pub mod rules;
mod schema;

pub(crate) use expand::data_type;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;
use crate::paths::private;

/// Expands `#[model] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let e = syn::Error::new_spanned(args, "#[model] takes no arguments; write `#[model]`");
        return crate::errors::with_item(item, e);
    }
    let input = match syn::parse2::<syn::DeriveInput>(item.clone()) {
        Ok(i) if !matches!(i.data, syn::Data::Union(_)) => i,
        _ => {
            let e = syn::Error::new_spanned(
                &item,
                "#[model] goes on a struct or enum, e.g. `#[model] pub struct User { id: i64 }` \
                 or `#[model] pub enum Status { Open, Closed }`",
            );
            return crate::errors::with_item(item, e);
        }
    };
    let p = private();
    let name = input.ident.clone();
    let doc = crate::paths::first_doc_line(&input.attrs);
    let registration = if input.generics.params.is_empty() {
        quote! {
            const _: () = {
                #[#p::linkme::distributed_slice(#p::MODELS)]
                #[linkme(crate = #p::linkme)]
                static __MICROCORE_MODEL: #p::ModelDescriptor = #p::ModelDescriptor {
                    name: ::core::stringify!(#name),
                    module_path: ::core::module_path!(),
                    file: ::core::file!(),
                    doc: #doc,
                    schema: #p::schema_of::<#name>,
                };
            };
        }
    } else {
        quote!()
    };
    let mut errors = Errors::default();
    let mut input = input;
    own_derives(&mut input.attrs, "#[model]", &mut errors);
    let data_type = data_type(input, &mut errors);
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    quote! {
        #data_type
        #registration
        #errors
    }
}

/// The derives `#[model]` and `#[event]` add themselves.
const OWN_DERIVES: &[&str] = &["Serialize", "Deserialize", "JsonSchema", "Validate"];

/// Reports (and removes) a `#[derive]` of a trait the macro derives already,
/// which would otherwise be rustc's "conflicting implementations".
pub(crate) fn own_derives(attrs: &mut Vec<syn::Attribute>, by: &str, errors: &mut Errors) {
    use syn::punctuated::Punctuated;
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) =
            attr.parse_args_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        else {
            continue;
        };
        let mut kept: Punctuated<syn::Path, syn::Token![,]> = Punctuated::new();
        for path in paths {
            let last = path.segments.last().map(|s| s.ident.to_string());
            match last {
                Some(name) if OWN_DERIVES.contains(&name.as_str()) => errors.at(
                    &path,
                    format!(
                        "{by} already derives `{name}` (and {}); remove `{name}` from this `#[derive]`",
                        OWN_DERIVES
                            .iter()
                            .filter(|d| **d != name)
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                _ => kept.push(path),
            }
        }
        attr.meta = syn::parse_quote!(derive(#kept));
    }
    attrs.retain(|a| {
        !matches!(&a.meta, syn::Meta::List(l) if l.path.is_ident("derive") && l.tokens.is_empty())
    });
}
