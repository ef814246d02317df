use std::str::FromStr;

use microcore_kernel::{Env, Probe, Tool, ToolError, ToolSetup};

use crate::error::{ConfigError, Never};

/// Read-only access to the settings snapshot. Cheap to clone.
///
/// Unlike the kernel's [`Env::get_or`], an empty value counts as set here
/// (as with the original's `os.getenv`): `FOO=` means "FOO is the empty
/// string". Only [`Config::require`] treats empty as missing, because a
/// required setting that is empty is almost always a deployment mistake.
#[derive(Clone, Debug)]
pub struct Config {
    env: Env,
    probe: Probe,
}

#[microcore_kernel::contract(
    backends = "the settings snapshot taken at boot",
    env = "any key the app defines",
    errors = "ConfigError: Missing, Invalid"
)]
impl Config {
    /// A config over `env`, reporting its calls to `probe`.
    pub fn new(env: Env, probe: Probe) -> Self {
        Self { env, probe }
    }

    /// The value of `key`, if set.
    ///
    /// An empty value counts as set.
    pub fn get(&self, key: &str) -> Option<String> {
        self.measured("get", || self.env.get(key).map(str::to_owned))
    }

    /// The value of `key`, or `default` when it is unset.
    ///
    /// An empty value counts as set and is returned as is.
    pub fn get_or(&self, key: &str, default: impl Into<String>) -> String {
        self.measured("get_or", || match self.env.get(key) {
            Some(v) => v.to_owned(),
            None => default.into(),
        })
    }

    /// `key` parsed as `T` (surrounding whitespace ignored): `Ok(None)` when
    /// unset, an error naming the setting and its value when it does not parse.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        self.probe.observe_sync("parse", || {
            let Some(raw) = self.env.get(key) else {
                return Ok(None);
            };
            raw.trim()
                .parse()
                .map(Some)
                .map_err(|_| ConfigError::Invalid {
                    key: key.to_owned(),
                    value: raw.to_owned(),
                    expected: describe::<T>(),
                })
        })
    }

    /// Fails once, listing every key that is unset or empty, so a
    /// deployment is fixed in one go rather than one restart per key.
    pub fn require(&self, keys: &[&str]) -> Result<(), ConfigError> {
        self.probe.observe_sync("require", || {
            let missing: Vec<String> = keys
                .iter()
                .filter(|k| self.env.get(k).is_none_or(|v| v.trim().is_empty()))
                .map(|k| (*k).to_owned())
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(ConfigError::Missing { keys: missing })
            }
        })
    }

    fn measured<T>(&self, method: &'static str, f: impl FnOnce() -> T) -> T {
        match self.probe.observe_sync::<T, Never>(method, || Ok(f())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }
}

impl Tool for Config {
    const NAME: &'static str = "config";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        Ok(Self::new(setup.env, setup.probe))
    }

    fn report(&self) -> Vec<String> {
        vec![format!(
            "{} settings in the snapshot",
            self.env.iter().count()
        )]
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// What to write instead, for the operator reading the error: `u32` alone
/// does not say that `-1` or `15m` is wrong. `NonZero*` types give plugins a
/// "must be at least 1" setting with no code of their own.
fn describe<T>() -> &'static str {
    match short_type_name::<T>() {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "whole number of 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "whole number",
        "f32" | "f64" => "number",
        "bool" => "boolean (true or false)",
        t if t.starts_with("NonZero<u") || t.starts_with("NonZeroU") => {
            "whole number of at least 1"
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore_kernel::{Registry, ToolStatus};

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::new(
            Env::from_pairs(pairs.iter().copied()),
            Probe::detached("config"),
        )
    }

    #[test]
    fn get_returns_the_value_and_counts_empty_as_set() {
        let c = config(&[("GREETING", "hola"), ("EMPTY", "")]);
        assert_eq!(c.get("GREETING").as_deref(), Some("hola"));
        assert_eq!(c.get("EMPTY").as_deref(), Some(""));
        assert_eq!(c.get("UNSET"), None);
    }

    #[test]
    fn get_or_falls_back_only_when_unset() {
        let c = config(&[("EMPTY", ""), ("SET", "x")]);
        assert_eq!(c.get_or("UNSET", "fallback"), "fallback");
        assert_eq!(c.get_or("EMPTY", "fallback"), "");
        assert_eq!(c.get_or("SET", String::from("fallback")), "x");
    }

    #[test]
    fn parse_reads_typed_values_and_names_the_bad_one() {
        let c = config(&[("PORT", " 8080 "), ("RATE", "fast"), ("ON", "true")]);
        assert_eq!(c.parse::<u16>("PORT"), Ok(Some(8080)));
        assert_eq!(c.parse::<bool>("ON"), Ok(Some(true)));
        assert_eq!(c.parse::<u16>("UNSET"), Ok(None));
        let err = c.parse::<u32>("RATE").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Invalid {
                key: "RATE".into(),
                value: "fast".into(),
                expected: "whole number of 0 or more"
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("RATE=\"fast\"") && text.contains("whole number of 0 or more"),
            "{text}"
        );
        let zero = c.parse::<std::num::NonZeroU32>("ZERO");
        assert_eq!(zero, Ok(None));
        let c = config(&[("ZERO", "0")]);
        let text = c
            .parse::<std::num::NonZeroU32>("ZERO")
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("ZERO=\"0\" is not a valid whole number of at least 1"),
            "{text}"
        );
    }

    #[test]
    fn require_fails_once_listing_every_missing_or_empty_key() {
        let c = config(&[("A", "1"), ("B", ""), ("D", "  ")]);
        assert_eq!(c.require(&["A"]), Ok(()));
        let err = c.require(&["A", "B", "C", "D"]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                keys: vec!["B".into(), "C".into(), "D".into()]
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("B, C, D") && text.contains("set them"),
            "{text}"
        );
    }

    #[test]
    fn require_of_nothing_succeeds() {
        assert_eq!(config(&[]).require(&[]), Ok(()));
    }

    #[tokio::test]
    async fn setup_reads_the_kernel_snapshot_and_calls_are_measured() {
        let registry = Registry::new();
        registry.set_tool("config", ToolStatus::Ok, None);
        let c = Config::setup(ToolSetup {
            env: Env::from_pairs([("SHOP_NAME", "Acme")]),
            probe: Probe::new("config", registry.clone()),
            registry: registry.clone(),
        })
        .await
        .unwrap();
        assert_eq!(c.get("SHOP_NAME").as_deref(), Some("Acme"));
        assert!(c.require(&["MISSING"]).is_err());
        let calls = registry.recent_calls();
        let methods: Vec<_> = calls.iter().map(|c| (c.method, c.success)).collect();
        assert!(methods.contains(&("get", true)), "{methods:?}");
        assert!(methods.contains(&("require", false)), "{methods:?}");
        assert_eq!(
            registry.tool("config").unwrap().status,
            ToolStatus::Ok,
            "a missing setting is not a tool failure"
        );
    }
}
