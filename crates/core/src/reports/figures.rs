//! Turning what the rollups hold into a report's figures: counts into totals, days, the heatmap
//! and channels; openings into openings, resolutions, durations, teams and targets; per member.

use std::collections::BTreeMap;

use zentro_automation::Hours;
use zentro_automation::hours::open_ms_between;

use super::range::Days;
use super::read::{CountRow, Episode, Filters};
use super::{
    AgentFigures, ChannelFigures, DayFigures, Durations, Queue, Report, SlaFigures, TeamFigures,
};

/// What the figures are computed under: the range, the filters, the hours durations count in,
/// the teams' first-response targets and names, and the moment "now".
pub(crate) struct Frame<'a> {
    /// The range.
    pub(crate) days: &'a Days,
    /// The filters.
    pub(crate) filters: Filters<'a>,
    /// Business hours durations count in (`None`: all the time).
    pub(crate) hours: Option<&'a Hours>,
    /// Teams of the setup: id to (name, first-response target in ms).
    pub(crate) teams: BTreeMap<String, (String, Option<i64>)>,
    /// Now (UTC ms).
    pub(crate) now_ms: i64,
}

impl Frame<'_> {
    /// Seconds from `from` to `to` (only open ones under business hours); never negative.
    fn seconds(&self, from: i64, to: i64) -> i64 {
        let ms = match self.hours {
            Some(hours) => open_ms_between(Some(hours), from, to),
            None => (to - from).max(0),
        };
        ms / 1000
    }

    /// Whether `member` passes the member filter.
    fn member_is(&self, member: Option<&str>) -> bool {
        self.filters.member_id.is_none_or(|m| member == Some(m))
    }
}

/// A person's member id (not the automation, not an unnamed author).
fn person(member: Option<&str>) -> Option<&str> {
    member.filter(|m| !m.is_empty() && zentro_events::automation_rule(Some(m)).is_none())
}

/// What is summed per member before their figures are made.
#[derive(Default)]
struct AgentSums {
    assigned: i64,
    replied: i64,
    resolved: i64,
    first_responses: Vec<i64>,
}

/// What is summed per team before its figures are made.
#[derive(Default)]
struct TeamSums {
    opened: i64,
    resolved: i64,
    first_responses: Vec<i64>,
    sla_breached: i64,
}

/// The distribution of `seconds`: the median and 90th percentile by nearest rank (the smallest
/// value at least half, or 90 %, of them are not above).
pub(crate) fn durations(mut seconds: Vec<i64>) -> Durations {
    seconds.sort_unstable();
    let rank = |p: f64| -> Option<i64> {
        let n = seconds.len();
        (n > 0).then(|| seconds[((p * n as f64).ceil() as usize).clamp(1, n) - 1])
    };
    Durations {
        median: rank(0.5),
        p90: rank(0.9),
        count: seconds.len() as i64,
    }
}

/// The per-member and per-team sums a report gathers, with the report itself.
pub(crate) struct Figures {
    report: Report,
    agents: BTreeMap<String, AgentSums>,
    teams: BTreeMap<String, TeamSums>,
    sla: SlaFigures,
}

impl Figures {
    /// An empty report over `frame`'s days, every setup team listed.
    pub(crate) fn new(report: Report, frame: &Frame<'_>) -> Self {
        let mut report = report;
        report.received_by_weekday_hour = vec![vec![0; 24]; 7];
        report.daily = frame
            .days
            .names()
            .into_iter()
            .map(|day| DayFigures {
                day,
                ..DayFigures::default()
            })
            .collect();
        let teams = frame
            .teams
            .keys()
            .filter(|id| frame.filters.team_id.is_none_or(|t| t == id.as_str()))
            .map(|id| (id.clone(), TeamSums::default()))
            .collect();
        Self {
            report,
            agents: BTreeMap::new(),
            teams,
            sla: SlaFigures::default(),
        }
    }

    /// Adds the counts: messages, days, the heatmap, channels, members' assignments and replies.
    pub(crate) fn add_counts(&mut self, rows: &[CountRow], frame: &Frame<'_>) {
        let mut channels: BTreeMap<String, ChannelFigures> = BTreeMap::new();
        let mut place = None;
        let mut placed_bucket = None;
        for row in rows {
            if placed_bucket != Some(row.bucket) {
                place = frame.days.place(row.bucket * super::range::BUCKET_MS);
                placed_bucket = Some(row.bucket);
            }
            let Some((day, weekday, hour)) = place else {
                continue;
            };
            let channel =
                channels
                    .entry(row.channel_kind.clone())
                    .or_insert_with(|| ChannelFigures {
                        channel_kind: row.channel_kind.clone(),
                        ..ChannelFigures::default()
                    });
            match row.measure.as_str() {
                "received" => {
                    self.report.messages.received += row.count;
                    self.report.daily[day].received += row.count;
                    self.report.received_by_weekday_hour[weekday][hour] += row.count;
                    channel.received += row.count;
                }
                "sent" => {
                    self.report.messages.sent += row.count;
                    self.report.daily[day].sent += row.count;
                    channel.sent += row.count;
                    if let Some(member) = person(Some(&row.member_id)) {
                        self.agent(member).replied += row.count;
                    }
                }
                "assigned" => {
                    if let Some(member) = person(Some(&row.member_id)) {
                        self.agent(member).assigned += row.count;
                    }
                }
                _ => {}
            }
        }
        self.report.by_channel = channels.into_values().collect();
    }

    /// The sums of `member`.
    fn agent(&mut self, member: &str) -> &mut AgentSums {
        self.agents.entry(member.to_string()).or_default()
    }

    /// The sums of `team`, when it has one.
    fn team(&mut self, team: Option<&str>) -> Option<&mut TeamSums> {
        Some(self.teams.entry(team?.to_string()).or_default())
    }

    /// Adds the openings: opened, reopened, resolved, durations, members' and teams' shares, and
    /// first responses against their team's target.
    pub(crate) fn add_episodes(&mut self, episodes: &[Episode], frame: &Frame<'_>) {
        let mut first_responses = Vec::new();
        let mut resolutions = Vec::new();
        for e in episodes {
            self.add_opening(e, frame);
            if let Some(seconds) = self.add_first_response(e, frame) {
                first_responses.push(seconds);
            }
            if let Some(seconds) = self.add_resolution(e, frame) {
                resolutions.push(seconds);
            }
            self.add_sla(e, frame);
        }
        self.report.first_response_seconds = durations(first_responses);
        self.report.resolution_seconds = durations(resolutions);
    }

    /// An opening within the range: a customer's counts as opened, a reopening as reopened.
    fn add_opening(&mut self, e: &Episode, frame: &Frame<'_>) {
        if !frame.days.holds(e.opened_at) || !frame.member_is(e.assignee_id.as_deref()) {
            return;
        }
        if e.reopened {
            self.report.conversations.reopened += 1;
        }
        if e.opened_by == "customer" {
            self.report.conversations.opened += 1;
            if let Some((day, _, _)) = frame.days.place(e.opened_at) {
                self.report.daily[day].opened += 1;
            }
            if let Some(team) = self.team(e.team_id.as_deref()) {
                team.opened += 1;
            }
        }
    }

    /// A first response within the range: its duration (seconds), shared with its author and team.
    fn add_first_response(&mut self, e: &Episode, frame: &Frame<'_>) -> Option<i64> {
        let (from, at) = (e.first_inbound_at?, e.first_response_at?);
        if !frame.days.holds(at) || !frame.member_is(e.first_response_by.as_deref()) {
            return None;
        }
        let seconds = frame.seconds(from, at);
        if let Some(member) = person(e.first_response_by.as_deref()) {
            self.agent(member).first_responses.push(seconds);
        }
        if let Some(team) = self.team(e.team_id.as_deref()) {
            team.first_responses.push(seconds);
        }
        Some(seconds)
    }

    /// A resolution within the range: its duration from the opening (seconds), shared with the
    /// member who resolved it and the team.
    fn add_resolution(&mut self, e: &Episode, frame: &Frame<'_>) -> Option<i64> {
        let at = e.resolved_at?;
        if !frame.days.holds(at) || !frame.member_is(e.resolved_by.as_deref()) {
            return None;
        }
        self.report.conversations.resolved += 1;
        if let Some((day, _, _)) = frame.days.place(at) {
            self.report.daily[day].resolved += 1;
        }
        if let Some(member) = person(e.resolved_by.as_deref()) {
            self.agent(member).resolved += 1;
        }
        if let Some(team) = self.team(e.team_id.as_deref()) {
            team.resolved += 1;
        }
        Some(frame.seconds(e.opened_at, at))
    }

    /// An opening whose customer's first message is within the range, of a team with a target:
    /// met when a person answered within it, breached when the answer came later or has not come
    /// and the target has passed (by its resolution, or now). Otherwise not yet decided.
    fn add_sla(&mut self, e: &Episode, frame: &Frame<'_>) {
        let (Some(from), Some(team)) = (e.first_inbound_at, e.team_id.as_deref()) else {
            return;
        };
        let Some(target) = frame.teams.get(team).and_then(|(_, target)| *target) else {
            return;
        };
        if !frame.days.holds(from) || !frame.member_is(e.assignee_id.as_deref()) {
            return;
        }
        let until = e
            .first_response_at
            .or(e.resolved_at)
            .unwrap_or(frame.now_ms);
        let waited_ms = frame.seconds(from, until) * 1000;
        if waited_ms > target {
            self.sla.breached += 1;
            if let Some(team) = self.team(Some(team)) {
                team.sla_breached += 1;
            }
        } else if e.first_response_at.is_some() {
            self.sla.met += 1;
        }
    }

    /// The report, with members, teams and targets summed up and `queue` set.
    pub(crate) fn finish(mut self, frame: &Frame<'_>, queue: Queue) -> Report {
        self.report.queue = queue;
        self.report.by_agent = self
            .agents
            .into_iter()
            .filter(|(member, _)| frame.filters.member_id.is_none_or(|m| m == member))
            .map(|(member_id, sums)| AgentFigures {
                member_id,
                email: String::new(),
                assigned: sums.assigned,
                replied: sums.replied,
                resolved: sums.resolved,
                first_response_median_seconds: durations(sums.first_responses).median,
            })
            .collect();
        let mut teams: Vec<TeamFigures> = self
            .teams
            .into_iter()
            .map(|(team_id, sums)| TeamFigures {
                name: frame
                    .teams
                    .get(&team_id)
                    .map_or_else(|| team_id.clone(), |(name, _)| name.clone()),
                team_id,
                opened: sums.opened,
                resolved: sums.resolved,
                first_response_median_seconds: durations(sums.first_responses).median,
                sla_breached: sums.sla_breached,
            })
            .collect();
        teams.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.team_id.cmp(&b.team_id)));
        self.report.by_team = teams;
        let any_target = frame.teams.values().any(|(_, target)| target.is_some());
        self.report.sla = any_target.then_some(self.sla);
        self.report
    }
}

/// The queue now: `open_unassigned` open conversations nobody is assigned, and how long those
/// waiting for a person's answer have waited (`waits`: since when each waits).
pub(crate) fn queue(open_unassigned: i64, waits: &[i64], frame: &Frame<'_>) -> Queue {
    let waited: Vec<i64> = waits
        .iter()
        .map(|since| frame.seconds(*since, frame.now_ms))
        .collect();
    Queue {
        open_unassigned,
        oldest_waiting_seconds: waited.iter().copied().max(),
        median_waiting_seconds: durations(waited).median,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_by_nearest_rank() {
        assert_eq!(durations(vec![]), Durations::default());
        assert_eq!(
            durations(vec![30]),
            Durations {
                median: Some(30),
                p90: Some(30),
                count: 1
            }
        );
        // 1..=10: the median is the 5th, the 90th percentile the 9th.
        let d = durations((1..=10).rev().collect());
        assert_eq!((d.median, d.p90, d.count), (Some(5), Some(9), 10));
        let d = durations(vec![10, 20, 30, 40]);
        assert_eq!((d.median, d.p90), (Some(20), Some(40)));
    }
}
