//! The settings tools read at setup: a snapshot of the environment.
//!
//! Tools read their own settings from an [`Env`] rather than from the process
//! environment so tests can boot many kernels side by side, each with its own
//! configuration, without racing on global state.

use std::collections::BTreeMap;
use std::sync::Arc;

/// An immutable map of setting names to values.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: Arc<BTreeMap<String, String>>,
}

impl Env {
    /// A snapshot of the process environment.
    pub fn from_process() -> Self {
        Self {
            vars: Arc::new(std::env::vars().collect()),
        }
    }

    /// An environment holding exactly `pairs`.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// This environment with `key` set to `value`.
    pub fn with(&self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let mut vars = (*self.vars).clone();
        vars.insert(key.into(), value.into());
        Self {
            vars: Arc::new(vars),
        }
    }

    /// The value of `key`, if set (an empty value counts as set).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// The value of `key`, or `default` when unset or empty.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        match self.get(key) {
            Some(v) if !v.is_empty() => v,
            _ => default,
        }
    }

    /// `key` parsed as `T`, `default` when unset or empty, or an error naming the
    /// setting, its bad value and what was expected.
    pub fn parse_or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|_| {
                format!(
                    "setting {key}={raw:?} is not a valid {}; fix or unset it",
                    std::any::type_name::<T>()
                        .rsplit("::")
                        .next()
                        .unwrap_or("value")
                )
            }),
        }
    }

    /// `key` as a boolean (`true/false/1/0/yes/no/on/off`), `default` when unset.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v.is_empty() => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(format!(
                "setting {key}={v:?} is not a boolean; use true or false"
            )),
        }
    }

    /// True under `MICROCORE_ENV=production` (any case): the settings that
    /// are lenient in development (an ephemeral secret, open operator routes)
    /// are refused or closed there.
    pub fn is_production(&self) -> bool {
        self.get_or("MICROCORE_ENV", "")
            .trim()
            .eq_ignore_ascii_case("production")
    }

    /// Every setting, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_or_names_the_setting_and_the_bad_value() {
        let env = Env::from_pairs([("HTTP_PORT", "eighty")]);
        let err = env.parse_or::<u16>("HTTP_PORT", 5000).unwrap_err();
        assert!(err.contains("HTTP_PORT") && err.contains("eighty"), "{err}");
        assert_eq!(Env::default().parse_or::<u16>("HTTP_PORT", 5000), Ok(5000));
    }

    #[test]
    fn flags_accept_common_spellings_and_reject_others() {
        let env = Env::from_pairs([("A", "on"), ("B", "0"), ("C", "maybe")]);
        assert_eq!(env.flag("A", false), Ok(true));
        assert_eq!(env.flag("B", true), Ok(false));
        assert!(env.flag("C", true).is_err());
        assert_eq!(env.flag("D", true), Ok(true));
    }
}
