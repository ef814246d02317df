//! Paths generated code uses: everything lives under the facade's hidden
//! `__private` module so users depend on `microcore` alone.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn private() -> TokenStream {
    quote!(::microcore::__private)
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
