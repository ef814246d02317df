//! PostgreSQL errors into the shared vocabulary, by SQLSTATE.

use sqlx::postgres::PgDatabaseError;

use crate::error::{DbError, DbErrorKind};

/// Classifies an sqlx error raised by PostgreSQL.
pub(crate) fn classify(e: sqlx::Error) -> DbError {
    let Some(pg) = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    else {
        return DbError::from_generic(&e);
    };
    let message = match pg.detail() {
        Some(detail) => format!("{} ({detail})", pg.message()),
        None => pg.message().to_owned(),
    };
    let table = pg.table().map(str::to_owned);
    let code = pg.code();
    match code {
        "23505" => {
            let columns = pg.detail().map(key_columns).unwrap_or_default();
            DbError::constraint(DbErrorKind::UniqueViolation, table, columns, message)
        }
        "23502" => {
            let columns = pg.column().map(|c| vec![c.to_owned()]).unwrap_or_default();
            DbError::constraint(DbErrorKind::NotNullViolation, table, columns, message)
        }
        "23503" => DbError::constraint(DbErrorKind::ForeignKeyViolation, None, vec![], message),
        "23514" => DbError::constraint(DbErrorKind::CheckViolation, None, vec![], message),
        // connection exceptions, too many connections, server shutting down
        c if c.starts_with("08") || c == "53300" || c.starts_with("57P") => {
            DbError::unavailable(message)
        }
        // lock_not_available: the server's lock_timeout ran out (or NOWAIT)
        "55P03" => DbError::busy(format!(
            "{message}: another transaction held a lock for longer than the server's \
             lock_timeout and nothing was written; retry later, keep transactions short, or \
             raise lock_timeout"
        )),
        // serialization failure, deadlock: concurrent transactions, retried by `tx::run`
        "40001" => DbError::conflict(format!("{message} (SQLSTATE 40001 serialization_failure)")),
        "40P01" => DbError::conflict(format!("{message} (SQLSTATE 40P01 deadlock_detected)")),
        _ => DbError::caller(message),
    }
}

/// `Key (a, b)=(1, 2) already exists.` → [`a`, `b`].
fn key_columns(detail: &str) -> Vec<String> {
    let Some(rest) = detail.strip_prefix("Key (") else {
        return Vec::new();
    };
    let Some(end) = rest.find(")=(") else {
        return Vec::new();
    };
    rest[..end].split(", ").map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_key_columns_from_the_detail() {
        assert_eq!(
            super::key_columns("Key (email)=(a@b.c) already exists."),
            vec!["email"]
        );
        assert_eq!(
            super::key_columns("Key (a, b)=(1, 2) already exists."),
            vec!["a", "b"]
        );
    }
}
