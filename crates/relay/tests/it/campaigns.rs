//! Broadcast campaigns on a real relay serving on loopback, against meta-sim, with no desk
//! connected (issue 24, ADR 0021): admins create and start them, members read them, other
//! workspaces cannot see them; each recipient is checked at their turn (consent, restriction),
//! paced, sent exactly once, and their outcome follows Meta's statuses and their reply; Meta's
//! template pause and the messaging limit pause a campaign with the reason; the proof of the
//! issue survives a kill -9 of the relay's process midway.

use std::time::Duration;

use serde_json::{Value, json};
use zentro_meta_sim::{Customer, Inbound, MetaSim};
use zentro_relay::Store;

use crate::support::{
    Bind, Joined, Number, PASSWORD, RawDatabase, ServedRelay, call_at,
    relay_with_a_connected_number, wait_until,
};

const OWNER: &str = "owner@acme.test";
const NUMBER: &str = "106540352242977";
const WABA: &str = "102290129340377";
const OTHER_OWNER: &str = "owner@globex.test";
const TEMPLATE: &str = "spring_sale";
const LANGUAGE: &str = "en_US";

/// A served relay with a WhatsApp number connected to meta-sim, a marketing template kept by the
/// relay, the owner signed in, an agent who joined, and another workspace's owner.
struct Workspace {
    sim: MetaSim,
    relay: ServedRelay,
    owner: String,
    agent: Joined,
    other_owner: String,
}

async fn workspace() -> Workspace {
    let number = Number {
        waba: WABA,
        id: NUMBER,
        display: "+1 555 0177",
    };
    let globex = async |store: &Store| {
        let hash = zentro_relay::credentials::hash_password(PASSWORD);
        store
            .create_workspace("Globex", OTHER_OWNER, "Owner", &hash)
            .await
            .unwrap();
    };
    let (sim, relay) = relay_with_a_connected_number(OWNER, number, globex).await;
    {
        let mut state = sim.state();
        state.add_template_text(
            TEMPLATE,
            LANGUAGE,
            "Hi {{1}}, our spring sale starts now!",
            "APPROVED",
        );
        assert!(state.set_template_category(TEMPLATE, LANGUAGE, "MARKETING"));
    }
    let owner = relay.sign_in(OWNER).await;
    let (status, body) = relay
        .call(&owner, "POST", "/v1/templates/refresh", Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    let agent = relay.join(&owner, "ana@acme.test", "agent", "ana").await;
    let other_owner = relay.sign_in(OTHER_OWNER).await;
    Workspace {
        sim,
        relay,
        owner,
        agent,
        other_owner,
    }
}

fn customer(n: usize) -> Customer {
    Customer {
        id: format!("1555222{n:04}"),
        phone: Some(format!("1555222{n:04}")),
        name: format!("Customer {n}"),
    }
}

fn contact(c: &Customer) -> Value {
    json!({ "channel_kind": "whatsapp", "channel_external_id": NUMBER, "customer_id": c.id })
}

/// Publishes a team event as the device holding `token`.
async fn publish(w: &Workspace, kind: &str, payload: Value) {
    let key = zentro_events::clock::random_id();
    let (status, body) = w
        .relay
        .call(
            &w.owner,
            "POST",
            "/v1/events",
            json!({ "kind": kind, "idempotency_key": key, "payload": payload }),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
}

/// Records the customers' consent (an agent's record) and waits until the relay keeps it.
async fn consent(w: &Workspace, customers: &[Customer], opted_in: bool) {
    for c in customers {
        let record = json!({ "type": "consent_recorded", "contact": contact(c),
            "opted_in": opted_in, "source": "agent", "at": zentro_events::clock::now_ms() });
        publish(w, "team.consent_recorded", record).await;
    }
    let db = RawDatabase::open(&w.relay.database).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for c in customers {
        loop {
            let kept = db
                .fetch_i64(
                    "SELECT COUNT(*) FROM consents WHERE customer_id = $1 AND opted_in = $2",
                    &[
                        crate::support::Bind::Text(Some(&c.id)),
                        crate::support::Bind::Int(i64::from(opted_in)),
                    ],
                )
                .await;
            if kept == 1 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "consent kept");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    db.close().await;
}

/// An admin restricts the customer's processing (P14).
async fn restrict(w: &Workspace, c: &Customer) {
    let edit = json!({ "type": "contact_edited", "contact": contact(c), "changes": { "restricted": true } });
    publish(w, "team.contact_edited", edit).await;
}

/// Creates a campaign as `token`: (status, answer).
async fn create(w: &Workspace, token: &str, per_second: u32) -> (u16, Value) {
    create_at(&w.relay.base, token, per_second).await
}

/// Creates a campaign on the relay at `base` as `token`: (status, answer).
async fn create_at(base: &str, token: &str, per_second: u32) -> (u16, Value) {
    call_at(
        base,
        Some(token),
        "POST",
        "/v1/campaigns",
        json!({ "name": "Spring restock", "channel_id": NUMBER, "template_name": TEMPLATE,
            "template_language": LANGUAGE, "audience": "label: espresso",
            "per_second": per_second }),
    )
    .await
}

/// A draft with these recipients, started now; its id.
async fn started(w: &Workspace, customers: &[Customer], per_second: u32) -> String {
    started_at(&w.relay.base, &w.owner, customers, per_second).await
}

/// On the relay at `base`, as the admin holding `token`: a draft with these recipients, started
/// now; its id.
async fn started_at(base: &str, token: &str, customers: &[Customer], per_second: u32) -> String {
    let (status, created) = create_at(base, token, per_second).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let added = add_recipients_at(base, token, &id, customers).await;
    assert_eq!(added["counts"]["queued"], customers.len(), "{added}");
    let (status, body) = call_at(
        base,
        Some(token),
        "POST",
        &format!("/v1/campaigns/{id}/start"),
        json!({ "send_at": null }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    id
}

/// The owner adds these customers to draft `id`.
async fn add_recipients(w: &Workspace, id: &str, customers: &[Customer]) {
    add_recipients_at(&w.relay.base, &w.owner, id, customers).await;
}

/// On the relay at `base`, as `token`: adds these customers to draft `id`; the campaign after.
async fn add_recipients_at(base: &str, token: &str, id: &str, customers: &[Customer]) -> Value {
    let recipients: Vec<Value> = customers
        .iter()
        .map(|c| json!({ "customer_id": c.id, "name": c.name }))
        .collect();
    let path = format!("/v1/campaigns/{id}/recipients");
    let (status, body) = call_at(
        base,
        Some(token),
        "POST",
        &path,
        json!({ "recipients": recipients }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn campaign(w: &Workspace, id: &str) -> Value {
    w.relay
        .get_json(&w.owner, &format!("/v1/campaigns/{id}"))
        .await
}

/// Waits until the campaign is in `state`; returns it.
async fn until_state(w: &Workspace, id: &str, state: &str, seconds: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let c = campaign(w, id).await;
        if c["state"] == state {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {seconds} s for the campaign to be {state}: {c}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The recipients' outcomes by customer.
async fn outcomes(w: &Workspace, id: &str) -> std::collections::HashMap<String, Value> {
    let page = w
        .relay
        .get_json(&w.owner, &format!("/v1/campaigns/{id}/recipients"))
        .await;
    page["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["customer_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn sends_to(sim: &MetaSim, c: &Customer) -> usize {
    sim.state().sends_to(NUMBER, &c.id)
}

/// The log's events of `kind`.
async fn events_of(w: &Workspace, kind: &str) -> Vec<Value> {
    let page = w
        .relay
        .get_json(&w.owner, "/v1/events?after=0&limit=1000")
        .await;
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn agents_cannot_change_campaigns_and_other_workspaces_cannot_see_them() {
    let w = workspace().await;
    let (status, body) = create(&w, &w.agent.token, 5).await;
    assert_eq!(status, 403, "{body}");
    let customers: Vec<Customer> = (0..2).map(customer).collect();
    consent(&w, &customers, true).await;
    let (status, created) = create(&w, &w.owner, 5).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let recipients = json!({ "recipients": [{ "customer_id": customers[0].id, "name": null }] });
    let path = format!("/v1/campaigns/{id}/recipients");
    let (status, _) = w
        .relay
        .call(&w.agent.token, "POST", &path, recipients.clone())
        .await;
    assert_eq!(status, 403);
    let (status, _) = w.relay.call(&w.owner, "POST", &path, recipients).await;
    assert_eq!(status, 200);
    for action in ["start", "pause", "resume", "cancel"] {
        let (status, body) = w
            .relay
            .call(
                &w.agent.token,
                "POST",
                &format!("/v1/campaigns/{id}/{action}"),
                json!({ "send_at": null }),
            )
            .await;
        assert_eq!(status, 403, "{action}: {body}");
    }
    // Members read it.
    let (status, seen) = w
        .relay
        .call(
            &w.agent.token,
            "GET",
            &format!("/v1/campaigns/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(seen["state"], "draft");
    // Another workspace finds nothing, whatever it tries.
    for (method, path) in [
        ("GET", format!("/v1/campaigns/{id}")),
        ("GET", format!("/v1/campaigns/{id}/recipients")),
        ("GET", format!("/v1/campaigns/{id}/recipients.csv")),
        ("POST", format!("/v1/campaigns/{id}/start")),
        ("POST", format!("/v1/campaigns/{id}/cancel")),
    ] {
        let (status, body) = w
            .relay
            .call(&w.other_owner, method, &path, json!({ "send_at": null }))
            .await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let theirs = w.relay.get_json(&w.other_owner, "/v1/campaigns").await;
    assert_eq!(theirs["campaigns"], json!([]));
    let received = w
        .relay
        .get_json(
            &w.other_owner,
            &format!(
                "/v1/campaigns/received?channel_id={NUMBER}&customer_id={}",
                customers[0].id
            ),
        )
        .await;
    assert_eq!(received["campaigns"], json!([]));
    // Another workspace's number cannot be used either.
    let (status, _) = w
        .relay
        .call(
            &w.other_owner,
            "POST",
            "/v1/campaigns",
            json!({ "name": "Theirs", "channel_id": NUMBER, "template_name": TEMPLATE,
                "template_language": LANGUAGE, "audience": "", "per_second": 5 }),
        )
        .await;
    assert_eq!(status, 404);
    assert!(w.sim.state().sent.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_marketing_campaign_reaches_only_consenting_customers_and_records_their_outcomes() {
    let w = workspace().await;
    let customers: Vec<Customer> = (0..6).map(customer).collect();
    // 0, 1, 2 opted in; 3 never said; 4 opted out; 5 opted in but restricted.
    consent(
        &w,
        &[
            customers[0].clone(),
            customers[1].clone(),
            customers[2].clone(),
            customers[5].clone(),
        ],
        true,
    )
    .await;
    consent(&w, &customers[4..5], false).await;
    restrict(&w, &customers[5]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = started(&w, &customers, 10).await;
    let done = until_state(&w, &id, "completed", 30).await;
    assert_eq!(done["counts"]["skipped"], 3, "{done}");
    for c in &customers[0..3] {
        assert_eq!(sends_to(&w.sim, c), 1, "{} reached once", c.id);
    }
    for c in &customers[3..6] {
        assert_eq!(sends_to(&w.sim, c), 0, "{} not reached", c.id);
    }
    let sent = w
        .sim
        .state()
        .sent
        .iter()
        .find(|m| m.to == customers[0].id)
        .unwrap()
        .body
        .clone();
    assert_eq!(
        sent["template"]["components"][0]["parameters"][0]["text"],
        "Customer"
    );
    // Statuses come in (meta-sim's customers read everything), then customer 0 answers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = outcomes(&w, &id).await;
        if customers[0..3].iter().all(|c| o[&c.id]["status"] == "read") {
            assert_eq!(o[&customers[3].id]["skip_reason"], "no_consent");
            assert_eq!(o[&customers[4].id]["skip_reason"], "opted_out");
            assert_eq!(o[&customers[5].id]["skip_reason"], "restricted");
            assert!(
                o[&customers[0].id]["message_id"]
                    .as_str()
                    .unwrap()
                    .starts_with("wamid.")
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "read: {o:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.sim
        .customer_writes(
            NUMBER,
            &customers[0],
            Inbound::Text("Is the grinder on sale?".into()),
        )
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while outcomes(&w, &id).await[&customers[0].id]["status"] != "replied" {
        assert!(tokio::time::Instant::now() < deadline, "replied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(campaign(&w, &id).await["counts"]["replied"], 1);
    // The contact panel's question, and the CSV of outcomes.
    let received = w
        .relay
        .get_json(
            &w.agent.token,
            &format!(
                "/v1/campaigns/received?channel_id={NUMBER}&customer_id={}",
                customers[0].id
            ),
        )
        .await;
    assert_eq!(received["campaigns"][0]["campaign_id"], id.as_str());
    assert_eq!(received["campaigns"][0]["status"], "replied");
    let csv = reqwest::Client::new()
        .get(format!("{}/v1/campaigns/{id}/recipients.csv", w.relay.base))
        .bearer_auth(&w.owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("customer_id,name,status"), "{csv}");
    assert!(
        csv.contains(&format!("{},Customer 4,skipped,opted_out", customers[4].id)),
        "{csv}"
    );
    // Every desk learns of each message (authored by the campaign) and each state change.
    let sent = events_of(&w, "message.sent").await;
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|e| e["author"] == format!("campaign:{id}")));
    let changes: Vec<Value> = events_of(&w, "workspace.campaign")
        .await
        .iter()
        .map(|e| e["payload"]["change"].clone())
        .collect();
    assert_eq!(
        changes,
        [json!("created"), json!("started"), json!("completed")]
    );
    let audit = w.relay.get_json(&w.owner, "/v1/audit").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "campaign.created",
        "campaign.recipients_added",
        "campaign.started",
        "campaign.completed",
        "campaign.exported",
    ] {
        assert!(actions.contains(&action), "{action} audited: {actions:?}");
    }
}

#[tokio::test]
async fn a_stop_reply_opts_the_customer_out_and_the_next_campaign_skips_them() {
    let w = workspace().await;
    let customers: Vec<Customer> = (10..12).map(customer).collect();
    consent(&w, &customers, true).await;
    let first = started(&w, &customers, 10).await;
    until_state(&w, &first, "completed", 30).await;
    w.sim
        .customer_writes(NUMBER, &customers[0], Inbound::Text("STOP".into()))
        .await;
    let db = RawDatabase::open(&w.relay.database).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db
        .fetch_i64(
            "SELECT COUNT(*) FROM consents WHERE customer_id = $1 AND opted_in = 0",
            &[crate::support::Bind::Text(Some(&customers[0].id))],
        )
        .await
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the STOP was honoured"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;
    let second = started(&w, &customers, 10).await;
    until_state(&w, &second, "completed", 30).await;
    let o = outcomes(&w, &second).await;
    assert_eq!(o[&customers[0].id]["skip_reason"], "opted_out");
    assert_eq!(
        o[&customers[1].id]["status"]
            .as_str()
            .map(|s| s != "skipped"),
        Some(true)
    );
    assert_eq!(sends_to(&w.sim, &customers[1]), 2);
    let templates_to_0 = w
        .sim
        .state()
        .sent
        .iter()
        .filter(|m| m.to == customers[0].id && m.body["type"] == "template")
        .count();
    assert_eq!(templates_to_0, 1, "only the first campaign reached them");
}

#[tokio::test]
async fn pacing_pause_resume_and_cancel() {
    let w = workspace().await;
    let customers: Vec<Customer> = (20..40).map(customer).collect();
    consent(&w, &customers, true).await;
    let id = started(&w, &customers, 5).await;
    until_state(&w, &id, "completed", 40).await;
    // At most 5 a second, by meta-sim's clock: the 20 took at least 3 s.
    let times: Vec<_> = w.sim.state().sent.iter().map(|m| m.at).collect();
    assert_eq!(times.len(), 20);
    assert!(
        times[19] - times[0] >= chrono::Duration::milliseconds(2_950),
        "{:?}",
        times[19] - times[0]
    );
    for i in 0..times.len() - 5 {
        assert!(
            times[i + 5] - times[i] >= chrono::Duration::milliseconds(950),
            "6 within a second at {i}"
        );
    }
    // Paused after the first slot: nothing more goes until resumed; cancelled: the rest never.
    let others: Vec<Customer> = (40..50).map(customer).collect();
    consent(&w, &others, true).await;
    let id = started(&w, &others, 2).await;
    let (status, paused) = w
        .relay
        .call(
            &w.owner,
            "POST",
            &format!("/v1/campaigns/{id}/pause"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["paused_reason"], format!("paused by {OWNER}"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = w.sim.state().sent.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        w.sim.state().sent.len(),
        before,
        "nothing sent while paused"
    );
    let (status, _) = w
        .relay
        .call(
            &w.owner,
            "POST",
            &format!("/v1/campaigns/{id}/resume"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let sim = &w.sim;
    wait_until(20, "more sent after resuming", || {
        sim.state().sent.len() >= before + 2
    })
    .await;
    let (status, cancelled) = w
        .relay
        .call(
            &w.owner,
            "POST",
            &format!("/v1/campaigns/{id}/cancel"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let c = campaign(&w, &id).await;
    let reached = others.iter().filter(|c| sends_to(&w.sim, c) == 1).count() as u64;
    assert!(others.iter().all(|c| sends_to(&w.sim, c) <= 1));
    assert!(reached < 10, "cancelled before the end");
    assert_eq!(
        c["counts"]["cancelled"].as_u64().unwrap() + reached,
        10,
        "{c}"
    );
    let (status, _) = w
        .relay
        .call(
            &w.owner,
            "POST",
            &format!("/v1/campaigns/{id}/resume"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 409, "a cancelled campaign stays cancelled");
}

#[tokio::test]
async fn a_template_meta_pauses_mid_campaign_pauses_it_with_metas_reason_until_approved_again() {
    let w = workspace().await;
    let customers: Vec<Customer> = (50..62).map(customer).collect();
    consent(&w, &customers, true).await;
    let id = started(&w, &customers, 2).await;
    let sim = &w.sim;
    wait_until(20, "a first slot sent", || sim.state().sent.len() >= 2).await;
    assert!(
        w.sim
            .review_template(WABA, TEMPLATE, LANGUAGE, "PAUSED", "LOW_QUALITY")
            .await
    );
    let paused = until_state(&w, &id, "paused", 20).await;
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(
        reason.contains("paused") && reason.contains(TEMPLATE),
        "{reason}"
    );
    let sent_while_paused = w.sim.state().sent.len();
    assert!(sent_while_paused < 12);
    let (status, body) = w
        .relay
        .call(
            &w.owner,
            "POST",
            &format!("/v1/campaigns/{id}/resume"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 409, "the template is still paused: {body}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(w.sim.state().sent.len(), sent_while_paused);
    assert!(
        w.sim
            .review_template(WABA, TEMPLATE, LANGUAGE, "APPROVED", "NONE")
            .await
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = w
            .relay
            .call(
                &w.owner,
                "POST",
                &format!("/v1/campaigns/{id}/resume"),
                Value::Null,
            )
            .await;
        if status == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "resumed: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until_state(&w, &id, "completed", 30).await;
    for c in &customers {
        assert_eq!(sends_to(&w.sim, c), 1, "{} once", c.id);
    }
}

#[tokio::test]
async fn meta_refusing_the_template_mid_send_pauses_the_campaign_with_its_code() {
    let w = workspace().await;
    let customers: Vec<Customer> = (70..76).map(customer).collect();
    consent(&w, &customers, true).await;
    // Meta paused it without the relay hearing of it yet: its sends answer 132015.
    w.sim
        .state()
        .set_template_status("", TEMPLATE, LANGUAGE, "PAUSED", "LOW_QUALITY");
    let id = started(&w, &customers, 10).await;
    let paused = until_state(&w, &id, "paused", 20).await;
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(reason.contains("132015"), "{reason}");
    assert!(w.sim.state().sent.is_empty());
    assert_eq!(paused["counts"]["queued"], 6, "nobody lost: {paused}");
}

/// Meta failing temporarily (HTTP 500, code 131000) is tried again with a growing wait, but only
/// `MOST_ATTEMPTS` times: then the recipient is `failed` with Meta's last code and words, and
/// the campaign completes. Meta's "slow down" (130429) before them is a wait, not an attempt.
#[tokio::test]
async fn a_temporary_failure_is_tried_a_bounded_number_of_times_then_fails_with_metas_words() {
    use zentro_relay::campaigns::send::MOST_ATTEMPTS;
    let w = workspace().await;
    let customers = [customer(80)];
    consent(&w, &customers, true).await;
    let most = MOST_ATTEMPTS as usize;
    let mut errors = vec![(400, 130_429); 3];
    errors.extend(vec![(500, 131_000); most + 5]);
    w.sim.state().inject_send_errors(&errors);
    let id = started(&w, &customers, 10).await;
    let done = until_state(&w, &id, "completed", 60).await;
    assert_eq!(done["counts"]["failed"], 1, "{done}");
    let outcome = &outcomes(&w, &id).await[&customers[0].id];
    assert_eq!(outcome["status"], "failed", "{outcome}");
    let error = outcome["error"].as_str().unwrap();
    assert!(
        error.starts_with("131000: Injected failure")
            && error.contains(&format!("after {most} temporary failures")),
        "{error}"
    );
    // Meta was asked 3 + MOST_ATTEMPTS times, never more, and sent nothing.
    assert_eq!(w.sim.state().injected_send_errors_left(), 5);
    assert_eq!(sends_to(&w.sim, &customers[0]), 0);
}

/// The relay stopped while a campaign's last messages were `sending`, and their number sends no
/// more webhooks: once `campaign_unknown_after` (1 hour) passed since a request left, that
/// recipient is `failed` with an unknown outcome, never sent again, and the campaign completes;
/// one whose request left 10 minutes ago still waits for Meta's word.
#[tokio::test]
async fn messages_left_sending_that_no_webhook_names_are_given_up_as_unknown_within_a_bound() {
    let w = workspace().await;
    let customers = [customer(90), customer(91)];
    let now = zentro_events::clock::now_ms();
    let (id, db) = left_sending(&w, &[(&customers[0], 3_601_000), (&customers[1], 600_000)]).await;
    let given_up = "SELECT COUNT(*) FROM campaign_recipients WHERE status = 'failed'";
    until_count(
        &db,
        given_up,
        1,
        "the message sent over an hour ago given up",
    )
    .await;
    let outcome = &outcomes(&w, &id).await;
    let old = &outcome[&customers[0].id];
    assert!(
        old["error"].as_str().unwrap().starts_with("unknown: "),
        "{old}"
    );
    assert_eq!(outcome[&customers[1].id]["status"], "sending");
    assert_eq!(campaign(&w, &id).await["state"], "running");
    // An hour after the second request left, the campaign completes: nobody was sent again.
    db.execute(
        "UPDATE campaign_recipients SET sending_at = $2 WHERE campaign_id = $1 AND status = 'sending'",
        &[Bind::Text(Some(&id)), Bind::Int(now - 3_601_000)],
    )
    .await;
    let done = until_state(&w, &id, "completed", 30).await;
    assert_eq!(done["counts"]["failed"], 2, "{done}");
    db.close().await;
    assert!(w.sim.state().sent.is_empty(), "never sent again");
}

/// What a crash leaves behind: a running campaign to `customers` (who consented), each one's
/// request left the given milliseconds ago and no answer recorded. The campaign's id and the
/// relay's database.
async fn left_sending(w: &Workspace, customers: &[(&Customer, i64)]) -> (String, RawDatabase) {
    let all: Vec<Customer> = customers.iter().map(|(c, _)| (*c).clone()).collect();
    consent(w, &all, true).await;
    let (status, created) = create(w, &w.owner, 10).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    add_recipients(w, &id, &all).await;
    let now = zentro_events::clock::now_ms();
    let db = RawDatabase::open(&w.relay.database).await;
    db.execute(
        "UPDATE campaigns SET state = 'running', started_at = $2 WHERE id = $1",
        &[Bind::Text(Some(&id)), Bind::Int(now - 7_200_000)],
    )
    .await;
    for (customer, left) in customers {
        db.execute(
            "UPDATE campaign_recipients SET status = 'sending', sending_at = $3
             WHERE campaign_id = $1 AND customer_id = $2",
            &[
                Bind::Text(Some(&id)),
                Bind::Text(Some(&customer.id)),
                Bind::Int(now - left),
            ],
        )
        .await;
    }
    (id, db)
}

/// A WhatsApp status webhook from the campaign's number for its message to `c`, as Meta sends
/// it (`errors` for a failure).
fn campaign_status(id: &str, c: &Customer, wamid: &str, status: &str, errors: Value) -> Value {
    let mut s = json!({ "id": wamid, "status": status, "recipient_id": c.id,
        "timestamp": (zentro_events::clock::now_ms() / 1000).to_string(),
        "biz_opaque_callback_data": zentro_events::campaigns::callback_data(id, &c.id) });
    if !errors.is_null() {
        s["errors"] = errors;
    }
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550177", "phone_number_id": NUMBER },
        "statuses": [s] }}]}]})
}

/// Meta's status for a message given up on as unknown comes after all (Meta had it; its webhooks
/// were late): the recipient is settled by what Meta said — delivered, with its `message.sent`
/// event once, or failed with Meta's code and words — and nothing is sent again.
#[tokio::test]
async fn a_late_status_from_meta_settles_a_message_given_up_as_unknown() {
    let w = workspace().await;
    let customers = [customer(92), customer(93)];
    let (id, db) = left_sending(
        &w,
        &[(&customers[0], 3_601_000), (&customers[1], 3_601_000)],
    )
    .await;
    let done = until_state(&w, &id, "completed", 30).await;
    assert_eq!(done["counts"]["failed"], 2, "both given up: {done}");
    db.close().await;
    crate::support::post_webhook(
        &w.relay.base,
        &campaign_status(&id, &customers[0], "wamid.late92", "delivered", Value::Null),
    )
    .await;
    let errors = json!([{ "code": 131026, "title": "Message undeliverable",
        "message": "Message undeliverable", "error_data": { "details": "Message Undeliverable." } }]);
    crate::support::post_webhook(
        &w.relay.base,
        &campaign_status(&id, &customers[1], "wamid.late93", "failed", errors),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let o = loop {
        let o = outcomes(&w, &id).await;
        if o[&customers[0].id]["status"] == "delivered"
            && o[&customers[1].id]["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("131026"))
        {
            break o;
        }
        assert!(tokio::time::Instant::now() < deadline, "settled: {o:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let delivered = &o[&customers[0].id];
    assert_eq!(delivered["error"], Value::Null, "{delivered}");
    assert_eq!(delivered["message_id"], "wamid.late92");
    assert_eq!(o[&customers[1].id]["status"], "failed");
    let counts = &campaign(&w, &id).await["counts"];
    assert_eq!(
        (&counts["delivered"], &counts["failed"]),
        (&json!(1), &json!(1)),
        "{counts}"
    );
    let sent = events_of(&w, "message.sent").await;
    assert_eq!(
        sent.len(),
        1,
        "desks learn of the delivered one once: {sent:?}"
    );
    assert_eq!(sent[0]["payload"]["customer_id"], customers[0].id.as_str());
    // Sent when its request left, an hour ago, not when Meta's word came.
    let sent_at = sent[0]["payload"]["sent_at"].as_i64().unwrap();
    assert!(
        sent_at <= zentro_events::clock::now_ms() - 3_600_000,
        "sent at {sent_at}"
    );
    assert!(w.sim.state().sent.is_empty(), "never sent again");
}

#[tokio::test]
async fn the_messaging_limit_pauses_a_campaign_until_the_window_frees() {
    let w = workspace().await;
    // A new portfolio: 250 customers a day.
    let customers: Vec<Customer> = (100..360).map(customer).collect();
    let db = RawDatabase::open(&w.relay.database).await;
    db.execute(
        "INSERT INTO consents (workspace_id, channel_kind, channel_external_id, customer_id,
            opted_in, source, at, seq)
         SELECT id, 'whatsapp', $1, CAST(15552220000 + n AS TEXT), 1, 'import', 0, 0
         FROM workspaces, (WITH RECURSIVE c(n) AS (SELECT 100 UNION ALL SELECT n + 1 FROM c WHERE n < 359)
                           SELECT n FROM c) AS numbers
         WHERE name = 'Acme'",
        &[crate::support::Bind::Text(Some(NUMBER))],
    )
    .await;
    db.close().await;
    let id = started(&w, &customers, 1000).await;
    let paused = until_state(&w, &id, "paused", 40).await;
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(
        reason.contains("250") && reason.contains("resumes by itself at"),
        "{reason}"
    );
    assert_eq!(w.sim.state().reached_in_a_day(WABA), 250);
    assert_eq!(paused["counts"]["queued"], 10, "{paused}");
    let failed = paused["counts"]["failed"].as_u64().unwrap();
    assert_eq!(failed, 0, "none went past Meta's limit");
}

/// Publishes a team event on the relay at `base` as the device holding `token`.
async fn publish_at(base: &str, token: &str, kind: &str, payload: Value) {
    let key = zentro_events::clock::random_id();
    let (status, body) = crate::support::call_at(
        base,
        Some(token),
        "POST",
        "/v1/events",
        json!({ "kind": kind, "idempotency_key": key, "payload": payload }),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");
}

/// Polls `count` (a SQL count) until it is `want`.
async fn until_count(db: &RawDatabase, sql: &str, want: i64, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while db.fetch_i64(sql, &[]).await != want {
        assert!(tokio::time::Instant::now() < deadline, "waited for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The proof of issue 24: a campaign to 1,000 customers of whom 10 opted out and 5 are
/// restricted reaches exactly the 985 others once each, within the pace set, through a kill -9 of
/// the relay's process midway (a real separate process serving on loopback, restarted on the same
/// database; meta-sim retries its webhooks while the relay is down, as Meta does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_to_1000_reaches_the_985_allowed_exactly_once_through_a_kill_9() {
    use zentro_relay::sealing::TokenKey;
    use zentro_relay::store::{ChannelKind, DatabaseLocation};

    const PER_SECOND: usize = 100;
    let sim = MetaSim::start(zentro_meta_sim::SimConfig {
        app_secret: zentro_meta::AppSecret::new(crate::support::SECRET),
        retry_delays: [100, 300, 1_000, 2_000, 3_000, 5_000, 8_000, 13_000]
            .map(Duration::from_millis)
            .to_vec(),
        // Statuses come late: those of the messages in flight at the kill reach the relay only
        // after it restarted (Meta retrying), and must settle them before anything is resent.
        status_delay: Duration::from_millis(1_500),
        ..zentro_meta_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let token = sim.add_whatsapp_number(WABA, NUMBER, "+1 555 0177");
    {
        let mut state = sim.state();
        state.add_template_text(
            TEMPLATE,
            LANGUAGE,
            "Hi {{1}}, our spring sale starts now!",
            "APPROVED",
        );
        state.set_template_category(TEMPLATE, LANGUAGE, "MARKETING");
        state.set_messaging_limit(WABA, "TIER_2K");
    }
    let dir = tempfile::tempdir().unwrap();
    let database_url = crate::support::fresh_database().await;
    let location = DatabaseLocation::new(dir.path(), database_url.as_deref());
    let key_text = TokenKey::generate();
    let key = TokenKey::parse(&key_text).unwrap();
    let store = zentro_relay::Store::open_at(&location).await.unwrap();
    let hash = zentro_relay::credentials::hash_password(PASSWORD);
    let ws = store
        .create_workspace("Acme", OWNER, "Owner", &hash)
        .await
        .unwrap();
    let (channel, _) = store
        .add_channel(&ws.id, ChannelKind::Whatsapp, NUMBER, Some(WABA), "")
        .await
        .unwrap();
    store
        .set_channel_token(&channel.id, &key.seal(&channel.id, token.expose()), None)
        .await
        .unwrap();
    store.close().await;
    // The 1,000 opted in, as an import left them.
    let customers: Vec<Customer> = (1000..2000).map(customer).collect();
    let db = RawDatabase::open(&location).await;
    db.execute(
        "INSERT INTO consents (workspace_id, channel_kind, channel_external_id, customer_id,
            opted_in, source, at, seq)
         SELECT $1, 'whatsapp', $2, CAST(15552220000 + n AS TEXT), 1, 'import', 0, 0
         FROM (WITH RECURSIVE c(n) AS (SELECT 1000 UNION ALL SELECT n + 1 FROM c WHERE n < 1999)
               SELECT n FROM c) AS numbers",
        &[
            crate::support::Bind::Text(Some(&ws.id)),
            crate::support::Bind::Text(Some(NUMBER)),
        ],
    )
    .await;

    let port = crate::crash::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let serve = || {
        crate::crash::serve_with_meta_app(
            dir.path(),
            database_url.as_deref(),
            port,
            &sim,
            &key_text,
            &[("ZENTRO_RELAY_CAMPAIGN_SETTLE_MS", "3000")],
        )
    };
    let mut relay = serve();
    crate::crash::wait_healthy(&base).await;
    sim.set_webhook_url(format!("{base}/webhooks/meta"));
    let owner = crate::support::post_json(
        &format!("{base}/v1/sessions"),
        &json!({ "email": OWNER, "password": PASSWORD, "device_name": "laptop" }),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = crate::support::call_at(
        &base,
        Some(&owner),
        "POST",
        "/v1/templates/refresh",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // 10 opted out since (an agent recorded it), 5 restricted by an admin, spread through the list.
    let opted_out: Vec<&Customer> = customers.iter().step_by(100).collect();
    let restricted: Vec<&Customer> = customers.iter().skip(50).step_by(200).collect();
    assert_eq!((opted_out.len(), restricted.len()), (10, 5));
    for c in &opted_out {
        let record = json!({ "type": "consent_recorded", "contact": contact(c),
            "opted_in": false, "source": "agent", "at": zentro_events::clock::now_ms() });
        publish_at(&base, &owner, "team.consent_recorded", record).await;
    }
    for c in &restricted {
        let edit = json!({ "type": "contact_edited", "contact": contact(c), "changes": { "restricted": true } });
        publish_at(&base, &owner, "team.contact_edited", edit).await;
    }
    until_count(
        &db,
        "SELECT COUNT(*) FROM consents WHERE opted_in = 0",
        10,
        "the opt-outs",
    )
    .await;
    until_count(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'contact.restricted'",
        5,
        "the restrictions",
    )
    .await;

    let id = started_at(&base, &owner, &customers, PER_SECOND as u32).await;

    // Midway: SIGKILL, no shutdown, no flush — requests may be in flight.
    wait_until(60, "a third sent", || sim.state().sent.len() >= 330).await;
    relay.kill().unwrap();
    relay.wait().unwrap();
    let at_kill = sim.state().sent.len();
    assert!(at_kill < 985, "killed midway ({at_kill} sent)");
    let in_flight = db
        .fetch_i64(
            "SELECT COUNT(*) FROM campaign_recipients WHERE status = 'sending'",
            &[],
        )
        .await;
    let unrecorded = at_kill as i64
        - db.fetch_i64(
            "SELECT COUNT(*) FROM campaign_recipients WHERE message_id IS NOT NULL",
            &[],
        )
        .await;
    eprintln!(
        "killed with {at_kill} sent, {in_flight} marked sending, {unrecorded} accepted by Meta but not recorded"
    );

    let mut relay = serve();
    crate::crash::wait_healthy(&base).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let done = loop {
        let c = crate::support::get_json(&base, &owner, &format!("/v1/campaigns/{id}")).await;
        if c["state"] == "completed" {
            break c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "completed after the restart: {c}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Long enough for a double to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let excluded: std::collections::HashSet<&str> = opted_out
        .iter()
        .chain(&restricted)
        .map(|c| c.id.as_str())
        .collect();
    {
        let state = sim.state();
        for c in &customers {
            let want = usize::from(!excluded.contains(c.id.as_str()));
            assert_eq!(
                state.sends_to(NUMBER, &c.id),
                want,
                "{} sent to {want} time(s)",
                c.id
            );
        }
        assert_eq!(state.sent.len(), 985);
        // Within the pace: never more than PER_SECOND in any second (meta-sim's clock).
        let times: Vec<_> = state.sent.iter().map(|m| m.at).collect();
        for i in 0..times.len() - PER_SECOND {
            let gap = times[i + PER_SECOND] - times[i];
            assert!(
                gap >= chrono::Duration::milliseconds(980),
                "{} sends within {gap:?} at {i}",
                PER_SECOND + 1
            );
        }
    }
    let counts = &done["counts"];
    assert_eq!(counts["skipped"], 15, "{done}");
    assert_eq!(counts["failed"], 0, "{done}");
    assert_eq!(
        counts["queued"].as_u64().unwrap() + counts["sending"].as_u64().unwrap(),
        0
    );
    // Every desk is told of each message once.
    let mut after = 0;
    let mut announced = std::collections::HashMap::<String, usize>::new();
    loop {
        let page = crate::support::get_json(
            &base,
            &owner,
            &format!("/v1/events?after={after}&limit=1000"),
        )
        .await;
        let events = page["events"].as_array().unwrap().clone();
        let Some(last) = events.last().and_then(|e| e["seq"].as_i64()) else {
            break;
        };
        for e in events.iter().filter(|e| e["kind"] == "message.sent") {
            assert_eq!(e["author"], format!("campaign:{id}"));
            // Settled by Meta's status or by its answer, desks show what the customer got.
            assert_eq!(
                e["payload"]["body"],
                "Hi Customer, our spring sale starts now!"
            );
            *announced
                .entry(e["payload"]["customer_id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        after = last;
    }
    assert_eq!(announced.len(), 985);
    assert!(announced.values().all(|n| *n == 1));
    db.close().await;
    relay.kill().unwrap();
    relay.wait().unwrap();
}

#[tokio::test]
async fn an_erased_customer_leaves_every_campaign_and_is_never_sent_to_again() {
    let w = workspace().await;
    let customers: Vec<Customer> = (80..82).map(customer).collect();
    consent(&w, &customers, true).await;
    let first = started(&w, &customers, 10).await;
    until_state(&w, &first, "completed", 30).await;
    let salt = "5".repeat(32);
    let hash = zentro_events::erasure_hash(&salt, &format!("whatsapp:{NUMBER}"), &customers[0].id);
    let erasure = json!({ "identifiers": [customers[0].id], "salt": salt, "hash": hash });
    let (status, body) = w
        .relay
        .call(&w.owner, "POST", "/v1/erasures", erasure)
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    // P14: the relay keeps nothing of them in its campaigns.
    let o = outcomes(&w, &first).await;
    assert!(!o.contains_key(&customers[0].id), "{o:?}");
    assert!(o.contains_key(&customers[1].id));
    let received = w
        .relay
        .get_json(
            &w.owner,
            &format!(
                "/v1/campaigns/received?channel_id={NUMBER}&customer_id={}",
                customers[0].id
            ),
        )
        .await;
    assert_eq!(received["campaigns"], json!([]));
    // A desk that has not heard yet lists them again: skipped as erased.
    let second = started(&w, &customers, 10).await;
    until_state(&w, &second, "completed", 30).await;
    let o = outcomes(&w, &second).await;
    assert_eq!(o[&customers[0].id]["skip_reason"], "erased");
    assert_eq!(
        sends_to(&w.sim, &customers[0]),
        1,
        "only the first campaign reached them"
    );
    assert_eq!(sends_to(&w.sim, &customers[1]), 2);
}
