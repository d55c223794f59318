//! `zentro teams`, `automation` and `presence`: the workspace's teams, its automation setup and
//! who is available.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use zentro_automation::{Hours, Setup, Team, Texts};
use zentro_core::relay_client::RelayClient;
use zentro_core::relay_client::automation::AutomationSetupView;
use zentro_core::vault::Secret;

use crate::cli::{AutomationCommand, PresenceStatus};
use crate::context::Context;
use crate::exit::{Exit, Failure, fail};
use crate::terminal::{print_json, print_rows, time};

/// Member ids to the emails they sign in with (a removed member's id shows as itself).
struct Emails(BTreeMap<String, String>);

impl Emails {
    /// The workspace's members' emails.
    async fn of(client: &RelayClient, token: &Secret) -> Result<Self, Failure> {
        let members = client.members(token).await?;
        Ok(Self(members.into_iter().map(|m| (m.id, m.email)).collect()))
    }

    /// The email of `member_id`, or the id itself for someone no longer a member.
    fn of_member(&self, member_id: &str) -> String {
        self.0
            .get(member_id)
            .cloned()
            .unwrap_or_else(|| member_id.to_string())
    }
}

/// `zentro teams`: every team with its members' emails, assignment and first-response target.
pub async fn teams(ctx: &Context, json: bool) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    let view = client.automation_setup(&token).await?;
    let emails = Emails::of(&client, &token).await?;
    let rows: Vec<Value> = view
        .setup
        .teams
        .iter()
        .map(|team| team_json(team, &view.setup, &emails))
        .collect();
    if !json && rows.is_empty() {
        eprintln!("No teams yet (admins add them with `zentro automation set FILE`).");
        return Ok(());
    }
    print_rows(
        rows,
        json,
        &format!(
            "{:<16}  {:<20}  {:<11}  {:<9}  MEMBERS",
            "ID", "NAME", "ASSIGNMENT", "SLA"
        ),
        |team| {
            format!(
                "{:<16}  {:<20}  {:<11}  {:<9}  {}",
                team["id"].as_str().unwrap_or_default(),
                team["name"].as_str().unwrap_or_default(),
                team["assignment"].as_str().unwrap_or_default(),
                team["first_response_minutes"]
                    .as_u64()
                    .map(|m| format!("{m} min"))
                    .unwrap_or_else(|| "-".into()),
                list_or_dash(&strings(&team["members"])),
            )
        },
    )
}

/// One team as `zentro teams --json` prints it: members as emails, and the channels whose
/// default team it is.
fn team_json(team: &Team, setup: &Setup, emails: &Emails) -> Value {
    let channels: Vec<&String> = setup
        .channel_teams
        .iter()
        .filter(|(_, team_id)| **team_id == team.id)
        .map(|(channel, _)| channel)
        .collect();
    json!({
        "id": team.id,
        "name": team.name,
        "members": team.members.iter().map(|m| emails.of_member(m)).collect::<Vec<_>>(),
        "assignment": team.assignment.rule(),
        "first_response_minutes": team.first_response_minutes,
        "own_hours": team.hours.is_some(),
        "channels": channels,
    })
}

/// The strings of a JSON array.
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `items` joined by commas, or `-` when there are none.
fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// `zentro automation …`.
pub async fn automation(ctx: &Context, command: AutomationCommand) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    match command {
        AutomationCommand::Show { json } => show(&client, &token, json).await,
        AutomationCommand::Set {
            file,
            expected_version,
        } => {
            let setup = read_setup(&file)?;
            let expected = match expected_version {
                Some(version) => version,
                None => client.automation_setup(&token).await?.version,
            };
            let version = client
                .save_automation_setup(&token, expected, &setup)
                .await?;
            eprintln!("Saved the automation (version {version}).");
            Ok(())
        }
        AutomationCommand::Enable => switch(&client, &token, true).await,
        AutomationCommand::Disable => switch(&client, &token, false).await,
    }
}

/// A setup from a JSON file, or a usage failure saying what in it is wrong.
fn read_setup(file: &Path) -> Result<Setup, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| fail(Exit::Usage, format!("cannot read {}: {e}", file.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        fail(
            Exit::Usage,
            format!(
                "{} is not an automation setup: {e} (see `zentro automation show --json`)",
                file.display()
            ),
        )
    })
}

/// Turns the automation on or off, keeping the rest of the setup as it is.
async fn switch(client: &RelayClient, token: &Secret, enabled: bool) -> Result<(), Failure> {
    let view = client.automation_setup(token).await?;
    let word = if enabled { "on" } else { "off" };
    if view.setup.enabled == enabled {
        eprintln!("The automation is already {word}.");
        return Ok(());
    }
    let setup = Setup {
        enabled,
        ..view.setup
    };
    let version = client
        .save_automation_setup(token, view.version, &setup)
        .await?;
    eprintln!("The automation is {word} (version {version}).");
    Ok(())
}

/// `zentro automation show`: the setup as JSON, or readable.
async fn show(client: &RelayClient, token: &Secret, json: bool) -> Result<(), Failure> {
    let view = client.automation_setup(token).await?;
    if json {
        return print_json(&view);
    }
    let emails = Emails::of(client, token).await?;
    for line in describe(&view, &emails) {
        println!("{line}");
    }
    Ok(())
}

/// The setup in lines for people: state and version first, then each part.
fn describe(view: &AutomationSetupView, emails: &Emails) -> Vec<String> {
    let setup = &view.setup;
    let saved = match (view.saved_at, &view.saved_by) {
        (Some(at), Some(by)) => format!("saved {} UTC by {}", time(at), emails.of_member(by)),
        (Some(at), None) => format!("saved {} UTC", time(at)),
        _ => "never saved".into(),
    };
    let mut lines = vec![
        format!(
            "Automation: {} (version {}, {saved})",
            if setup.enabled { "on" } else { "off" },
            view.version
        ),
        format!("Hours: {}", hours(setup.hours.as_ref())),
    ];
    lines.push(format!("Teams: {}", setup.teams.len()));
    for team in &setup.teams {
        lines.push(format!(
            "  {} ({}): {}; first response {}; members: {}",
            team.name,
            team.id,
            team.assignment.rule(),
            team.first_response_minutes
                .map(|m| format!("within {m} min"))
                .unwrap_or_else(|| "without a target".into()),
            list_or_dash(
                &team
                    .members
                    .iter()
                    .map(|m| emails.of_member(m))
                    .collect::<Vec<_>>()
            ),
        ));
        if let Some(own) = &team.hours {
            lines.push(format!("    own hours: {}", hours(Some(own))));
        }
    }
    lines.extend(capacities_and_channels(setup, emails));
    lines.extend(messages(setup));
    lines
}

/// Capacities (by email) and channels' default teams.
fn capacities_and_channels(setup: &Setup, emails: &Emails) -> Vec<String> {
    let capacities: Vec<String> = setup
        .capacities
        .iter()
        .map(|(member, n)| format!("{} {n}", emails.of_member(member)))
        .collect();
    let channels: Vec<String> = setup
        .channel_teams
        .iter()
        .map(|(channel, team)| format!("{channel} → {team}"))
        .collect();
    vec![
        format!(
            "Capacities (open conversations at most): {}",
            list_or_dash(&capacities)
        ),
        format!("Channels' default teams: {}", list_or_dash(&channels)),
    ]
}

/// The greeting, the away message, the menu bot, the agent keywords and the hand-back delay.
fn messages(setup: &Setup) -> Vec<String> {
    let mut lines = vec![
        format!("Greeting: {}", texts(setup.greeting.as_ref())),
        format!("Away message: {}", texts(setup.away.as_ref())),
    ];
    match &setup.menu {
        None => lines.push("Menu bot: none".into()),
        Some(menu) => {
            lines.push(format!(
                "Menu bot: {} (button \"{}\")",
                texts(Some(&menu.prompt)),
                menu.button
            ));
            for (n, option) in menu.options.iter().enumerate() {
                lines.push(format!(
                    "  {}. {} ({}) → team {}",
                    n + 1,
                    option.title,
                    option.id,
                    option.team
                ));
            }
            lines.push(format!(
                "  unrecognised answer: {}",
                texts(Some(&menu.retry))
            ));
            lines.push(format!(
                "  handing over to people: {}",
                texts(menu.handoff.as_ref())
            ));
        }
    }
    lines.push(format!(
        "Keywords that skip the bot: {}",
        list_or_dash(&setup.agent_keywords)
    ));
    lines.push(format!(
        "Hand back an offline member's conversations: {}",
        setup
            .hand_back_after_minutes
            .map(|m| format!("after {m} min"))
            .unwrap_or_else(|| "never".into())
    ));
    lines
}

/// A text and how many variants it has per language and channel.
fn texts(texts: Option<&Texts>) -> String {
    let Some(texts) = texts else {
        return "none".into();
    };
    let variants = texts.by_language.len() + texts.by_channel.len();
    if variants == 0 {
        format!("\"{}\"", texts.text)
    } else {
        format!("\"{}\" (+{variants} variants)", texts.text)
    }
}

/// Business hours on one line: the zone, each open day's spans, the holidays.
fn hours(hours: Option<&Hours>) -> String {
    let Some(hours) = hours else {
        return "always open".into();
    };
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let days: Vec<String> = hours
        .weekly
        .iter()
        .zip(DAYS)
        .filter(|(spans, _)| !spans.is_empty())
        .map(|(spans, day)| {
            let spans: Vec<String> = spans
                .iter()
                .map(|s| format!("{}–{}", s.start, s.end))
                .collect();
            format!("{day} {}", spans.join(", "))
        })
        .collect();
    let mut line = format!("{}; {}", hours.time_zone, list_or_dash(&days));
    if !hours.holidays.is_empty() {
        line.push_str(&format!("; closed {}", hours.holidays.join(", ")));
    }
    line
}

/// `zentro presence [available|away]`: sets one's own status, or lists everyone's presence.
pub async fn presence(
    ctx: &Context,
    status: Option<PresenceStatus>,
    json: bool,
) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    if let Some(status) = status {
        let presence = client.set_presence(&token, status.as_str()).await?;
        eprintln!("You are {} (presence: {presence}).", status.as_str());
        return Ok(());
    }
    let everyone = client.presence(&token).await?;
    let emails = Emails::of(&client, &token).await?;
    let rows: Vec<Value> = everyone
        .iter()
        .map(|p| {
            json!({
                "member_id": p.member_id,
                "email": emails.of_member(&p.member_id),
                "status": p.status,
                "presence": p.presence,
                "last_seen_at": p.last_seen_at,
            })
        })
        .collect();
    print_rows(
        rows,
        json,
        &format!(
            "{:<32}  {:<10}  {:<8}  LAST SEEN",
            "EMAIL", "PRESENCE", "STATUS"
        ),
        |p| {
            format!(
                "{:<32}  {:<10}  {:<8}  {}",
                p["email"].as_str().unwrap_or_default(),
                p["presence"].as_str().unwrap_or_default(),
                p["status"].as_str().unwrap_or_default(),
                p["last_seen_at"]
                    .as_i64()
                    .map(time)
                    .unwrap_or_else(|| "never".into())
            )
        },
    )
}
