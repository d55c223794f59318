//! The days a report covers: its dates and time zone turned into UTC instants, quarter-hour
//! buckets, and each instant's day, weekday and hour in that time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::ReportError;

/// The length of a rollup bucket: a quarter of an hour (every time zone's offset is a multiple of
/// it, so local days and hours start on a bucket).
pub(crate) const BUCKET_MS: i64 = 900_000;

/// The longest range a report covers, in days (ten years).
pub const MAX_DAYS: i64 = 3_660;

/// A report's days, from the first day's local midnight to the midnight after the last.
#[derive(Debug, Clone)]
pub(crate) struct Days {
    /// The time zone the days are in.
    pub(crate) zone: Tz,
    /// The first day.
    pub(crate) first: NaiveDate,
    /// How many days.
    pub(crate) count: usize,
    /// The first day's local midnight (UTC ms), included.
    pub(crate) start_ms: i64,
    /// The midnight after the last day (UTC ms), excluded.
    pub(crate) end_ms: i64,
}

impl Days {
    /// The days from `since` to `until` (both `YYYY-MM-DD`, both included) in `time_zone`.
    pub(crate) fn parse(since: &str, until: &str, time_zone: &str) -> Result<Self, ReportError> {
        let zone: Tz = time_zone
            .parse()
            .map_err(|_| ReportError::TimeZone(time_zone.to_string()))?;
        let first = date("since", since)?;
        let last = date("until", until)?;
        let days = (last - first).num_days() + 1;
        if days < 1 {
            return Err(ReportError::Range {
                since: since.into(),
                until: until.into(),
            });
        }
        if days > MAX_DAYS {
            return Err(ReportError::TooLong { days });
        }
        Ok(Self {
            zone,
            first,
            count: days as usize,
            start_ms: midnight_ms(&zone, first),
            end_ms: midnight_ms(&zone, last + Duration::days(1)),
        })
    }

    /// The buckets of the range: `start..end`.
    pub(crate) fn buckets(&self) -> (i64, i64) {
        (
            self.start_ms.div_euclid(BUCKET_MS),
            self.end_ms.div_euclid(BUCKET_MS),
        )
    }

    /// Whether `at_ms` is inside the range.
    pub(crate) fn holds(&self, at_ms: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&at_ms)
    }

    /// Where `at_ms` falls in the range's time zone: (day of the range, weekday from Monday = 0,
    /// hour); `None` outside the range.
    pub(crate) fn place(&self, at_ms: i64) -> Option<(usize, usize, usize)> {
        if !self.holds(at_ms) {
            return None;
        }
        let local = DateTime::<Utc>::from_timestamp_millis(at_ms)?.with_timezone(&self.zone);
        let day = (local.date_naive() - self.first).num_days();
        Some((
            usize::try_from(day).ok()?.min(self.count - 1),
            local.weekday().num_days_from_monday() as usize,
            local.hour() as usize,
        ))
    }

    /// Each day of the range, `YYYY-MM-DD`.
    pub(crate) fn names(&self) -> Vec<String> {
        (0..self.count)
            .map(|d| (self.first + Duration::days(d as i64)).to_string())
            .collect()
    }
}

/// `value` as a date, or an error naming `field`.
fn date(field: &'static str, value: &str) -> Result<NaiveDate, ReportError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| ReportError::Date {
        field,
        value: value.to_string(),
    })
}

/// UTC ms of `date`'s first moment in `zone` (where clocks skip midnight, the first moment after).
fn midnight_ms(zone: &Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_time(NaiveTime::MIN);
    (0..=4)
        .find_map(|quarter| {
            zone.from_local_datetime(&(midnight + Duration::minutes(15 * quarter)))
                .earliest()
        })
        .map_or_else(
            || midnight.and_utc().timestamp_millis(),
            |t| t.timestamp_millis(),
        )
}

/// The day `now_ms` falls on in `time_zone`, and the day `days - 1` before it: the range of the
/// last `days` days up to today (what the CLI shows by default).
pub fn last_days(time_zone: &str, now_ms: i64, days: i64) -> Result<(String, String), ReportError> {
    let zone: Tz = time_zone
        .parse()
        .map_err(|_| ReportError::TimeZone(time_zone.to_string()))?;
    let today = DateTime::<Utc>::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&zone)
        .date_naive();
    let first = today - Duration::days((days - 1).max(0));
    Ok((first.to_string(), today.to_string()))
}

/// The first of the `days` days that end on `until` (`YYYY-MM-DD`): the default start of a range
/// that names only its end.
pub fn first_of_days(until: &str, days: i64) -> Result<String, ReportError> {
    Ok((date("until", until)? - Duration::days((days - 1).max(0))).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_local_midnight() {
        // Berlin is UTC+1 in December: the 1st starts at 23:00 UTC on November 30th.
        let days = Days::parse("2026-12-01", "2026-12-02", "Europe/Berlin").unwrap_or_else(|e| {
            panic!("{e}");
        });
        assert_eq!(days.count, 2);
        assert_eq!(days.start_ms, 1_796_079_600_000);
        assert_eq!(days.end_ms - days.start_ms, 2 * 86_400_000);
        assert_eq!(days.place(days.start_ms), Some((0, 1, 0)));
        assert_eq!(days.place(days.start_ms - 1), None);
        assert_eq!(days.place(days.end_ms - 1), Some((1, 2, 23)));
    }

    #[test]
    fn a_day_of_a_clock_change_is_23_or_25_hours() {
        let spring = Days::parse("2026-03-29", "2026-03-29", "Europe/Berlin").unwrap_or_else(|e| {
            panic!("{e}");
        });
        assert_eq!(spring.end_ms - spring.start_ms, 23 * 3_600_000);
        let autumn = Days::parse("2026-10-25", "2026-10-25", "Europe/Berlin").unwrap_or_else(|e| {
            panic!("{e}");
        });
        assert_eq!(autumn.end_ms - autumn.start_ms, 25 * 3_600_000);
    }

    #[test]
    fn bad_dates_zones_and_ranges_say_which() {
        assert!(matches!(
            Days::parse("2026-13-01", "2026-12-01", "UTC"),
            Err(ReportError::Date { field: "since", .. })
        ));
        assert!(matches!(
            Days::parse("2026-12-01", "yesterday", "UTC"),
            Err(ReportError::Date { field: "until", .. })
        ));
        assert!(matches!(
            Days::parse("2026-12-02", "2026-12-01", "UTC"),
            Err(ReportError::Range { .. })
        ));
        assert!(matches!(
            Days::parse("2026-12-01", "2026-12-01", "Mars/Olympus"),
            Err(ReportError::TimeZone(_))
        ));
        assert!(matches!(
            Days::parse("2000-01-01", "2026-12-01", "UTC"),
            Err(ReportError::TooLong { .. })
        ));
    }

    #[test]
    fn the_last_days_end_today_in_the_time_zone() {
        // 2026-12-06 23:30 UTC is already the 7th in Berlin.
        let now = 1_796_599_800_000;
        assert_eq!(
            last_days("Europe/Berlin", now, 30).ok(),
            Some(("2026-11-08".to_string(), "2026-12-07".to_string()))
        );
        assert_eq!(
            first_of_days("2026-12-07", 30).ok().as_deref(),
            Some("2026-11-08")
        );
        assert_eq!(
            last_days("UTC", now, 1).ok(),
            Some(("2026-12-06".to_string(), "2026-12-06".to_string()))
        );
    }
}
