use microcore_kernel::ToolFailure;

/// Why a setting could not be given to a plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Required settings that are unset or empty, all of them at once.
    #[error(
        "missing required setting{}: {}; set {} in the environment (or .env) and restart",
        if keys.len() == 1 { "" } else { "s" },
        keys.join(", "),
        if keys.len() == 1 { "it" } else { "them" }
    )]
    Missing {
        /// Every missing or empty key, in the order they were asked for.
        keys: Vec<String>,
    },
    /// A setting whose value does not parse as the type asked for.
    #[error("setting {key}={value:?} is not a valid {expected}; fix or unset it")]
    Invalid {
        /// The setting.
        key: String,
        /// Its raw value.
        value: String,
        /// What was expected, in words (`whole number of at least 1`,
        /// `boolean (true or false)`, or the type's name for other types).
        expected: &'static str,
    },
}

impl ToolFailure for ConfigError {
    /// A missing or bad setting is the deployment's fault, not the tool's.
    fn is_caller_error(&self) -> bool {
        true
    }
}

/// The error type of calls that cannot fail: lets infallible methods go
/// through the probe like every other call.
#[derive(Debug)]
pub(crate) enum Never {}

impl ToolFailure for Never {}
