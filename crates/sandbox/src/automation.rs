//! The sandbox workspace's automation: business hours, a greeting, an away message and a menu bot
//! (Sales / Support / Billing) routing to three teams that assign in turn to the signed-in member,
//! and the satisfaction survey asked when the member resolves a conversation.
//!
//! The hours are Monday to Friday, 09:00–18:00 in `Europe/Lisbon` (the sandbox's shop is on Rua
//! Augusta), a fixed zone so the sandbox behaves the same on every machine. The menu bot runs
//! whatever the hour: a customer who writes within the hours gets the greeting and the menu, one
//! who writes at 22:00 (or on a Sunday) gets the away message and the menu; either way their answer
//! routes the conversation to a team and the signed-in member is assigned it.

use std::collections::BTreeMap;

use anyhow::Context;
use zentro_automation::hours::Span;
use zentro_automation::{Assignment, Csat, Hours, Menu, MenuOption, Setup, Team, Texts};
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::Secret;

use crate::{INSTAGRAM, PAGE, WHATSAPP_NUMBER};

/// The time zone of the sandbox's business hours.
pub const TIME_ZONE: &str = "Europe/Lisbon";

/// Sent on a new conversation within the hours.
pub const GREETING: &str = "Hi! 👋 Thanks for writing to Sandbox Coffee Co.";

/// Sent outside the hours, once per conversation per closed period.
pub const AWAY: &str = "Thanks for your message! We're closed right now: our team answers Monday \
                        to Friday, 9:00–18:00 (Lisbon time), and will get back to you then.";

/// The menu bot's question.
pub const MENU_PROMPT: &str = "What can we help you with?";

/// The menu bot's question after an answer it did not recognise.
pub const MENU_RETRY: &str = "Sorry, I didn't catch that. Please tap one of the options.";

/// Sent when the bot steps aside (a second unrecognised answer, or "agent").
pub const HANDOFF: &str = "No problem: someone from our team will be with you shortly.";

/// The satisfaction survey's question, asked when the member resolves a conversation they answered.
pub const CSAT_QUESTION: &str = "How would you rate our help today?";

/// Asked after the rating; the customer's next text is its comment.
pub const CSAT_COMMENT: &str =
    "Thanks! Anything you'd like to tell us? (Just reply, or ignore this.)";

/// Sent once the customer rated (and commented, or not).
pub const CSAT_THANKS: &str = "Thank you for your feedback! 💛";

/// The menu's options: `(option and team id, title)`, in the order the customer sees them.
pub const TEAMS: &[(&str, &str)] = &[
    ("sales", "Sales"),
    ("support", "Support"),
    ("billing", "Billing"),
];

/// The most open conversations the signed-in member is given (generous: the sandbox has one
/// member for every team).
pub const CAPACITY: u32 = 100;

/// The sandbox's automation for the workspace whose only member is `member_id`: the hours, the
/// texts, the menu, three round-robin teams of that member (Support taking the conversations of
/// customers who skip the menu) and a generous capacity.
pub fn setup(member_id: &str) -> Setup {
    let text = |t: &str| Texts {
        text: t.into(),
        ..Texts::default()
    };
    let open = vec![Span {
        start: "09:00".into(),
        end: "18:00".into(),
    }];
    let mut weekly = vec![open; 5];
    weekly.extend([Vec::new(), Vec::new()]);
    let teams = TEAMS
        .iter()
        .map(|(id, name)| Team {
            id: (*id).into(),
            name: (*name).into(),
            members: vec![member_id.into()],
            assignment: Assignment::RoundRobin,
            hours: None,
            first_response_minutes: Some(60),
        })
        .collect();
    let channel_teams = [
        format!("whatsapp:{WHATSAPP_NUMBER}"),
        format!("messenger:{PAGE}"),
        format!("instagram:{INSTAGRAM}"),
    ]
    .into_iter()
    .map(|channel| (channel, "support".to_string()))
    .collect();
    Setup {
        enabled: true,
        hours: Some(Hours {
            time_zone: TIME_ZONE.into(),
            weekly,
            holidays: Vec::new(),
        }),
        teams,
        capacities: BTreeMap::from([(member_id.to_string(), CAPACITY)]),
        channel_teams,
        greeting: Some(text(GREETING)),
        away: Some(text(AWAY)),
        menu: Some(Menu {
            prompt: text(MENU_PROMPT),
            options: TEAMS
                .iter()
                .map(|(id, title)| MenuOption {
                    id: (*id).into(),
                    title: (*title).into(),
                    team: (*id).into(),
                })
                .collect(),
            retry: text(MENU_RETRY),
            handoff: Some(text(HANDOFF)),
            button: "Choose".into(),
        }),
        csat: Some(Csat {
            question: text(CSAT_QUESTION),
            comment_prompt: Some(text(CSAT_COMMENT)),
            thanks: Some(text(CSAT_THANKS)),
            button: "Rate".into(),
        }),
        ..Setup::default()
    }
}

/// Whether `text` is one of the automation's plain messages (greeting, away, hand-off, the
/// survey's thanks), which customers read without answering.
pub fn is_automated_text(text: &str) -> bool {
    [GREETING, AWAY, HANDOFF, CSAT_THANKS].contains(&text)
}

/// Saves the sandbox's automation as the workspace's owner does on Team → Automation: through
/// the relay's `PUT /v1/automation`, replacing the never-saved version 0.
pub(crate) async fn save(
    client: &RelayClient,
    device_token: &Secret,
    member_id: &str,
) -> anyhow::Result<()> {
    client
        .save_automation_setup(device_token, 0, &setup(member_id))
        .await
        .context("could not save the sandbox's automation")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_setup_is_valid_and_open_on_weekdays_in_lisbon_only() {
        let setup = setup("member-1");
        setup
            .validate(&BTreeSet::from(["member-1".to_string()]))
            .unwrap();
        let hours = setup.hours.as_ref();
        // Wednesday 2026-12-02, 10:00 in Lisbon (UTC+0 in winter) is open; 22:00 is not.
        let wednesday_10 = 1_796_205_600_000;
        assert!(zentro_automation::hours::is_open(hours, wednesday_10));
        assert!(!zentro_automation::hours::is_open(
            hours,
            wednesday_10 + 12 * 3_600_000
        ));
        // Saturday 2026-12-05, 10:00 is closed.
        assert!(!zentro_automation::hours::is_open(
            hours,
            wednesday_10 + 3 * 86_400_000
        ));
    }
}
