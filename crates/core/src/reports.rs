//! Reports (issue 23): a manager's figures over any date range, computed on this desk from its
//! own cache (nothing leaves the machine); definitions in `docs/reports.md`.
//!
//! The figures come from rollups the cache keeps as the log is applied ([`rollups`]): openings of
//! conversations and quarter-hour counts, without content, that outlive retention. [`range`] turns
//! a query's days into instants, [`read`] reads the rollups, [`figures`] sums them up.

mod figures;
mod range;
mod read;
pub(crate) mod rollups;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cache::{Cache, CacheError};
use crate::members::Teammate;
use crate::satisfaction::Satisfaction;

pub use range::{MAX_DAYS, first_of_days, last_days};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A date that does not read.
    #[error("{field} {value:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-12-01")]
    Date {
        /// `since` or `until`.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// The last day is before the first.
    #[error("the range ends ({until}) before it starts ({since}): give the earlier day as since")]
    Range {
        /// The first day given.
        since: String,
        /// The last day given.
        until: String,
    },
    /// More days than a report covers.
    #[error(
        "{days} days is longer than a report covers (at most {MAX_DAYS} days): choose a shorter range"
    )]
    TooLong {
        /// How many days were asked for.
        days: i64,
    },
    /// A time zone that is not an IANA name.
    #[error("{0:?} is not a time zone: use an IANA name such as Europe/Berlin or UTC")]
    TimeZone(String),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// The figures of `query` from `cache` at `now_ms` (the queue's waits and targets still running
/// are measured to it). Members' emails are left empty: [`name_agents`] fills them from the team
/// list, which the relay keeps.
pub async fn report(
    cache: &Cache,
    query: &ReportQuery,
    now_ms: i64,
) -> Result<Report, ReportError> {
    let days = range::Days::parse(&query.since, &query.until, &query.time_zone)?;
    let filters = read::Filters {
        channel_kind: query.channel_kind.as_deref(),
        team_id: query.team_id.as_deref(),
        member_id: query.member_id.as_deref(),
    };
    let setup = crate::teams::cached_setup(cache).await?.map(|s| s.setup);
    let teams: BTreeMap<String, (String, Option<i64>)> = setup
        .iter()
        .flat_map(|s| &s.teams)
        .map(|t| {
            let target = t.first_response_minutes.map(|m| i64::from(m) * 60_000);
            (t.id.clone(), (t.name.clone(), target))
        })
        .collect();
    let frame = figures::Frame {
        days: &days,
        filters,
        hours: setup
            .as_ref()
            .and_then(|s| s.hours.as_ref())
            .filter(|_| query.business_hours_only),
        teams,
        now_ms,
    };
    let empty = Report {
        since: query.since.clone(),
        until: query.until.clone(),
        time_zone: query.time_zone.clone(),
        business_hours_only: query.business_hours_only,
        ..Report::default()
    };
    let mut figures = figures::Figures::new(empty, &frame);
    // The reads go to separate connections of the pool at once (WAL readers do not wait for one
    // another): the report takes as long as the longest read, not their sum.
    let (counts, episodes, (open_unassigned, waits), rated) = tokio::try_join!(
        read::counts(cache, &days, filters),
        read::episodes(cache, &days, filters),
        read::unassigned(cache, filters),
        crate::satisfaction::satisfaction(
            cache,
            days.start_ms,
            days.end_ms,
            filters.channel_kind,
            filters.team_id,
            filters.member_id,
        ),
    )?;
    figures.add_counts(&counts, &frame);
    figures.add_episodes(&episodes, &frame);
    let queue = figures::queue(open_unassigned, &waits, &frame);
    let mut report = figures.finish(&frame, queue);
    let asks = setup.as_ref().is_some_and(|s| s.csat.is_some());
    report.satisfaction = (asks || rated.responses > 0).then_some(rated);
    Ok(report)
}

/// Fills the members' emails from the team list (`members`, as the relay lists them) and orders
/// them by email; a member no longer in the list keeps an empty email and comes last.
pub fn name_agents(report: &mut Report, members: &[Teammate]) {
    for agent in &mut report.by_agent {
        if let Some(member) = members.iter().find(|m| m.id == agent.member_id) {
            agent.email.clone_from(&member.email);
        }
    }
    report.by_agent.sort_by(|a, b| {
        (a.email.is_empty(), &a.email, &a.member_id).cmp(&(
            b.email.is_empty(),
            &b.email,
            &b.member_id,
        ))
    });
}

/// What a report covers: calendar days in a time zone (both ends included) and the filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReportQuery {
    /// The first day, `YYYY-MM-DD`.
    pub since: String,
    /// The last day, `YYYY-MM-DD`.
    pub until: String,
    /// The IANA time zone the days and the heatmap are in (the desk passes its own).
    pub time_zone: String,
    /// Only this channel kind (`whatsapp`, `messenger`, `instagram`).
    pub channel_kind: Option<String>,
    /// Only conversations of this team (its id in the automation setup).
    pub team_id: Option<String>,
    /// Only this member's work (the relay's member id).
    pub member_id: Option<String>,
    /// Durations count only the workspace's business hours.
    pub business_hours_only: bool,
}

/// Conversations started, resolved and reopened within the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationCounts {
    /// Openings: a customer's message started a conversation or reopened a resolved one.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub opened: i64,
    /// Resolutions.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub resolved: i64,
    /// Resolved conversations opened again (by the customer or a member).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub reopened: i64,
}

/// Messages received from customers and sent by people within the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessageCounts {
    /// Customers' messages.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub received: i64,
    /// Members' messages (the automation's are not counted).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub sent: i64,
}

/// A distribution of durations in seconds; `None` where there is nothing to measure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Durations {
    /// The median.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub median: Option<i64>,
    /// The 90th percentile.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub p90: Option<i64>,
    /// How many durations were measured.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub count: i64,
}

/// The queue now (independent of the range).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Queue {
    /// Open conversations nobody is assigned.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub open_unassigned: i64,
    /// How long the longest of them has waited for a person, in seconds.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub oldest_waiting_seconds: Option<i64>,
    /// Their median wait, in seconds.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub median_waiting_seconds: Option<i64>,
}

/// One member's work within the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AgentFigures {
    /// The relay's member id.
    pub member_id: String,
    /// Their email as this desk knows it (empty when it does not).
    pub email: String,
    /// Conversations given to them.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub assigned: i64,
    /// Messages they sent.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub replied: i64,
    /// Conversations they resolved.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub resolved: i64,
    /// The median of their first responses, in seconds.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub first_response_median_seconds: Option<i64>,
}

/// One channel kind's messages within the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ChannelFigures {
    /// `whatsapp`, `messenger` or `instagram`.
    pub channel_kind: String,
    /// Customers' messages.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub received: i64,
    /// Members' messages.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub sent: i64,
}

/// One team's conversations within the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TeamFigures {
    /// The team's id in the automation setup.
    pub team_id: String,
    /// Its name (the id when the setup no longer has it).
    pub name: String,
    /// Openings of its conversations.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub opened: i64,
    /// Resolutions of its conversations.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub resolved: i64,
    /// The median first response, in seconds.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub first_response_median_seconds: Option<i64>,
    /// First responses later than the team's target (0 without a target).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub sla_breached: i64,
}

/// One day of the range, for the charts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DayFigures {
    /// The day, `YYYY-MM-DD` in the report's time zone.
    pub day: String,
    /// Customers' messages.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub received: i64,
    /// Members' messages.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub sent: i64,
    /// Openings.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub opened: i64,
    /// Resolutions.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub resolved: i64,
}

/// First responses against their team's target, once any team has one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SlaFigures {
    /// First responses later than the target (or still missing and already late).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub breached: i64,
    /// First responses within the target.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub met: i64,
}

/// A report: the figures of [`ReportQuery`]'s range and filters (`docs/reports.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Report {
    /// The first day.
    pub since: String,
    /// The last day.
    pub until: String,
    /// The time zone of the days and the heatmap.
    pub time_zone: String,
    /// Whether durations count only business hours.
    pub business_hours_only: bool,
    /// Conversations opened, resolved, reopened.
    pub conversations: ConversationCounts,
    /// Messages received and sent.
    pub messages: MessageCounts,
    /// From a customer's first message to a person's first reply.
    pub first_response_seconds: Durations,
    /// From opening to resolution.
    pub resolution_seconds: Durations,
    /// The queue now.
    pub queue: Queue,
    /// Per member, by email.
    pub by_agent: Vec<AgentFigures>,
    /// Per channel kind.
    pub by_channel: Vec<ChannelFigures>,
    /// Per team.
    pub by_team: Vec<TeamFigures>,
    /// Customers' messages by weekday (Monday first) and hour, in the report's time zone.
    #[cfg_attr(feature = "specta", specta(type = Vec<Vec<specta_typescript::Number>>))]
    pub received_by_weekday_hour: Vec<Vec<i64>>,
    /// Each day of the range.
    pub daily: Vec<DayFigures>,
    /// First responses against targets; `None` while no team has one.
    pub sla: Option<SlaFigures>,
    /// The satisfaction survey's answers given within the range (`docs/reports.md`); `None`
    /// while the workspace neither asks (no `csat` in its setup) nor has ratings in the range.
    pub satisfaction: Option<Satisfaction>,
}
