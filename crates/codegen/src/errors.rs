//! Accumulates spanned errors so a macro reports every problem at once.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// A list of spanned compile errors.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds an error at `tokens`' span.
    pub fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Adds an error.
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `Ok` when nothing was reported.
    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// The user's item followed by the errors: one mistake, one error, and the
/// item still exists for everything else that names it.
pub(crate) fn with_item(item: TokenStream, error: syn::Error) -> TokenStream {
    let errors = error.into_compile_error();
    quote::quote!(#item #errors)
}
