//! When a transaction that conflicted with concurrent ones runs again: how
//! many times (`DB_TX_MAX_ATTEMPTS`), after what pause, and what the caller
//! reads when every attempt conflicted.
//!
//! Only PostgreSQL reports conflicts (serialization failures and deadlocks of
//! its `SERIALIZABLE` transactions); SQLite's transactions take the write lock
//! up front and run once.

use std::time::Duration;

use microcore_kernel::Env;

use crate::error::DbError;

/// Runs of one transaction's closure at most, when `DB_TX_MAX_ATTEMPTS` is unset.
pub(crate) const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// The longest pause between two attempts. Pauses grow from a few
/// milliseconds and each is drawn at random below its bound, so transactions
/// that collided do not collide again in step.
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// `DB_TX_MAX_ATTEMPTS`: at least 1 (1 = never run a closure again).
pub(crate) fn max_attempts(env: &Env) -> Result<u32, String> {
    match env.parse_or("DB_TX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)? {
        0 => Err(
            "DB_TX_MAX_ATTEMPTS=0 is not allowed; set at least 1 (runs of a transaction \
                  that conflicts with concurrent ones) or unset it for 10"
                .to_owned(),
        ),
        n => Ok(n),
    }
}

/// Waits before attempt `failed + 1`: a random time below 2^`failed` ms,
/// capped at [`MAX_PAUSE`].
pub(crate) async fn pause(failed: u32) {
    let bound = Duration::from_millis(1 << failed.min(16)).min(MAX_PAUSE);
    let bound_us = u64::try_from(bound.as_micros()).unwrap_or(u64::MAX);
    let random = uuid::Uuid::new_v4().as_u64_pair().0;
    tokio::time::sleep(Duration::from_micros(random % bound_us.max(1))).await;
}

/// The error of a transaction whose every attempt conflicted: `last` is the
/// conflict of the last one.
pub(crate) fn exhausted(last: &DbError, attempts: u32) -> DbError {
    let runs = if attempts == 1 { "once" } else { "times" };
    let times = if attempts == 1 {
        String::new()
    } else {
        format!("{attempts} ")
    };
    DbError::conflict(format!(
        "the transaction conflicted with concurrent transactions and was rolled back {times}{runs} \
         (DB_TX_MAX_ATTEMPTS={attempts}), the last time with: {}; nothing it wrote was kept. \
         Keep transactions short, touch fewer rows that many requests update (split a hot \
         counter), or raise DB_TX_MAX_ATTEMPTS",
        last.message
    ))
}

#[cfg(test)]
mod tests {
    use microcore_kernel::Env;

    #[test]
    fn the_setting_defaults_to_ten_and_refuses_zero_and_words() {
        assert_eq!(
            super::max_attempts(&Env::from_pairs([("OTHER", "1")])),
            Ok(10)
        );
        let three = Env::from_pairs([("DB_TX_MAX_ATTEMPTS", "3")]);
        assert_eq!(super::max_attempts(&three), Ok(3));
        let zero = super::max_attempts(&Env::from_pairs([("DB_TX_MAX_ATTEMPTS", "0")]));
        assert!(zero.unwrap_err().contains("at least 1"));
        let word = super::max_attempts(&Env::from_pairs([("DB_TX_MAX_ATTEMPTS", "many")]));
        assert!(word.unwrap_err().contains("DB_TX_MAX_ATTEMPTS"));
    }

    #[test]
    fn the_exhausted_error_names_the_conflict_the_attempts_and_the_fix() {
        let last = crate::error::DbError::conflict("could not serialize (SQLSTATE 40001)");
        let e = super::exhausted(&last, 4);
        assert_eq!(e.kind, crate::DbErrorKind::Conflict);
        for part in [
            "rolled back 4 times",
            "SQLSTATE 40001",
            "DB_TX_MAX_ATTEMPTS=4",
            "short",
        ] {
            assert!(e.message.contains(part), "{part}: {e}");
        }
    }
}
