//! Meta's Data Deletion Request and Deauthorize callbacks, with signed requests made the way Meta
//! makes them — and wrong, expired and malformed ones, which record nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use zentro_meta::AppSecret;
use zentro_meta::signature::{SignedRequest, sign_signed_request};

use crate::support::{SECRET, TestRelay};

const USER: &str = "10158000000000001";

fn signed(secret: &str, user: &str, expires: Option<i64>) -> String {
    sign_signed_request(
        &AppSecret::new(secret),
        &SignedRequest {
            algorithm: "HMAC-SHA256".into(),
            user_id: user.into(),
            issued_at: Some(zentro_events::clock::now_ms() / 1000),
            expires,
        },
    )
}

async fn post_form(
    relay: &TestRelay,
    path: &str,
    signed_request: &str,
) -> crate::support::Response {
    relay
        .request(
            Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "relay.acme.test")
                .body(Body::from(format!("signed_request={signed_request}")))
                .unwrap(),
        )
        .await
}

/// A workspace whose WhatsApp channel was connected by `USER`, with a stored token.
async fn connected() -> (TestRelay, String, String) {
    let relay = TestRelay::start_with(|c| {
        c.token_keys = Some(zentro_relay::sealing::TokenKeys {
            current: zentro_relay::sealing::TokenKey::parse(
                &zentro_relay::sealing::TokenKey::generate(),
            )
            .unwrap(),
            previous: None,
        })
    })
    .await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    let owner = relay.sign_in("owner@acme.test").await;
    let channel = relay.store().channels(None).await.unwrap().remove(0);
    relay
        .store()
        .set_channel_connector(&channel.id, USER)
        .await
        .unwrap();
    let set = relay
        .put(
            Some(&owner),
            &format!("/v1/channels/{}/token", channel.id),
            serde_json::json!({ "token": "EAAG-token-of-the-connected-number" }),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    (relay, owner, channel.id)
}

#[tokio::test]
async fn a_deletion_request_removes_what_the_user_connected_and_gives_a_status_page() {
    let (relay, owner, channel) = connected().await;
    let response = post_form(&relay, "/meta/data-deletion", &signed(SECRET, USER, None)).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let body = response.json();
    let code = body["confirmation_code"].as_str().unwrap().to_string();
    assert_eq!(
        body["url"],
        format!("http://relay.acme.test/meta/data-deletion/{code}")
    );
    assert!(
        relay.store().channels(None).await.unwrap().is_empty(),
        "the channel is gone"
    );
    let token = relay.store().channel_token(&channel).await.unwrap();
    assert!(token.is_none(), "its sealed token is gone");
    // Devices hear of it; the audit log records it.
    let events = relay.events(&owner, 0).await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "channel.changed" && e["payload"]["removed"] == true)
    );
    let audit = relay.get_json(&owner, "/v1/audit").await;
    assert!(audit.to_string().contains("meta.data_deletion"));

    // The status page, for a person.
    let page = relay
        .request(
            Request::get(format!("/meta/data-deletion/{code}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains("completed") && html.contains("1 connection(s)"),
        "{html}"
    );
    assert!(!html.contains(USER), "the page does not echo the user's id");
    let unknown = relay
        .request(
            Request::get("/meta/data-deletion/nope")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wrong_expired_or_malformed_signed_requests_are_400_and_record_nothing() {
    let (relay, _, _) = connected().await;
    let now = zentro_events::clock::now_ms() / 1000;
    for (what, request) in [
        (
            "signed with another secret",
            signed("not the app secret", USER, None),
        ),
        ("expired", signed(SECRET, USER, Some(now - 60))),
        ("malformed", "abc".to_string()),
        ("empty", String::new()),
    ] {
        for path in ["/meta/data-deletion", "/meta/deauthorize"] {
            let response = post_form(&relay, path, &request).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{what} on {path}");
        }
    }
    // A tampered payload (the signature of another one).
    let good = signed(SECRET, "someone else", None);
    let other = signed(SECRET, USER, None);
    let tampered = format!(
        "{}.{}",
        good.split('.').next().unwrap(),
        other.split('.').nth(1).unwrap()
    );
    assert_eq!(
        post_form(&relay, "/meta/data-deletion", &tampered)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(relay.store().deletion_request_count().await.unwrap(), 0);
    assert_eq!(
        relay.store().channels(None).await.unwrap().len(),
        1,
        "nothing removed"
    );
}

#[tokio::test]
async fn deauthorizing_disconnects_the_users_channels_and_forgets_their_tokens() {
    let (relay, owner, channel) = connected().await;
    let response = post_form(&relay, "/meta/deauthorize", &signed(SECRET, USER, Some(0))).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        relay
            .store()
            .channel_token(&channel)
            .await
            .unwrap()
            .is_none()
    );
    let events = relay.events(&owner, 0).await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "channel.changed" && e["payload"]["disconnected"] == true)
    );
    // Someone else's deauthorization touches nothing of this workspace.
    let other = post_form(&relay, "/meta/deauthorize", &signed(SECRET, "999", None)).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(relay.store().channels(None).await.unwrap().len(), 1);
}
