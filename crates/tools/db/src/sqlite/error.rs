//! SQLite errors into the shared vocabulary, by result code and message.

use sqlx::error::DatabaseError;

use crate::error::{DbError, DbErrorKind};

/// SQLite's primary result codes for "someone else holds the lock".
const BUSY: i32 = 5;
const LOCKED: i32 = 6;

/// Classifies an sqlx error raised by SQLite.
pub(crate) fn classify(e: sqlx::Error) -> DbError {
    let Some(db) = e.as_database_error() else {
        return DbError::from_generic(&e);
    };
    let message = db.message().to_owned();
    let kind = match db.kind() {
        sqlx::error::ErrorKind::UniqueViolation => DbErrorKind::UniqueViolation,
        sqlx::error::ErrorKind::ForeignKeyViolation => DbErrorKind::ForeignKeyViolation,
        sqlx::error::ErrorKind::NotNullViolation => DbErrorKind::NotNullViolation,
        sqlx::error::ErrorKind::CheckViolation => DbErrorKind::CheckViolation,
        _ => return unknown(db, message),
    };
    let (table, columns) = parse_constraint_target(&message);
    DbError::constraint(kind, table, columns, message)
}

/// Whether `e` is SQLite saying another connection holds the lock (any
/// extended code of `SQLITE_BUSY` or `SQLITE_LOCKED`): trying again later
/// can succeed.
pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|db| matches!(result_code(db) & 0xff, BUSY | LOCKED))
}

/// The (extended) result code of a SQLite error; 0 when it has none.
fn result_code(db: &dyn DatabaseError) -> i32 {
    db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0)
}

fn unknown(db: &dyn DatabaseError, message: String) -> DbError {
    match result_code(db) & 0xff {
        // SQLite's busy handler already waited DB_BUSY_TIMEOUT_MS for the lock.
        BUSY | LOCKED => DbError::busy(format!(
            "{message}: another connection held the SQLite write lock for longer than \
             DB_BUSY_TIMEOUT_MS and nothing was written; retry later, keep transactions \
             short, or raise DB_BUSY_TIMEOUT_MS"
        )),
        // SQLITE_CANTOPEN, SQLITE_NOTADB, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_IOERR
        14 | 26 | 11 | 13 | 10 => DbError::unavailable(message),
        _ => DbError::caller(message),
    }
}

/// `UNIQUE constraint failed: users.email, users.org` → (`users`, [`email`, `org`]).
fn parse_constraint_target(message: &str) -> (Option<String>, Vec<String>) {
    let Some((_, rest)) = message.split_once("constraint failed: ") else {
        return (None, Vec::new());
    };
    let mut table = None;
    let mut columns = Vec::new();
    for part in rest.split(", ") {
        if let Some((t, c)) = part.trim().split_once('.') {
            table.get_or_insert_with(|| t.to_owned());
            columns.push(c.to_owned());
        }
    }
    (table, columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table_and_columns_from_the_message() {
        assert_eq!(
            parse_constraint_target("UNIQUE constraint failed: t.a, t.b"),
            (Some("t".to_owned()), vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            parse_constraint_target("FOREIGN KEY constraint failed"),
            (None, vec![])
        );
    }
}

/// Properties of reading the table and columns out of SQLite's message.
#[cfg(test)]
mod properties {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_message_is_read_without_panicking(message in any::<String>()) {
            let _ = parse_constraint_target(&message);
        }

        #[test]
        fn the_target_of_a_constraint_message_reads_back(
            table in "[a-z_][a-z0-9_]{0,10}",
            columns in proptest::collection::vec("[a-z_][a-z0-9_]{0,10}", 1..4),
            kind in proptest::sample::select(vec!["UNIQUE", "NOT NULL", "CHECK"]),
        ) {
            let target: Vec<String> = columns.iter().map(|c| format!("{table}.{c}")).collect();
            let message = format!("{kind} constraint failed: {}", target.join(", "));
            prop_assert_eq!(parse_constraint_target(&message), (Some(table), columns));
        }
    }
}
