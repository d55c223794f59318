//! Attempt counters shared by relay instances (ADR 0012 §6): the sign-in limiters and Meta's
//! refusals limiter count here on PostgreSQL, one upsert per attempt; on SQLite
//! [`crate::ratelimit::RateLimiter`] counts in memory and these are not called.

use super::{Result, Store};
use crate::read;

impl Store {
    /// Counts one attempt of `key` at `now` (UTC ms) in its window of `window_ms` (which starts
    /// at the key's first attempt, as in memory): the window's count, this attempt included, and
    /// when the window started.
    pub async fn count_attempt(&self, key: &str, now: i64, window_ms: i64) -> Result<(i64, i64)> {
        Ok(read!(
            self,
            rate_limits::count_attempt(key, now, window_ms)
        )?)
    }

    /// Forgets every counted attempt of `key` (after a successful sign-in).
    pub async fn forget_attempts(&self, key: &str) -> Result<()> {
        Ok(read!(self, rate_limits::forget_attempts(key))?)
    }

    /// Deletes the counters of windows that started before `before` (UTC ms); returns how many.
    pub async fn prune_rate_limits(&self, before: i64) -> Result<u64> {
        Ok(read!(self, rate_limits::prune_rate_limits(before))?)
    }
}
