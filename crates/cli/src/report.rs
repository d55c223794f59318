//! `zentro report`: a manager's figures from the local cache (issue 23), over a date range in this
//! desk's time zone, filterable by channel, team and agent; `--json` prints the report as the app
//! receives it.

use zentro_core::Cache;
use zentro_core::members::Teammate;
use zentro_core::reports::{self, Report, ReportError, ReportQuery};
use zentro_events::clock::now_ms;

use crate::cli::ChannelKind;
use crate::context::Context;
use crate::exit::{Exit, Failure, fail, other};
use crate::terminal::print_json;

/// What `zentro report` was asked for.
pub struct ReportArgs {
    /// The first day (`YYYY-MM-DD`); 29 days before `until` by default.
    pub since: Option<String>,
    /// The last day (`YYYY-MM-DD`); today by default.
    pub until: Option<String>,
    /// Only this channel kind.
    pub channel: Option<ChannelKind>,
    /// Only this team (its name or id).
    pub team: Option<String>,
    /// Only this agent (their email).
    pub agent: Option<String>,
    /// JSON output.
    pub json: bool,
    /// Durations in business hours only.
    pub business_hours: bool,
}

/// How many days the report covers when no `--since` is given.
const DEFAULT_DAYS: i64 = 30;

/// `zentro report`.
pub async fn report(ctx: &Context, args: ReportArgs) -> Result<(), Failure> {
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let time_zone = local_time_zone();
    let now = now_ms();
    let until = match args.until {
        Some(until) => until,
        None => reports::last_days(&time_zone, now, 1).map_err(usage)?.1,
    };
    let since = match args.since {
        Some(since) => since,
        None => reports::first_of_days(&until, DEFAULT_DAYS).map_err(usage)?,
    };
    let team_id = match &args.team {
        Some(team) => Some(team_id(&cache, team).await?),
        None => None,
    };
    let members = members(ctx).await;
    let member_id = match &args.agent {
        Some(email) => Some(member_id(ctx, &members, email)?),
        None => None,
    };
    let query = ReportQuery {
        since,
        until,
        time_zone,
        channel_kind: args.channel.map(|c| c.as_str().to_string()),
        team_id,
        member_id,
        business_hours_only: args.business_hours,
    };
    let mut report = reports::report(&cache, &query, now).await.map_err(usage)?;
    match &members {
        Ok(members) => reports::name_agents(&mut report, members),
        Err(why) if !report.by_agent.is_empty() => {
            eprintln!(
                "Agents are shown by member id (the team list is not available: {}).",
                why.message
            );
        }
        Err(_) => {}
    }
    if args.json {
        print_json(&report)
    } else {
        print_summary(&report);
        Ok(())
    }
}

/// The desk's time zone: `TZ` when it names one, else the system's, else UTC.
fn local_time_zone() -> String {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|tz| tz.trim_start_matches(':').to_string());
    from_env
        .into_iter()
        .chain(iana_time_zone::get_timezone().ok())
        .find(|tz| reports::last_days(tz, 0, 1).is_ok())
        .unwrap_or_else(|| "UTC".into())
}

/// A report error as the command line shows it: what was given wrong is a usage error.
fn usage(error: ReportError) -> Failure {
    match error {
        ReportError::Cache(error) => other(error),
        error => fail(Exit::Usage, error.to_string()),
    }
}

/// The id of the team `name_or_id` names (by name, ignoring case, or by id) in the automation
/// setup this cache last received.
async fn team_id(cache: &Cache, name_or_id: &str) -> Result<String, Failure> {
    let teams = zentro_core::teams::cached_setup(cache)
        .await?
        .map(|s| s.setup.teams)
        .unwrap_or_default();
    let wanted = name_or_id.trim();
    teams
        .iter()
        .find(|t| t.id == wanted || t.name.eq_ignore_ascii_case(wanted))
        .map(|t| t.id.clone())
        .ok_or_else(|| {
            let known: Vec<String> = teams
                .iter()
                .map(|t| format!("{} ({})", t.name, t.id))
                .collect();
            fail(
                Exit::Usage,
                format!(
                    "no team named {wanted:?} in this desk's setup; teams: {}",
                    if known.is_empty() {
                        "none yet (sync first, or ask an admin to add teams)".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
}

/// The workspace's members from the relay (for emails); why not when it cannot be reached.
async fn members(ctx: &Context) -> Result<Vec<Teammate>, Failure> {
    let (client, token) = ctx.relay().await?;
    Ok(client.members(&token).await?)
}

/// The member id of the agent `email`: the signed-in member's own, or one of `members`.
fn member_id(
    ctx: &Context,
    members: &Result<Vec<Teammate>, Failure>,
    email: &str,
) -> Result<String, Failure> {
    let email = email.trim();
    if let Ok(Some(account)) = zentro_core::account::Account::load(&ctx.data_dir)
        && account.email.eq_ignore_ascii_case(email)
    {
        return Ok(account.member_id);
    }
    match members {
        Ok(members) => members
            .iter()
            .find(|m| m.email.eq_ignore_ascii_case(email))
            .map(|m| m.id.clone())
            .ok_or_else(|| {
                fail(
                    Exit::Usage,
                    format!("no member with the email {email:?} in this workspace (`zentro team list` shows them)"),
                )
            }),
        Err(failure) => Err(fail(
            failure.exit,
            format!(
                "--agent needs the team list from the relay to find {email:?}, which failed: {}",
                failure.message
            ),
        )),
    }
}

/// The report as a person reads it.
fn print_summary(report: &Report) {
    println!(
        "Report {} to {} ({}){}",
        report.since,
        report.until,
        report.time_zone,
        if report.business_hours_only {
            ", durations in business hours"
        } else {
            ""
        }
    );
    let c = &report.conversations;
    println!(
        "Conversations   opened {}  resolved {}  reopened {}",
        c.opened, c.resolved, c.reopened
    );
    println!(
        "Messages        received {}  sent {}",
        report.messages.received, report.messages.sent
    );
    for (name, d) in [
        ("First response", &report.first_response_seconds),
        ("Resolution", &report.resolution_seconds),
    ] {
        println!(
            "{name:<15} median {}  p90 {}  ({} measured)",
            duration(d.median),
            duration(d.p90),
            d.count
        );
    }
    let q = &report.queue;
    println!(
        "Queue now       {} open and unassigned, oldest waiting {}, median {}",
        q.open_unassigned,
        duration(q.oldest_waiting_seconds),
        duration(q.median_waiting_seconds)
    );
    if let Some(sla) = &report.sla {
        println!(
            "First-response targets  {} breached, {} met",
            sla.breached, sla.met
        );
    }
    if let Some(csat) = &report.satisfaction {
        let score = (csat.responses > 0).then(|| 100 * csat.satisfied / csat.responses);
        println!(
            "Satisfaction    {} answers, {} rated 4 or 5, average {}",
            csat.responses,
            score.map_or("-".to_string(), |s| format!("{s} %")),
            csat.average.map_or("-".to_string(), |a| format!("{a:.2}"))
        );
    }
    print_tables(report);
}

/// The per-agent, per-channel and per-team tables, and the busiest hours.
fn print_tables(report: &Report) {
    if !report.by_agent.is_empty() {
        println!(
            "\n{:<32}  {:>8}  {:>7}  {:>8}  FIRST RESPONSE",
            "AGENT", "ASSIGNED", "REPLIED", "RESOLVED"
        );
        for a in &report.by_agent {
            let who = if a.email.is_empty() {
                &a.member_id
            } else {
                &a.email
            };
            println!(
                "{who:<32}  {:>8}  {:>7}  {:>8}  {}",
                a.assigned,
                a.replied,
                a.resolved,
                duration(a.first_response_median_seconds)
            );
        }
    }
    if !report.by_channel.is_empty() {
        println!("\n{:<10}  {:>8}  {:>6}", "CHANNEL", "RECEIVED", "SENT");
        for ch in &report.by_channel {
            println!(
                "{:<10}  {:>8}  {:>6}",
                ch.channel_kind, ch.received, ch.sent
            );
        }
    }
    if !report.by_team.is_empty() {
        println!(
            "\n{:<20}  {:>6}  {:>8}  {:>14}  SLA BREACHED",
            "TEAM", "OPENED", "RESOLVED", "FIRST RESPONSE"
        );
        for t in &report.by_team {
            println!(
                "{:<20}  {:>6}  {:>8}  {:>14}  {}",
                t.name,
                t.opened,
                t.resolved,
                duration(t.first_response_median_seconds),
                t.sla_breached
            );
        }
    }
    print_busiest_hours(report);
}

/// The three weekday-hours with the most customers' messages.
fn print_busiest_hours(report: &Report) {
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut hours: Vec<(i64, usize, usize)> = report
        .received_by_weekday_hour
        .iter()
        .enumerate()
        .flat_map(|(d, row)| row.iter().enumerate().map(move |(h, n)| (*n, d, h)))
        .filter(|(n, _, _)| *n > 0)
        .collect();
    hours.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    if hours.is_empty() {
        return;
    }
    let top: Vec<String> = hours
        .iter()
        .take(3)
        .map(|(n, d, h)| format!("{} {h:02}:00 ({n})", WEEKDAYS[*d]))
        .collect();
    println!("\nBusiest hours (customers' messages): {}", top.join(", "));
}

/// Seconds as a person reads them (`2h 05m`, `40s`), or `-` when there is nothing.
fn duration(seconds: Option<i64>) -> String {
    let Some(s) = seconds else { return "-".into() };
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}
