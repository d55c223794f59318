use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use zentro_meta::AppSecret;
use zentro_meta::signature::sign_webhook;

use crate::support::*;

#[tokio::test]
async fn the_handshake_echoes_the_challenge_raw_only_for_the_right_token() {
    let relay = TestRelay::start().await;
    let ok = relay
        .request(Request::get(format!("/webhooks/meta?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444")).body(Body::empty()).unwrap())
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, b"1158201444");
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=test-verify-token&hub.challenge=1",
        "hub.challenge=1",
    ] {
        let refused = relay
            .request(
                Request::get(format!("/webhooks/meta?{query}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{query}");
    }
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_webhooks_are_refused_and_nothing_is_stored() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "PHONE1").await;
    let body = wa_text("PHONE1", "wamid.1", "hi").to_string();
    let unsigned = relay.post_webhook_signed_as(None, body.clone()).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let forged = sign_webhook(&AppSecret::new("not-the-secret"), body.as_bytes());
    let wrong = relay.post_webhook_signed_as(Some(&forged), body).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let token = relay.sign_in("owner@acme.test").await;
    assert!(relay.events(&token, 0).await.is_empty());
    assert!(relay.store().quarantine().await.unwrap().is_empty());
    let metrics = relay
        .request(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert!(
        String::from_utf8_lossy(&metrics.body)
            .contains("zentro_webhooks_rejected_total{reason=\"signature\"} 2")
    );
}

#[tokio::test]
async fn escaped_unicode_verifies_as_sent_and_fails_once_re_serialized() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "PHONE1").await;
    // Meta's wire form: non-ASCII escaped.
    let wire = r#"{"object":"whatsapp_business_account","entry":[{"id":"WABA-PHONE1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"PHONE1"},"contacts":[{"profile":{"name":"J\u00f6rg"},"user_id":"US.2"}],"messages":[{"from_user_id":"US.2","id":"wamid.U","timestamp":"1750000000","type":"text","text":{"body":"Gr\u00fc\u00dfe \ud83d\ude00"}}]}}]}]}"#;
    let signature = sign_webhook(&AppSecret::new(SECRET), wire.as_bytes());
    let reserialized = serde_json::from_str::<serde_json::Value>(wire)
        .unwrap()
        .to_string();
    assert_ne!(reserialized, wire);
    let bad = relay
        .post_webhook_signed_as(Some(&signature), reserialized)
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNAUTHORIZED,
        "a re-serialized body must not verify"
    );
    let good = relay.post_webhook_signed_as(Some(&signature), wire).await;
    assert_eq!(good.status, StatusCode::OK);
    let token = relay.sign_in("owner@acme.test").await;
    let events = relay.events(&token, 0).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["payload"]
            .pointer("/entry/0/changes/0/value/messages/0/text/body")
            .unwrap(),
        "Grüße 😀"
    );
}

#[tokio::test]
async fn bodies_over_4_mib_are_413() {
    let relay = TestRelay::start().await;
    let body = vec![b' '; 4 * 1024 * 1024 + 1];
    let response = relay.post_signed(&body).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn redeliveries_do_not_become_second_events() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "PHONE1").await;
    let body = wa_text("PHONE1", "wamid.SAME", "hello").to_string();
    for _ in 0..3 {
        assert_eq!(
            relay.post_signed(body.as_bytes()).await.status,
            StatusCode::OK
        );
    }
    // The same status tuple twice is one event; a new status of the same message is another.
    let status = |s: &str| {
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "WABA-PHONE1", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "phone_number_id": "PHONE1" },
        "statuses": [{ "id": "wamid.OUT", "status": s, "timestamp": "1750000001", "recipient_id": "1" }] }}]}]}).to_string()
    };
    for s in ["delivered", "delivered", "read"] {
        relay.post_signed(status(s).as_bytes()).await;
    }
    let token = relay.sign_in("owner@acme.test").await;
    let events = relay.events(&token, 0).await;
    assert_eq!(events.len(), 3, "one message, delivered once, read once");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3], "gapless");
}

#[tokio::test]
async fn one_post_for_several_workspaces_is_split_by_channel() {
    let relay = TestRelay::start().await;
    relay.workspace("A", "a@a.test", "PA").await;
    relay.workspace("B", "b@b.test", "PB").await;
    let mut body = wa_text("PA", "wamid.A1", "for A");
    let b = wa_text("PB", "wamid.B1", "for B");
    body["entry"]
        .as_array_mut()
        .unwrap()
        .push(b["entry"][0].clone());
    body["entry"][0]["changes"]
        .as_array_mut()
        .unwrap()
        .push(wa_text("PA", "wamid.A2", "also A")["entry"][0]["changes"][0].clone());
    assert_eq!(
        relay.post_signed(body.to_string().as_bytes()).await.status,
        StatusCode::OK
    );
    let a = relay.sign_in("a@a.test").await;
    let b = relay.sign_in("b@b.test").await;
    assert_eq!(wamids(&relay.events(&a, 0).await), ["wamid.A1", "wamid.A2"]);
    assert_eq!(wamids(&relay.events(&b, 0).await), ["wamid.B1"]);
}

#[tokio::test]
async fn unknown_channels_and_unparseable_bodies_are_quarantined_then_routed_when_the_channel_is_added()
 {
    let relay = TestRelay::start().await;
    let ws = relay.workspace("Acme", "owner@acme.test", "").await;
    for _ in 0..2 {
        let posted = relay.post_wa_text("LATE", "wamid.L1", "early bird").await;
        assert_eq!(posted.status, StatusCode::OK);
    }
    assert_eq!(
        relay.post_signed(b"this is not JSON").await.status,
        StatusCode::OK,
        "signed by Meta: kept, not refused"
    );
    let quarantined = relay.store().quarantine().await.unwrap();
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    assert_eq!(quarantined[0].route_id.as_deref(), Some("LATE"));

    let (_, released) = relay
        .store()
        .add_channel(
            &ws,
            zentro_relay::store::ChannelKind::Whatsapp,
            "LATE",
            None,
            "",
        )
        .await
        .unwrap();
    assert_eq!(released, 1);
    let token = relay.sign_in("owner@acme.test").await;
    assert_eq!(wamids(&relay.events(&token, 0).await), ["wamid.L1"]);
    assert_eq!(
        relay.store().quarantine().await.unwrap().len(),
        1,
        "the unparseable body stays for an operator"
    );
    // A redelivery after the channel exists is still recognised.
    relay.post_wa_text("LATE", "wamid.L1", "early bird").await;
    assert_eq!(relay.events(&token, 0).await.len(), 1);
}
