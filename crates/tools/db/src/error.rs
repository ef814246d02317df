//! The one error type of the db tool, identical on every backend.
//!
//! Plugins branch on [`DbError::kind`] (never on the message, whose wording
//! belongs to the engine). `table` and `columns` are filled for unique and
//! not-null violations only: SQLite cannot name them for the other kinds, and
//! PostgreSQL withholds them so both engines report the same thing.

use microcore_kernel::ToolFailure;
use serde::Serialize;

/// What went wrong, as a closed vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbErrorKind {
    /// A `UNIQUE` or primary-key constraint rejected the row.
    UniqueViolation,
    /// A `FOREIGN KEY` constraint rejected the row.
    ForeignKeyViolation,
    /// A `NOT NULL` column got no value.
    NotNullViolation,
    /// A `CHECK` constraint rejected the row.
    CheckViolation,
    /// Another connection held a lock for longer than this call may wait, so
    /// the statement did nothing. On SQLite the wait is `DB_BUSY_TIMEOUT_MS`
    /// (default 5000) for another connection's write lock; on PostgreSQL it is
    /// the server's `lock_timeout` (unset by default: PostgreSQL waits). Retry
    /// later (an HTTP handler can answer 503), keep transactions short, or
    /// raise the timeout. Counts against the tool's health like other
    /// engine errors.
    Busy,
    /// The database cannot be reached (connection refused, pool closed or exhausted).
    Unavailable,
    /// PostgreSQL could not run this transaction as if alone (a serialization
    /// failure or a deadlock with concurrent ones) and nothing it wrote was
    /// kept. Inside a transaction's closure, return it (`?`): the transaction
    /// then runs again, up to `DB_TX_MAX_ATTEMPTS` times. Seen by the caller
    /// of `transaction` only when every attempt conflicted: keep transactions
    /// short and touch fewer hot rows (an HTTP handler can answer 503). Never
    /// raised on SQLite, whose transactions take the write lock up front.
    Conflict,
    /// Anything else: bad SQL, a missing table, a type mismatch.
    Unknown,
}

/// Whose fault an error is, for the kernel's health bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The statement or its input (constraint, bad SQL, decoding): the tool is fine.
    Caller,
    /// The tool or engine misbehaved (locked past the busy timeout, protocol error).
    Tool,
    /// The backend is unreachable.
    Unavailable,
}

/// A failed db call.
#[derive(Clone, Debug, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    /// What went wrong; branch on this.
    pub kind: DbErrorKind,
    /// The table, for unique and not-null violations.
    pub table: Option<String>,
    /// The columns, for unique and not-null violations.
    pub columns: Vec<String>,
    /// What happened and, where the tool knows it, how to fix it.
    pub message: String,
    #[serde(skip)]
    pub(crate) fault: Fault,
}

impl DbError {
    pub(crate) fn new(kind: DbErrorKind, fault: Fault, message: impl Into<String>) -> Self {
        Self {
            kind,
            table: None,
            columns: Vec::new(),
            message: message.into(),
            fault,
        }
    }

    /// An `unknown` error caused by the caller's statement or input.
    pub(crate) fn caller(message: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Unknown, Fault::Caller, message)
    }

    /// An `unknown` error of the tool itself.
    pub(crate) fn tool(message: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Unknown, Fault::Tool, message)
    }

    /// A `busy` error: locked by someone else for longer than the call may wait.
    pub(crate) fn busy(message: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Busy, Fault::Tool, message)
    }

    /// A `busy` error the caller caused (waiting on itself), which does not
    /// count against the tool's health.
    pub(crate) fn busy_caller(message: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Busy, Fault::Caller, message)
    }

    /// A `conflict` with concurrent transactions: the load's doing, so it does
    /// not count against the tool's health (retries would mark it dead).
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Conflict, Fault::Caller, message)
    }

    /// An `unavailable` error.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Unavailable, Fault::Unavailable, message)
    }

    /// A constraint violation (always the caller's fault).
    pub(crate) fn constraint(
        kind: DbErrorKind,
        table: Option<String>,
        columns: Vec<String>,
        message: impl Into<String>,
    ) -> Self {
        let (table, columns) = match kind {
            DbErrorKind::UniqueViolation | DbErrorKind::NotNullViolation => (table, columns),
            _ => (None, Vec::new()),
        };
        Self {
            kind,
            table,
            columns,
            message: message.into(),
            fault: Fault::Caller,
        }
    }

    /// The same error with `context: ` in front of its message.
    pub(crate) fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// Converts an sqlx error that carries no engine-specific detail.
    pub(crate) fn from_generic(e: &sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                Self::unavailable(format!("database unavailable: {e}"))
            }
            E::Protocol(_) | E::Configuration(_) => Self::tool(format!("database error: {e}")),
            _ => Self::caller(format!("database error: {e}")),
        }
    }
}

impl ToolFailure for DbError {
    fn is_unavailable(&self) -> bool {
        self.fault == Fault::Unavailable
    }

    fn is_caller_error(&self) -> bool {
        self.fault == Fault::Caller
    }

    /// `down` is `Unavailable`, as a refused connection; a flaky call is `Unknown`.
    fn injected(fault: &microcore_kernel::InjectedFault) -> Option<Self> {
        Some(if fault.is_unavailable() {
            Self::unavailable(fault.message())
        } else {
            Self::tool(fault.message())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_in_snake_case_and_only_unique_and_not_null_keep_the_table() {
        let fk = DbError::constraint(
            DbErrorKind::ForeignKeyViolation,
            Some("t".into()),
            vec!["c".into()],
            "x",
        );
        assert_eq!((fk.table, fk.columns.len()), (None, 0));
        let json = serde_json::to_value(DbError::constraint(
            DbErrorKind::UniqueViolation,
            Some("t".into()),
            vec!["c".into()],
            "x",
        ))
        .unwrap();
        assert_eq!(json["kind"], "unique_violation");
        assert_eq!(json["table"], "t");
        assert_eq!(serde_json::to_value(DbErrorKind::Busy).unwrap(), "busy");
        assert!(
            DbError::unavailable("down").is_unavailable() && DbError::caller("x").is_caller_error()
        );
    }
}
