//! The rule `#[validate(email)]` checks in a `#[model]`: exactly what
//! `/openapi.json` says an email is (`format: email` with [`PATTERN`]), so a
//! client that checks a value against the published schema and the server
//! never disagree about it.
//!
//! validator's own `email` follows the HTML form rule, which also takes dots
//! at either end of the part before `@` or side by side (`a.@example.com`),
//! internationalised domains and `[ip]` literals. JSON Schema's `email`
//! format (RFC 5321) refuses the first and the pattern refuses the others, so
//! the server stored addresses its own schema calls invalid (schemathesis
//! found `&.@example.com`). `#[model]` calls [`check`] instead. Not a public API.

use std::borrow::Cow;

use validator::ValidationError;

/// The schema's pattern: dot-separated atoms, `@`, then host labels of
/// letters, digits and inner hyphens, none with `--` as its 3rd and 4th
/// characters (RFC 5891 keeps those for IDNA labels, which JSON Schema's host
/// names accept only as valid punycode). The lengths [`check`] also bounds
/// (64 before `@`, 253 after, 63 a label) are what `format: email` states;
/// the label's 63 is in the pattern too. Written in the subset of regex syntax
/// that ECMA-262 (JSON Schema) and Rust's `regex` read alike.
pub const PATTERN: &str = concat!(
    "^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@",
    "[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,2}[a-zA-Z0-9]|[a-zA-Z0-9-](?:[a-zA-Z0-9][a-zA-Z0-9-]|-[a-zA-Z0-9])[a-zA-Z0-9-]{0,58}[a-zA-Z0-9])?",
    "(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,2}[a-zA-Z0-9]|[a-zA-Z0-9-](?:[a-zA-Z0-9][a-zA-Z0-9-]|-[a-zA-Z0-9])[a-zA-Z0-9-]{0,58}[a-zA-Z0-9])?)*$",
);

/// Longest part before `@` (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL: usize = 64;
/// Longest domain (RFC 1035 §2.3.4, without the trailing dot).
const MAX_DOMAIN: usize = 253;
/// Longest label of a domain.
const MAX_LABEL: usize = 63;

/// A text field `#[validate(email)]` may sit on: `String`, `&str`, `Cow<str>`
/// (and, through validator's `Option` unwrapping, their options).
pub trait EmailText {
    /// The text to check.
    fn email_text(&self) -> &str;
}

impl EmailText for str {
    fn email_text(&self) -> &str {
        self
    }
}

impl EmailText for String {
    fn email_text(&self) -> &str {
        self
    }
}

impl EmailText for Cow<'_, str> {
    fn email_text(&self) -> &str {
        self
    }
}

impl<T: EmailText + ?Sized> EmailText for &T {
    fn email_text(&self) -> &str {
        (**self).email_text()
    }
}

/// `Ok` when `value` is an email address as the schema states it; otherwise
/// the error validator's `email` gives (code `email`, "must be a valid email
/// address" in the 422).
pub fn check<T: EmailText + ?Sized>(value: &T) -> Result<(), ValidationError> {
    if is_email(value.email_text()) {
        Ok(())
    } else {
        Err(ValidationError::new("email"))
    }
}

/// Whether `text` is `local@domain` by the rules of [`PATTERN`] and the lengths.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    local.len() <= MAX_LOCAL
        && local.split('.').all(is_atom)
        && domain.len() <= MAX_DOMAIN
        && domain.split('.').all(is_label)
}

/// One or more RFC 5322 `atext` characters (a `@` is not one, so a second
/// `@` fails here).
fn is_atom(atom: &str) -> bool {
    !atom.is_empty()
        && atom
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b))
}

/// A host label: letters, digits and hyphens, not at either end, not `--` as
/// the 3rd and 4th characters.
fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    (1..=MAX_LABEL).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
        && bytes.get(2..4) != Some(b"--")
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    #[test]
    fn ordinary_addresses_pass() {
        for ok in [
            "ana@example.com",
            "a@b",
            "first.last+tag@mail.example.co.uk",
            "o'neil@x-y.z",
            "!#$%&'*+/=?^_`{|}~-@example.com",
            "a@1.2.3.4",
            "a@ab-c.d",
        ] {
            assert!(check(ok).is_ok(), "{ok} was refused");
        }
    }

    #[test]
    fn what_the_schema_refuses_is_refused() {
        let long_label = "a".repeat(64);
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_domain = format!("a@{}.com", vec!["b".repeat(62); 4].join("."));
        for bad in [
            "&.@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@b@example.com",
            "@example.com",
            "a@",
            "a@-b.com",
            "a@b-.com",
            "a@b..com",
            "a@b.com.",
            "a@ab--c.com",
            "a@xn--9ca.com",
            "a@[1.2.3.4]",
            "\"a b\"@example.com",
            "é@example.com",
            "a@é.com",
            "a b@example.com",
            &format!("a@{long_label}.com"),
            &long_local,
            &long_domain,
        ] {
            assert!(check(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_error_is_validators_email_error() {
        let err = check("a.@b.c").unwrap_err();
        assert_eq!(err.code, "email");
        let field: Option<String> = Some("a@b.c".to_owned());
        assert!(check(&field.as_ref().unwrap()).is_ok());
        assert!(check(&Cow::Borrowed("a@b.c")).is_ok());
    }

    /// The check is the pattern plus the lengths, so what the schema states
    /// is what the server accepts.
    fn by_pattern(text: &str) -> bool {
        static RE: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new(PATTERN).expect("PATTERN compiles"));
        RE.is_match(text)
            && text
                .split_once('@')
                .is_some_and(|(l, d)| l.len() <= MAX_LOCAL && d.len() <= MAX_DOMAIN)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_check_agrees_with_the_pattern_on_near_misses(
            local in r"[a-z0-9.~é@-]{0,8}",
            labels in proptest::collection::vec(r"[a-z0-9-]{0,6}", 0..4),
        ) {
            let text = format!("{local}@{}", labels.join("."));
            prop_assert_eq!(check(text.as_str()).is_ok(), by_pattern(&text), "{}", text);
        }

        #[test]
        fn the_check_agrees_with_the_pattern_at_the_length_bounds(
            local in 60usize..70,
            label in 60usize..66,
            count in 1usize..6,
        ) {
            let text = format!("{}@{}", "a".repeat(local), vec!["b".repeat(label); count].join("."));
            prop_assert_eq!(check(text.as_str()).is_ok(), by_pattern(&text), "{}", text);
        }

        #[test]
        fn any_text_gets_an_answer_the_pattern_agrees_with(text in "\\PC{0,40}") {
            prop_assert_eq!(check(text.as_str()).is_ok(), by_pattern(&text), "{}", text);
        }
    }
}
