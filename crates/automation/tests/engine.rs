//! The engine's rules, fed the inputs the log gives it.
#![allow(clippy::unwrap_used, missing_docs)]

use zentro_automation::hours::Span;
use zentro_automation::{
    Action, Assignment, Effect, Engine, Hours, Input, Menu, MenuOption, Outgoing, Presence, Setup,
    Team, Texts,
};
use zentro_events::{ContactRef, ConversationStatus};

const MONDAY_10H: i64 = 1_797_242_400_000; // 2026-12-14T10:00:00Z
const MINUTE: i64 = 60_000;

fn texts(t: &str) -> Texts {
    Texts {
        text: t.into(),
        ..Texts::default()
    }
}

fn contact(n: usize) -> ContactRef {
    ContactRef {
        channel_kind: "whatsapp".into(),
        channel_external_id: "PN1".into(),
        customer_id: format!("C{n}"),
    }
}

fn office_hours() -> Hours {
    let day = vec![Span {
        start: "09:00".into(),
        end: "17:00".into(),
    }];
    let mut weekly = vec![day; 5];
    weekly.extend([vec![], vec![]]);
    Hours {
        time_zone: "UTC".into(),
        weekly,
        holidays: vec![],
    }
}

fn setup() -> Setup {
    Setup {
        enabled: true,
        hours: Some(office_hours()),
        teams: vec![
            Team {
                id: "sales".into(),
                name: "Sales".into(),
                members: vec!["ana".into(), "bo".into(), "cy".into()],
                assignment: Assignment::RoundRobin,
                hours: None,
                first_response_minutes: Some(30),
            },
            Team {
                id: "billing".into(),
                name: "Billing".into(),
                members: vec!["dee".into()],
                assignment: Assignment::LeastBusy,
                hours: None,
                first_response_minutes: None,
            },
        ],
        greeting: Some(texts("Hi! Thanks for writing.")),
        away: Some(texts("We are closed; we answer from 9:00.")),
        menu: Some(Menu {
            prompt: texts("What can we help you with?"),
            options: vec![
                MenuOption {
                    id: "sales".into(),
                    title: "Buying".into(),
                    team: "sales".into(),
                },
                MenuOption {
                    id: "billing".into(),
                    title: "Billing".into(),
                    team: "billing".into(),
                },
            ],
            retry: texts("Sorry, please pick one of these:"),
            handoff: Some(texts("A person will answer you shortly.")),
            button: "Choose".into(),
        }),
        ..Setup::default()
    }
}

fn says(c: &ContactRef, at: i64, text: &str) -> Input {
    Input::CustomerMessage {
        contact: c.clone(),
        at,
        text: Some(text.into()),
        choice: None,
        language: None,
    }
}

fn taps(c: &ContactRef, at: i64, option: &str) -> Input {
    Input::CustomerMessage {
        contact: c.clone(),
        at,
        text: Some("Buying".into()),
        choice: Some(option.into()),
        language: None,
    }
}

fn available(engine: &mut Engine, members: &[&str]) {
    for m in members {
        engine.apply(
            &Input::Presence {
                member: m.to_string(),
                presence: Presence::Available,
            },
            MONDAY_10H,
        );
    }
}

fn rules(actions: &[Action]) -> Vec<&str> {
    actions.iter().map(|a| a.rule.as_str()).collect()
}

fn assignee(actions: &[Action]) -> Option<String> {
    actions.iter().find_map(|a| match &a.effect {
        Effect::Assign { member, .. } => member.clone(),
        _ => None,
    })
}

#[test]
fn a_new_conversation_is_greeted_and_asked_which_team() {
    let mut engine = Engine::new(setup());
    let actions = engine.apply(&says(&contact(1), MONDAY_10H, "hello"), MONDAY_10H);
    assert_eq!(rules(&actions), ["greeting", "menu"]);
    let Effect::Send {
        message,
        window_opened_at,
        ..
    } = &actions[1].effect
    else {
        panic!("{actions:?}")
    };
    assert_eq!(*window_opened_at, MONDAY_10H);
    assert!(matches!(message, Outgoing::Menu { options, .. } if options.len() == 2));
    assert_eq!(
        message.thread_text(),
        "What can we help you with?\n1. Buying\n2. Billing"
    );
}

#[test]
fn a_stop_or_start_keyword_gets_no_greeting_or_menu_the_consent_worker_answers_it() {
    let mut engine = Engine::new(setup());
    for (n, keyword) in ["STOP", " arrêt ", "Start"].iter().enumerate() {
        let actions = engine.apply(&says(&contact(n), MONDAY_10H, keyword), MONDAY_10H);
        assert!(actions.is_empty(), "{keyword:?}: {actions:?}");
    }
    // A sentence with the word in it is a message like any other.
    let actions = engine.apply(
        &says(&contact(9), MONDAY_10H, "stop by the shop?"),
        MONDAY_10H,
    );
    assert_eq!(rules(&actions), ["greeting", "menu"]);
}

#[test]
fn the_answer_routes_to_the_team_and_round_robin_splits_evenly() {
    let mut engine = Engine::new(setup());
    available(&mut engine, &["ana", "bo", "cy"]);
    let mut counts = std::collections::BTreeMap::new();
    for n in 0..9 {
        let c = contact(n);
        engine.apply(&says(&c, MONDAY_10H, "hi"), MONDAY_10H);
        let actions = engine.apply(&taps(&c, MONDAY_10H + 1, "sales"), MONDAY_10H + 1);
        assert_eq!(rules(&actions), ["menu", "round_robin"], "{actions:?}");
        assert!(matches!(&actions[0].effect, Effect::Route { team: Some(t), .. } if t == "sales"));
        *counts.entry(assignee(&actions).unwrap()).or_insert(0) += 1;
    }
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [3, 3, 3]);
}

#[test]
fn capacity_holds_and_a_freed_place_takes_the_oldest_waiting() {
    let mut s = setup();
    s.capacities.insert("ana".into(), 1);
    s.capacities.insert("bo".into(), 1);
    let mut engine = Engine::new(s);
    available(&mut engine, &["ana", "bo"]);
    let mut given = Vec::new();
    for n in 0..3 {
        engine.apply(&says(&contact(n), MONDAY_10H, "hi"), MONDAY_10H);
        given.push(assignee(&engine.apply(
            &taps(&contact(n), MONDAY_10H, "sales"),
            MONDAY_10H + n as i64,
        )));
    }
    assert_eq!(given, [Some("ana".into()), Some("bo".into()), None]);
    assert_eq!(
        engine.conversation(&contact(2)).unwrap().waiting_since,
        Some(MONDAY_10H + 2)
    );
    // Ana resolves hers: the waiting conversation goes to her.
    let actions = engine.apply(
        &Input::StatusChanged {
            contact: contact(0),
            status: ConversationStatus::Resolved,
            by_automation: false,
        },
        MONDAY_10H + MINUTE,
    );
    assert_eq!(assignee(&actions), Some("ana".into()));
    assert_eq!(engine.load_of("ana"), 1);
}

#[test]
fn waiting_conversations_go_to_the_first_member_who_becomes_available() {
    let mut engine = Engine::new(setup());
    engine.apply(&says(&contact(1), MONDAY_10H, "hi"), MONDAY_10H);
    let actions = engine.apply(&taps(&contact(1), MONDAY_10H, "billing"), MONDAY_10H);
    assert_eq!(rules(&actions), ["menu"], "nobody available yet");
    let actions = engine.apply(
        &Input::Presence {
            member: "dee".into(),
            presence: Presence::Available,
        },
        MONDAY_10H + MINUTE,
    );
    assert_eq!(rules(&actions), ["least_busy"]);
    assert_eq!(assignee(&actions), Some("dee".into()));
}

#[test]
fn the_away_message_goes_once_per_closed_period() {
    let mut engine = Engine::new(setup());
    let saturday = MONDAY_10H - 2 * 24 * 60 * MINUTE;
    let c = contact(1);
    let first = engine.apply(&says(&c, saturday, "hello?"), saturday);
    assert_eq!(rules(&first), ["away", "menu"]);
    let again = engine.apply(
        &says(&c, saturday + 5 * MINUTE, "anyone?"),
        saturday + 5 * MINUTE,
    );
    assert!(!rules(&again).contains(&"away"), "{again:?}");
    // Monday evening is a new closed period.
    let evening = MONDAY_10H + 8 * 60 * MINUTE;
    let later = engine.apply(&says(&c, evening, "still there?"), evening);
    assert!(rules(&later).contains(&"away"), "{later:?}");
}

#[test]
fn an_unrecognised_answer_is_asked_again_once_then_goes_to_people() {
    let mut s = setup();
    s.channel_teams
        .insert("whatsapp:PN1".into(), "billing".into());
    let mut engine = Engine::new(s);
    let c = contact(1);
    engine.apply(&says(&c, MONDAY_10H, "hi"), MONDAY_10H);
    assert_eq!(
        rules(&engine.apply(&says(&c, MONDAY_10H, "banana"), MONDAY_10H)),
        ["menu_retry"]
    );
    let actions = engine.apply(&says(&c, MONDAY_10H, "banana"), MONDAY_10H);
    assert_eq!(rules(&actions), ["handoff", "channel_team"]);
    assert!(
        engine
            .apply(&says(&c, MONDAY_10H, "1"), MONDAY_10H)
            .is_empty(),
        "the bot is done"
    );
}

#[test]
fn a_typed_number_or_title_counts_as_an_answer() {
    let mut engine = Engine::new(setup());
    for (n, answer) in ["2", "billing", " BILLING "].iter().enumerate() {
        engine.apply(&says(&contact(n), MONDAY_10H, "hi"), MONDAY_10H);
        let actions = engine.apply(&says(&contact(n), MONDAY_10H, answer), MONDAY_10H);
        assert!(
            matches!(&actions[0].effect, Effect::Route { team: Some(t), .. } if t == "billing"),
            "{answer:?}: {actions:?}"
        );
    }
}

#[test]
fn the_keyword_skips_the_bot_and_a_persons_reply_silences_it() {
    let mut engine = Engine::new(setup());
    let c = contact(1);
    engine.apply(&says(&c, MONDAY_10H, "hi"), MONDAY_10H);
    let actions = engine.apply(&says(&c, MONDAY_10H, " Agent "), MONDAY_10H);
    assert_eq!(rules(&actions), ["keyword"]);
    let d = contact(2);
    engine.apply(&says(&d, MONDAY_10H, "hi"), MONDAY_10H);
    engine.apply(&Input::PersonReplied { contact: d.clone() }, MONDAY_10H);
    assert!(
        engine
            .apply(&says(&d, MONDAY_10H, "banana"), MONDAY_10H)
            .is_empty()
    );
}

#[test]
fn a_restricted_customer_gets_nothing_automated() {
    let mut engine = Engine::new(setup());
    available(&mut engine, &["ana"]);
    let c = contact(1);
    engine.apply(
        &Input::Restricted {
            contact: c.clone(),
            restricted: true,
        },
        MONDAY_10H,
    );
    assert!(
        engine
            .apply(&says(&c, MONDAY_10H, "hi"), MONDAY_10H)
            .is_empty()
    );
    assert!(
        engine
            .apply(&taps(&c, MONDAY_10H, "sales"), MONDAY_10H)
            .is_empty()
    );
}

#[test]
fn echoes_of_its_own_actions_change_nothing() {
    let mut engine = Engine::new(setup());
    available(&mut engine, &["ana", "bo", "cy"]);
    let c = contact(1);
    engine.apply(&says(&c, MONDAY_10H, "hi"), MONDAY_10H);
    let actions = engine.apply(&taps(&c, MONDAY_10H, "sales"), MONDAY_10H);
    let member = assignee(&actions);
    let echoes = [
        Input::Routed {
            contact: c.clone(),
            team: Some("sales".into()),
            by_automation: true,
        },
        Input::Assigned {
            contact: c.clone(),
            assignee: member.clone(),
        },
    ];
    for echo in echoes {
        assert!(engine.apply(&echo, MONDAY_10H).is_empty());
    }
    assert_eq!(engine.conversation(&c).unwrap().assignee, member);
    assert_eq!(engine.load_of(member.as_deref().unwrap()), 1);
}

#[test]
fn an_offline_members_conversations_are_handed_back() {
    let mut s = setup();
    s.hand_back_after_minutes = Some(10);
    let mut engine = Engine::new(s);
    available(&mut engine, &["ana"]);
    let c = contact(1);
    engine.apply(&says(&c, MONDAY_10H, "hi"), MONDAY_10H);
    engine.apply(&taps(&c, MONDAY_10H, "sales"), MONDAY_10H);
    let offline = |m: &str, p| Input::Presence {
        member: m.into(),
        presence: p,
    };
    engine.apply(&offline("ana", Presence::Offline), MONDAY_10H);
    assert_eq!(engine.next_tick(), Some(MONDAY_10H + 10 * MINUTE));
    assert!(
        engine
            .apply(&Input::Tick, MONDAY_10H + 9 * MINUTE)
            .is_empty()
    );
    engine.apply(&offline("bo", Presence::Available), MONDAY_10H + 9 * MINUTE);
    let actions = engine.apply(&Input::Tick, MONDAY_10H + 10 * MINUTE);
    assert_eq!(rules(&actions), ["hand_back", "round_robin"]);
    assert_eq!(assignee(&actions), Some("bo".into()));
}

#[test]
fn disabled_automation_does_nothing_but_keeps_count() {
    let mut s = setup();
    s.enabled = false;
    let mut engine = Engine::new(s);
    available(&mut engine, &["ana"]);
    assert!(
        engine
            .apply(&says(&contact(1), MONDAY_10H, "hi"), MONDAY_10H)
            .is_empty()
    );
    engine.apply(
        &Input::Assigned {
            contact: contact(1),
            assignee: Some("ana".into()),
        },
        MONDAY_10H,
    );
    assert_eq!(engine.load_of("ana"), 1);
}

#[test]
fn saved_state_restores_the_same_engine() {
    let mut engine = Engine::new(setup());
    available(&mut engine, &["ana", "bo"]);
    engine.apply(&says(&contact(1), MONDAY_10H, "hi"), MONDAY_10H);
    engine.apply(&taps(&contact(1), MONDAY_10H, "sales"), MONDAY_10H);
    let saved: Vec<_> = engine
        .take_changes()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap()))
        .collect();
    let mut restored = Engine::restore(&engine.workspace_json(), saved).unwrap();
    assert_eq!(restored.load_of("ana"), 1);
    // Both continue identically: the next conversation goes to bo in each.
    for e in [&mut engine, &mut restored] {
        e.apply(&says(&contact(2), MONDAY_10H, "hi"), MONDAY_10H);
        let a = e.apply(&taps(&contact(2), MONDAY_10H, "sales"), MONDAY_10H);
        assert_eq!(assignee(&a), Some("bo".into()));
    }
}

#[test]
fn a_channel_open_to_some_agents_is_assigned_only_to_them() {
    let mut engine = Engine::new(setup());
    available(&mut engine, &["ana", "bo", "cy"]);
    engine.apply(
        &Input::ChannelAgents {
            channel: "whatsapp:PN1".into(),
            agents: vec!["cy".into()],
        },
        MONDAY_10H,
    );
    for n in 0..3 {
        engine.apply(&says(&contact(n), MONDAY_10H, "hi"), MONDAY_10H);
        let actions = engine.apply(&taps(&contact(n), MONDAY_10H, "sales"), MONDAY_10H);
        assert_eq!(assignee(&actions), Some("cy".into()), "{actions:?}");
    }
}
