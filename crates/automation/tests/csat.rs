//! The satisfaction survey: asked when a person resolves a conversation a person answered,
//! answered by a tap or a typed digit, optionally with a comment; an answer never reopens the
//! conversation for the bot.
#![allow(clippy::unwrap_used, missing_docs)]

use zentro_automation::csat::{COMMENT_WITHIN, SURVEY_EXPIRES_AFTER};
use zentro_automation::{
    Action, Assignment, Csat, Effect, Engine, Input, Outgoing, Presence, Setup, Team, Texts,
};
use zentro_events::{ContactRef, ConversationStatus};

const T0: i64 = 1_797_242_400_000; // 2026-12-14T10:00:00Z
const MINUTE: i64 = 60_000;

fn texts(t: &str) -> Texts {
    Texts {
        text: t.into(),
        ..Texts::default()
    }
}

fn contact() -> ContactRef {
    ContactRef {
        channel_kind: "whatsapp".into(),
        channel_external_id: "PN1".into(),
        customer_id: "C1".into(),
    }
}

fn setup(comment: bool) -> Setup {
    Setup {
        enabled: true,
        teams: vec![Team {
            id: "sales".into(),
            name: "Sales".into(),
            members: vec!["ana".into()],
            assignment: Assignment::RoundRobin,
            hours: None,
            first_response_minutes: None,
        }],
        channel_teams: [("whatsapp:PN1".to_string(), "sales".to_string())].into(),
        greeting: Some(texts("Hi!")),
        csat: Some(Csat {
            question: texts("How did we do?"),
            comment_prompt: comment.then(|| texts("Anything to add?")),
            thanks: Some(texts("Thank you!")),
            button: "Rate".into(),
        }),
        ..Setup::default()
    }
}

fn says(at: i64, text: &str) -> Input {
    Input::CustomerMessage {
        contact: contact(),
        at,
        text: Some(text.into()),
        choice: None,
        language: None,
    }
}

fn taps(at: i64, rating: u8) -> Input {
    Input::CustomerMessage {
        contact: contact(),
        at,
        text: Some(zentro_automation::csat::choice_title(rating)),
        choice: Some(format!("csat:{rating}")),
        language: None,
    }
}

fn status(status: ConversationStatus, by_automation: bool) -> Input {
    Input::StatusChanged {
        contact: contact(),
        status,
        by_automation,
    }
}

fn rules(actions: &[Action]) -> Vec<&str> {
    actions.iter().map(|a| a.rule.as_str()).collect()
}

/// An engine where the customer wrote, was routed to Sales and given to Ana, and Ana answered.
fn served(setup: Setup) -> Engine {
    let mut engine = Engine::new(setup);
    engine.apply(
        &Input::Presence {
            member: "ana".into(),
            presence: Presence::Available,
        },
        T0,
    );
    let actions = engine.apply(&says(T0, "my order is late"), T0);
    assert_eq!(rules(&actions), ["greeting", "channel_team", "round_robin"]);
    engine.apply(&Input::PersonReplied { contact: contact() }, T0 + MINUTE);
    engine
}

fn rating_in(actions: &[Action]) -> Option<(u8, Option<String>)> {
    actions.iter().find_map(|a| match &a.effect {
        Effect::Rate {
            rating, comment, ..
        } => Some((*rating, comment.clone())),
        _ => None,
    })
}

#[test]
fn a_persons_resolution_asks_and_a_tap_is_recorded_without_reopening() {
    let mut engine = served(setup(false));
    let resolved_at = T0 + 5 * MINUTE;
    let asked = engine.apply(&status(ConversationStatus::Resolved, false), resolved_at);
    assert_eq!(rules(&asked), ["csat"]);
    let Effect::Send {
        message: Outgoing::Menu { text, options, .. },
        window_opened_at,
        ..
    } = &asked[0].effect
    else {
        panic!("{asked:?}")
    };
    assert_eq!(text, "How did we do?");
    let ids: Vec<&str> = options.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["csat:1", "csat:2", "csat:3", "csat:4", "csat:5"]);
    assert_eq!(*window_opened_at, T0, "the customer's last message");

    let answered = engine.apply(&taps(resolved_at + MINUTE, 4), resolved_at + MINUTE);
    assert_eq!(
        rules(&answered),
        ["csat", "csat_thanks"],
        "no greeting, no menu"
    );
    let Effect::Rate {
        rating,
        comment,
        agent,
        team,
        resolved_at: at,
        rated_at,
        ..
    } = &answered[0].effect
    else {
        panic!("{answered:?}")
    };
    assert_eq!(
        (*rating, comment, agent.as_deref(), team.as_deref()),
        (4, &None, Some("ana"), Some("sales"))
    );
    assert_eq!((*at, *rated_at), (resolved_at, resolved_at + MINUTE));
    let state = engine.conversation(&contact()).unwrap();
    assert!(!state.open, "the answer does not reopen it");
    assert!(state.survey.is_none(), "answered once");

    // The customer writing again afterwards is a new conversation: greeted, not rated.
    let again = engine.apply(&says(T0 + 60 * MINUTE, "5"), T0 + 60 * MINUTE);
    assert_eq!(rating_in(&again), None);
    assert!(rules(&again).contains(&"greeting"), "{again:?}");
}

#[test]
fn a_typed_digit_rates_and_the_next_text_is_the_comment() {
    let mut engine = served(setup(true));
    let resolved_at = T0 + 5 * MINUTE;
    engine.apply(&status(ConversationStatus::Resolved, false), resolved_at);
    let rated = engine.apply(&says(resolved_at + MINUTE, " 2 "), resolved_at + MINUTE);
    assert_eq!(rules(&rated), ["csat", "csat_comment"]);
    assert_eq!(rating_in(&rated), Some((2, None)));
    let commented = engine.apply(
        &says(resolved_at + 3 * MINUTE, "  It took three days. "),
        resolved_at + 3 * MINUTE,
    );
    assert_eq!(rules(&commented), ["csat", "csat_thanks"]);
    assert_eq!(
        rating_in(&commented),
        Some((2, Some("It took three days.".into())))
    );
    let Effect::Rate { rated_at, .. } = &commented[0].effect else {
        panic!()
    };
    assert_eq!(
        *rated_at,
        resolved_at + MINUTE,
        "the same survey, rated then"
    );
    assert!(!engine.conversation(&contact()).unwrap().open);
}

#[test]
fn an_answer_in_the_same_second_counts_though_metas_time_falls_before() {
    let mut engine = served(setup(false));
    let resolved_at = T0 + 5 * MINUTE + 700;
    engine.apply(&status(ConversationStatus::Resolved, false), resolved_at);
    // Meta's timestamps are whole seconds: the tap reads as 0.7 s before the resolution.
    let tapped = T0 + 5 * MINUTE;
    let actions = engine.apply(&taps(tapped, 5), resolved_at + 900);
    assert_eq!(rating_in(&actions), Some((5, None)));
}

#[test]
fn a_late_comment_is_the_customer_writing_again() {
    let mut engine = served(setup(true));
    engine.apply(&status(ConversationStatus::Resolved, false), T0);
    engine.apply(&taps(T0 + MINUTE, 5), T0 + MINUTE);
    let late = T0 + MINUTE + COMMENT_WITHIN + 1;
    let actions = engine.apply(&says(late, "hello again"), late);
    assert_eq!(rating_in(&actions), None);
    assert!(engine.conversation(&contact()).unwrap().open);
}

#[test]
fn anything_else_ends_the_survey_and_reopens_as_before() {
    let mut engine = served(setup(false));
    engine.apply(&status(ConversationStatus::Resolved, false), T0);
    let actions = engine.apply(&says(T0 + MINUTE, "one more question"), T0 + MINUTE);
    assert_eq!(rating_in(&actions), None);
    assert!(rules(&actions).contains(&"greeting"), "{actions:?}");
    let state = engine.conversation(&contact()).unwrap();
    assert!(state.open && state.survey.is_none());
    // A digit after that is just a message.
    let actions = engine.apply(&says(T0 + 2 * MINUTE, "5"), T0 + 2 * MINUTE);
    assert_eq!(rating_in(&actions), None);
}

#[test]
fn an_unanswered_survey_expires() {
    let mut engine = served(setup(false));
    engine.apply(&status(ConversationStatus::Resolved, false), T0);
    let late = T0 + SURVEY_EXPIRES_AFTER + 1;
    let actions = engine.apply(&taps(late, 5), late);
    assert_eq!(rating_in(&actions), None);
    assert!(engine.conversation(&contact()).unwrap().open);
}

#[test]
fn a_persons_message_after_resolving_ends_the_survey() {
    let mut engine = served(setup(false));
    engine.apply(&status(ConversationStatus::Resolved, false), T0);
    engine.apply(&Input::PersonReplied { contact: contact() }, T0 + 1);
    let actions = engine.apply(&taps(T0 + MINUTE, 5), T0 + MINUTE);
    assert_eq!(rating_in(&actions), None);
}

#[test]
fn no_survey_without_a_persons_reply_a_persons_resolution_or_the_setting() {
    // Nobody answered the customer.
    let mut engine = Engine::new(setup(false));
    engine.apply(&says(T0, "hi"), T0);
    let actions = engine.apply(&status(ConversationStatus::Resolved, false), T0 + MINUTE);
    assert!(rules(&actions).is_empty(), "{actions:?}");
    // The automation resolved it.
    let mut engine = served(setup(false));
    let actions = engine.apply(&status(ConversationStatus::Resolved, true), T0 + MINUTE);
    assert!(rules(&actions).is_empty(), "{actions:?}");
    // No survey in the setup.
    let mut engine = served(Setup {
        csat: None,
        ..setup(false)
    });
    let actions = engine.apply(&status(ConversationStatus::Resolved, false), T0 + MINUTE);
    assert!(rules(&actions).is_empty(), "{actions:?}");
    // A restricted customer (P14).
    let mut engine = served(setup(false));
    engine.apply(
        &Input::Restricted {
            contact: contact(),
            restricted: true,
        },
        T0 + 2,
    );
    let actions = engine.apply(&status(ConversationStatus::Resolved, false), T0 + MINUTE);
    assert!(rules(&actions).is_empty(), "{actions:?}");
}

#[test]
fn a_reopened_conversation_awaits_no_answer_and_state_survives_a_restart() {
    let mut engine = served(setup(false));
    engine.apply(&status(ConversationStatus::Resolved, false), T0);
    let saved: Vec<(ContactRef, String)> = engine
        .take_changes()
        .into_iter()
        .map(|(c, json)| (c, json.unwrap()))
        .collect();
    let mut restored = Engine::restore(&engine.workspace_json(), saved).unwrap();
    let actions = restored.apply(&taps(T0 + MINUTE, 3), T0 + MINUTE);
    assert_eq!(rating_in(&actions), Some((3, None)), "the survey was saved");

    engine.apply(&status(ConversationStatus::Open, false), T0 + 1);
    let actions = engine.apply(&taps(T0 + MINUTE, 3), T0 + MINUTE);
    assert_eq!(rating_in(&actions), None);
}

#[test]
fn a_setup_with_a_survey_is_checked_and_old_setups_still_read() {
    let members = ["ana".to_string()].into();
    let mut bad = setup(true);
    bad.csat.as_mut().unwrap().question = texts(" ");
    assert!(bad.validate(&members).is_err());
    let mut bad = setup(true);
    bad.csat.as_mut().unwrap().button = "a button label far too long".into();
    assert!(bad.validate(&members).is_err());
    assert!(setup(true).validate(&members).is_ok());
    let old: Setup = serde_json::from_str(r#"{"enabled": true}"#).unwrap();
    assert_eq!(old.csat, None);
    let button: Csat = serde_json::from_str(r#"{"question": {"text": "Rate us"}}"#).unwrap();
    assert_eq!(button.button, "Rate");
}
