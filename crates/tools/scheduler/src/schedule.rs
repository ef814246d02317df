//! When a recurring job fires: a 5-field cron in a time zone (parsed and
//! stepped by `croner`, which applies the usual DST rules), or a fixed
//! period aligned to the Unix epoch, so every replica computes the same fire
//! times and one claim per fire time is enough to run it once fleet-wide.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::error::SchedulerError;

/// How many past fires are counted after downtime before saying "at least".
pub(crate) const MISSED_COUNT_CAP: u32 = 1000;

/// A recurring job's timetable.
#[derive(Clone, Debug)]
pub(crate) enum Schedule {
    /// A 5-field cron evaluated in `tz`.
    Cron {
        /// The expression as written.
        expr: String,
        /// The zone's IANA name.
        tz: Tz,
        /// The parsed expression.
        cron: Box<Cron>,
    },
    /// Every `period`, at whole multiples of it since the Unix epoch.
    Every {
        /// In milliseconds, at least 1000.
        period_ms: i64,
    },
}

impl Schedule {
    /// Parses a 5-field cron for job `key` in zone `tz`.
    pub(crate) fn cron(key: &str, expr: &str, tz: &str) -> Result<Self, SchedulerError> {
        let zone: Tz = tz
            .trim()
            .parse()
            .map_err(|_| SchedulerError::InvalidTimeZone {
                key: key.to_owned(),
                tz: tz.to_owned(),
            })?;
        let invalid = |reason: String| SchedulerError::InvalidCron {
            key: key.to_owned(),
            expr: expr.to_owned(),
            reason,
        };
        if expr.split_whitespace().count() != 5 {
            return Err(invalid(format!(
                "it has {} fields",
                expr.split_whitespace().count()
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self::Cron {
            expr: expr.trim().to_owned(),
            tz: zone,
            cron: Box::new(cron),
        })
    }

    /// A fixed period for job `key`: whole seconds, at least one.
    pub(crate) fn every(key: &str, period: Duration) -> Result<Self, SchedulerError> {
        let ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
        if ms < 1000 || ms % 1000 != 0 {
            return Err(SchedulerError::Invalid {
                key: key.to_owned(),
                reason: format!(
                    "an interval of {period:?} is not a whole number of seconds of at least one; \
                     use e.g. Duration::from_secs(300)"
                ),
            });
        }
        Ok(Self::Every { period_ms: ms })
    }

    /// `"cron"` or `"every"`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Cron { .. } => "cron",
            Self::Every { .. } => "every",
        }
    }

    /// The timetable as text: `0 9 * * 1-5 Europe/Madrid`, `every 300s`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Cron { expr, tz, .. } => format!("{expr} {}", tz.name()),
            Self::Every { period_ms } => format!("every {}s", period_ms / 1000),
        }
    }

    /// The first fire strictly after `ms`, or `None` if there is none.
    pub(crate) fn next_after(&self, ms: i64) -> Option<i64> {
        match self {
            Self::Every { period_ms } => {
                Some((ms.div_euclid(*period_ms) + 1).saturating_mul(*period_ms))
            }
            Self::Cron { tz, cron, .. } => {
                let start = DateTime::<Utc>::from_timestamp_millis(ms)?.with_timezone(tz);
                let next = cron.find_next_occurrence(&start, false).ok()?;
                Some(next.timestamp_millis())
            }
        }
    }

    /// The fires from `first` (a fire time) up to `now`: the latest of them
    /// and how many there are (capped at [`MISSED_COUNT_CAP`]); `None` when
    /// `first` is after `now`.
    pub(crate) fn due(&self, first: i64, now: i64) -> Option<(i64, u32)> {
        if first > now {
            return None;
        }
        match self {
            Self::Every { period_ms } => {
                let extra = (now - first) / period_ms;
                let count = u32::try_from(extra.saturating_add(1)).unwrap_or(u32::MAX);
                Some((first + extra * period_ms, count.min(MISSED_COUNT_CAP)))
            }
            Self::Cron { .. } => {
                let (mut latest, mut count) = (first, 1u32);
                while count < MISSED_COUNT_CAP {
                    match self.next_after(latest) {
                        Some(next) if next <= now => {
                            latest = next;
                            count += 1;
                        }
                        _ => return Some((latest, count)),
                    }
                }
                // Past the cap, only the latest fire matters.
                while let Some(next) = self.next_after(latest).filter(|n| *n <= now) {
                    latest = next;
                }
                Some((latest, count))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    fn next(expr: &str, tz: &str, from: i64) -> String {
        let schedule = Schedule::cron("t", expr, tz).expect("a valid cron");
        let at = schedule.next_after(from).expect("a next fire");
        let zone: Tz = tz.parse().expect("a zone");
        DateTime::<Utc>::from_timestamp_millis(at)
            .expect("in range")
            .with_timezone(&zone)
            .to_rfc3339()
    }

    /// The next fire after a given instant, as wall time in the job's zone.
    #[test]
    fn next_fire_table() {
        let table = [
            // Weekdays at 09:00 in Madrid: Friday evening → Monday.
            (
                "0 9 * * 1-5",
                "Europe/Madrid",
                utc(2025, 1, 3, 18, 0),
                "2025-01-06T09:00:00+01:00",
            ),
            // Every 15 minutes in UTC.
            (
                "*/15 * * * *",
                "UTC",
                utc(2025, 1, 1, 10, 7),
                "2025-01-01T10:15:00+00:00",
            ),
            // The 31st skips months without one.
            (
                "0 0 31 * *",
                "UTC",
                utc(2025, 4, 1, 0, 0),
                "2025-05-31T00:00:00+00:00",
            ),
            (
                "0 12 31 * *",
                "UTC",
                utc(2025, 5, 31, 12, 0),
                "2025-07-31T12:00:00+00:00",
            ),
            // February 29 only in leap years.
            (
                "0 0 29 2 *",
                "UTC",
                utc(2025, 1, 1, 0, 0),
                "2028-02-29T00:00:00+00:00",
            ),
            (
                "30 6 29 2 *",
                "UTC",
                utc(2024, 2, 28, 0, 0),
                "2024-02-29T06:30:00+00:00",
            ),
            // Spring forward in Madrid (2025-03-30, 02:00 → 03:00): 02:30
            // does not exist that day, so the job runs at the first instant
            // after the gap, 03:00 CEST.
            (
                "30 2 * * *",
                "Europe/Madrid",
                utc(2025, 3, 29, 12, 0),
                "2025-03-30T03:00:00+02:00",
            ),
            // ...and at 02:30 again the next day.
            (
                "30 2 * * *",
                "Europe/Madrid",
                utc(2025, 3, 30, 12, 0),
                "2025-03-31T02:30:00+02:00",
            ),
            // Fall back in Madrid (2025-10-26, 03:00 → 02:00): 02:30 happens
            // twice; a fixed-time job runs once, at the first (CEST).
            (
                "30 2 * * *",
                "Europe/Madrid",
                utc(2025, 10, 25, 12, 0),
                "2025-10-26T02:30:00+02:00",
            ),
            (
                "30 2 * * *",
                "Europe/Madrid",
                utc(2025, 10, 26, 0, 31),
                "2025-10-27T02:30:00+01:00",
            ),
            // New York's spring forward (2025-03-09).
            (
                "0 9 * * *",
                "America/New_York",
                utc(2025, 3, 8, 15, 0),
                "2025-03-09T09:00:00-04:00",
            ),
        ];
        for (expr, tz, from, want) in table {
            assert_eq!(next(expr, tz, from), want, "{expr} in {tz}");
        }
    }

    #[test]
    fn intervals_are_aligned_to_the_epoch_so_replicas_agree() {
        let every = Schedule::every("t", Duration::from_secs(300)).expect("valid");
        assert_eq!(
            every.next_after(utc(2025, 1, 1, 10, 7)),
            Some(utc(2025, 1, 1, 10, 10))
        );
        assert_eq!(
            every.next_after(utc(2025, 1, 1, 10, 10)),
            Some(utc(2025, 1, 1, 10, 15))
        );
        assert_eq!(
            every.due(utc(2025, 1, 1, 10, 10), utc(2025, 1, 1, 10, 31)),
            Some((utc(2025, 1, 1, 10, 30), 5))
        );
        assert_eq!(
            every.due(utc(2025, 1, 1, 10, 10), utc(2025, 1, 1, 10, 9)),
            None
        );
    }

    #[test]
    fn missed_cron_fires_are_counted() {
        let hourly = Schedule::cron("t", "0 * * * *", "UTC").expect("valid");
        assert_eq!(
            hourly.due(utc(2025, 1, 1, 1, 0), utc(2025, 1, 1, 4, 30)),
            Some((utc(2025, 1, 1, 4, 0), 4))
        );
    }

    #[test]
    fn bad_input_is_an_error_naming_the_job_and_the_fix() {
        let e = Schedule::cron("report", "0 9 * *", "UTC").expect_err("4 fields");
        assert!(
            e.to_string().contains("report") && e.to_string().contains("5-field"),
            "{e}"
        );
        let e = Schedule::cron("report", "0 9 * * 1-5 2025", "UTC").expect_err("6 fields");
        assert!(e.to_string().contains("6 fields"), "{e}");
        let e = Schedule::cron("report", "61 9 * * *", "UTC").expect_err("minute 61");
        assert!(matches!(e, SchedulerError::InvalidCron { .. }), "{e}");
        let e = Schedule::cron("report", "0 9 * * *", "Mars/Olympus").expect_err("zone");
        assert!(e.to_string().contains("Europe/Madrid"), "{e}");
        let e = Schedule::every("cleanup", Duration::from_millis(1500)).expect_err("not whole");
        assert!(e.to_string().contains("cleanup"), "{e}");
        assert!(Schedule::every("cleanup", Duration::ZERO).is_err());
    }
}
