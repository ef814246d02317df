//! The `#[validate(...)]` rules a model accepts, checked before the validator
//! derive sees them so a wrong guess is one error that names the fix.

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;

use crate::errors::Errors;
use crate::paths::private;

/// Every rule a named field of a `#[model]` struct accepts, with what it checks.
/// The same list is in the `model` macro's documentation.
pub const FIELD_RULES: &[(&str, &str)] = &[
    (
        "email",
        "a string is an email address (`name@example.com`, as the schema states it)",
    ),
    ("url", "a string is a URL"),
    (
        "length(min = 1, max = 100)",
        "characters of a string or items of a list (`equal = n` too)",
    ),
    (
        "range(min = 0, max = 100)",
        "a number is within bounds (`exclusive_min`, `exclusive_max` too)",
    ),
    ("contains(pattern = \"x\")", "a string contains the text"),
    (
        "does_not_contain(pattern = \"x\")",
        "a string does not contain the text",
    ),
    (
        "must_match(other = \"field\")",
        "the value equals another field's",
    ),
    (
        "regex(path = *RE)",
        "a string matches a `regex::Regex` static",
    ),
    (
        "custom(function = path::to::check)",
        "`fn check(&T) -> Result<(), ValidationError>` accepts it",
    ),
    ("required", "an `Option` field is present"),
    ("ip", "a string is an IP address (`ip(v4)`, `ip(v6)`)"),
    (
        "nested",
        "validate a model-typed field (the default; optional)",
    ),
    ("skip", "do not validate this field, nested models included"),
];

/// Rules validator knows but MicroCore does not enable.
const DISABLED: &[&str] = &["credit_card", "non_control_character"];

/// What a field's `#[validate(...)]` attributes asked for.
#[derive(Default)]
pub(crate) struct FieldRules {
    /// `#[validate(skip)]`: no validation at all, not even nested.
    pub skip: bool,
}

/// Checks and cleans a named field's `#[validate]` attributes: `nested` is
/// removed (nested validation is `#[model]`'s default), an unknown rule is an
/// error listing the rules, and an attribute left empty is dropped.
pub(crate) fn field(field: &mut syn::Field, errors: &mut Errors) -> FieldRules {
    let mut rules = FieldRules::default();
    let mut kept = Vec::new();
    for attr in std::mem::take(&mut field.attrs) {
        if !attr.path().is_ident("validate") {
            kept.push(attr);
            continue;
        }
        let list = match &attr.meta {
            syn::Meta::List(list) => {
                list.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
            }
            _ => Ok(Punctuated::new()),
        };
        let list = match list {
            Ok(list) => list,
            Err(_) => {
                // Let the validator derive report its own syntax errors.
                kept.push(attr);
                continue;
            }
        };
        if list.is_empty() {
            errors.at(
                &attr,
                format!(
                    "`#[validate]` needs at least one rule, e.g. `#[validate(length(min = 1))]`; the rules are: {}",
                    rule_names()
                ),
            );
            continue;
        }
        let mut remaining: Punctuated<syn::Meta, syn::Token![,]> = Punctuated::new();
        for rule in list {
            let name = rule
                .path()
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let problem = match name.as_str() {
                "nested" if is_number(&field.ty) || is_text(&field.ty) => Some(
                    "`nested` validates a field whose type is a model (or a `Vec` or `Option` \
                     of one); a string or number is not a model, so remove `nested`"
                        .to_owned(),
                ),
                "nested" => continue,
                "skip" => {
                    rules.skip = true;
                    None
                }
                "length" if is_number(&field.ty) => Some(
                    "`length` counts the characters of a string or the items of a list; \
                     bound a number with `range(min = .., max = ..)`"
                        .to_owned(),
                ),
                "range" if is_text(&field.ty) => Some(
                    "`range` bounds a number; bound a string's length with \
                     `length(min = .., max = ..)`"
                        .to_owned(),
                ),
                "required" if !is_option(&field.ty) => Some(
                    "`required` checks that an `Option` field is present; a field that is not an \
                     `Option` is always required, so remove `required`"
                        .to_owned(),
                ),
                n if FIELD_RULES.iter().any(|(r, _)| rule_name(r) == n) => None,
                n if DISABLED.contains(&n) => Some(format!(
                    "`{n}` is not enabled in MicroCore; check the value with \
                     `custom(function = path::to::check)` instead"
                )),
                n => Some(unknown_rule(n)),
            };
            // A reported rule is dropped so the derive does not report it again.
            match problem {
                Some(message) => errors.at(rule.path(), message),
                None => remaining.push(rule),
            }
        }
        if !remaining.is_empty() {
            let mut attr = attr;
            attr.meta = syn::parse_quote!(validate(#remaining));
            kept.push(attr);
        }
    }
    field.attrs = kept;
    rules
}

/// Replaces `email` in the field's `#[validate(...)]` attributes with
/// `custom(function = microcore's email check)`, keeping its `message` and
/// `code`: validator's own `email` accepts addresses the schema's `format:
/// email` and pattern refuse (`a.@example.com`), and a value must not be
/// valid for the server and invalid for its own schema. Call after
/// [`super::schema::state_rules`], which states the rule from `email`.
pub(crate) fn own_email(field: &mut syn::Field) {
    let p = private();
    for attr in &mut field.attrs {
        if !attr.path().is_ident("validate") {
            continue;
        }
        let Ok(list) =
            attr.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
        else {
            continue;
        };
        if !list.iter().any(|rule| rule.path().is_ident("email")) {
            continue;
        }
        let rules = list.into_iter().map(|rule| {
            if !rule.path().is_ident("email") {
                return rule;
            }
            let args = match &rule {
                syn::Meta::List(l) => l.tokens.clone(),
                _ => TokenStream::new(),
            };
            if args.is_empty() {
                syn::parse_quote!(custom(function = #p::email::check))
            } else {
                syn::parse_quote!(custom(function = #p::email::check, #args))
            }
        });
        let rules: Punctuated<syn::Meta, syn::Token![,]> = rules.collect();
        attr.meta = syn::parse_quote!(validate(#rules));
    }
}

/// Checks and cleans the struct's own `#[validate(...)]` attributes: only
/// `schema(function = ...)` belongs there.
pub(crate) fn container(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) {
    let mut kept = Vec::new();
    for attr in std::mem::take(attrs) {
        if !attr.path().is_ident("validate") {
            kept.push(attr);
            continue;
        }
        let Ok(list) =
            attr.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
        else {
            kept.push(attr);
            continue;
        };
        let mut remaining: Punctuated<syn::Meta, syn::Token![,]> = Punctuated::new();
        for item in list {
            let name = item
                .path()
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match name.as_str() {
                "schema" => remaining.push(item),
                // Nesting every model-typed field is already the default.
                "nest_all_fields" => {}
                "crate" | "context" | "mutable" => errors.at(
                    item.path(),
                    format!("#[model] sets the validator's `{name}` itself; remove `{name}`"),
                ),
                _ => errors.at(
                    item.path(),
                    format!(
                        "`{name}` is not a rule for a whole model: the only one is \
                         `#[validate(schema(function = path::to::check))]`; rules for one field \
                         go on that field: {}",
                        rule_names()
                    ),
                ),
            }
        }
        if !remaining.is_empty() {
            let mut attr = attr;
            attr.meta = syn::parse_quote!(validate(#remaining));
            kept.push(attr);
        }
    }
    *attrs = kept;
}

/// Reports (and removes) `#[validate]` attributes where no rule can apply:
/// on an enum's variants and fields or a tuple struct's fields.
pub(crate) fn forbid(attrs: &mut Vec<syn::Attribute>, shape: &str, errors: &mut Errors) {
    attrs.retain(|attr| {
        let is_rule = attr.path().is_ident("validate");
        if is_rule {
            errors.at(
                attr,
                format!(
                    "validation rules go on the named fields of a struct model; {shape} is \
                     serialized and described but not validated, so remove this `#[validate]` \
                     (or make it a struct with named fields)"
                ),
            );
        }
        !is_rule
    });
}

/// The rule's name: `length` for `length(min = 1, max = 100)`.
fn rule_name(rule: &str) -> &str {
    rule.split('(').next().unwrap_or(rule)
}

fn rule_names() -> String {
    FIELD_RULES
        .iter()
        .map(|(r, _)| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unknown_rule(name: &str) -> String {
    let hint = match name {
        "min_length" | "max_length" | "len" | "size" | "min_items" | "max_items" | "not_empty"
        | "non_empty" | "nonempty" | "not_blank" => {
            " For a string or list write `length(min = 1, max = 100)`."
        }
        "min" | "max" | "minimum" | "maximum" | "gt" | "ge" | "lt" | "le" | "positive" => {
            " For a number write `range(min = 0, max = 100)`."
        }
        "pattern" | "matches" | "format" => {
            " For a pattern write `regex(path = *RE)` with a `regex::Regex` static."
        }
        "function" | "validator" | "with" | "check" => {
            " For your own check write `custom(function = path::to::check)`."
        }
        "uri" | "link" => " Write `url`.",
        "mail" | "e_mail" => " Write `email`.",
        "optional" => " A field of type `Option<T>` is already optional: it needs no rule.",
        _ => "",
    };
    format!(
        "`{name}` is not a validation rule.{hint} The rules are: {}",
        rule_names()
    )
}

/// The type inside any `Option<..>` and references, as its last path segment.
fn core_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Reference(r) => core_name(&r.elem),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            if last.ident == "Option"
                && let syn::PathArguments::AngleBracketed(args) = &last.arguments
                && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
            {
                return core_name(inner);
            }
            Some(last.ident.to_string())
        }
        _ => None,
    }
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

fn is_number(ty: &syn::Type) -> bool {
    core_name(ty).is_some_and(|n| {
        [
            "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
            "f32", "f64",
        ]
        .contains(&n.as_str())
    })
}

fn is_text(ty: &syn::Type) -> bool {
    core_name(ty).is_some_and(|n| n == "String" || n == "str")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: syn::Field) -> (syn::Field, Vec<String>, bool) {
        let mut field = field;
        let mut errors = Errors::default();
        let rules = super::field(&mut field, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (field, messages, rules.skip)
    }

    fn named(tokens: proc_macro2::TokenStream) -> syn::Field {
        let s: syn::ItemStruct = syn::parse2(quote::quote!(struct S { #tokens })).unwrap();
        s.fields.into_iter().next().unwrap()
    }

    #[test]
    fn email_becomes_microcores_check_keeping_message_code_and_the_other_rules() {
        let mut f = named(quote::quote!(#[validate(email, length(max = 254))] email: String));
        own_email(&mut f);
        let attr = quote::ToTokens::to_token_stream(&f.attrs[0]).to_string();
        assert_eq!(
            attr,
            "# [validate (custom (function = :: microcore :: __private :: email :: check) , length (max = 254))]"
        );
        let mut f = named(quote::quote!(
            #[doc = " Where to write."]
            #[validate(email(message = "a work address", code = "work"))]
            email: Option<String>
        ));
        own_email(&mut f);
        let attr = quote::ToTokens::to_token_stream(&f.attrs[1]).to_string();
        assert_eq!(
            attr,
            "# [validate (custom (function = :: microcore :: __private :: email :: check , message = \"a work address\" , code = \"work\"))]"
        );
        let mut f = named(quote::quote!(#[validate(url)] site: String));
        own_email(&mut f);
        let attr = quote::ToTokens::to_token_stream(&f.attrs[0]).to_string();
        assert_eq!(attr, "# [validate (url)]");
    }

    #[test]
    fn nested_is_dropped_and_other_rules_are_kept() {
        let (f, errs, _) = check(named(
            quote::quote!(#[validate(length(min = 1, max = 500), nested)] items: Vec<Item>),
        ));
        assert!(errs.is_empty(), "{errs:?}");
        let attr = quote::ToTokens::to_token_stream(&f.attrs[0]).to_string();
        assert_eq!(attr, "# [validate (length (min = 1 , max = 500))]");
        let (f, errs, _) = check(named(quote::quote!(#[validate(nested)] item: Item)));
        assert!(errs.is_empty() && f.attrs.is_empty(), "{errs:?}");
    }

    #[test]
    fn an_unknown_rule_names_the_fix_and_lists_the_rules() {
        let (_, errs, _) = check(named(
            quote::quote!(#[validate(min_length = 3)] name: String),
        ));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("`min_length` is not a validation rule. For a string or list write `length(min = 1, max = 100)`."), "{}", errs[0]);
        assert!(errs[0].contains("`email`, `url`"), "{}", errs[0]);
    }

    #[test]
    fn length_on_a_number_and_range_on_a_string_say_which_to_use() {
        let (_, errs, _) = check(named(
            quote::quote!(#[validate(length(min = 1))] age: Option<i64>),
        ));
        assert!(errs[0].contains("range(min"), "{errs:?}");
        let (_, errs, _) = check(named(
            quote::quote!(#[validate(range(min = 1))] name: String),
        ));
        assert!(errs[0].contains("length(min"), "{errs:?}");
    }

    #[test]
    fn required_on_a_field_that_is_not_optional_says_to_remove_it() {
        let (_, errs, _) = check(named(quote::quote!(#[validate(required)] name: String)));
        assert!(errs[0].contains("remove `required`"), "{errs:?}");
        let (_, errs, _) = check(named(
            quote::quote!(#[validate(required)] name: Option<String>),
        ));
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn nested_on_a_string_or_number_says_to_remove_it() {
        let (_, errs, _) = check(named(
            quote::quote!(#[validate(nested)] name: Option<String>),
        ));
        assert!(errs[0].contains("remove `nested`"), "{errs:?}");
    }

    #[test]
    fn skip_is_reported_and_kept() {
        let (f, errs, skip) = check(named(quote::quote!(#[validate(skip)] raw: Item)));
        assert!(errs.is_empty() && skip && f.attrs.len() == 1);
    }
}
