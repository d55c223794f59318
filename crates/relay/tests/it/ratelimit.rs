//! Rate limits an attacker cannot turn against users (issue 19, item 5): `X-Forwarded-For` counts
//! only from trusted proxies, one client's failures slow that client and never lock a member out
//! from their own address, Meta's callbacks have their own limiter, and authenticated writes are
//! limited per session. Clients connect from distinct loopback addresses (127.0.0.2, …).

use std::net::IpAddr;

use reqwest::StatusCode;
use serde_json::{Value, json};
use zentro_meta::AppSecret;
use zentro_meta::signature::{SignedRequest, sign_signed_request, sign_webhook};
use zentro_relay::credentials::hash_password;
use zentro_relay::store::ChannelKind;

use crate::support::{PASSWORD, SECRET, ServedRelay, wa_text};

const OWNER: &str = "owner@acme.test";

async fn relay(adjust: impl FnOnce(&mut zentro_relay::Config)) -> ServedRelay {
    ServedRelay::start_on(adjust, async |store| {
        let ws = store
            .create_workspace("Acme", OWNER, "Owner", &hash_password(PASSWORD))
            .await
            .unwrap();
        store
            .add_channel(&ws.id, ChannelKind::Whatsapp, "P1", None, "")
            .await
            .unwrap();
    })
    .await
}

/// A client whose connections come from `address` (a loopback address).
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn sign_in(
    relay: &ServedRelay,
    client: &reqwest::Client,
    forwarded_for: Option<&str>,
    password: &str,
) -> reqwest::Response {
    let mut request = client
        .post(format!("{}/v1/sessions", relay.base))
        .json(&json!({ "email": OWNER, "password": password, "device_name": "laptop" }));
    if let Some(forwarded) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded);
    }
    request.send().await.unwrap()
}

/// The address the audit log recorded for the newest sign-in.
async fn last_sign_in_address(relay: &ServedRelay, token: &str) -> String {
    let audit = relay.get_json(token, "/v1/audit").await;
    audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "sign_in")
        .unwrap()["details"]["address"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn token_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    // No trusted proxy: the header is ignored, so rotating it does not escape the address limit.
    let direct = relay(|c| c.sign_in_per_address = 5).await;
    let client = client_from("127.0.0.2");
    let token = token_of(sign_in(&direct, &client, Some("203.0.113.9"), PASSWORD).await).await;
    assert_eq!(last_sign_in_address(&direct, &token).await, "127.0.0.2");
    let mut limited = false;
    for i in 0..10 {
        let forged = format!("198.51.100.{i}");
        let response = sign_in(&direct, &client, Some(&forged), "wrong password").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(
        limited,
        "a forged X-Forwarded-For escaped the address limit"
    );
    direct.stop().await;

    // Behind trusted proxies: the rightmost address that is not a proxy is the client.
    let proxied = relay(|c| {
        c.trusted_proxies = "127.0.0.2, 10.0.0.0/8, fd00::/8".parse().unwrap();
    })
    .await;
    let proxy = client_from("127.0.0.2");
    for (forwarded, client) in [
        ("198.51.100.7", "198.51.100.7"),
        ("198.51.100.7, 10.1.2.3", "198.51.100.7"),
        // What the client wrote itself is left of what the proxy appended.
        ("198.51.100.7, 203.0.113.5", "203.0.113.5"),
        ("198.51.100.7,203.0.113.5, 10.9.9.9", "203.0.113.5"),
        ("2001:db8::1, fd00::2", "2001:db8::1"),
    ] {
        let token = token_of(sign_in(&proxied, &proxy, Some(forwarded), PASSWORD).await).await;
        assert_eq!(
            last_sign_in_address(&proxied, &token).await,
            client,
            "{forwarded}"
        );
    }
    // A peer that is not a trusted proxy: its header is ignored.
    let stranger = client_from("127.0.0.3");
    let token = token_of(sign_in(&proxied, &stranger, Some("198.51.100.7"), PASSWORD).await).await;
    assert_eq!(last_sign_in_address(&proxied, &token).await, "127.0.0.3");
    proxied.stop().await;
}

#[tokio::test]
async fn others_failures_never_lock_a_member_out_from_their_own_address() {
    let relay = relay(|c| {
        c.sign_in_per_address = 8;
        c.sign_in_per_account = 3;
        c.trusted_proxies = "127.0.0.4".parse().unwrap();
    })
    .await;
    // An attacker guesses the owner's password from one address until refused.
    let attacker = client_from("127.0.0.2");
    let mut refused_after = None;
    for attempt in 0..20 {
        let response = sign_in(&relay, &attacker, None, "guess").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            refused_after = Some(attempt);
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(refused_after.is_some(), "the attacker is slowed");
    // Their failures slow them, even with the right password…
    assert_eq!(
        sign_in(&relay, &attacker, None, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // …and never the owner, from their own address, directly or through the proxy.
    let owner = client_from("127.0.0.3");
    token_of(sign_in(&relay, &owner, None, PASSWORD).await).await;
    let proxy = client_from("127.0.0.4");
    for _ in 0..10 {
        sign_in(&relay, &proxy, Some("203.0.113.66"), "guess").await;
    }
    token_of(sign_in(&relay, &proxy, Some("198.51.100.10"), PASSWORD).await).await;
    relay.stop().await;
}

fn signed_request(secret: &str) -> String {
    sign_signed_request(
        &AppSecret::new(secret),
        &SignedRequest {
            algorithm: "HMAC-SHA256".into(),
            user_id: "10158000000000001".into(),
            issued_at: Some(zentro_events::clock::now_ms() / 1000),
            expires: None,
        },
    )
}

#[tokio::test]
async fn meta_callbacks_have_their_own_limiter() {
    let relay = relay(|c| {
        c.sign_in_per_address = 3;
        c.meta_refusals_per_address = 5;
    })
    .await;
    let client = client_from("127.0.0.2");
    // Sign-in failures from this address do not stop Meta's callbacks from it.
    while sign_in(&relay, &client, None, "guess").await.status() != StatusCode::TOO_MANY_REQUESTS {}
    let callback = |signed: String| {
        client
            .post(format!("{}/meta/deauthorize", relay.base))
            .form(&[("signed_request", signed)])
            .send()
    };
    assert_eq!(
        callback(signed_request(SECRET)).await.unwrap().status(),
        StatusCode::OK,
        "a genuine callback is not limited by sign-in failures"
    );
    // Forged callbacks and webhooks are refused, then limited…
    let forged_webhook = || {
        client
            .post(format!("{}/webhooks/meta", relay.base))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))
            .body(wa_text("P1", "wamid.forged", "hi").to_string())
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(forged_webhook().await.unwrap().status());
        statuses.push(
            callback(signed_request("not the secret"))
                .await
                .unwrap()
                .status(),
        );
    }
    assert!(
        statuses.contains(&StatusCode::UNAUTHORIZED) && statuses.contains(&StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(
        forged_webhook().await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // …but Meta's signed deliveries from the same address always go through,
    let body = wa_text("P1", "wamid.genuine", "hi").to_string();
    let genuine = client
        .post(format!("{}/webhooks/meta", relay.base))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            sign_webhook(&AppSecret::new(SECRET), body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(genuine.status(), StatusCode::OK);
    assert_eq!(
        callback(signed_request(SECRET)).await.unwrap().status(),
        StatusCode::OK
    );
    // …and the forgeries did not use up the address's sign-ins elsewhere.
    token_of(sign_in(&relay, &client_from("127.0.0.3"), None, PASSWORD).await).await;
    relay.stop().await;
}

#[tokio::test]
async fn authenticated_writes_are_limited_per_session() {
    let relay = relay(|c| c.writes_per_session = 4).await;
    let first = relay.sign_in(OWNER).await;
    let second = relay.sign_in(OWNER).await;
    let http = reqwest::Client::new();
    let report = |token: &str| {
        http.post(format!("{}/v1/audit", relay.base))
            .bearer_auth(token)
            .json(&json!({ "action": "data.export", "subject": "contact 7" }))
            .send()
    };
    for _ in 0..4 {
        assert!(report(&first).await.unwrap().status().is_success());
    }
    let limited = report(&first).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    // Every kind of write of that session waits…
    let channels = relay.get_json(&first, "/v1/channels").await;
    let channel = channels["channels"][0]["id"].as_str().unwrap();
    let writes = [
        http.post(format!("{}/v1/events", relay.base))
            .json(&json!({ "kind": "team.note", "payload": {}, "idempotency_key": "k1" })),
        http.post(format!("{}/v1/shared-files?name=a.jpg", relay.base))
            .header("content-type", "image/jpeg")
            .body(vec![0xffu8, 0xd8, 0xff]),
        http.post(format!("{}/v1/channels/{channel}/check", relay.base)),
        http.post(format!("{}/v1/audit", relay.base))
            .json(&json!({ "action": "data.export", "subject": "contact 8" })),
    ];
    for write in writes {
        let request = write.bearer_auth(&first).build().unwrap();
        let what = format!("{} {}", request.method(), request.url().path());
        let status = http.execute(request).await.unwrap().status();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{what}");
    }
    // …reads do not, and another session (even the same member's) is not slowed.
    let reads = http
        .get(format!("{}/v1/members", relay.base))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(reads.status(), StatusCode::OK);
    assert!(report(&second).await.unwrap().status().is_success());
    relay.stop().await;
}

/// Two relay instances on one database count sign-in attempts together on PostgreSQL: attempts
/// split across both are refused at the limit. On SQLite (one process owns the database) each
/// instance counts in memory, and refuses at its own limit.
#[tokio::test]
async fn sign_in_limits_are_shared_by_instances_on_postgres() {
    let a = crate::support::TestRelay::start_with(|c| c.sign_in_per_address = 5).await;
    a.workspace("Acme", OWNER, "").await;
    let b = crate::support::another_instance(&a, |_| {}).await;
    let attempt = async |relay: &crate::support::TestRelay| {
        let body = json!({ "email": OWNER, "password": "wrong", "device_name": "laptop" });
        relay.post(None, "/v1/sessions", body).await.status
    };
    for relay in [&a, &b, &a, &b, &a] {
        assert_eq!(attempt(relay).await, StatusCode::UNAUTHORIZED);
    }
    if crate::support::on_postgres() {
        assert!(a.state.address_limiter.is_shared());
        assert_eq!(attempt(&b).await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(attempt(&a).await, StatusCode::TOO_MANY_REQUESTS);
    } else {
        assert!(!a.state.address_limiter.is_shared());
        // b counted two: three more pass, the sixth is refused.
        for _ in 0..3 {
            assert_eq!(attempt(&b).await, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(attempt(&b).await, StatusCode::TOO_MANY_REQUESTS);
    }
}

/// The shared limiter itself, on two stores of one database (two instances): the count, the
/// refusal with its wait, another key's own count, and a reset seen by both. Touches only the
/// `rate_limits` table, so it runs on PostgreSQL before the rest of the store is ported; on
/// SQLite a shared limiter counts in memory, and only that is checked.
#[tokio::test]
async fn a_shared_limiter_counts_across_stores() {
    let relay = crate::support::TestRelay::start().await;
    let other = zentro_relay::Store::open_at(&relay.database())
        .await
        .unwrap();
    let minute = std::time::Duration::from_secs(60);
    let limiter = |store| zentro_relay::ratelimit::RateLimiter::shared("test", 3, minute, store);
    let (a, b) = (limiter(relay.store()), limiter(&other));
    if !crate::support::on_postgres() {
        assert!(!a.is_shared());
        return;
    }
    assert!(a.is_shared() && b.is_shared());
    assert!(a.check("k").await.is_ok());
    assert!(b.check("k").await.is_ok());
    assert!(a.check("k").await.is_ok());
    let wait = b.check("k").await.unwrap_err();
    assert!(
        wait >= std::time::Duration::from_secs(1) && wait <= minute,
        "{wait:?}"
    );
    assert!(a.check("k").await.is_err());
    assert!(a.check("other").await.is_ok(), "another key counts apart");
    b.reset("k").await;
    assert!(
        a.check("k").await.is_ok(),
        "a reset on one instance counts on all"
    );
    // Counters of ended windows are pruned.
    let later = zentro_events::clock::now_ms() + 2 * 15 * 60 * 1000;
    assert!(relay.store().prune_rate_limits(later).await.unwrap() >= 2);
}
