use microcore_kernel::ToolFailure;

/// Why a scheduler call failed. Every variant names the job or the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    /// A cron expression that does not parse as 5 fields.
    #[error(
        "scheduler job `{key}`: cron {expr:?} is not a 5-field cron ({reason}); write \
         minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\""
    )]
    InvalidCron {
        /// The job.
        key: String,
        /// The expression as given.
        expr: String,
        /// What the parser said.
        reason: String,
    },
    /// A time zone name that is not in the IANA database.
    #[error(
        "scheduler job `{key}`: time zone {tz:?} is unknown; use an IANA name such as \
         \"Europe/Madrid\" or \"UTC\""
    )]
    InvalidTimeZone {
        /// The job.
        key: String,
        /// The zone as given.
        tz: String,
    },
    /// A job key, period, or one-shot that cannot be used.
    #[error("scheduler job `{key}`: {reason}")]
    Invalid {
        /// The job.
        key: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Another plugin method already holds this key in this process.
    #[error("scheduler job `{key}` is already registered by `{owner}`; give this job another key")]
    KeyTaken {
        /// The job.
        key: String,
        /// `"<plugin>.<method>"` holding it.
        owner: String,
    },
    /// The store cannot be reached (the tool is DEAD until it can).
    #[error("scheduler store {store} is unavailable: {reason}")]
    Unavailable {
        /// Which store, with its address (password redacted).
        store: String,
        /// The underlying error.
        reason: String,
    },
    /// The store answered with an error.
    #[error("scheduler store {store} failed: {reason}")]
    Store {
        /// Which store.
        store: String,
        /// The underlying error.
        reason: String,
    },
}

impl ToolFailure for SchedulerError {
    fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Bad expressions, zones and keys are the caller's doing.
    fn is_caller_error(&self) -> bool {
        !matches!(self, Self::Unavailable { .. } | Self::Store { .. })
    }
}
