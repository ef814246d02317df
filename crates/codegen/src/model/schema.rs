//! The `#[schemars]` attributes that put a field's `#[validate]` rules into its
//! JSON Schema where schemars does not read them itself, so `/openapi.json`
//! never accepts what validation then refuses.
//!
//! Schemars already turns `length`, `range(min, max)`, `url`, `contains`,
//! `regex` and `required` into keywords. Added here: `format: email` and a
//! pattern for `email` (whose check [`super::rules::own_email`] replaces, so
//! schemars no longer sees it), a pattern for `url` (a `format` is only an
//! annotation in JSON Schema 2020-12, which most generated clients ignore),
//! `exclusiveMinimum`/`exclusiveMaximum`, `format: ipv4`/`ipv6`, and a
//! sentence in the description for what no keyword can say (`custom`,
//! `must_match`, `does_not_contain`, `ip`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;

use crate::paths::private;

/// A URL: a scheme, a colon, then no whitespace.
const URL_PATTERN: &str = "^[a-zA-Z][a-zA-Z0-9+.-]*:[^\\s]+$";

/// Appends the `#[schemars(...)]` attributes that state `field`'s remaining
/// `#[validate]` rules (call after [`super::rules::field`] cleaned them).
pub(crate) fn state_rules(field: &mut syn::Field) {
    let mut extends: Vec<TokenStream> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let rules: Vec<syn::Meta> = field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("validate"))
        .filter_map(|a| {
            a.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .collect();
    let has_regex = rules
        .iter()
        .any(|r| r.path().is_ident("regex") || r.path().is_ident("contains"));
    for rule in &rules {
        let name = rule
            .path()
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let args = arguments(rule);
        match name.as_str() {
            "email" => {
                // The pattern is the one the check in `microcore` holds values to.
                extends.push(quote!("format" = "email"));
                if !has_regex {
                    let p = private();
                    extends.push(quote!("pattern" = #p::email::PATTERN));
                }
            }
            "url" if !has_regex => extends.push(quote!("pattern" = #URL_PATTERN)),
            "range" => {
                for (arg, key) in [
                    ("exclusive_min", "exclusiveMinimum"),
                    ("exclusive_max", "exclusiveMaximum"),
                ] {
                    if let Some(value) = find(&args, arg) {
                        extends.push(quote!(#key = #value));
                    }
                }
            }
            "ip" => match rule_flag(rule) {
                Some(version) => {
                    let format = format!("ip{version}");
                    extends.push(quote!("format" = #format));
                }
                None => notes.push("an IP address (v4 or v6)".to_owned()),
            },
            "custom" => notes.push(match find(&args, "function") {
                Some(f) => format!("accepted by `{}`", squash(f)),
                None => "accepted by a custom check".to_owned(),
            }),
            "must_match" => notes.push(match find(&args, "other") {
                Some(other) => format!("equal to `{}`", squash(other).trim_matches('"')),
                None => "equal to another field".to_owned(),
            }),
            "does_not_contain" => notes.push(match find(&args, "pattern") {
                Some(p) => format!("not containing {}", squash(p)),
                None => "not containing a given text".to_owned(),
            }),
            _ => {}
        }
    }
    for extend in extends {
        field
            .attrs
            .push(syn::parse_quote!(#[schemars(extend(#extend))]));
    }
    if !notes.is_empty() {
        let doc = doc_text(&field.attrs);
        let rules = format!("Must be {}.", notes.join("; "));
        let description = if doc.is_empty() {
            rules
        } else {
            format!("{doc} {rules}")
        };
        field
            .attrs
            .push(syn::parse_quote!(#[schemars(description = #description)]));
    }
}

/// Appends to the model's description the whole-model check of
/// `#[validate(schema(function = check))]`, which no keyword can express
/// (call after [`super::rules::container`] cleaned the attributes).
pub(crate) fn state_model_rules(attrs: &mut Vec<syn::Attribute>) {
    let checks: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("validate"))
        .filter_map(|a| {
            a.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .filter(|m| m.path().is_ident("schema"))
        .map(|m| match find(&arguments(&m), "function") {
            Some(f) => format!("`{}`", squash(f).trim_matches('"')),
            None => "a custom check".to_owned(),
        })
        .collect();
    if checks.is_empty() {
        return;
    }
    let doc = doc_text(attrs);
    let rule = format!("Must be accepted as a whole by {}.", checks.join(" and "));
    let description = if doc.is_empty() {
        rule
    } else {
        format!("{doc} {rule}")
    };
    attrs.push(syn::parse_quote!(#[schemars(description = #description)]));
}

/// `name = value` pairs of a rule like `range(min = 1, exclusive_max = 10)`.
fn arguments(rule: &syn::Meta) -> Vec<syn::MetaNameValue> {
    match rule {
        syn::Meta::List(list) => list
            .parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
            .map(|metas| {
                metas
                    .into_iter()
                    .filter_map(|m| match m {
                        syn::Meta::NameValue(nv) => Some(nv),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn find<'a>(args: &'a [syn::MetaNameValue], name: &str) -> Option<&'a syn::Expr> {
    args.iter()
        .find(|nv| nv.path.is_ident(name))
        .map(|nv| &nv.value)
}

/// `v4` or `v6` in `ip(v4)`.
fn rule_flag(rule: &syn::Meta) -> Option<String> {
    let syn::Meta::List(list) = rule else {
        return None;
    };
    let flag: syn::Ident = list.parse_args().ok()?;
    Some(flag.to_string()).filter(|f| f == "v4" || f == "v6")
}

/// An expression as its source text, without the spaces token printing adds.
fn squash(expr: &syn::Expr) -> String {
    quote!(#expr).to_string().replace(' ', "")
}

/// The field's doc comment as one line (what schemars would have used).
fn doc_text(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }),
                ..
            }) => Some(s.value().trim().to_owned()),
            _ => None,
        })
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stated(tokens: TokenStream) -> Vec<String> {
        let mut field: syn::Field = syn::parse_quote!(#tokens);
        field.attrs.retain(|a| !a.path().is_ident("validate"));
        let mut with_rules: syn::Field = syn::parse_quote!(#tokens);
        state_rules(&mut with_rules);
        with_rules.attrs[field.attrs.len()..]
            .iter()
            .filter(|a| a.path().is_ident("schemars"))
            .map(|a| quote!(#a).to_string())
            .collect()
    }

    #[test]
    fn email_gets_its_format_and_the_checks_pattern_unless_a_regex_sets_one() {
        let email = stated(quote!(#[validate(email)] pub email: String));
        assert_eq!(email.len(), 2, "{email:?}");
        assert!(email[0].contains("\"format\" = \"email\""), "{email:?}");
        assert!(
            email[1].contains("\"pattern\" = :: microcore :: __private :: email :: PATTERN"),
            "{email:?}"
        );
        let both = stated(quote!(#[validate(email, regex(path = *RE))] pub email: String));
        assert_eq!(both.len(), 1, "{both:?}");
        assert!(both[0].contains("\"format\""), "{both:?}");
    }

    #[test]
    fn exclusive_bounds_become_exclusive_keywords() {
        let got = stated(
            quote!(#[validate(range(exclusive_min = 0, exclusive_max = 1.5))] pub ratio: f64),
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].contains("\"exclusiveMinimum\" = 0"), "{got:?}");
        assert!(got[1].contains("\"exclusiveMaximum\" = 1.5"), "{got:?}");
    }

    #[test]
    fn rules_no_keyword_expresses_are_in_the_description_after_the_doc() {
        let got = stated(quote!(
            /// The new password.
            #[validate(must_match(other = "password"), custom(function = checks::strong))]
            pub again: String
        ));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].contains(
                "The new password. Must be equal to `password`; accepted by `checks::strong`."
            ),
            "{got:?}"
        );
    }

    #[test]
    fn a_whole_model_check_is_in_the_models_description() {
        let mut attrs: Vec<syn::Attribute> = vec![
            syn::parse_quote!(#[doc = " An order."]),
            syn::parse_quote!(#[validate(schema(function = "check_order"))]),
        ];
        state_model_rules(&mut attrs);
        let last = attrs.last().unwrap();
        assert!(
            quote!(#last)
                .to_string()
                .contains("An order. Must be accepted as a whole by `check_order`."),
            "{}",
            quote!(#last)
        );
    }

    #[test]
    fn an_ip_version_is_a_format() {
        let got = stated(quote!(#[validate(ip(v4))] pub addr: String));
        assert!(got[0].contains("\"format\" = \"ipv4\""), "{got:?}");
    }
}
