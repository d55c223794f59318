//! The automation preview against the real thing (issue 22): a relay runs a setup on customers
//! writing through Meta's stand-in, the owner's desk syncs, and the desk's preview of the same
//! setup over its cache says exactly what the relay did — per conversation, the team, the member
//! and the automated messages, and the totals.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use zentro_core::automation_preview::{AutomationPreview, preview};
use zentro_core::members::Role;
use zentro_core::vault::Secret;
use zentro_meta_sim::{Customer, Inbound, MetaSim, SimConfig};
use zentro_tests::team::{fresh_token_keys, meta_app};

use crate::support::{Device, PASSWORD, PHONE, World, adjusted_world, device};

/// A world whose relay runs the automation (every 100 ms) and can send with the channel's token:
/// the token key and Meta app set; the token itself is stored (sealed) by the owner later.
async fn automated_world() -> World {
    adjusted_world(SimConfig::default(), PHONE, |config, sim| {
        config.token_keys = Some(fresh_token_keys());
        config.meta_app = Some(meta_app(sim, None));
        config.automation_interval = Duration::from_millis(100);
    })
    .await
}

/// An agent the owner invited, signed in on their own session and available; their member id.
async fn available_agent(owner: &Device, name: &str) -> String {
    let invitation = owner
        .client
        .invite(
            &owner.token,
            &format!("{name}@acme.test"),
            name,
            Role::Agent,
        )
        .await
        .unwrap();
    let (token, identity) = owner
        .client
        .accept_invitation(&invitation.code, &Secret::new(PASSWORD), name)
        .await
        .unwrap();
    let presence = owner
        .client
        .set_presence(&token, "available")
        .await
        .unwrap();
    assert_eq!(presence, "available");
    identity.member.id
}

/// Open all week, a greeting, a menu of two options (Buying → Sales, Billing → Billing) with a
/// retry and a hand-off, "agent" to ask for a person, the channel's default team Sales; both
/// teams round robin, the third agent taking one conversation at most.
fn setup_json(agents: &[String]) -> Value {
    let day = json!([{ "start": "00:00", "end": "24:00" }]);
    json!({
        "enabled": true,
        "hours": { "time_zone": "UTC", "weekly": [day, day, day, day, day, day, day] },
        "teams": [
            { "id": "sales", "name": "Sales", "members": agents, "assignment": "round_robin" },
            { "id": "billing", "name": "Billing", "members": [agents[0], agents[2]],
              "assignment": "round_robin" }
        ],
        "capacities": { agents[2].clone(): 1 },
        "channel_teams": { format!("whatsapp:{PHONE}"): "sales" },
        "greeting": { "text": "Hi! Thanks for writing to Acme." },
        "menu": {
            "prompt": { "text": "What can we help you with?" },
            "options": [
                { "id": "sales", "title": "Buying", "team": "sales" },
                { "id": "billing", "title": "Billing", "team": "billing" }
            ],
            "retry": { "text": "Please choose one of these:" },
            "handoff": { "text": "A person will answer you shortly." }
        },
        "agent_keywords": ["agent"]
    })
}

/// What a customer does.
enum Step {
    /// Writes a text.
    Writes(&'static str),
    /// Taps a menu option's reply button (id, title).
    Taps(&'static str, &'static str),
}

fn customer(n: usize) -> Customer {
    Customer {
        id: format!("1555000{n:04}"),
        phone: Some(format!("1555000{n:04}")),
        name: format!("Customer {n}"),
    }
}

/// What the automation did in one conversation: its team and member (as last set) and its
/// messages as `(rule, text)`, sorted (a doubled message shows).
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    team: Option<String>,
    assignee: Option<String>,
    messages: Vec<(String, String)>,
}

/// The whole log, as the owner's device reads it.
async fn log(w: &World, owner: &Device) -> Vec<Value> {
    let page: Value = reqwest::Client::new()
        .get(format!("{}/v1/events?after=0&limit=1000", w.relay.url))
        .bearer_auth(owner.token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["events"].as_array().unwrap().clone()
}

/// How much has happened: the log's length and Meta's sends.
async fn progress(w: &World, owner: &Device) -> (usize, usize) {
    let events = log(w, owner).await.len();
    (events, w.sim.state().sent.len())
}

/// Waits until the relay has been quiet for a while (its automation runs every 100 ms; Meta's
/// statuses follow a send within 100 ms): nothing new in the log or at Meta for 800 ms.
async fn settled(w: &World, owner: &Device) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last = progress(w, owner).await;
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = progress(w, owner).await;
        if now != last {
            last = now;
            quiet_since = tokio::time::Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_millis(800) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay never settled"
        );
    }
}

/// What the relay did, per customer: its events authored `automation:<rule>`.
fn relay_outcomes(events: &[Value]) -> BTreeMap<String, Outcome> {
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    for event in events {
        let Some(rule) = event["author"]
            .as_str()
            .and_then(|a| a.strip_prefix("automation:"))
        else {
            continue;
        };
        let payload = &event["payload"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        match event["kind"].as_str().unwrap() {
            "team.routed" => {
                let who = text(&payload["conversation"]["customer_id"]).unwrap();
                outcomes.entry(who).or_default().team = text(&payload["team"]);
            }
            "team.assigned" => {
                let who = text(&payload["conversation"]["customer_id"]).unwrap();
                outcomes.entry(who).or_default().assignee = text(&payload["assignee"]);
            }
            "message.sent" => {
                let who = text(&payload["customer_id"]).unwrap();
                let body = text(&payload["body"]).unwrap();
                outcomes
                    .entry(who)
                    .or_default()
                    .messages
                    .push((rule.to_string(), body));
            }
            other => panic!("the automation wrote a {other} event"),
        }
    }
    for outcome in outcomes.values_mut() {
        outcome.messages.sort();
    }
    outcomes
}

/// What the preview says, per customer (its conversations named by the cache).
async fn preview_outcomes(owner: &Device, shown: &AutomationPreview) -> BTreeMap<String, Outcome> {
    let customers: HashMap<i64, String> = sqlx::query_as::<_, (i64, String)>(
        "SELECT c.id, k.external_id FROM conversations c JOIN contacts k ON k.id = c.contact_id",
    )
    .fetch_all(owner.cache.pool())
    .await
    .unwrap()
    .into_iter()
    .collect();
    shown
        .conversations
        .iter()
        .map(|c| {
            let mut messages: Vec<(String, String)> = c
                .messages
                .iter()
                .map(|m| (m.rule.clone(), m.text.clone()))
                .collect();
            messages.sort();
            let outcome = Outcome {
                team: c.team.clone(),
                assignee: c.assignee.clone(),
                messages,
            };
            (customers[&c.conversation_id].clone(), outcome)
        })
        .collect()
}

/// How many messages Meta accepted for each customer.
fn sends_at_meta(sim: &MetaSim) -> BTreeMap<String, usize> {
    let mut sends = BTreeMap::new();
    for sent in &sim.state().sent {
        *sends.entry(sent.to.clone()).or_default() += 1;
    }
    sends
}

/// Restricts `who` from the owner's desk (a `team.contact_edited` with `restricted: true`).
async fn restrict(w: &World, owner: &Device, who: &Customer) {
    let payload = json!({ "type": "contact_edited",
        "contact": { "channel_kind": "whatsapp", "channel_external_id": w.phone, "customer_id": who.id },
        "changes": { "restricted": true } });
    owner
        .client
        .publish(
            &owner.token,
            "team.contact_edited",
            payload,
            &format!("restrict-{}", who.id),
        )
        .await
        .unwrap();
}

/// The customers' script: who does what, in order.
fn script() -> Vec<(usize, Step)> {
    use Step::{Taps, Writes};
    vec![
        // Menu answered by a tap, to each team.
        (1, Writes("hi")),
        (1, Taps("sales", "Buying")),
        (2, Writes("hello")),
        (2, Taps("billing", "Billing")),
        // Asks for a person instead of answering: hand-off to the channel's team.
        (3, Writes("hi")),
        (3, Writes("agent")),
        // A wrong answer, then the option's number.
        (4, Writes("hi")),
        (4, Writes("what?")),
        (4, Writes("2")),
        // The option's title typed.
        (5, Writes("good morning")),
        (5, Writes("billing")),
        (6, Writes("hi")),
        (6, Taps("billing", "Billing")),
        // Two wrong answers: the bot gives up and hands off.
        (7, Writes("hi")),
        (7, Writes("nope")),
        (7, Writes("still no")),
        // Asks for a person in the very first message.
        (9, Writes("agent")),
        (10, Writes("hi")),
        (10, Taps("sales", "Buying")),
    ]
}

/// The restricted customer: writes and taps like the others.
const RESTRICTED: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desks_preview_of_a_setup_matches_what_the_relay_then_did() {
    preview_matches_the_relay(Restriction::OnceTheDeskKnowsTheCustomer).await;
}

/// A customer restricted before they ever wrote: the relay's automation leaves them alone, and
/// so does the preview (the desk keeps the restriction of a contact it does not have yet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_matches_the_relay_for_a_customer_restricted_before_writing() {
    preview_matches_the_relay(Restriction::BeforeTheCustomerEverWrote).await;
}

/// When the owner restricts the restricted customer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Restriction {
    /// After the customer's first message (before the automation was on) reached the desk.
    OnceTheDeskKnowsTheCustomer,
    /// Before the customer ever wrote.
    BeforeTheCustomerEverWrote,
}

/// The relay runs the setup on the script, the owner's desk syncs and previews the same setup:
/// the preview must say exactly what the relay did.
async fn preview_matches_the_relay(restriction: Restriction) {
    let w = automated_world().await;
    let (owner, agents) = owner_and_agents(&w).await;

    // The restricted customer: restricted before the automation is on.
    let restricted = customer(RESTRICTED);
    if restriction == Restriction::OnceTheDeskKnowsTheCustomer {
        w.text_from(&restricted, "hello, anyone?").await;
        settled(&w, &owner).await;
        w.sync(&owner).await;
    }
    restrict(&w, &owner, &restricted).await;

    let setup = serde_json::from_value(setup_json(&agents)).unwrap();
    owner
        .client
        .save_automation_setup(&owner.token, 0, &setup)
        .await
        .unwrap();
    settled(&w, &owner).await;

    customers_follow_the_script(&w, &owner, &restricted).await;

    // What the relay did.
    let events = log(&w, &owner).await;
    let relay = relay_outcomes(&events);
    let meta = sends_at_meta(&w.sim);
    for (who, outcome) in &relay {
        assert_eq!(
            meta.get(who).copied().unwrap_or(0),
            outcome.messages.len(),
            "Meta got what the relay announced for {who}"
        );
    }
    assert_eq!(meta.values().sum::<usize>(), relay_messages(&relay));
    assert_scenario_exercised(&relay, &agents, &restricted);

    // The owner's desk syncs and previews the same setup over its cache.
    w.sync(&owner).await;
    let now = zentro_events::clock::now_ms();
    let shown = preview(&owner.cache, &setup, now).await.unwrap();
    let previewed = preview_outcomes(&owner, &shown).await;
    assert_eq!(
        previewed, relay,
        "the preview (left) says what the relay did (right), conversation by conversation"
    );

    assert_totals(&shown, &relay);

    // And the desk's own view of the conversations agrees with both.
    assert_desk_shows(&owner, &relay).await;
    w.relay.signal_stop();
}

/// Automated messages the relay sent in all.
fn relay_messages(relay: &BTreeMap<String, Outcome>) -> usize {
    relay.values().map(|o| o.messages.len()).sum()
}

/// The scenario did what it is for (so that an equal preview means something): both teams
/// routed to, every agent given conversations within the capacity, every rule of the menu
/// used, the restricted customer left alone.
fn assert_scenario_exercised(
    relay: &BTreeMap<String, Outcome>,
    agents: &[String],
    restricted: &Customer,
) {
    assert!(
        !relay.contains_key(&restricted.id),
        "nothing automated for a restricted customer: {relay:#?}"
    );
    let teams: Vec<_> = relay.values().filter_map(|o| o.team.as_deref()).collect();
    assert!(
        teams.contains(&"sales") && teams.contains(&"billing"),
        "{teams:?}"
    );
    for (i, agent) in agents.iter().enumerate() {
        let theirs = relay
            .values()
            .filter(|o| o.assignee.as_deref() == Some(agent))
            .count();
        assert!(theirs >= 1, "agent {i} got none: {relay:#?}");
        if i == 2 {
            assert_eq!(theirs, 1, "the third agent's capacity is one");
        }
    }
    let rules: std::collections::BTreeSet<&str> = relay
        .values()
        .flat_map(|o| o.messages.iter().map(|(rule, _)| rule.as_str()))
        .collect();
    for rule in ["greeting", "menu", "menu_retry", "keyword", "handoff"] {
        assert!(rules.contains(rule), "no {rule} message: {rules:?}");
    }
    assert_eq!(relay.len(), 9, "{relay:#?}");
}

/// The owner's desk (signed in, the channel's token stored sealed on the relay) and three agents
/// who joined and are available (ana, bo, cy: their member ids).
async fn owner_and_agents(w: &World) -> (Device, Vec<String>) {
    let owner = device(w, "owner laptop").await;
    let channel = owner.client.channels(&owner.token).await.unwrap().remove(0);
    owner
        .client
        .set_channel_token(
            &owner.token,
            &channel.id,
            &Secret::new(w.channel_token.expose()),
        )
        .await
        .unwrap();
    let mut agents = Vec::new();
    for name in ["ana", "bo", "cy"] {
        agents.push(available_agent(&owner, name).await);
    }
    (owner, agents)
}

/// The restricted customer writes and taps, then every customer of [`script`] does their step,
/// each once the relay settled after the previous one.
async fn customers_follow_the_script(w: &World, owner: &Device, restricted: &Customer) {
    w.text_from(restricted, "hi").await;
    w.sim
        .customer_taps_button(&w.phone, restricted, "sales", "Buying")
        .await;
    for (n, step) in script() {
        let who = customer(n);
        match step {
            Step::Writes(text) => {
                w.sim
                    .customer_writes(&w.phone, &who, Inbound::Text(text.into()))
                    .await;
            }
            Step::Taps(id, title) => {
                w.sim.customer_taps_button(&w.phone, &who, id, title).await;
            }
        }
        settled(w, owner).await;
    }
}

/// The preview's totals are the relay's.
fn assert_totals(shown: &AutomationPreview, relay: &BTreeMap<String, Outcome>) {
    // The totals too.
    let writers = script()
        .iter()
        .map(|(n, _)| *n)
        .chain([RESTRICTED])
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(shown.conversations_replayed as usize, writers.len());
    assert_eq!(shown.conversations.len(), relay.len());
    assert_eq!(shown.messages_sent as usize, relay_messages(relay));
    let routed = relay.values().filter(|o| o.team.is_some()).count();
    let assigned = relay.values().filter(|o| o.assignee.is_some()).count();
    assert_eq!(shown.routed as usize, routed);
    assert_eq!(shown.assigned as usize, assigned);
}

/// The desk's inbox shows each conversation with the team and member the relay gave it.
async fn assert_desk_shows(owner: &Device, relay: &BTreeMap<String, Outcome>) {
    for summary in zentro_core::inbox::conversations(&owner.cache, None, 100)
        .await
        .unwrap()
    {
        let who = summary.contact_name.trim_start_matches("Customer ");
        let who = customer(who.parse().unwrap()).id;
        let outcome = relay.get(&who);
        assert_eq!(
            summary.team_id,
            outcome.and_then(|o| o.team.clone()),
            "{who}"
        );
        assert_eq!(
            summary.assignee_id,
            outcome.and_then(|o| o.assignee.clone()),
            "{who}"
        );
    }
}
