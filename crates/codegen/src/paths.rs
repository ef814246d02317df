//! Paths generated code uses: everything lives under the facade's hidden
//! `__private` module so users depend on `microcore` alone.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn private() -> TokenStream {
    quote!(::microcore::__private)
}

/// The derives and crate attributes that make a type a serde + JSON Schema +
/// validator model without the user depending on those crates.
pub(crate) fn model_derives() -> TokenStream {
    let p = private();
    quote! {
        #[derive(#p::serde::Serialize, #p::serde::Deserialize, #p::schemars::JsonSchema, #p::validator::Validate)]
        #[serde(crate = "::microcore::__private::serde")]
        #[schemars(crate = "::microcore::__private::schemars")]
        #[validate(crate = "::microcore::__private::validator")]
    }
}

/// The first line of an item's doc comment.
pub(crate) fn first_doc_line(attrs: &[syn::Attribute]) -> String {
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            let line = s.value().trim().to_owned();
            if !line.is_empty() {
                return line;
            }
        }
    }
    String::new()
}
