//! UTC calendar times from Unix milliseconds, without a date library: one conversion for the
//! export's ISO 8601 times, the CLI's tables and file names.

/// A moment in UTC, split into its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Year of the Gregorian calendar (proleptic before 1582; 1970 at the Unix epoch).
    pub year: i64,
    /// Month, 1-12.
    pub month: i64,
    /// Day of the month, 1-31.
    pub day: i64,
    /// Hour, 0-23.
    pub hour: i64,
    /// Minute, 0-59.
    pub minute: i64,
    /// Second, 0-59.
    pub second: i64,
}

impl UtcTime {
    /// The calendar time of `ms` milliseconds since 1970-01-01T00:00:00Z (Howard Hinnant's
    /// days-to-civil algorithm).
    pub fn from_ms(ms: i64) -> Self {
        let secs = ms.div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Self {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }

    /// `2026-11-22T09:07:32Z`.
    pub fn iso(self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2026-11-22`.
    pub fn date(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `2026-11-22 09:07`.
    pub fn minutes(self) -> String {
        format!("{} {:02}:{:02}", self.date(), self.hour, self.minute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_moments_convert_exactly() {
        assert_eq!(UtcTime::from_ms(0).iso(), "1970-01-01T00:00:00Z");
        assert_eq!(UtcTime::from_ms(951_782_400_000).date(), "2000-02-29");
        assert_eq!(
            UtcTime::from_ms(1_795_338_452_000).iso(),
            "2026-11-22T09:07:32Z"
        );
        assert_eq!(UtcTime::from_ms(-1).iso(), "1969-12-31T23:59:59Z");
        assert_eq!(
            UtcTime::from_ms(1_795_338_452_000).minutes(),
            "2026-11-22 09:07"
        );
    }
}
