//! What a report reads from the cache: the rollups' counts and openings within its range, and
//! the queue as it stands.
//!
//! The counts and the openings come back as one JSON array each, built by SQLite, rather than a
//! row each: the driver copies every value of every row into its own allocation and hands rows
//! to the caller's thread 50 at a time, which cost most of a report over tens of thousands of
//! openings (docs/benchmarks.md, "Reports and the cost of their rollups", run 3).

use serde::{Deserialize, Deserializer};

use crate::cache::{Cache, CacheError};

use super::range::Days;

/// The filters a report's reads apply (`None`: all).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Filters<'a> {
    /// Only this channel kind.
    pub(crate) channel_kind: Option<&'a str>,
    /// Only this team's openings.
    pub(crate) team_id: Option<&'a str>,
    /// Only this member's work.
    pub(crate) member_id: Option<&'a str>,
}

/// Counts of one measure in one quarter-hour (summed over the openings the filters keep); read
/// from a JSON array of its fields in this order.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CountRow {
    /// The UTC quarter-hour.
    pub(crate) bucket: i64,
    /// `received`, `sent`, `automated` or `assigned`.
    pub(crate) measure: String,
    /// The author (`sent`) or assignee (`assigned`); '' otherwise.
    pub(crate) member_id: String,
    /// The channel kind.
    pub(crate) channel_kind: String,
    /// How many.
    pub(crate) count: i64,
}

/// The counts within `days`: `received` of the openings the filters keep (a member's: the ones
/// assigned to them), `sent` and `assigned` of the member the filter names.
pub(crate) async fn counts(
    cache: &Cache,
    days: &Days,
    filters: Filters<'_>,
) -> Result<Vec<CountRow>, CacheError> {
    let (start, end) = days.buckets();
    let rows = sqlx::query_scalar!(
        r#"
        SELECT json_group_array(json_array(bucket, measure, member_id, channel_kind, count))
               AS "rows!: String"
        FROM (SELECT c.bucket, c.measure, c.member_id, c.channel_kind, sum(c.count) AS count
              FROM report_counts c
              WHERE c.bucket >= ?1 AND c.bucket < ?2
                AND (?3 IS NULL OR c.channel_kind = ?3)
                AND (?4 IS NULL OR (SELECT e.team_id FROM report_episodes e WHERE e.id = c.episode_id) = ?4)
                AND (?5 IS NULL OR CASE WHEN c.measure = 'received'
                                        THEN (SELECT e.assignee_id FROM report_episodes e WHERE e.id = c.episode_id) = ?5
                                        ELSE c.member_id = ?5 END)
              GROUP BY c.bucket, c.measure, c.member_id, c.channel_kind)
        "#,
        start,
        end,
        filters.channel_kind,
        filters.team_id,
        filters.member_id
    )
    .fetch_one(cache.pool())
    .await?;
    from_json(&rows)
}

/// The rows of a JSON array SQLite built (a decoding error if it does not read as `T`s).
fn from_json<T: for<'de> Deserialize<'de>>(rows: &str) -> Result<Vec<T>, CacheError> {
    serde_json::from_str(rows).map_err(|e| CacheError::Query(sqlx::Error::Decode(Box::new(e))))
}

/// SQLite's 0 or 1 as a flag.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(i64::deserialize(deserializer)? != 0)
}

/// An opening, as the rollups keep it; read from a JSON array of its fields in this order.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Episode {
    /// Its team (the latest during the opening).
    pub(crate) team_id: Option<String>,
    /// Its assignee (the latest during the opening).
    pub(crate) assignee_id: Option<String>,
    /// `customer`, `member` or `business`.
    pub(crate) opened_by: String,
    /// Whether a resolved conversation was opened again.
    #[serde(deserialize_with = "flag")]
    pub(crate) reopened: bool,
    /// When it opened.
    pub(crate) opened_at: i64,
    /// The customer's first message of it.
    pub(crate) first_inbound_at: Option<i64>,
    /// A person's first reply to that.
    pub(crate) first_response_at: Option<i64>,
    /// Who wrote it.
    pub(crate) first_response_by: Option<String>,
    /// When it was resolved.
    pub(crate) resolved_at: Option<i64>,
    /// Who resolved it.
    pub(crate) resolved_by: Option<String>,
}

/// The openings of the channel and team the filters name that opened, got their first customer
/// message or first response, or were resolved within `days` (one pass over the openings that
/// started before its end: every later moment of an opening comes after its start).
pub(crate) async fn episodes(
    cache: &Cache,
    days: &Days,
    filters: Filters<'_>,
) -> Result<Vec<Episode>, CacheError> {
    let rows = sqlx::query_scalar!(
        r#"
        SELECT json_group_array(json_array(e.team_id, e.assignee_id, e.opened_by, e.reopened,
                                           e.opened_at, e.first_inbound_at, e.first_response_at,
                                           e.first_response_by, e.resolved_at, e.resolved_by))
               AS "rows!: String"
        FROM report_episodes e
        WHERE (?3 IS NULL OR e.channel_kind = ?3) AND (?4 IS NULL OR e.team_id = ?4)
          AND e.opened_at < ?2
          AND (e.opened_at >= ?1 OR e.first_inbound_at >= ?1 OR e.first_response_at >= ?1
               OR e.resolved_at >= ?1)
        "#,
        days.start_ms,
        days.end_ms,
        filters.channel_kind,
        filters.team_id
    )
    .fetch_one(cache.pool())
    .await?;
    from_json(&rows)
}

/// How many conversations of the channel and team the filters name are open with nobody
/// assigned, and since when each of those waiting for a person's answer waits.
pub(crate) async fn unassigned(
    cache: &Cache,
    filters: Filters<'_>,
) -> Result<(i64, Vec<i64>), CacheError> {
    let count = sqlx::query_scalar!(
        r#"
        SELECT count(*) AS "count!: i64" FROM conversations c
        WHERE c.status = 'open' AND c.assignee_id IS NULL AND (?2 IS NULL OR c.team_id = ?2)
          AND (?1 IS NULL OR EXISTS (SELECT 1 FROM contacts k JOIN channels ch ON ch.id = k.channel_id
                                     WHERE k.id = c.contact_id AND ch.kind = ?1))
        "#,
        filters.channel_kind,
        filters.team_id
    )
    .fetch_one(cache.pool())
    .await?;
    let waits = sqlx::query_scalar!(
        r#"
        SELECT c.awaiting_since AS "awaiting_since!" FROM conversations c
        WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.awaiting_since IS NOT NULL
          AND (?2 IS NULL OR c.team_id = ?2)
          AND (?1 IS NULL OR EXISTS (SELECT 1 FROM contacts k JOIN channels ch ON ch.id = k.channel_id
                                     WHERE k.id = c.contact_id AND ch.kind = ?1))
        "#,
        filters.channel_kind,
        filters.team_id
    )
    .fetch_all(cache.pool())
    .await?;
    Ok((count, waits))
}
