use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::*;

fn sign_in_request(email: &str, password: &str) -> Request<Body> {
    Request::post("/v1/sessions")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "email": email, "password": password, "device_name": "d" }).to_string(),
        ))
        .unwrap()
}

fn publish(token: &str, kind: &str, key: &str) -> Request<Body> {
    Request::post("/v1/events")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "kind": kind, "payload": { "type": "status_changed", "status": "resolved",
            "conversation": { "channel_kind": "whatsapp", "channel_external_id": "P1", "customer_id": "US.1" } },
            "idempotency_key": key }).to_string()))
        .unwrap()
}

#[tokio::test]
async fn signing_in_returns_a_token_member_and_workspace() {
    let relay = TestRelay::start().await;
    let ws = relay.workspace("Acme Support", "Owner@Acme.test", "").await;
    let response = relay
        .request(sign_in_request("owner@acme.test", PASSWORD))
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    let body = response.json();
    assert!(
        body["token"].as_str().unwrap().len() >= 43,
        "at least 256 bits"
    );
    assert_eq!(body["member"]["role"], "owner");
    assert_eq!(
        body["workspace"],
        json!({ "id": ws, "name": "Acme Support" })
    );
    assert!(
        !String::from_utf8_lossy(&response.body).contains("argon2"),
        "no hash leaks"
    );
}

#[tokio::test]
async fn wrong_credentials_get_one_generic_401() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "").await;
    let wrong_password = relay
        .request(sign_in_request("owner@acme.test", "not the password"))
        .await;
    let unknown = relay
        .request(sign_in_request("nobody@acme.test", PASSWORD))
        .await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong_password.body, unknown.body,
        "the answer does not reveal which accounts exist"
    );
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_with_retry_after() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "").await;
    let mut last = None;
    for _ in 0..11 {
        last = Some(
            relay
                .request(sign_in_request("owner@acme.test", "guess guess guess"))
                .await,
        );
    }
    let last = last.unwrap();
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        last.headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // Even the right password waits until the window ends.
    assert_eq!(
        relay
            .request(sign_in_request("owner@acme.test", PASSWORD))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn every_v1_route_needs_a_valid_bearer_token_and_sign_out_revokes_it() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "").await;
    for request in [
        Request::get("/v1/events").body(Body::empty()).unwrap(),
        Request::get("/v1/events")
            .header("authorization", "Bearer zdt_forged")
            .body(Body::empty())
            .unwrap(),
        publish("zdt_forged", "team.status_changed", "k"),
    ] {
        assert_eq!(
            relay.request(request).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let token = relay.sign_in("owner@acme.test").await;
    let out = relay.delete(Some(&token), "/v1/sessions/current").await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = relay.get(Some(&token), "/v1/events").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn team_events_join_the_log_and_an_idempotency_key_returns_the_same_seq() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    relay.post_wa_text("P1", "wamid.1", "hi").await;
    let token = relay.sign_in("owner@acme.test").await;
    let first = relay
        .request(publish(&token, "team.status_changed", "dev1-42"))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.json()["seq"], 2);
    let again = relay
        .request(publish(&token, "team.status_changed", "dev1-42"))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["seq"], 2);
    let events = relay.events(&token, 0).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["kind"], "team.status_changed");
    assert_eq!(events[1]["payload"]["status"], "resolved");
    // Devices cannot impersonate Meta.
    assert_eq!(
        relay
            .request(publish(&token, "meta.webhook", "x"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn pages_follow_after_and_next_after() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    relay.post_texts("P1", 0..7).await;
    let token = relay.sign_in("owner@acme.test").await;
    let page = relay
        .get(Some(&token), "/v1/events?after=2&limit=3")
        .await
        .json();
    let seqs: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(page["next_after"], 5);
    assert_eq!(
        page["head"], 7,
        "the newest seq, however much the page holds"
    );
}

/// Privacy promise P6: many workspaces, every cross-read attempted, none succeeds.
#[tokio::test]
async fn no_device_reads_or_writes_another_workspaces_log() {
    let relay = TestRelay::start().await;
    let n = 5;
    let mut tokens = Vec::new();
    for w in 0..n {
        relay
            .workspace(
                &format!("W{w}"),
                &format!("owner{w}@w.test"),
                &format!("PH{w}"),
            )
            .await;
        tokens.push(relay.sign_in(&format!("owner{w}@w.test")).await);
    }
    for (w, token) in tokens.iter().enumerate() {
        for i in 0..3 {
            relay
                .post_wa_text(&format!("PH{w}"), &format!("wamid.{w}.{i}"), "x")
                .await;
        }
        relay
            .request(publish(token, "team.status_changed", "same-key-everywhere"))
            .await;
    }
    for (w, token) in tokens.iter().enumerate() {
        let events = relay.events(token, 0).await;
        assert_eq!(events.len(), 4, "workspace {w}");
        for id in wamids(&events) {
            assert!(
                id.starts_with(&format!("wamid.{w}.")),
                "workspace {w} saw {id}"
            );
        }
        // The same idempotency key in another workspace is another event.
        assert_eq!(events[3]["kind"], "team.status_changed");
    }
}

#[tokio::test]
async fn a_device_acknowledges_what_it_applied_but_never_past_the_end() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    relay.post_wa_text("P1", "wamid.1", "hi").await;
    let token = relay.sign_in("owner@acme.test").await;
    assert_eq!(relay.acknowledge(&token, 99).await.json()["acked_seq"], 1);
    assert_eq!(
        relay.acknowledge(&token, 0).await.json()["acked_seq"],
        1,
        "never moves back"
    );
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    relay.post_wa_text("P1", "wamid.1", "hi").await;
    assert_eq!(
        relay
            .request(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .status,
        StatusCode::OK
    );
    let metrics = String::from_utf8(
        relay
            .request(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .body,
    )
    .unwrap();
    for line in [
        "zentro_webhooks_accepted_total 1",
        "zentro_events_appended_total 1",
        "zentro_stream_clients 0",
        // An aggregate: per-workspace series need the metrics token (tests/it/transport.rs).
        "zentro_oldest_unacknowledged_event_age_seconds ",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
}

#[tokio::test]
async fn members_are_listed_to_signed_in_teammates_only_and_without_secrets() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    relay.workspace("Other", "owner@other.test", "P2").await;
    let token = relay.sign_in("owner@acme.test").await;

    let listed = relay.get(Some(&token), "/v1/members").await;
    assert_eq!(listed.status, StatusCode::OK);
    let body = listed.json();
    let members = body["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "only this workspace's members: {body}");
    assert_eq!(members[0]["email"], "owner@acme.test");
    assert_eq!(members[0]["role"], "owner");
    assert!(
        !body.to_string().contains("argon2"),
        "no password hashes: {body}"
    );

    let anonymous = relay
        .request(Request::get("/v1/members").body(Body::empty()).unwrap())
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_malformed_acknowledgement_gets_the_api_error_shape() {
    let (relay, token) = TestRelay::with_owner("P1").await;
    let response = relay
        .request(
            Request::post("/v1/cursor")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from("{\"seq\": \"ten\"}"))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let body = response.json();
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    assert!(str_of(&body["error"]["message"]).contains("expected JSON {seq}"));
}
