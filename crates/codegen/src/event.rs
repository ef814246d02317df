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
///
/// A refusal says what is wrong with this name (which segment, which
/// character) before restating the grammar.
pub fn check_name(name: &str) -> Result<(), String> {
    match problem(name) {
        None => Ok(()),
        Some(problem) => Err(format!(
            "`{name}` is not an event name: {problem}; events are facts named `noun.verb_past` \
             in lowercase (letters, digits, `_`), with at least one dot, e.g. `user.created` or \
             `order.payment_failed`"
        )),
    }
}

/// The first thing wrong with `name`, or `None` for a well-formed name.
fn problem(name: &str) -> Option<String> {
    if !name.contains('.') {
        return Some(match name.chars().find(|c| !allowed(*c)) {
            Some(c) => format!("it has no dot, and {c:?} is not a lowercase letter, digit or `_`"),
            None => "it has no dot".to_owned(),
        });
    }
    for segment in name.split('.') {
        let Some(first) = segment.chars().next() else {
            return Some("it has an empty segment (a leading, trailing or doubled dot)".to_owned());
        };
        if let Some(c) = segment.chars().find(|c| !allowed(*c)) {
            return Some(format!(
                "segment `{segment}` has {c:?}, which is not a lowercase letter, digit or `_`"
            ));
        }
        if !first.is_ascii_lowercase() {
            return Some(format!(
                "segment `{segment}` starts with {first:?}; a segment starts with a lowercase letter"
            ));
        }
    }
    None
}

fn allowed(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
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

/// Properties of the name check: it accepts exactly the documented grammar
/// and a refusal names what is wrong.
#[cfg(test)]
mod properties {
    use super::check_name;

    use proptest::prelude::*;

    /// A name from the grammar: two or more `[a-z][a-z0-9_]*` segments.
    fn valid_name() -> impl Strategy<Value = String> {
        proptest::collection::vec("[a-z][a-z0-9_]{0,8}", 2..5).prop_map(|s| s.join("."))
    }

    /// The documented grammar, written independently of the checker.
    fn in_grammar(name: &str) -> bool {
        let segments: Vec<&str> = name.split('.').collect();
        segments.len() >= 2
            && segments.iter().all(|s| {
                let b = s.as_bytes();
                !b.is_empty()
                    && b[0].is_ascii_lowercase()
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_name_from_the_grammar_passes(name in valid_name()) {
            prop_assert!(check_name(&name).is_ok(), "{}", name);
        }

        #[test]
        fn any_text_is_judged_by_the_grammar_without_panicking(
            name in prop_oneof![any::<String>(), "[a-zA-Z0-9_. -]{0,12}"]
        ) {
            prop_assert_eq!(check_name(&name).is_ok(), in_grammar(&name), "{}", name);
        }

        #[test]
        fn a_bad_character_is_named(
            name in valid_name(),
            at in any::<prop::sample::Index>(),
            c in any::<char>().prop_filter("outside the grammar", |c| {
                !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.')
            }),
        ) {
            let chars: Vec<char> = name.chars().collect();
            let i = at.index(chars.len());
            let bad: String = chars[..i].iter().chain(std::iter::once(&c)).chain(&chars[i + 1..]).collect();
            let e = check_name(&bad).unwrap_err();
            let named = format!("{c:?}");
            prop_assert!(e.contains(&named), "{} -> {}", bad, e);
            prop_assert!(e.contains(&format!("`{bad}`")), "{}", e);
        }

        #[test]
        fn a_leading_digit_or_underscore_is_named(
            name in valid_name(),
            lead in prop_oneof![Just('_'), proptest::char::range('0', '9')],
        ) {
            let bad = format!("{lead}{name}");
            let e = check_name(&bad).unwrap_err();
            prop_assert!(e.contains("starts with"), "{}", e);
        }

        #[test]
        fn an_empty_segment_or_a_missing_dot_is_named(
            name in valid_name(),
            how in 0..4usize,
        ) {
            let (bad, says) = match how {
                0 => (format!(".{name}"), "empty segment"),
                1 => (format!("{name}."), "empty segment"),
                2 => (name.replacen('.', "..", 1), "empty segment"),
                _ => (name.replace('.', ""), "no dot"),
            };
            let e = check_name(&bad).unwrap_err();
            prop_assert!(e.contains(says), "{} -> {}", bad, e);
        }
    }
}
