//! `#[event("noun.verb_past")]`: a fact a plugin publishes or consumes.
//!
//! Publisher and subscriber live in different domains and cannot share a Rust
//! type, so each declares its own struct under the same name; the registered
//! JSON Schemas let `cargo xtask check` compare what they agree on.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;
use crate::paths::private;

/// Checks an event name: dot-separated lowercase segments, at least two, e.g. `user.created`.
pub fn check_name(name: &str) -> Result<(), String> {
    let segments: Vec<&str> = name.split('.').collect();
    let well_formed = segments.len() >= 2
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        });
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not an event name: events are facts named `noun.verb_past` in lowercase \
             (letters, digits, `_`), with at least one dot, e.g. `user.created` or `order.payment_failed`"
        ))
    }
}

/// Expands `#[event("name")] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let name: syn::LitStr = match syn::parse2(args.clone()) {
        Ok(n) => n,
        Err(_) => {
            let e = syn::Error::new_spanned(
                args,
                "#[event] needs the event's name as a string: `#[event(\"user.created\")]`",
            );
            return crate::errors::with_item(item, e);
        }
    };
    if let Err(msg) = check_name(&name.value()) {
        return crate::errors::with_item(item, syn::Error::new_spanned(&name, msg));
    }
    let input = match syn::parse2::<syn::DeriveInput>(item.clone()) {
        Ok(i) if i.generics.params.is_empty() && !matches!(i.data, syn::Data::Union(_)) => i,
        _ => {
            let e = syn::Error::new_spanned(
                &item,
                "#[event] goes on a non-generic struct or enum holding the payload, \
                 e.g. `#[event(\"user.created\")] pub struct UserCreated { pub id: i64 }`",
            );
            return crate::errors::with_item(item, e);
        }
    };
    let p = private();
    let ident = input.ident.clone();
    let doc = crate::paths::first_doc_line(&input.attrs);
    let mut errors = Errors::default();
    let mut input = input;
    crate::model::own_derives(&mut input.attrs, "#[event]", &mut errors);
    let data_type = crate::model::data_type(input, &mut errors);
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    quote! {
        #data_type
        #errors

        impl #p::Event for #ident {
            const NAME: &'static str = #name;
        }

        impl #p::EventName for #ident {
            const NAME: &'static str = #name;
        }

        const _: () = {
            #[#p::linkme::distributed_slice(#p::EVENTS)]
            #[linkme(crate = #p::linkme)]
            static __MICROCORE_EVENT: #p::EventDescriptor = #p::EventDescriptor {
                name: #name,
                type_name: ::core::stringify!(#ident),
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                doc: #doc,
                schema: #p::schema_of::<#ident>,
            };
        };
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn facts_are_lowercase_dotted_names() {
        assert!(check_name("user.created").is_ok());
        assert!(check_name("order.payment_failed").is_ok());
        for bad in [
            "user",
            "User.Created",
            "user..created",
            "user.created!",
            ".user",
            "_dlq.x",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
