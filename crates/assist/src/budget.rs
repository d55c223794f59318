//! The workspace's monthly budget, in tokens: a request is refused before it is sent when the
//! month's usage plus the request's estimate would pass it. The month is the calendar month in the
//! workspace's time zone (its automation setup's zone; UTC when it has none), so a budget renews at
//! the workspace's own midnight of the 1st.

use chrono::{Datelike, TimeZone, Utc};
use chrono_tz::Tz;

use crate::AssistError;
use crate::features::PreparedRequest;

/// A month of a workspace's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BudgetMonth {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
    /// Its first instant (UTC ms): midnight of the 1st in the workspace's zone.
    pub starts_at_ms: i64,
}

impl BudgetMonth {
    /// The month `at_ms` falls in, in `zone` (an IANA name; UTC when empty or unknown).
    pub fn containing(at_ms: i64, zone: &str) -> Self {
        let tz: Tz = zone.parse().unwrap_or(Tz::UTC);
        let at = Utc
            .timestamp_millis_opt(at_ms)
            .single()
            .unwrap_or_default()
            .with_timezone(&tz);
        let (year, month) = (at.year(), at.month());
        let starts_at_ms = tz
            .with_ymd_and_hms(year, month, 1, 0, 0, 0)
            .earliest()
            .map_or(at_ms, |start| start.timestamp_millis());
        Self {
            year,
            month,
            starts_at_ms,
        }
    }

    /// `2026-12`.
    pub fn label(&self) -> String {
        format!("{}-{:02}", self.year, self.month)
    }
}

/// A workspace's budget and what it has used this month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Tokens allowed per month; `None` for no limit.
    pub monthly_tokens: Option<u64>,
    /// Tokens used this month (prompt and answer, as providers report them).
    pub spent_this_month: u64,
}

impl Budget {
    /// Refuses a request the budget cannot cover: its estimated prompt plus its longest answer.
    pub fn check(&self, request: &PreparedRequest) -> Result<(), AssistError> {
        let Some(limit) = self.monthly_tokens else {
            return Ok(());
        };
        let needed = request.estimated_prompt_tokens() + u64::from(request.max_tokens);
        if self.spent_this_month.saturating_add(needed) > limit {
            return Err(AssistError::BudgetSpent {
                limit,
                spent: self.spent_this_month,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_follow_the_workspace_zone() {
        // 2026-12-31T23:30Z is already January in Madrid, still December in New York.
        let at = 1_798_759_800_000;
        assert_eq!(
            BudgetMonth::containing(at, "Europe/Madrid").label(),
            "2027-01"
        );
        assert_eq!(
            BudgetMonth::containing(at, "America/New_York").label(),
            "2026-12"
        );
        assert_eq!(BudgetMonth::containing(at, "").label(), "2026-12");
        let madrid = BudgetMonth::containing(at, "Europe/Madrid");
        assert_eq!(
            madrid.starts_at_ms, 1_798_758_000_000,
            "midnight of the 1st in Madrid is 23:00Z"
        );
    }
}
