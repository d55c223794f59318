//! Business hours: whether a moment is inside them, which closed period it falls in (the away
//! message goes once per conversation per closed period), and how much open time lies between
//! two moments (reports that count only business hours).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::setup::{Hours, Invalid};

/// An open span of a day, `start` to `end` as `HH:MM` in the hours' time zone (`end` after
/// `start`; `24:00` ends at midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// Opens at, `HH:MM`.
    pub start: String,
    /// Closes at, `HH:MM` (up to `24:00`).
    pub end: String,
}

impl Span {
    /// `(start, end)` in minutes since midnight.
    fn minutes(&self) -> Option<(u32, u32)> {
        Some((minutes(&self.start)?, minutes(&self.end)?))
    }

    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        match self.minutes() {
            Some((start, end)) if start < end => Ok(()),
            _ => Err(Invalid(format!(
                "{}–{} is not an open span (HH:MM to a later HH:MM, up to 24:00)",
                self.start, self.end
            ))),
        }
    }
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// Whether the business is open at `at_ms` (UTC ms) under `hours` (`None`: always open).
pub fn is_open(hours: Option<&Hours>, at_ms: i64) -> bool {
    let Some(hours) = hours else { return true };
    let Some(zone) = hours.zone() else {
        return true;
    };
    let Some(at) = DateTime::<Utc>::from_timestamp_millis(at_ms) else {
        return true;
    };
    let local = at.with_timezone(&zone);
    let date = local.date_naive();
    if hours.holiday_dates().any(|d| d == date) {
        return false;
    }
    let minute = local
        .time()
        .signed_duration_since(NaiveTime::MIN)
        .num_minutes() as u32;
    day_spans(hours, date)
        .into_iter()
        .any(|(start, end)| start <= minute && minute < end)
}

/// The moment (UTC ms) the closed period holding `at_ms` began: the last close before it, or 0
/// when the business was never open in the year before. `None` while open.
pub fn closed_since(hours: Option<&Hours>, at_ms: i64) -> Option<i64> {
    if is_open(hours, at_ms) {
        return None;
    }
    let hours = hours?;
    let zone = hours.zone()?;
    let at = DateTime::<Utc>::from_timestamp_millis(at_ms)?;
    let today = at.with_timezone(&zone).date_naive();
    for back in 0..=366 {
        let date = today - Duration::days(back);
        if hours.holiday_dates().any(|d| d == date) {
            continue;
        }
        let closes = day_spans(hours, date)
            .into_iter()
            .filter_map(|(_, end)| local_ms(&zone, date, end))
            .filter(|close| *close <= at_ms)
            .max();
        if let Some(close) = closes {
            return Some(close);
        }
    }
    Some(0)
}

/// How many milliseconds between `from_ms` and `to_ms` (UTC ms) the business is open under
/// `hours` (`None`, or a time zone that does not read: always open, so all of them); 0 when
/// `to_ms` is not after `from_ms`. Holidays are closed all day; clock changes count as they
/// happen (an open span on the night clocks go forward is an hour shorter).
pub fn open_ms_between(hours: Option<&Hours>, from_ms: i64, to_ms: i64) -> i64 {
    if to_ms <= from_ms {
        return 0;
    }
    let (Some(hours), Some(from), Some(to)) = (
        hours,
        DateTime::<Utc>::from_timestamp_millis(from_ms),
        DateTime::<Utc>::from_timestamp_millis(to_ms),
    ) else {
        return to_ms - from_ms;
    };
    let Some(zone) = hours.zone() else {
        return to_ms - from_ms;
    };
    let holidays: Vec<NaiveDate> = hours.holiday_dates().collect();
    let last = to.with_timezone(&zone).date_naive();
    let mut date = from.with_timezone(&zone).date_naive();
    let mut open = 0;
    while date <= last {
        if !holidays.contains(&date) {
            for (start, end) in day_spans(hours, date) {
                let (Some(start), Some(end)) =
                    (local_ms(&zone, date, start), local_ms(&zone, date, end))
                else {
                    continue;
                };
                open += (end.min(to_ms) - start.max(from_ms)).max(0);
            }
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    open
}

/// The open spans of a date (minutes), Monday first in `weekly`.
fn day_spans(hours: &Hours, date: NaiveDate) -> Vec<(u32, u32)> {
    let weekday = date.weekday().num_days_from_monday() as usize;
    hours
        .weekly
        .get(weekday)
        .map(|spans| spans.iter().filter_map(Span::minutes).collect())
        .unwrap_or_default()
}

/// UTC ms of `minute` past midnight on `date` in `zone` (the earlier one when clocks go back; a
/// time skipped when clocks go forward counts as the hour after).
fn local_ms(zone: &chrono_tz::Tz, date: NaiveDate, minute: u32) -> Option<i64> {
    let naive = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute));
    zone.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hours(zone: &str, weekday: &[(&str, &str)]) -> Hours {
        let day: Vec<Span> = weekday
            .iter()
            .map(|(s, e)| Span {
                start: s.to_string(),
                end: e.to_string(),
            })
            .collect();
        let mut weekly = vec![day; 5];
        weekly.extend([vec![], vec![]]);
        Hours {
            time_zone: zone.into(),
            weekly,
            holidays: vec![],
        }
    }

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn open_follows_the_named_time_zone() {
        let h = hours("America/Sao_Paulo", &[("09:00", "18:00")]);
        // Monday 2026-12-07 09:30 in São Paulo is 12:30 UTC.
        assert!(is_open(Some(&h), ms("2026-12-07T12:30:00Z")));
        assert!(!is_open(Some(&h), ms("2026-12-07T11:30:00Z")));
        // Saturday.
        assert!(!is_open(Some(&h), ms("2026-12-12T12:30:00Z")));
        assert!(is_open(None, 0));
    }

    #[test]
    fn a_closed_period_starts_at_the_last_close() {
        let h = hours("Europe/Lisbon", &[("09:00", "12:00"), ("13:00", "17:00")]);
        // Monday lunch: closed since 12:00 (Lisbon is UTC in December).
        assert_eq!(
            closed_since(Some(&h), ms("2026-12-07T12:30:00Z")),
            Some(ms("2026-12-07T12:00:00Z"))
        );
        // Saturday and Sunday are one period, since Friday's close.
        let friday = Some(ms("2026-12-11T17:00:00Z"));
        assert_eq!(closed_since(Some(&h), ms("2026-12-12T10:00:00Z")), friday);
        assert_eq!(closed_since(Some(&h), ms("2026-12-14T08:59:00Z")), friday);
        assert_eq!(closed_since(Some(&h), ms("2026-12-07T10:00:00Z")), None);
    }

    #[test]
    fn holidays_close_the_whole_day() {
        let mut h = hours("Europe/Lisbon", &[("09:00", "17:00")]);
        h.holidays = vec!["2026-12-08".into()];
        assert!(!is_open(Some(&h), ms("2026-12-08T10:00:00Z")));
        assert_eq!(
            closed_since(Some(&h), ms("2026-12-08T10:00:00Z")),
            Some(ms("2026-12-07T17:00:00Z"))
        );
    }

    #[test]
    fn never_open_is_one_period() {
        let h = Hours {
            time_zone: "UTC".into(),
            weekly: vec![vec![]; 7],
            holidays: vec![],
        };
        assert_eq!(closed_since(Some(&h), ms("2026-12-08T10:00:00Z")), Some(0));
    }

    #[test]
    fn open_time_between_two_moments_counts_only_open_spans() {
        let h = hours("Europe/Lisbon", &[("09:00", "12:00"), ("13:00", "17:00")]);
        let hour = 3_600_000;
        // Monday 08:00 to 14:30: 09–12 and 13–14:30 are open.
        assert_eq!(
            open_ms_between(
                Some(&h),
                ms("2026-12-07T08:00:00Z"),
                ms("2026-12-07T14:30:00Z")
            ),
            4 * hour + hour / 2
        );
        // Friday 16:00 to Monday 10:00: an hour on Friday and an hour on Monday.
        assert_eq!(
            open_ms_between(
                Some(&h),
                ms("2026-12-11T16:00:00Z"),
                ms("2026-12-14T10:00:00Z")
            ),
            2 * hour
        );
        // Inside one span, and backwards.
        assert_eq!(
            open_ms_between(
                Some(&h),
                ms("2026-12-07T09:10:00Z"),
                ms("2026-12-07T09:40:00Z")
            ),
            hour / 2
        );
        assert_eq!(
            open_ms_between(
                Some(&h),
                ms("2026-12-07T10:00:00Z"),
                ms("2026-12-07T09:00:00Z")
            ),
            0
        );
        // No hours: always open.
        assert_eq!(open_ms_between(None, 0, 5 * hour), 5 * hour);
    }

    #[test]
    fn open_time_skips_holidays_and_follows_the_time_zone() {
        let mut h = hours("America/Sao_Paulo", &[("09:00", "18:00")]);
        h.holidays = vec!["2026-12-08".into()];
        // Monday 09:00 São Paulo (12:00 UTC) to Wednesday 10:00 (13:00 UTC): all of Monday (9
        // hours), no Tuesday (a holiday), an hour on Wednesday.
        assert_eq!(
            open_ms_between(
                Some(&h),
                ms("2026-12-07T12:00:00Z"),
                ms("2026-12-09T13:00:00Z")
            ),
            10 * 3_600_000
        );
    }

    #[test]
    fn spans_parse_strictly() {
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("24:01"), None);
        assert_eq!(minutes("9:00"), None);
        assert!(
            Span {
                start: "10:00".into(),
                end: "09:00".into()
            }
            .validate()
            .is_err()
        );
    }
}
