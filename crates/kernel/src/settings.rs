//! The kernel's own settings: how long boot and shutdown may take, and whether
//! a partly failed boot may serve.
//!
//! A bad value fails boot with a message naming the setting and what to write,
//! as the tools do; it is never silently replaced by a default (a typo such as
//! `SHUTDOWN_GRACE_SECS=30s` would otherwise run as 10 seconds unnoticed).

use std::time::Duration;

use crate::env::Env;

/// Default for `BOOT_TIMEOUT_SECS`.
const BOOT_TIMEOUT_SECS: u64 = 30;
/// Default for `SHUTDOWN_GRACE_SECS`.
const SHUTDOWN_GRACE_SECS: u64 = 10;

/// The kernel's validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSettings {
    /// `BOOT_TIMEOUT_SECS`: longest one plugin's `on_boot` may take (default 30).
    pub boot_timeout: Duration,
    /// `SHUTDOWN_GRACE_SECS`: the deadline of the whole shutdown (default 10).
    pub shutdown_grace: Duration,
    /// `MICROCORE_ENV=production`.
    pub production: bool,
    /// `BOOT_ALLOW_DEGRADED`: serve in production although a tool or plugin failed.
    pub allow_degraded: bool,
    /// `CHAOS_ENABLED`: the fault-injection endpoints exist (never in production).
    pub chaos_enabled: bool,
}

impl Default for KernelSettings {
    fn default() -> Self {
        Self {
            boot_timeout: Duration::from_secs(BOOT_TIMEOUT_SECS),
            shutdown_grace: Duration::from_secs(SHUTDOWN_GRACE_SECS),
            production: false,
            allow_degraded: false,
            chaos_enabled: false,
        }
    }
}

impl KernelSettings {
    /// Reads and validates the kernel's settings; every bad one is listed, each
    /// naming the setting and what to write instead.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let boot_timeout = seconds(env, "BOOT_TIMEOUT_SECS", BOOT_TIMEOUT_SECS, 1, &mut errors);
        let shutdown_grace = seconds(
            env,
            "SHUTDOWN_GRACE_SECS",
            SHUTDOWN_GRACE_SECS,
            0,
            &mut errors,
        );
        let allow_degraded = env.flag("BOOT_ALLOW_DEGRADED", false).unwrap_or_else(|e| {
            errors.push(e);
            false
        });
        let production = env.is_production();
        let chaos_enabled = env.flag("CHAOS_ENABLED", false).unwrap_or_else(|e| {
            errors.push(e);
            false
        });
        if chaos_enabled && production {
            errors.push(
                "setting CHAOS_ENABLED=true is refused with MICROCORE_ENV=production: it lets \
                 anyone who reaches /system/chaos take tools down and pause plugins; unset \
                 CHAOS_ENABLED (or set it to false) in production, and run drills in staging"
                    .to_owned(),
            );
        }
        if errors.is_empty() {
            Ok(Self {
                boot_timeout,
                shutdown_grace,
                production,
                allow_degraded,
                chaos_enabled,
            })
        } else {
            Err(errors)
        }
    }

    /// True when any failed tool or DEAD plugin must stop boot: production
    /// without `BOOT_ALLOW_DEGRADED=true`.
    pub fn strict(&self) -> bool {
        self.production && !self.allow_degraded
    }
}

/// `key` as whole seconds, at least `min`; a bad value is recorded in `errors`.
fn seconds(env: &Env, key: &str, default: u64, min: u64, errors: &mut Vec<String>) -> Duration {
    let raw = match env.get(key).map(str::trim) {
        None | Some("") => return Duration::from_secs(default),
        Some(raw) => raw,
    };
    match raw.parse::<u64>() {
        Ok(n) if n >= min => Duration::from_secs(n),
        _ => {
            errors.push(format!(
                "setting {key}={raw:?} is not a whole number of seconds (at least {min}); \
                 write e.g. {key}={default}, or unset it for the default of {default}"
            ));
            Duration::from_secs(default)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_take_their_defaults() {
        assert_eq!(
            KernelSettings::from_env(&Env::default()),
            Ok(KernelSettings::default())
        );
    }

    #[test]
    fn a_bad_value_is_an_error_naming_the_setting_and_what_to_write() {
        let env = Env::from_pairs([
            ("SHUTDOWN_GRACE_SECS", "30s"),
            ("BOOT_TIMEOUT_SECS", "abc"),
            ("BOOT_ALLOW_DEGRADED", "perhaps"),
        ]);
        let errors = KernelSettings::from_env(&env).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("BOOT_TIMEOUT_SECS=\"abc\"")
                && errors[0].contains("BOOT_TIMEOUT_SECS=30"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("SHUTDOWN_GRACE_SECS=\"30s\"")
                && errors[1].contains("SHUTDOWN_GRACE_SECS=10"),
            "{errors:?}"
        );
        assert!(errors[2].contains("BOOT_ALLOW_DEGRADED"), "{errors:?}");
    }

    #[test]
    fn a_zero_boot_timeout_is_refused_but_a_zero_grace_is_allowed() {
        let env = Env::from_pairs([("BOOT_TIMEOUT_SECS", "0")]);
        assert!(KernelSettings::from_env(&env).is_err());
        let env = Env::from_pairs([("SHUTDOWN_GRACE_SECS", "0")]);
        assert_eq!(
            KernelSettings::from_env(&env).unwrap().shutdown_grace,
            Duration::ZERO
        );
    }

    #[test]
    fn chaos_is_refused_in_production_naming_the_setting() {
        let chaos = Env::from_pairs([("CHAOS_ENABLED", "true")]);
        assert!(KernelSettings::from_env(&chaos).unwrap().chaos_enabled);
        let prod = chaos.with("MICROCORE_ENV", "production");
        let errors = KernelSettings::from_env(&prod).unwrap_err();
        assert!(
            errors[0].contains("CHAOS_ENABLED=true") && errors[0].contains("MICROCORE_ENV"),
            "{errors:?}"
        );
        let degraded = prod.with("BOOT_ALLOW_DEGRADED", "true");
        assert!(
            KernelSettings::from_env(&degraded).is_err(),
            "degraded serving does not lift it"
        );
        let off = Env::from_pairs([("CHAOS_ENABLED", "false"), ("MICROCORE_ENV", "production")]);
        assert!(!KernelSettings::from_env(&off).unwrap().chaos_enabled);
    }

    #[test]
    fn production_is_strict_unless_degraded_serving_is_allowed() {
        let prod = Env::from_pairs([("MICROCORE_ENV", "Production")]);
        assert!(KernelSettings::from_env(&prod).unwrap().strict());
        let allowed = prod.with("BOOT_ALLOW_DEGRADED", "true");
        assert!(!KernelSettings::from_env(&allowed).unwrap().strict());
        assert!(!KernelSettings::from_env(&Env::default()).unwrap().strict());
    }
}
