//! The audience of a broadcast campaign (issue 24, ADR 0021 §1), chosen on this desk's cache:
//! the WhatsApp customers of one number, narrowed by labels (any of / all of, on the customer or
//! on any of their conversations), contact attributes (field equals value) and the time of their
//! last message; answered as a count, a sample and the customers left out, counted apart by
//! reason.
//!
//! Left out: a restricted customer (P14), one whose latest consent record is an opt-out, and for
//! a marketing template one never recorded as opted in (utility and authentication templates
//! follow Meta's rules: anyone not opted out and not restricted). An erased customer is not in
//! the cache any more, so never chosen. The relay checks every recipient again at its turn.
//!
//! The SQL is built at run time from the filter (labels and attributes vary in number), every
//! value bound; per customer it reads only indexes (`consent_records_by_contact`,
//! `conversations_by_contact`, the labels' keys), so a count over 50,000 customers stays fast.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use zentro_events::campaigns::{MAX_RECIPIENTS, NewRecipient};

use crate::cache::{Cache, CacheError};

/// How many eligible customers the sample shows.
pub const SAMPLE: usize = 20;

/// Most labels or attribute conditions one audience names.
pub const MAX_CONDITIONS: usize = 20;

const DAY_MS: i64 = 86_400_000;

/// How several labels combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum LabelMatch {
    /// The customer has at least one of them.
    #[default]
    Any,
    /// The customer has every one of them.
    All,
}

/// A contact attribute the customer must have with exactly this value (`city` = `Lisbon`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AttributeEquals {
    /// The attribute's name, as the contact panel shows it.
    pub key: String,
    /// The value it must have (compared exactly, spaces around trimmed).
    pub value: String,
}

/// When the customer last wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum LastActivity {
    /// Their last message is at most this many days old.
    WithinDays {
        /// Days back from now (1 or more).
        days: u32,
    },
    /// Their last message is on one of these days (both included, `YYYY-MM-DD`, in the
    /// workspace's time zone).
    Between {
        /// The first day.
        since: String,
        /// The last day.
        until: String,
    },
}

/// Which customers a campaign goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AudienceFilter {
    /// The WhatsApp number's channel (the cache's and relay's id, `whatsapp:<phone number id>`):
    /// its customers are the candidates.
    pub channel_id: String,
    /// Labels (names); none: no condition on labels.
    pub labels: Vec<String>,
    /// Whether the customer needs any or all of `labels`.
    pub label_match: LabelMatch,
    /// Attributes the customer must have, all of them.
    pub attributes: Vec<AttributeEquals>,
    /// When they last wrote (`None`: no condition).
    pub last_activity: Option<LastActivity>,
}

/// Customers the filter chose who will not receive the campaign, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ExcludedCounts {
    /// A marketing template, and the customer never opted in.
    pub no_consent: u32,
    /// The customer's latest consent record is an opt-out.
    pub opted_out: u32,
    /// The customer's processing is restricted (P14): kept, never messaged.
    pub restricted: u32,
}

/// One customer who will receive the campaign, as the sample shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AudienceMember {
    /// The contact in this cache.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub contact_id: i64,
    /// Their WhatsApp id (`wa_id`).
    pub customer_id: String,
    /// Their name as the desk knows it (empty when unknown).
    pub name: String,
    /// Their phone number, when WhatsApp gave it.
    pub phone: Option<String>,
}

/// What a filter chooses: how many will receive the campaign, who the first of them are, and who
/// is left out and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Audience {
    /// Customers who will receive it.
    pub eligible: u32,
    /// The first [`SAMPLE`] of them, in the order they are handed to the relay.
    pub sample: Vec<AudienceMember>,
    /// Customers the filter chose who are left out, by reason.
    pub excluded: ExcludedCounts,
    /// The filter in words, kept with the campaign (`NewCampaign::audience`).
    pub description: String,
}

/// Why an audience can't be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    /// The filter can't be used as written; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The cache could not be read.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl From<sqlx::Error> for AudienceError {
    fn from(error: sqlx::Error) -> Self {
        Self::Cache(error.into())
    }
}

/// A value bound into the built SQL.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// The filter as SQL: the candidates' `WHERE` after the channel, its binds, and whether it can
/// choose anyone at all (a label no customer has, under "all of").
#[derive(Debug)]
struct Query {
    conditions: String,
    binds: Vec<Bind>,
    empty: bool,
}

/// How many customers `filter` chooses, the first of them and those left out by reason, for a
/// marketing template (`marketing`) or a utility or authentication one. `time_zone` is the
/// workspace's (the days of [`LastActivity::Between`]); `now` is UTC ms.
pub async fn evaluate(
    cache: &Cache,
    filter: &AudienceFilter,
    marketing: bool,
    time_zone: &str,
    now: i64,
) -> Result<Audience, AudienceError> {
    let query = build(cache, filter, time_zone, now).await?;
    let description = describe(cache, filter).await?;
    if query.empty {
        return Ok(Audience {
            eligible: 0,
            sample: Vec::new(),
            excluded: ExcludedCounts::default(),
            description,
        });
    }
    let mut eligible = 0;
    let mut excluded = ExcludedCounts::default();
    let counts = format!(
        "{} SELECT excluded, count(*) FROM classified GROUP BY excluded",
        classified(&query)
    );
    for row in bound(&counts, &query, filter, marketing)
        .fetch_all(cache.pool())
        .await?
    {
        let reason: Option<String> = row.try_get(0)?;
        let count = u32::try_from(row.try_get::<i64, _>(1)?).unwrap_or(u32::MAX);
        match reason.as_deref() {
            None => eligible = count,
            Some("restricted") => excluded.restricted = count,
            Some("opted_out") => excluded.opted_out = count,
            Some(_) => excluded.no_consent = count,
        }
    }
    let sample = members(cache, &query, filter, marketing, SAMPLE).await?;
    Ok(Audience {
        eligible,
        sample,
        excluded,
        description,
    })
}

/// Every customer `filter` chooses who may receive the template (never one left out), in the
/// cache's order, with the name the template's variables use; at most [`MAX_RECIPIENTS`] + 1,
/// so a caller can tell an audience too large for one campaign.
pub async fn recipients(
    cache: &Cache,
    filter: &AudienceFilter,
    marketing: bool,
    time_zone: &str,
    now: i64,
) -> Result<Vec<NewRecipient>, AudienceError> {
    let query = build(cache, filter, time_zone, now).await?;
    if query.empty {
        return Ok(Vec::new());
    }
    Ok(
        members(cache, &query, filter, marketing, MAX_RECIPIENTS + 1)
            .await?
            .into_iter()
            .map(|m| NewRecipient {
                customer_id: m.customer_id,
                name: Some(m.name).filter(|n| !n.trim().is_empty()),
            })
            .collect(),
    )
}

/// The first `limit` eligible customers, by contact id.
async fn members(
    cache: &Cache,
    query: &Query,
    filter: &AudienceFilter,
    marketing: bool,
    limit: usize,
) -> Result<Vec<AudienceMember>, AudienceError> {
    let sql = format!(
        "{} SELECT id, external_id, display_name, phone FROM classified WHERE excluded IS NULL ORDER BY id LIMIT {limit}",
        classified(query)
    );
    let rows = bound(&sql, query, filter, marketing)
        .fetch_all(cache.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(AudienceMember {
                contact_id: row.try_get(0)?,
                customer_id: row.try_get(1)?,
                name: row.try_get(2)?,
                phone: row.try_get(3)?,
            })
        })
        .collect()
}

/// The `WITH` clause every audience query starts with: the channel's customers the filter chose
/// (`?1` the channel, `?2` marketing), each with why they are left out (`NULL`: they are not) —
/// restricted first, then an opt-out as their latest consent record, then (marketing) none at
/// all; their consent is read once, through `consent_records_by_contact`.
fn classified(query: &Query) -> String {
    format!(
        "WITH classified AS (
            SELECT k.id, k.external_id, k.display_name, k.phone,
                   nullif(CASE WHEN k.restricted <> 0 THEN 'restricted'
                          ELSE coalesce((SELECT CASE WHEN r.opted_in = 0 THEN 'opted_out' ELSE '' END
                                         FROM consent_records r WHERE r.contact_id = k.id
                                         ORDER BY r.seq DESC LIMIT 1),
                                        CASE WHEN ?2 THEN 'no_consent' ELSE '' END) END, '') AS excluded
            FROM contacts k
            WHERE k.channel_id = ?1{}
        )",
        query.conditions
    )
}

/// `sql` with the channel, `marketing` and the filter's values bound.
fn bound<'q>(
    sql: &'q str,
    query: &'q Query,
    filter: &'q AudienceFilter,
    marketing: bool,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let mut q = sqlx::query(sql).bind(&filter.channel_id).bind(marketing);
    for value in &query.binds {
        q = match value {
            Bind::Text(text) => q.bind(text.as_str()),
            Bind::Int(n) => q.bind(*n),
        };
    }
    q
}

impl Query {
    /// The number of the next value bound (`?1` is the channel, `?2` marketing): every
    /// parameter is numbered, as sqlx binds anonymous ones from the first.
    fn next(&self) -> usize {
        self.binds.len() + 3
    }
}

/// The filter checked and turned into conditions on `k` (the contact).
async fn build(
    cache: &Cache,
    filter: &AudienceFilter,
    time_zone: &str,
    now: i64,
) -> Result<Query, AudienceError> {
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM channels WHERE id = ?")
        .bind(&filter.channel_id)
        .fetch_optional(cache.pool())
        .await?;
    match kind.as_deref() {
        Some("whatsapp") => {}
        Some(_) => {
            return Err(AudienceError::Invalid(
                "campaigns are sent on WhatsApp numbers only (Meta's templates are WhatsApp's)"
                    .into(),
            ));
        }
        None => {
            return Err(AudienceError::Invalid(format!(
                "channel {:?} is not in this desk's cache; choose one of the workspace's WhatsApp numbers",
                filter.channel_id
            )));
        }
    }
    if filter.labels.len() > MAX_CONDITIONS || filter.attributes.len() > MAX_CONDITIONS {
        return Err(AudienceError::Invalid(format!(
            "an audience names at most {MAX_CONDITIONS} labels and {MAX_CONDITIONS} attributes"
        )));
    }
    let mut query = Query {
        conditions: String::new(),
        binds: Vec::new(),
        empty: false,
    };
    label_conditions(cache, filter, &mut query).await?;
    attribute_conditions(filter, &mut query)?;
    if let Some(activity) = &filter.last_activity {
        let (from, until) = activity_range(activity, time_zone, now)?;
        // The customer's last message: the latest inbound of any of their conversations.
        let (a, b) = (query.next(), query.next() + 1);
        query.conditions.push_str(&format!(
            " AND (SELECT max(c.last_inbound_at) FROM conversations c WHERE c.contact_id = k.id) BETWEEN ?{a} AND ?{b}"
        ));
        query
            .binds
            .extend([Bind::Int(from), Bind::Int(until.saturating_sub(1))]);
    }
    Ok(query)
}

/// The labels' conditions: a customer has a label when it is on them or on one of their
/// conversations. Unknown labels match no one.
async fn label_conditions(
    cache: &Cache,
    filter: &AudienceFilter,
    query: &mut Query,
) -> Result<(), AudienceError> {
    let names: Vec<&str> = filter
        .labels
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(names.len());
    for name in &names {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM labels WHERE name = ?")
            .bind(name)
            .fetch_optional(cache.pool())
            .await?;
        ids.push(id);
    }
    let has = |list: &str| {
        format!(
            " (EXISTS (SELECT 1 FROM contact_labels cl WHERE cl.contact_id = k.id AND cl.label_id IN ({list}))
               OR EXISTS (SELECT 1 FROM conversations c JOIN conversation_labels x ON x.conversation_id = c.id
                          WHERE c.contact_id = k.id AND x.label_id IN ({list})))"
        )
    };
    match filter.label_match {
        LabelMatch::Any => {
            let known: Vec<i64> = ids.into_iter().flatten().collect();
            if known.is_empty() {
                query.empty = true;
                return Ok(());
            }
            let list = known
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            query.conditions.push_str(" AND");
            query.conditions.push_str(&has(&list));
        }
        LabelMatch::All => {
            if ids.iter().any(Option::is_none) {
                query.empty = true;
                return Ok(());
            }
            for id in ids.into_iter().flatten() {
                query.conditions.push_str(" AND");
                query.conditions.push_str(&has(&id.to_string()));
            }
        }
    }
    Ok(())
}

/// One condition per attribute: the contact's attributes hold the key with exactly the value.
fn attribute_conditions(filter: &AudienceFilter, query: &mut Query) -> Result<(), AudienceError> {
    for attribute in &filter.attributes {
        let key = attribute.key.trim();
        if key.is_empty() {
            return Err(AudienceError::Invalid(
                "an attribute condition needs the attribute's name".into(),
            ));
        }
        let (k, v) = (query.next(), query.next() + 1);
        query.conditions.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM json_each(k.attributes) a WHERE a.key = ?{k} AND a.value = ?{v})"
        ));
        query.binds.extend([
            Bind::Text(key.to_string()),
            Bind::Text(attribute.value.trim().to_string()),
        ]);
    }
    Ok(())
}

/// The UTC ms range `[from, until)` a last message must fall in.
fn activity_range(
    activity: &LastActivity,
    time_zone: &str,
    now: i64,
) -> Result<(i64, i64), AudienceError> {
    match activity {
        LastActivity::WithinDays { days } => {
            if *days == 0 {
                return Err(AudienceError::Invalid(
                    "\"within the last days\" needs 1 day or more".into(),
                ));
            }
            Ok((now - i64::from(*days) * DAY_MS, i64::MAX))
        }
        LastActivity::Between { since, until } => {
            let zone = zone(time_zone)?;
            let first = day("from", since)?;
            let last = day("to", until)?;
            if last < first {
                return Err(AudienceError::Invalid(format!(
                    "the last day ({until}) is before the first ({since})"
                )));
            }
            Ok((
                local_ms(&zone, first.and_time(NaiveTime::MIN)),
                local_ms(&zone, (last + Duration::days(1)).and_time(NaiveTime::MIN)),
            ))
        }
    }
}

/// `time_zone` parsed, or what to write instead.
pub(crate) fn zone(time_zone: &str) -> Result<Tz, AudienceError> {
    time_zone.parse().map_err(|_| {
        AudienceError::Invalid(format!(
            "{time_zone:?} is not a time zone (use an IANA name such as Europe/Lisbon)"
        ))
    })
}

fn day(field: &str, value: &str) -> Result<NaiveDate, AudienceError> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        AudienceError::Invalid(format!(
            "{field} {value:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-12-01"
        ))
    })
}

/// UTC ms of a local time in `zone`; where the clocks skip it, the first moment after.
fn local_ms(zone: &Tz, local: NaiveDateTime) -> i64 {
    (0..=8)
        .find_map(|quarter| {
            zone.from_local_datetime(&(local + Duration::minutes(15 * quarter)))
                .earliest()
        })
        .map_or_else(
            || local.and_utc().timestamp_millis(),
            |t| t.timestamp_millis(),
        )
}

/// The filter in words, for the campaign's record: "WhatsApp Shop (P1): labels any of espresso,
/// beans; city = Lisbon; last message within 30 days".
pub async fn describe(cache: &Cache, filter: &AudienceFilter) -> Result<String, AudienceError> {
    let name: Option<String> = sqlx::query_scalar("SELECT display_name FROM channels WHERE id = ?")
        .bind(&filter.channel_id)
        .fetch_optional(cache.pool())
        .await?;
    let mut parts = vec![match name.filter(|n| !n.is_empty()) {
        Some(name) => format!("WhatsApp {name} ({})", filter.channel_id),
        None => format!("WhatsApp {}", filter.channel_id),
    }];
    let labels: Vec<&str> = filter
        .labels
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if !labels.is_empty() {
        let how = match filter.label_match {
            LabelMatch::Any => "any of",
            LabelMatch::All => "all of",
        };
        parts.push(format!("labels {how} {}", labels.join(", ")));
    }
    for a in &filter.attributes {
        parts.push(format!("{} = {}", a.key.trim(), a.value.trim()));
    }
    match &filter.last_activity {
        Some(LastActivity::WithinDays { days }) => {
            parts.push(format!("last message within {days} days"))
        }
        Some(LastActivity::Between { since, until }) => {
            parts.push(format!("last message from {since} to {until}"))
        }
        None => {}
    }
    Ok(parts.join("; "))
}

/// A time written in `time_zone` (`YYYY-MM-DDTHH:MM`, as a date-time input gives it) in UTC ms;
/// a time the clocks skip (a daylight-saving change) is refused, an ambiguous one is the first.
pub fn local_time_ms(local: &str, time_zone: &str) -> Result<i64, AudienceError> {
    let zone = zone(time_zone)?;
    let parsed = NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%d %H:%M"))
        .map_err(|_| {
            AudienceError::Invalid(format!(
                "{local:?} is not a date and time: write it as YYYY-MM-DD HH:MM, e.g. 2026-12-08 09:30"
            ))
        })?;
    zone.from_local_datetime(&parsed)
        .earliest()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| {
            AudienceError::Invalid(format!(
                "{local} does not exist in {time_zone} (the clocks skip it); choose another time"
            ))
        })
}

/// `ms` as a local `YYYY-MM-DD HH:MM` in `zone` (for messages).
pub(crate) fn local_text(ms: i64, zone: &Tz) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(zone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table the audience reads per customer is read through an index: only the
    /// channel's contacts are walked (through their key), never conversations, labels or
    /// consent records, which grow with the cache.
    #[tokio::test]
    async fn the_audience_reads_per_customer_through_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_in(dir.path()).await.unwrap();
        sqlx::query(
            "INSERT INTO channels (id, kind, external_id, created_at) VALUES ('whatsapp:P1', 'whatsapp', 'P1', 0);
             INSERT INTO labels (name) VALUES ('espresso'), ('beans');",
        )
        .execute(cache.pool())
        .await
        .unwrap();
        let filter = AudienceFilter {
            channel_id: "whatsapp:P1".into(),
            labels: vec!["espresso".into(), "beans".into()],
            label_match: LabelMatch::All,
            attributes: vec![AttributeEquals {
                key: "city".into(),
                value: "Lisbon".into(),
            }],
            last_activity: Some(LastActivity::WithinDays { days: 30 }),
        };
        let query = build(&cache, &filter, "UTC", 0).await.unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN {} SELECT excluded, count(*) FROM classified GROUP BY excluded",
            classified(&query)
        );
        let plan: Vec<String> = bound(&sql, &query, &filter, true)
            .fetch_all(cache.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>(3))
            .collect();
        let scans: Vec<&String> = plan
            .iter()
            .filter(|step| step.starts_with("SCAN") && !step.contains("VIRTUAL TABLE"))
            .collect();
        assert!(scans.is_empty(), "{plan:#?}");
        assert!(
            plan.iter()
                .any(|s| s.starts_with("SEARCH k USING INDEX sqlite_autoindex_contacts_1")),
            "{plan:#?}"
        );
    }

    #[test]
    fn a_local_time_becomes_utc_in_the_workspaces_time_zone() {
        // Lisbon is UTC+0 in winter, UTC+1 in summer; Berlin one hour ahead of it.
        let winter = local_time_ms("2026-12-08T09:30", "Europe/Lisbon").unwrap();
        assert_eq!(winter, 1_796_722_200_000);
        let berlin = local_time_ms("2026-12-08 09:30", "Europe/Berlin").unwrap();
        assert_eq!(winter - berlin, 3_600_000);
        let summer = local_time_ms("2026-07-01T12:00", "Europe/Lisbon").unwrap();
        assert_eq!(
            local_text(summer, &zone("UTC").unwrap()),
            "2026-07-01 11:00"
        );
        // 02:30 on the last Sunday of March does not exist in Berlin.
        assert!(matches!(
            local_time_ms("2026-03-29T02:30", "Europe/Berlin"),
            Err(AudienceError::Invalid(_))
        ));
        assert!(local_time_ms("tomorrow", "Europe/Berlin").is_err());
        assert!(local_time_ms("2026-12-08T09:30", "Mars/Olympus").is_err());
    }
}
