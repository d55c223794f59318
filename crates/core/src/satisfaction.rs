//! Customer satisfaction (CSAT) over a time range, from the ratings the customers gave the
//! survey the relay's automation sends when a person resolves a conversation (`team.rated`
//! events, stored in `ratings`): how many answered, the average and the distribution of 1 to 5,
//! per agent and team, and the latest comments. Computed on this desk from its cache; every desk
//! that applied the same log shows the same figures.
//!
//! A rating counts at the time the customer gave it, for the agent the conversation was
//! assigned to and the team it was in when it was resolved. Ratings of expired conversations
//! still count (their comments are gone, P12); an erased customer's are gone (P14).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cache::{Cache, CacheError};

/// The most comments [`satisfaction`] returns (the newest).
pub const MAX_COMMENTS: usize = 100;

/// The satisfaction figures of a time range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Satisfaction {
    /// Surveys answered.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub responses: i64,
    /// The average rating (1 to 5); `None` without responses.
    pub average: Option<f64>,
    /// Responses rating 4 or 5 (satisfied): the CSAT score is this share of `responses`.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub satisfied: i64,
    /// How many rated 1, 2, 3, 4 and 5 (five counts, in that order).
    #[cfg_attr(feature = "specta", specta(type = Vec<specta_typescript::Number>))]
    pub distribution: Vec<i64>,
    /// Per agent (the conversation's assignee when it was resolved), most responses first.
    pub by_agent: Vec<AgentSatisfaction>,
    /// Per team (the conversation's team when it was resolved), most responses first.
    pub by_team: Vec<TeamSatisfaction>,
    /// The comments, newest first, at most [`MAX_COMMENTS`].
    pub comments: Vec<RatingComment>,
}

/// An agent's ratings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AgentSatisfaction {
    /// The member (the relay's member id).
    pub member_id: String,
    /// Surveys answered about their conversations.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub responses: i64,
    /// Their average rating.
    pub average: f64,
}

/// A team's ratings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TeamSatisfaction {
    /// The team's id in the automation setup.
    pub team_id: String,
    /// Surveys answered about its conversations.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub responses: i64,
    /// Its average rating.
    pub average: f64,
}

/// A customer's comment with their rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RatingComment {
    /// When the customer rated (UTC ms).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub at: i64,
    /// 1 to 5.
    pub rating: u8,
    /// What they wrote.
    pub comment: String,
    /// The agent rated.
    pub member_id: Option<String>,
    /// The team rated.
    pub team_id: Option<String>,
    /// The conversation rated (to open it).
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub conversation_id: Option<i64>,
}

/// The satisfaction figures of the ratings given from `since_ms` (included) to `until_ms`
/// (excluded), UTC ms, optionally only of a channel kind, a team or an agent.
pub async fn satisfaction(
    cache: &Cache,
    since_ms: i64,
    until_ms: i64,
    channel_kind: Option<&str>,
    team_id: Option<&str>,
    member_id: Option<&str>,
) -> Result<Satisfaction, CacheError> {
    let rows = sqlx::query_as!(
        Rating,
        r#"SELECT rating AS "rating!: i64", member_id, team_id, comment, at AS "at!: i64",
                  conversation_id
           FROM ratings
           WHERE at >= ?1 AND at < ?2
             AND (?3 IS NULL OR channel_kind = ?3)
             AND (?4 IS NULL OR team_id = ?4)
             AND (?5 IS NULL OR member_id = ?5)
           ORDER BY at DESC, id DESC"#,
        since_ms,
        until_ms,
        channel_kind,
        team_id,
        member_id
    )
    .fetch_all(cache.pool())
    .await?;
    Ok(tally(rows))
}

/// A rating as [`satisfaction`] reads it.
struct Rating {
    rating: i64,
    member_id: Option<String>,
    team_id: Option<String>,
    comment: Option<String>,
    at: i64,
    conversation_id: Option<i64>,
}

/// The figures of `ratings` (newest first).
fn tally(ratings: Vec<Rating>) -> Satisfaction {
    let mut figures = Satisfaction {
        distribution: vec![0; 5],
        ..Satisfaction::default()
    };
    let mut sum = 0;
    let mut agents: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut teams: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for row in ratings {
        let Some(slot) = usize::try_from(row.rating - 1)
            .ok()
            .and_then(|i| figures.distribution.get_mut(i))
        else {
            continue;
        };
        *slot += 1;
        figures.responses += 1;
        sum += row.rating;
        if row.rating >= 4 {
            figures.satisfied += 1;
        }
        for (key, totals) in [(&row.member_id, &mut agents), (&row.team_id, &mut teams)] {
            if let Some(key) = key {
                let entry = totals.entry(key.clone()).or_default();
                entry.0 += 1;
                entry.1 += row.rating;
            }
        }
        if let Some(comment) = row.comment
            && figures.comments.len() < MAX_COMMENTS
        {
            figures.comments.push(RatingComment {
                at: row.at,
                rating: u8::try_from(row.rating).unwrap_or_default(),
                comment,
                member_id: row.member_id,
                team_id: row.team_id,
                conversation_id: row.conversation_id,
            });
        }
    }
    figures.average = average(figures.responses, sum);
    figures.by_agent = ranked(agents)
        .map(|(member_id, responses, average)| AgentSatisfaction {
            member_id,
            responses,
            average,
        })
        .collect();
    figures.by_team = ranked(teams)
        .map(|(team_id, responses, average)| TeamSatisfaction {
            team_id,
            responses,
            average,
        })
        .collect();
    figures
}

/// The average of `count` ratings summing to `sum`; `None` without any.
fn average(count: i64, sum: i64) -> Option<f64> {
    (count > 0).then(|| sum as f64 / count as f64)
}

/// `(key, responses, average)`, most responses first (ties by key).
fn ranked(totals: BTreeMap<String, (i64, i64)>) -> impl Iterator<Item = (String, i64, f64)> {
    let mut rows: Vec<(String, i64, f64)> = totals
        .into_iter()
        .map(|(key, (count, sum))| (key, count, average(count, sum).unwrap_or_default()))
        .collect();
    // Stable: equal counts stay in the keys' order.
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    rows.into_iter()
}
