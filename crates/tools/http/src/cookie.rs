//! Cookies a handler sets, with safe defaults: HttpOnly, Secure,
//! SameSite=Lax, Path=/, one hour.

use std::time::Duration;

/// The `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on same-site requests and top-level navigations (the default).
    Lax,
    /// Sent on same-site requests only.
    Strict,
    /// Sent everywhere (browsers require `Secure` with it).
    None,
}

/// A `Set-Cookie` header under construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    max_age: Option<u64>,
    path: String,
    domain: Option<String>,
    http_only: bool,
    secure: bool,
    same_site: SameSite,
}

impl Cookie {
    /// A cookie with the safe defaults: HttpOnly, Secure, SameSite=Lax, Path=/, Max-Age=3600.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            max_age: Some(3600),
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            secure: true,
            same_site: SameSite::Lax,
        }
    }

    /// A cookie that tells the browser to delete `name` (empty, Max-Age=0).
    pub fn removal(name: impl Into<String>) -> Self {
        Self::new(name, "").max_age(Duration::ZERO)
    }

    /// Sets how long the browser keeps the cookie, in whole seconds.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age.as_secs());
        self
    }

    /// Makes it a session cookie, without Max-Age, gone when the browser closes.
    pub fn session(mut self) -> Self {
        self.max_age = None;
        self
    }

    /// Sets the path the cookie is sent for.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the domain the cookie is sent to; by default only this host gets it.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets whether scripts are kept from reading the cookie (HttpOnly, default true).
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// Sets whether the cookie is sent over HTTPS only (Secure, default true).
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// Sets the `SameSite` policy, Lax by default.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Set-Cookie` header value, `Err` with the reason when the cookie cannot be sent.
    pub fn to_header(&self) -> Result<String, String> {
        // RFC 6265 allows only visible ASCII in names and values; anything
        // else either breaks the header or is read differently by browsers.
        let bad = |c: char| !c.is_ascii_graphic() || "()<>@,;:\\\"/[]?={}".contains(c);
        if self.name.is_empty() || self.name.chars().any(bad) {
            return Err(format!(
                "cookie name {:?} is empty or has a separator",
                self.name
            ));
        }
        let bad_value = |c: char| !c.is_ascii_graphic() || matches!(c, ';' | ',' | '"' | '\\');
        if self.value.chars().any(bad_value) {
            return Err(format!(
                "cookie `{}` has a value with a space, quote, comma, semicolon, control or non-ASCII \
                 character; encode it first (e.g. base64url)",
                self.name
            ));
        }
        // A `;` in the path or domain would end the attribute and start one
        // of the caller's text's choosing (`Domain=x; SameSite=None`).
        let bad_attr = |c: char| c.is_ascii_control() || !c.is_ascii() || c == ';';
        for (what, text) in [("path", Some(&self.path)), ("domain", self.domain.as_ref())] {
            if let Some(text) = text
                && text.chars().any(bad_attr)
            {
                return Err(format!(
                    "cookie `{}` has a {what} {text:?} with a semicolon, control or non-ASCII \
                     character; pass a plain ASCII {what}",
                    self.name
                ));
            }
        }
        let mut out = format!("{}={}", self.name, self.value);
        if let Some(age) = self.max_age {
            out.push_str(&format!("; Max-Age={age}"));
        }
        out.push_str(&format!("; Path={}", self.path));
        if let Some(domain) = &self.domain {
            out.push_str(&format!("; Domain={domain}"));
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str(match self.same_site {
            SameSite::Lax => "; SameSite=Lax",
            SameSite::Strict => "; SameSite=Strict",
            SameSite::None => "; SameSite=None",
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_safe_ones() {
        let h = Cookie::new("access_token", "abc").to_header().unwrap();
        assert_eq!(
            h,
            "access_token=abc; Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
    }

    #[test]
    fn removal_expires_at_once_and_bad_values_are_refused() {
        assert!(
            Cookie::removal("t")
                .to_header()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert!(
            Cookie::new("t", "a b")
                .to_header()
                .unwrap_err()
                .contains("`t`")
        );
    }

    /// Found by `properties::an_accepted_cookie_renders_exactly_its_attributes`:
    /// the path and domain went into the header unchecked.
    #[test]
    fn a_semicolon_in_the_path_or_domain_cannot_add_an_attribute() {
        let e = Cookie::new("t", "v").domain(";").to_header().unwrap_err();
        assert!(e.contains("`t`") && e.contains("domain"), "{e}");
        let e = Cookie::new("t", "v")
            .path("/; SameSite=None")
            .to_header()
            .unwrap_err();
        assert!(e.contains("path") && e.contains("semicolon"), "{e}");
        let e = Cookie::new("t", "v")
            .path("/\r\nX: y")
            .to_header()
            .unwrap_err();
        assert!(e.contains("control"), "{e}");
    }

    #[test]
    fn non_ascii_names_and_values_are_refused_with_the_reason() {
        assert!(Cookie::new("caf\u{e9}", "v").to_header().is_err());
        let e = Cookie::new("t", "caf\u{e9}").to_header().unwrap_err();
        assert!(e.contains("non-ASCII"), "{e}");
    }
}

/// Properties of `Set-Cookie` rendering over any text a handler passes in
/// (names, values, paths and domains often come from request data).
#[cfg(test)]
mod properties {
    use super::*;

    use proptest::prelude::*;

    fn cookie() -> impl Strategy<Value = Cookie> {
        (
            any::<String>(),
            any::<String>(),
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<String>()),
            any::<(bool, bool)>(),
        )
            .prop_map(|(name, value, path, domain, (http_only, secure))| {
                let mut c = Cookie::new(name, value).http_only(http_only).secure(secure);
                if let Some(p) = path {
                    c = c.path(p);
                }
                if let Some(d) = domain {
                    c = c.domain(d);
                }
                c
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// An accepted cookie is one valid header whose attributes are exactly the ones set:
        /// no text passed in can add, drop or split an attribute.
        #[test]
        fn an_accepted_cookie_renders_exactly_its_attributes(c in cookie()) {
            if let Ok(h) = c.to_header() {
                prop_assert!(http::HeaderValue::from_str(&h).is_ok(), "{:?}", h);
                let parts: Vec<&str> = h.split("; ").collect();
                prop_assert_eq!(parts[0], format!("{}={}", c.name, c.value));
                let expected = 1 + 1 + 1 // name=value, Max-Age, Path
                    + usize::from(c.domain.is_some())
                    + usize::from(c.http_only)
                    + usize::from(c.secure)
                    + 1; // SameSite
                prop_assert_eq!(h.split(';').count(), expected, "{:?}", h);
                prop_assert_eq!(parts.iter().filter(|p| p.starts_with("SameSite=")).count(), 1);
            }
        }

        #[test]
        fn a_plain_token_cookie_is_always_accepted(
            name in "[A-Za-z0-9_-]{1,16}",
            value in "[A-Za-z0-9._~+/=-]{0,64}",
            path in "/[A-Za-z0-9/_.-]{0,16}",
        ) {
            let h = Cookie::new(name.clone(), value.clone()).path(path.clone()).to_header().unwrap();
            let prefix = format!("{name}={value}; Max-Age=3600; Path={path};");
            prop_assert!(h.starts_with(&prefix), "{}", h);
        }
    }
}
