//! Paths generated code uses: everything lives under the facade's hidden
//! `__private` module so users depend on `microcore` alone.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn private() -> TokenStream {
    quote!(::microcore::__private)
}

/// The first paragraph of an item's doc comment, on one line: a sentence
/// wrapped over two `///` lines is still one sentence.
pub(crate) fn first_doc_line(attrs: &[syn::Attribute]) -> String {
    let mut words: Vec<String> = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        let syn::Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) = &nv.value
        else {
            continue;
        };
        let value = s.value();
        if value.trim().is_empty() && !words.is_empty() {
            return words.join(" ");
        }
        for line in value.lines() {
            let line = line.trim();
            if line.is_empty() {
                if !words.is_empty() {
                    return words.join(" ");
                }
                continue;
            }
            words.push(line.to_owned());
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::first_doc_line;

    fn attrs(item: &str) -> Vec<syn::Attribute> {
        syn::parse_str::<syn::ItemStruct>(item).unwrap().attrs
    }

    #[test]
    fn the_first_paragraph_is_one_line() {
        let a = attrs(
            "/// Unique id of this event,\n/// the same on every delivery.\n///\n/// Detail.\nstruct S;",
        );
        assert_eq!(
            first_doc_line(&a),
            "Unique id of this event, the same on every delivery."
        );
        assert_eq!(
            first_doc_line(&attrs("///\n/// After a blank.\nstruct S;")),
            "After a blank."
        );
        assert_eq!(first_doc_line(&attrs("struct S;")), "");
    }
}
