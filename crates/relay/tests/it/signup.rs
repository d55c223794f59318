//! Connecting WhatsApp through Embedded Signup, against meta-sim on loopback: the test plays the
//! signup page's part (the WebDriver suite drives the real page in the app's window).

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use zentro_meta_sim::MetaSim;

use crate::support::{
    SECRET, TestRelay, meta_app_of, new_token_keys, post_json, start_meta_sim, stored_anywhere,
    str_of,
};

const OWNER: &str = "owner@acme.test";

struct Setup {
    relay: TestRelay,
    sim: MetaSim,
    owner: String,
}

async fn setup_with(adjust: impl FnOnce(&mut zentro_relay::Config)) -> Setup {
    let sim = start_meta_sim().await;
    let meta_app = meta_app_of(&sim);
    let relay = TestRelay::start_with(|c| {
        c.token_keys = Some(new_token_keys());
        c.meta_app = Some(meta_app);
        adjust(c);
    })
    .await;
    relay.workspace("Acme", OWNER, "").await;
    let owner = relay.sign_in(OWNER).await;
    Setup { relay, sim, owner }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

/// Starts a WhatsApp signup as the owner: `(signup id, page token)`.
async fn start(s: &Setup) -> (String, String) {
    start_kind(s, "whatsapp").await
}

/// Starts a signup of `kind` as the owner: `(signup id, page token)`.
async fn start_kind(s: &Setup, kind: &str) -> (String, String) {
    let started = s
        .relay
        .post(Some(&s.owner), "/v1/signups", json!({ "kind": kind }))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.json());
    let body = started.json();
    let path = body["path"].as_str().unwrap();
    let token = path.split("t=").nth(1).unwrap().to_string();
    (body["signup"]["id"].as_str().unwrap().to_string(), token)
}

/// What Meta's dialog does when the owner finishes: `(code, waba_id, phone_number_id)`.
async fn dialog_finishes(sim: &MetaSim, coexistence: bool) -> (String, String, String) {
    let url = format!(
        "{}/sim/signup/finish?coexistence={coexistence}",
        sim.base_url()
    );
    let answer = post_json(&url, &Value::Null).await;
    let s = |k: &str| answer[k].as_str().unwrap().to_string();
    (s("code"), s("waba_id"), s("phone_number_id"))
}

/// What the page posts when Meta's dialog finished with a new number.
fn finished(t: &str, code: &str, waba: &str, number: &str, pin: &str) -> Value {
    json!({ "t": t, "code": code, "event": "FINISH", "data": { "waba_id": waba, "phone_number_id": number }, "pin": pin })
}

async fn complete(s: &Setup, body: Value) -> crate::support::Response {
    s.relay.post(None, "/signup/complete", body).await
}

/// What the Pages picker posts once Meta's dialog gave it a code (`t`, `code`): the Pages and
/// Instagram accounts the owner may connect.
async fn list_accounts(s: &Setup, body: Value) -> crate::support::Response {
    s.relay.post(None, "/signup/pages/accounts", body).await
}

/// What the Pages picker posts when the owner chose (`t`, `pages`, maybe `instagram`).
async fn connect_pages(s: &Setup, body: Value) -> crate::support::Response {
    s.relay.post(None, "/signup/pages/connect", body).await
}

/// What a signup page posts when Meta's dialog was cancelled or failed (`t`, `event`, `data`).
async fn abandon(s: &Setup, body: Value) -> crate::support::Response {
    s.relay.post(None, "/signup/abandon", body).await
}

/// The Meta token of the channel `id`, as the owner's device fetches it.
async fn channel_token(s: &Setup, id: &str) -> String {
    let path = format!("/v1/channels/{id}/token");
    s.relay.get_json(&s.owner, &path).await["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn channels(s: &Setup) -> Vec<Value> {
    s.relay.get_list(&s.owner, "/v1/channels", "channels").await
}

async fn events(s: &Setup) -> Vec<Value> {
    s.relay
        .get_list(&s.owner, "/v1/events?after=0&limit=500", "events")
        .await
}

async fn audit_actions(s: &Setup) -> Vec<String> {
    s.relay
        .get_list(&s.owner, "/v1/audit", "entries")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

async fn signup_state(s: &Setup, id: &str) -> Value {
    s.relay
        .get_json(&s.owner, &format!("/v1/signups/{id}"))
        .await["signup"]
        .clone()
}

#[tokio::test]
async fn the_signup_page_launches_embedded_signup_as_meta_documents_it() {
    let s = setup().await;
    let (_, token) = start(&s).await;
    let page = s.relay.get(None, &format!("/signup?t={token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.body.clone()).unwrap();
    for expected in [
        "\"configId\":\"778899001122\"",
        "\"version\":\"v4\"",
        "\"sessionInfoVersion\":\"3\"",
        "response_type: 'code'",
        "override_default_response_type: true",
        "WA_EMBEDDED_SIGNUP",
        "/sim/sdk.js",
    ] {
        assert!(html.contains(expected), "the page has {expected}");
    }
    // The permissions asked for, exactly the documented list.
    for permission in zentro_meta::platform::REQUESTED_PERMISSIONS {
        assert!(html.contains(permission), "the page names {permission}");
    }
    // Meta's origins only (plus the stand-in's, which is this test's Meta).
    assert!(html.contains(r"/^https:\/\/([a-z]+\.)?facebook\.com$/"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'nonce-"));
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(page.headers["cache-control"], "no-store");
    // The app secret never reaches the page.
    assert!(!html.contains(SECRET));

    let unknown = s.relay.get(None, "/signup?t=zdt_unknown").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn finishing_connects_the_number_once_with_a_sealed_token_and_tells_every_device() {
    let s = setup().await;
    let (id, token) = start(&s).await;
    let (code, waba, number) = dialog_finishes(&s.sim, false).await;

    // A PIN that is not 6 digits is refused before anything happens; the link stays usable.
    let bad_pin = complete(&s, finished(&token, &code, &waba, &number, "12")).await;
    assert_eq!(bad_pin.status, StatusCode::BAD_REQUEST);
    assert!(str_of(&bad_pin.json()["error"]["message"]).contains("6-digit PIN"));

    let done = complete(
        &s,
        json!({ "t": token, "code": code, "event": "FINISH", "data": { "waba_id": waba, "phone_number_id": number, "business_id": "1" }, "pin": "246810" }),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.json());
    assert_eq!(done.json()["state"], "connected", "{:?}", done.json());

    // At Meta: subscribed to the account's webhooks, the number registered with the owner's PIN.
    assert!(s.sim.state().is_subscribed(&waba));
    assert_eq!(
        s.sim.state().registration(&number),
        Some((true, Some("246810".into())))
    );
    // In the workspace: the channel, healthy, with its number and a token version.
    let list = channels(&s).await;
    let channel = list
        .iter()
        .find(|c| c["external_id"] == number.as_str())
        .unwrap();
    assert_eq!(channel["account_id"], waba.as_str());
    assert_eq!(channel["health"], "connected");
    assert_eq!(channel["quality_rating"], "GREEN");
    assert!(
        channel["phone_number"]
            .as_str()
            .unwrap()
            .starts_with("+1555")
    );
    assert_eq!(channel["token_version"], 1);
    let channel_id = channel["id"].as_str().unwrap();
    // The token devices fetch is the one Meta issued: it sends.
    let meta_token = channel_token(&s, channel_id).await;
    assert!(
        s.sim
            .state()
            .grant_of(&meta_token)
            .is_some_and(|g| g.wabas.contains(&waba))
    );
    // Not in the database file in the clear.
    assert!(!stored_anywhere(&s.relay.database(), &meta_token).await);

    // Every device learns of it from the log: channel.connected, without the token.
    let log = events(&s).await;
    let connected: Vec<&Value> = log
        .iter()
        .filter(|e| e["kind"] == "channel.connected")
        .collect();
    assert_eq!(connected.len(), 1);
    assert_eq!(connected[0]["payload"]["channel_id"], channel_id);
    assert!(!serde_json::to_string(&log).unwrap().contains(&meta_token));
    assert_eq!(signup_state(&s, &id).await["state"], "connected");
    // Who connected it (Meta's app-scoped id), for Meta's data-deletion callback.
    let user = s.sim.state().login_user_id();
    let by_user = s.relay.store().channels_connected_by(user).await.unwrap();
    assert_eq!(by_user.len(), 1);
    assert_eq!(by_user[0].id, channel_id);
    let actions = audit_actions(&s).await;
    assert!(actions.contains(&"channel.signup_started".to_string()));
    assert!(actions.contains(&"channel.connected".to_string()));

    // The link works once.
    let again = complete(&s, finished(&token, &code, &waba, &number, "246810")).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"]["code"], "signup_invalid");
    let page = s.relay.get(None, &format!("/signup?t={token}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // Signing up again with the same account reconnects the same channel with a new token.
    let (_, token2) = start(&s).await;
    let code2 = s.sim.state().issue_signup_code_for(&waba);
    let re = complete(&s, finished(&token2, &code2, &waba, &number, "246810")).await;
    assert_eq!(re.json()["state"], "connected", "{:?}", re.json());
    assert_eq!(re.json()["outcome"]["reconnected"], true);
    let list = channels(&s).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["token_version"], 2);
}

#[tokio::test]
async fn the_whatsapp_business_app_flow_keeps_its_registration_and_finds_the_number() {
    let s = setup().await;
    let (_, token) = start(&s).await;
    let (code, waba, number) = dialog_finishes(&s.sim, true).await;
    // Coexistence may come without phone_number_id, and without a PIN.
    let done = complete(
        &s,
        json!({ "t": token, "code": code, "event": "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING", "data": { "waba_id": waba } }),
    )
    .await;
    assert_eq!(done.json()["state"], "connected", "{:?}", done.json());
    // Not registered again (no PIN set by us), but subscribed.
    assert_eq!(s.sim.state().registration(&number), Some((true, None)));
    assert!(s.sim.state().is_subscribed(&waba));
    assert_eq!(channels(&s).await[0]["external_id"], number.as_str());
}

#[tokio::test]
async fn cancel_and_meta_errors_end_the_signup_with_nothing_created() {
    let s = setup().await;
    let (id, token) = start(&s).await;
    let cancelled = abandon(
        &s,
        json!({ "t": token, "event": "CANCEL", "data": { "current_step": "PHONE_NUMBER_SETUP" } }),
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let signup = signup_state(&s, &id).await;
    assert_eq!(signup["state"], "cancelled");
    assert!(str_of(&signup["outcome"]["message"]).contains("PHONE_NUMBER_SETUP"));

    let (id, token) = start(&s).await;
    let failed = abandon(&s, json!({ "t": token, "event": "ERROR", "data": { "error_message": "Something went wrong", "error_id": "524126" } }))
        .await;
    assert_eq!(failed.status, StatusCode::OK);
    let signup = signup_state(&s, &id).await;
    assert_eq!(signup["state"], "failed");
    assert_eq!(signup["outcome"]["error_id"], "524126");
    assert!(str_of(&signup["outcome"]["message"]).contains("524126"));
    assert!(channels(&s).await.is_empty());
    let actions = audit_actions(&s).await;
    assert!(actions.contains(&"channel.signup_cancelled".to_string()));
    assert!(actions.contains(&"channel.signup_failed".to_string()));
}

#[tokio::test]
async fn an_expired_code_or_a_grant_without_the_account_creates_nothing() {
    let s = setup().await;
    // Meta's code lives 30 seconds.
    let (id, token) = start(&s).await;
    let (code, waba, number) = dialog_finishes(&s.sim, false).await;
    s.sim.state().advance(Duration::from_secs(31));
    let late = complete(&s, finished(&token, &code, &waba, &number, "135790")).await;
    assert_eq!(late.json()["state"], "failed");
    assert_eq!(late.json()["outcome"]["code"], "code_expired");
    assert!(str_of(&late.json()["outcome"]["message"]).contains("30 seconds"));
    assert_eq!(signup_state(&s, &id).await["state"], "failed");
    assert!(!s.sim.state().is_subscribed(&waba));

    // The dialog names one account, the token grants another.
    let (_, token) = start(&s).await;
    s.sim.state().grant_other_account_on_next_signup();
    let (code, waba, number) = dialog_finishes(&s.sim, false).await;
    let mismatch = complete(&s, finished(&token, &code, &waba, &number, "135790")).await;
    assert_eq!(mismatch.json()["outcome"]["code"], "account_not_granted");
    assert!(str_of(&mismatch.json()["outcome"]["message"]).contains(&waba));
    assert!(!s.sim.state().is_subscribed(&waba));
    assert_eq!(s.sim.state().registration(&number), Some((false, None)));
    assert!(channels(&s).await.is_empty());
    assert!(
        !events(&s)
            .await
            .iter()
            .any(|e| e["kind"] == "channel.connected")
    );
}

#[tokio::test]
async fn an_expired_link_is_refused_and_a_relay_without_a_meta_app_says_what_to_set() {
    let s = setup_with(|c| c.signup_ttl = Duration::from_millis(1)).await;
    let (_, token) = start(&s).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let page = s.relay.get(None, &format!("/signup?t={token}")).await;
    assert_eq!(page.status, StatusCode::GONE);
    let late = abandon(&s, json!({ "t": token, "event": "CANCEL" })).await;
    assert_eq!(late.status, StatusCode::GONE);
    assert_eq!(late.json()["error"]["code"], "signup_expired");

    let bare = TestRelay::start().await;
    bare.workspace("Bare", OWNER, "").await;
    let owner = bare.sign_in(OWNER).await;
    let refused = bare
        .post(Some(&owner), "/v1/signups", json!({ "kind": "whatsapp" }))
        .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.json()["error"]["code"], "meta_app_missing");
    assert!(str_of(&refused.json()["error"]["message"]).contains("ZENTRO_RELAY_META_APP_ID"));
}

/// Connects a number through the signup; returns `(channel id, waba, number)`.
async fn connect(s: &Setup) -> (String, String, String) {
    let (_, token) = start(s).await;
    let (code, waba, number) = dialog_finishes(&s.sim, false).await;
    let done = complete(s, finished(&token, &code, &waba, &number, "112233")).await;
    assert_eq!(done.json()["state"], "connected", "{:?}", done.json());
    let id = channels(s).await[0]["id"].as_str().unwrap().to_string();
    (id, waba, number)
}

async fn check(s: &Setup, id: &str) -> Value {
    let checked = s
        .relay
        .call(
            "POST",
            &format!("/v1/channels/{id}/check"),
            Some(&s.owner),
            None,
        )
        .await;
    assert_eq!(checked.status, StatusCode::OK, "{:?}", checked.json());
    checked.json()["channel"].clone()
}

#[tokio::test]
async fn health_checks_repair_a_lost_subscription_and_see_quality_and_revocation() {
    let s = setup().await;
    let (id, waba, number) = connect(&s).await;

    // The subscription silently disappeared at Meta: the check subscribes again.
    s.sim.state().drop_subscription(&waba);
    let channel = check(&s, &id).await;
    assert_eq!(channel["health"], "connected");
    assert!(s.sim.state().is_subscribed(&waba));
    assert!(
        audit_actions(&s)
            .await
            .contains(&"channel.resubscribed".to_string())
    );

    // A RED rating needs attention.
    s.sim.state().set_quality(&number, "RED");
    let channel = check(&s, &id).await;
    assert_eq!(channel["health"], "attention");
    assert_eq!(channel["quality_rating"], "RED");
    assert!(str_of(&channel["health_reason"]).contains("quality"));

    // The owner removed the app at Meta: every token dies; the channel is disconnected and
    // every device is told.
    s.sim.state().set_quality(&number, "GREEN");
    s.sim.state().revoke_tokens_for(&waba);
    let channel = check(&s, &id).await;
    assert_eq!(channel["health"], "disconnected");
    assert!(str_of(&channel["health_reason"]).contains("reconnect"));
    let changes: Vec<Value> = events(&s)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "channel.changed")
        .collect();
    assert_eq!(changes.last().unwrap()["payload"]["health"], "disconnected");
    // Checking again changes nothing and appends nothing.
    let before = events(&s).await.len();
    check(&s, &id).await;
    assert_eq!(events(&s).await.len(), before);
}

#[tokio::test]
async fn the_periodic_check_runs_on_its_own() {
    let s = setup_with(|c| c.channel_check_interval = Duration::from_millis(100)).await;
    let (id, waba, _) = connect(&s).await;
    s.sim.state().drop_subscription(&waba);
    let checker = tokio::spawn(zentro_relay::http::channel_health::check_periodically(
        s.relay.state.clone(),
    ));
    let mut repaired = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if s.sim.state().is_subscribed(&waba) {
            repaired = true;
            break;
        }
    }
    s.relay.state.shutdown.cancel();
    checker.await.unwrap();
    assert!(repaired, "the periodic check subscribed again");
    assert_eq!(check(&s, &id).await["health"], "connected");
}

#[tokio::test]
async fn disconnecting_unsubscribes_forgets_the_token_and_keeps_the_channel() {
    let s = setup().await;
    let (id, waba, _) = connect(&s).await;
    let done = s
        .relay
        .call(
            "POST",
            &format!("/v1/channels/{id}/disconnect"),
            Some(&s.owner),
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.json());
    assert_eq!(done.json()["unsubscribed"], true);
    assert!(!s.sim.state().is_subscribed(&waba));
    let channel = &channels(&s).await[0];
    assert_eq!(channel["health"], "disconnected");
    assert_eq!(channel["token_version"], Value::Null);
    let token = s
        .relay
        .get(Some(&s.owner), &format!("/v1/channels/{id}/token"))
        .await;
    assert_eq!(token.status, StatusCode::NOT_FOUND);
    let last = events(&s)
        .await
        .into_iter()
        .rfind(|e| e["kind"] == "channel.changed")
        .unwrap();
    assert_eq!(last["payload"]["health"], "disconnected");
    assert_eq!(last["payload"]["token_version"], Value::Null);
    assert!(
        audit_actions(&s)
            .await
            .contains(&"channel.disconnected".to_string())
    );
}

/// Starts a Pages signup as the owner: `(signup id, page token)`.
async fn start_pages(s: &Setup) -> (String, String) {
    start_kind(s, "pages").await
}

async fn login_code(sim: &MetaSim) -> String {
    let url = format!("{}/sim/login/finish", sim.base_url());
    let answer = post_json(&url, &Value::Null).await;
    answer["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn facebook_login_connects_the_chosen_pages_and_instagram_accounts() {
    let s = setup().await;
    s.sim.state().add_login_page(
        "610000000000001",
        "Acme Coffee",
        Some(("710000000000001", "acmecoffee")),
    );
    s.sim
        .state()
        .add_login_page("610000000000002", "Acme Bakery", None);
    let (id, token) = start_pages(&s).await;
    let page = s.relay.get(None, &format!("/signup?t={token}")).await;
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(
        html.contains("\"configId\":\"880011223344\""),
        "the Pages configuration"
    );
    assert!(html.contains("Continue with Facebook"));

    // The login shares two Pages (one with Instagram); the page lists them, without tokens.
    let code = login_code(&s.sim).await;
    let listed = list_accounts(&s, json!({ "t": token, "code": code })).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.json());
    let body = listed.json();
    assert_eq!(body["state"], "working");
    let pages = body["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0]["instagram"]["username"], "acmecoffee");
    assert!(
        !listed.body.windows(4).any(|w| w == b"EAAG"),
        "no token reaches the page"
    );

    // The owner picks the first Page and its Instagram account, not the bakery.
    let done = connect_pages(
        &s,
        json!({ "t": token, "pages": ["610000000000001"], "instagram": ["710000000000001"] }),
    )
    .await;
    assert_eq!(done.json()["state"], "connected", "{:?}", done.json());
    assert!(str_of(&done.json()["outcome"]["message"]).contains("@acmecoffee"));
    assert!(s.sim.state().is_subscribed("610000000000001"));
    assert!(!s.sim.state().is_subscribed("610000000000002"));
    let list = channels(&s).await;
    assert_eq!(list.len(), 2);
    let messenger = list.iter().find(|c| c["kind"] == "messenger").unwrap();
    let instagram = list.iter().find(|c| c["kind"] == "instagram").unwrap();
    assert_eq!(messenger["external_id"], "610000000000001");
    assert_eq!(instagram["external_id"], "710000000000001");
    assert_eq!(
        instagram["account_id"], "610000000000001",
        "linked to its Page"
    );
    assert_eq!(messenger["health"], "connected");
    // Their tokens are Page tokens that Meta accepts for the Page.
    for channel in [messenger, instagram] {
        let id = channel["id"].as_str().unwrap();
        let t = channel_token(&s, id).await;
        assert!(
            s.sim
                .state()
                .grant_of(&t)
                .is_some_and(|g| g.pages.contains("610000000000001"))
        );
    }
    assert_eq!(
        events(&s)
            .await
            .iter()
            .filter(|e| e["kind"] == "channel.connected")
            .count(),
        2
    );
    assert_eq!(signup_state(&s, &id).await["state"], "connected");
    let user = s.sim.state().login_user_id();
    assert_eq!(
        s.relay
            .store()
            .channels_connected_by(user)
            .await
            .unwrap()
            .len(),
        2,
        "who connected them, for Meta's data-deletion callback"
    );

    // Health checks look at the Page's subscription for both.
    let instagram_id = instagram["id"].as_str().unwrap().to_string();
    assert_eq!(check(&s, &instagram_id).await["health"], "connected");
    // Disconnecting Instagram keeps the Page's subscription for Messenger.
    let off = s
        .relay
        .call(
            "POST",
            &format!("/v1/channels/{instagram_id}/disconnect"),
            Some(&s.owner),
            None,
        )
        .await;
    assert_eq!(off.json()["unsubscribed"], false);
    assert!(s.sim.state().is_subscribed("610000000000001"));

    // The link is spent.
    let again = connect_pages(&s, json!({ "t": token, "pages": ["610000000000002"] })).await;
    assert_eq!(again.json()["error"]["code"], "signup_invalid");
}

#[tokio::test]
async fn a_login_sharing_no_page_or_a_cancelled_choice_connects_nothing() {
    let s = setup().await;
    // No Pages at all.
    let (id, token) = start_pages(&s).await;
    let code = login_code(&s.sim).await;
    let none = list_accounts(&s, json!({ "t": token, "code": code })).await;
    assert_eq!(none.json()["state"], "failed");
    assert_eq!(none.json()["outcome"]["code"], "no_pages");
    assert_eq!(signup_state(&s, &id).await["state"], "failed");

    // Pages shared, then the owner cancels at the choice.
    s.sim
        .state()
        .add_login_page("620000000000001", "Acme Tea", None);
    let (id, token) = start_pages(&s).await;
    let code = login_code(&s.sim).await;
    list_accounts(&s, json!({ "t": token, "code": code })).await;
    let cancelled = abandon(
        &s,
        json!({ "t": token, "event": "CANCEL", "data": { "current_step": "CHOOSE_ACCOUNTS" } }),
    )
    .await;
    assert_eq!(cancelled.json()["state"], "cancelled");
    assert_eq!(signup_state(&s, &id).await["state"], "cancelled");
    let late = connect_pages(&s, json!({ "t": token, "pages": ["620000000000001"] })).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(channels(&s).await.is_empty());
    assert!(!s.sim.state().is_subscribed("620000000000001"));

    // A WhatsApp link does not take a Pages login, and the other way round.
    let (_, wa) = start(&s).await;
    let wrong = list_accounts(&s, json!({ "t": wa, "code": "x" })).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
}

/// The audit entries recording that Meta granted other permissions than were asked for.
async fn permission_audits(s: &Setup) -> Vec<Value> {
    s.relay.get_json(&s.owner, "/v1/audit").await["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "channel.permissions_differ")
        .cloned()
        .collect()
}

/// Runs a WhatsApp signup whose dialog grants `scopes` (`None`: what the configuration asks
/// for); returns the page's answer and the signup as the app reads it afterwards.
async fn whatsapp_signup_granting(s: &Setup, scopes: Option<&[&str]>) -> (Value, Value) {
    let (id, token) = start(s).await;
    if let Some(scopes) = scopes {
        s.sim.state().grant_scopes_on_next_login(scopes);
    }
    let (code, waba, number) = dialog_finishes(&s.sim, false).await;
    let done = complete(s, finished(&token, &code, &waba, &number, "135790")).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.json());
    assert_eq!(done.json()["state"], "connected", "{:?}", done.json());
    (done.json(), signup_state(s, &id).await)
}

#[tokio::test]
async fn a_whatsapp_grant_of_exactly_the_requested_permissions_reports_no_difference() {
    let s = setup().await;
    let (done, signup) = whatsapp_signup_granting(&s, None).await;
    for outcome in [&done["outcome"], &signup["outcome"]] {
        assert_eq!(
            outcome["permissions"],
            json!({ "extra": [], "missing": [] }),
            "{outcome:?}"
        );
        assert!(
            !str_of(&outcome["message"]).contains("permission"),
            "{outcome:?}"
        );
    }
    assert_eq!(permission_audits(&s).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_whatsapp_grant_with_more_permissions_than_requested_is_reported() {
    let s = setup().await;
    let (done, signup) = whatsapp_signup_granting(
        &s,
        Some(&[
            "whatsapp_business_management",
            "whatsapp_business_messaging",
            "business_management",
            "ads_management",
        ]),
    )
    .await;
    // The owner sees it in the outcome the app shows (the page's answer and the stored signup).
    for outcome in [&done["outcome"], &signup["outcome"]] {
        assert_eq!(
            outcome["permissions"],
            json!({ "extra": ["ads_management"], "missing": [] }),
            "{outcome:?}"
        );
        let message = outcome["message"].as_str().unwrap();
        assert!(
            message.contains("ads_management") && message.contains("P4"),
            "{message}"
        );
    }
    // Admins find it in the audit log.
    let audits = permission_audits(&s).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0]["details"]["extra"], json!(["ads_management"]));
    assert_eq!(audits[0]["details"]["missing"], json!([]));
    assert_eq!(audits[0]["details"]["signup_id"], signup["id"]);
}

#[tokio::test]
async fn a_whatsapp_grant_missing_a_requested_permission_is_reported() {
    let s = setup().await;
    // The owner unticked whatsapp_business_messaging in Meta's dialog.
    let (done, signup) = whatsapp_signup_granting(
        &s,
        Some(&["whatsapp_business_management", "business_management"]),
    )
    .await;
    for outcome in [&done["outcome"], &signup["outcome"]] {
        assert_eq!(
            outcome["permissions"],
            json!({ "extra": [], "missing": ["whatsapp_business_messaging"] }),
            "{outcome:?}"
        );
        assert!(
            str_of(&outcome["message"]).contains(
                "did not grant a permission Zentro Desk needs (whatsapp_business_messaging)"
            ),
            "{outcome:?}"
        );
    }
    let audits = permission_audits(&s).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(
        audits[0]["details"]["missing"],
        json!(["whatsapp_business_messaging"])
    );
}

/// Runs a Pages login whose dialog grants `scopes` (`None`: what the configuration asks for)
/// and connects the Page; returns the accounts answer and the connect answer.
async fn pages_login_granting(s: &Setup, scopes: Option<&[&str]>) -> (Value, Value) {
    s.sim
        .state()
        .add_login_page("610000000000007", "Acme Tea", None);
    let (_, token) = start_pages(s).await;
    if let Some(scopes) = scopes {
        s.sim.state().grant_scopes_on_next_login(scopes);
    }
    let code = login_code(&s.sim).await;
    let listed = list_accounts(s, json!({ "t": token, "code": code })).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.json());
    let done = connect_pages(
        s,
        json!({ "t": token, "pages": ["610000000000007"], "instagram": [] }),
    )
    .await;
    assert_eq!(done.json()["state"], "connected", "{:?}", done.json());
    (listed.json(), done.json())
}

#[tokio::test]
async fn a_pages_login_granting_exactly_the_requested_permissions_reports_no_difference() {
    let s = setup().await;
    let (listed, done) = pages_login_granting(&s, None).await;
    assert_eq!(listed["permissions"], json!({ "extra": [], "missing": [] }));
    assert_eq!(listed["permissions_notice"], Value::Null);
    assert_eq!(
        done["outcome"]["permissions"],
        json!({ "extra": [], "missing": [] })
    );
    assert_eq!(done["outcome"]["message"], "Connected Acme Tea.");
    assert_eq!(permission_audits(&s).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_pages_login_granting_more_or_fewer_permissions_is_reported() {
    let s = setup().await;
    // More than asked for (public_profile, which every login carries, does not count).
    let (listed, done) = pages_login_granting(
        &s,
        Some(&[
            "pages_show_list",
            "pages_messaging",
            "instagram_basic",
            "instagram_manage_messages",
            "business_management",
            "public_profile",
            "pages_read_engagement",
        ]),
    )
    .await;
    let expected = json!({ "extra": ["pages_read_engagement"], "missing": [] });
    assert_eq!(listed["permissions"], expected);
    assert!(
        str_of(&listed["permissions_notice"]).contains("pages_read_engagement"),
        "the page shows it while the owner chooses"
    );
    assert_eq!(done["outcome"]["permissions"], expected);
    assert!(str_of(&done["outcome"]["message"]).contains("pages_read_engagement"));

    // Fewer: the owner unticked Instagram's messaging permission.
    let (listed, done) = pages_login_granting(
        &s,
        Some(&[
            "pages_show_list",
            "pages_messaging",
            "instagram_basic",
            "business_management",
        ]),
    )
    .await;
    let expected = json!({ "extra": [], "missing": ["instagram_manage_messages"] });
    assert_eq!(listed["permissions"], expected);
    assert_eq!(done["outcome"]["permissions"], expected);
    assert!(str_of(&done["outcome"]["message"]).contains("instagram_manage_messages"));
    let audits = permission_audits(&s).await;
    assert_eq!(audits.len(), 2, "{audits:?}");
}

/// The Pages a login shared are kept in the database: listed through one relay instance, they
/// are connected through another on the same database (their tokens sealed under the shared key).
#[tokio::test]
async fn pages_listed_on_one_instance_are_connected_through_another() {
    let s = setup().await;
    s.sim
        .state()
        .add_login_page("610000000000003", "Acme Deli", None);
    let (id, token) = start_pages(&s).await;
    let code = login_code(&s.sim).await;
    let listed = list_accounts(&s, json!({ "t": token, "code": code })).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.json());
    let other = crate::support::another_instance(&s.relay, |_| {}).await;
    let done = other
        .post(
            None,
            "/signup/pages/connect",
            json!({ "t": token, "pages": ["610000000000003"] }),
        )
        .await;
    assert_eq!(done.json()["state"], "connected", "{:?}", done.json());
    assert!(s.sim.state().is_subscribed("610000000000003"));
    assert_eq!(signup_state(&s, &id).await["state"], "connected");
    let channel = channels(&s).await;
    let t = channel_token(&s, channel[0]["id"].as_str().unwrap()).await;
    assert!(
        s.sim
            .state()
            .grant_of(&t)
            .is_some_and(|g| g.pages.contains("610000000000003")),
        "the Page token went through the database intact"
    );
}
