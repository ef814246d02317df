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
        let bad = |c: char| c.is_control() || "()<>@,;:\\\"/[]?={} \t".contains(c);
        if self.name.is_empty() || self.name.chars().any(bad) {
            return Err(format!(
                "cookie name {:?} is empty or has a separator",
                self.name
            ));
        }
        let bad_value = |c: char| {
            c.is_control() || c == ';' || c == ',' || c == '"' || c == '\\' || c.is_whitespace()
        };
        if self.value.chars().any(bad_value) {
            return Err(format!(
                "cookie `{}` has a value with a space, quote, comma, semicolon or control character; encode it first",
                self.name
            ));
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
}
