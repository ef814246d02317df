//! Code generation shared by `#[model]` and `#[event]`: the serde, JSON
//! Schema and validator derives, and a `Validate` impl that also validates
//! every model-typed field (see `microcore::__private::nested`).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use super::{rules, schema};
use crate::errors::Errors;
use crate::paths::private;

/// The item with its derives and its `Validate` impl. Rule mistakes are added
/// to `errors`, and the offending attributes are dropped, so the rest of the
/// expansion stands and one mistake gives one error.
pub(crate) fn data_type(mut input: syn::DeriveInput, errors: &mut Errors) -> TokenStream {
    let p = private();
    let serde_and_schema = quote! {
        #[derive(#p::serde::Serialize, #p::serde::Deserialize, #p::schemars::JsonSchema)]
        #[serde(crate = "::microcore::__private::serde")]
        #[schemars(crate = "::microcore::__private::schemars")]
    };
    let validate = quote!(#p::validator::Validate);
    let errors_ty = quote!(#p::validator::ValidationErrors);
    let (imp, ty, whr) = input.generics.split_for_impl();
    let (imp, ty, whr) = (
        imp.to_token_stream(),
        ty.to_token_stream(),
        whr.to_token_stream(),
    );
    let name = input.ident.clone();

    let named = match &mut input.data {
        syn::Data::Struct(s) => match &mut s.fields {
            syn::Fields::Named(named) => Some(named),
            fields => {
                for f in fields.iter_mut() {
                    rules::forbid(&mut f.attrs, "a tuple or unit struct", errors);
                }
                None
            }
        },
        syn::Data::Enum(e) => {
            for v in &mut e.variants {
                rules::forbid(&mut v.attrs, "an enum", errors);
                for f in v.fields.iter_mut() {
                    rules::forbid(&mut f.attrs, "an enum", errors);
                }
            }
            None
        }
        syn::Data::Union(_) => None,
    };
    let Some(named) = named else {
        rules::forbid(&mut input.attrs, "this type", errors);
        return quote! {
            #serde_and_schema
            #input

            impl #imp #validate for #name #ty #whr {
                fn validate(&self) -> ::core::result::Result<(), #errors_ty> {
                    ::core::result::Result::Ok(())
                }
            }
        };
    };

    let mut nested = Vec::new();
    for field in named.named.iter_mut() {
        let field_rules = rules::field(field, errors);
        schema::state_rules(field);
        rules::own_email(field);
        if let Some(ident) = &field.ident
            && !field_rules.skip
        {
            // The key validator uses for the field's own rules.
            nested.push((ident.clone(), ident.to_string()));
        }
    }
    rules::container(&mut input.attrs, errors);
    schema::state_model_rules(&mut input.attrs);
    let checks = nested.iter().map(|(ident, key)| {
        quote! {
            if !errors.errors().contains_key(#key) {
                errors.merge_self(
                    #key,
                    (&&&#p::nested::Nested(&self.#ident)).__microcore_nested(),
                );
            }
        }
    });
    quote! {
        #serde_and_schema
        #[derive(#validate)]
        #[validate(crate = "::microcore::__private::validator", context = ::microcore::__private::nested::ModelContext)]
        #input

        impl #imp #validate for #name #ty #whr {
            fn validate(&self) -> ::core::result::Result<(), #errors_ty> {
                #[allow(unused_imports)]
                use #p::nested::{
                    OptionalValidatedField as _, PlainField as _, ValidatedField as _,
                };
                let mut errors = match #p::validator::ValidateArgs::validate_with_args(
                    self,
                    &#p::nested::ModelContext,
                ) {
                    ::core::result::Result::Ok(()) => #errors_ty::new(),
                    ::core::result::Result::Err(errors) => errors,
                };
                #(#checks)*
                if errors.is_empty() {
                    ::core::result::Result::Ok(())
                } else {
                    ::core::result::Result::Err(errors)
                }
            }
        }
    }
}
