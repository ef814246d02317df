//! `#[model]`: a data type for requests, responses and shared domain types.
//!
//! It adds serde, JSON Schema and validator derives (re-exported through the
//! facade, so a domain depends on `microcore` alone) and, for types in
//! `domains/<d>/models/`, registers the schema for AI_CONTEXT.md.

use proc_macro2::TokenStream;
use quote::quote;

use crate::paths::{model_derives, private};

/// Expands `#[model] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let e = syn::Error::new_spanned(args, "#[model] takes no arguments; write `#[model]`");
        return crate::errors::with_item(item, e);
    }
    let parsed: syn::Result<syn::DeriveInput> = syn::parse2(item.clone());
    let input = match parsed {
        Ok(i) => i,
        Err(_) => {
            let e = syn::Error::new_spanned(
                &item,
                "#[model] goes on a struct or enum, e.g. `#[model] pub struct User { id: i64 }`",
            );
            return crate::errors::with_item(item, e);
        }
    };
    let derives = model_derives();
    let p = private();
    let name = &input.ident;
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
    quote! {
        #derives
        #input
        #registration
    }
}
