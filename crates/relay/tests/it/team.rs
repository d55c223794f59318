//! Members, roles, invitations, devices, the audit log and sealed channel tokens.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::stream::Sse;
use crate::support::{
    Joined, PASSWORD, ServedRelay, TestRelay, call_at, meta_app_of, new_token_keys, start_meta_sim,
    str_of,
};

const OWNER: &str = "owner@acme.test";
const PLANTED: &str = "EAAG-planted-channel-token-0123456789";

async fn relay_with_keys() -> TestRelay {
    TestRelay::start_with(|c| c.token_keys = Some(new_token_keys())).await
}

struct Team {
    relay: TestRelay,
    owner: String,
    admin: String,
    agent: String,
    channel: String,
}

async fn team() -> Team {
    team_on(relay_with_keys().await).await
}

/// The team of [`team`] on `relay`.
async fn team_on(relay: TestRelay) -> Team {
    relay.workspace("Acme", OWNER, "P1").await;
    let owner = relay.sign_in(OWNER).await;
    let admin = relay.join(&owner, "admin@acme.test", "admin").await;
    let agent = relay.join(&owner, "agent@acme.test", "agent").await;
    let channels = relay.get_json(&owner, "/v1/channels").await;
    let channel = channels["channels"][0]["id"].as_str().unwrap().to_string();
    Team {
        relay,
        owner,
        admin,
        agent,
        channel,
    }
}

#[tokio::test]
async fn every_route_is_refused_to_roles_below_its_permission_and_to_strangers() {
    // A relay that may reach (the stand-in for) Meta, so that every call can succeed for the owner.
    let sim = start_meta_sim().await;
    let meta_app = meta_app_of(&sim);
    let relay = TestRelay::start_with(|c| {
        c.token_keys = Some(new_token_keys());
        c.meta_app = Some(meta_app);
    })
    .await;
    let t = team_on(relay).await;
    let other_member = t.relay.member_id(&t.owner, "agent@acme.test").await;
    let admin_member = t.relay.member_id(&t.owner, "admin@acme.test").await;
    let ch = &t.channel;
    // The channel has a token Meta issued for its number, and a signup exists to be read.
    let meta_token = sim.add_whatsapp_number("100000000000001", "P1", "15550001111");
    // Adding a channel needs Meta's proof that it was granted (a Page token here).
    let page_token = sim.add_page("990001", false);
    let planted = t
        .relay
        .put(
            Some(&t.owner),
            &format!("/v1/channels/{ch}/token"),
            json!({ "token": meta_token.expose() }),
        )
        .await;
    assert_eq!(planted.status, StatusCode::OK, "{:?}", planted.json());
    let signup = t
        .relay
        .post(Some(&t.owner), "/v1/signups", json!({ "kind": "whatsapp" }))
        .await;
    assert_eq!(signup.status, StatusCode::CREATED, "{:?}", signup.json());
    let signup_id = signup.json()["signup"]["id"].as_str().unwrap().to_string();
    // (method, path, body, least role that may call it)
    let routes: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", "/v1/sessions/current".into(), None, "agent"),
        ("GET", "/v1/members".into(), None, "agent"),
        ("GET", "/v1/devices".into(), None, "agent"),
        ("GET", "/v1/channels".into(), None, "agent"),
        ("GET", "/v1/events".into(), None, "agent"),
        ("GET", "/v1/workspace/retention".into(), None, "agent"),
        ("GET", "/v1/assist".into(), None, "agent"),
        ("GET", format!("/v1/channels/{ch}/token"), None, "agent"),
        ("POST", format!("/v1/channels/{ch}/check"), None, "agent"),
        (
            "POST",
            "/v1/members".into(),
            Some(json!({ "email": "new@acme.test", "role": "agent" })),
            "admin",
        ),
        (
            "PATCH",
            format!("/v1/members/{other_member}"),
            Some(json!({ "role": "agent" })),
            "admin",
        ),
        (
            "DELETE",
            format!("/v1/members/{admin_member}"),
            None,
            "admin",
        ),
        ("GET", "/v1/devices?all=true".into(), None, "admin"),
        ("GET", "/v1/audit".into(), None, "admin"),
        (
            "POST",
            "/v1/audit".into(),
            Some(json!({ "action": "data.export", "subject": "contact 7" })),
            "admin",
        ),
        (
            "POST",
            "/v1/channels".into(),
            Some(
                json!({ "kind": "messenger", "external_id": "990001", "token": page_token.expose() }),
            ),
            "admin",
        ),
        (
            "PUT",
            "/v1/workspace/retention".into(),
            Some(json!({ "conversation_days": 365, "media_days": null })),
            "admin",
        ),
        (
            "POST",
            "/v1/erasures".into(),
            Some(
                json!({ "identifiers": ["16505551234"], "salt": "0".repeat(32), "hash": "a".repeat(64) }),
            ),
            "admin",
        ),
        (
            "PUT",
            format!("/v1/channels/{ch}/token"),
            Some(json!({ "token": PLANTED })),
            "admin",
        ),
        (
            "PUT",
            format!("/v1/channels/{ch}/access"),
            Some(json!({ "agents": [] })),
            "admin",
        ),
        ("DELETE", format!("/v1/channels/{ch}/token"), None, "admin"),
        (
            "POST",
            format!("/v1/channels/{ch}/disconnect"),
            None,
            "admin",
        ),
        ("DELETE", format!("/v1/channels/{ch}"), None, "admin"),
        (
            "PUT",
            "/v1/assist".into(),
            Some(
                json!({ "enabled": true, "base_url": "https://llm.acme.test/v1", "model": "m", "api_key": "sk-route-walk" }),
            ),
            "owner",
        ),
        ("GET", "/v1/assist/key".into(), None, "agent"),
        (
            "POST",
            "/v1/assist/usage".into(),
            Some(
                json!({ "conversation": "a".repeat(64), "feature": "draft", "provider": "llm.acme.test", "prompt_tokens": 1, "completion_tokens": 1 }),
            ),
            "agent",
        ),
        (
            "POST",
            "/v1/signups".into(),
            Some(json!({ "kind": "whatsapp" })),
            "owner",
        ),
        ("GET", format!("/v1/signups/{signup_id}"), None, "owner"),
        (
            "PATCH",
            "/v1/workspace".into(),
            Some(json!({ "name": "Acme Ltd" })),
            "owner",
        ),
        (
            "DELETE",
            "/v1/workspace".into(),
            // The name the rename just before gave it: terminating is the last call.
            Some(json!({ "confirm": "Acme Ltd" })),
            "owner",
        ),
    ];
    for (method, path, body, least) in &routes {
        let stranger = t.relay.call(method, path, None, body.clone()).await;
        assert_eq!(
            stranger.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        let forged = t
            .relay
            .call(method, path, Some("zdt_forged"), body.clone())
            .await;
        assert_eq!(
            forged.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a forged token"
        );
        let below: &[(&str, &str)] = match *least {
            "agent" => &[],
            "admin" => &[("agent", &t.agent)],
            _ => &[("agent", &t.agent), ("admin", &t.admin)],
        };
        for (role, token) in below {
            let refused = t.relay.call(method, path, Some(token), body.clone()).await;
            assert_eq!(
                refused.status,
                StatusCode::FORBIDDEN,
                "{role} on {method} {path}"
            );
            assert_eq!(refused.json()["error"]["code"], "forbidden");
            assert!(
                str_of(&refused.json()["error"]["message"]).contains(least),
                "the refusal names who may: {:?}",
                refused.json()
            );
        }
    }
    // Routes run in order, so the allowed calls also work (owner, who may do everything): each
    // is a valid call that succeeds.
    let mut failed = Vec::new();
    for (method, path, body, _) in &routes {
        let allowed = t
            .relay
            .call(method, path, Some(&t.owner), body.clone())
            .await;
        if !allowed.status.is_success() {
            failed.push(format!(
                "owner on {method} {path}: {} {}",
                allowed.status,
                String::from_utf8_lossy(&allowed.body)
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[tokio::test]
async fn invitations_work_once_expire_and_set_the_password() {
    let relay = TestRelay::start_with(|c| c.invitation_ttl = Duration::from_secs(3600)).await;
    let workspace = relay.workspace("Acme", OWNER, "").await;
    let owner = relay.sign_in(OWNER).await;
    let invited = relay
        .invite(&owner, json!({ "email": "Ana@Acme.test", "role": "agent" }))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED);
    let body = invited.json();
    assert_eq!(body["member"]["status"], "invited");
    assert_eq!(body["member"]["email"], "ana@acme.test");
    let code = body["code"].as_str().unwrap().to_string();
    assert!(
        body["link"]
            .as_str()
            .unwrap()
            .starts_with("zentro://invite?relay=")
    );
    assert!(body["link"].as_str().unwrap().ends_with(&code));

    // An invited member cannot sign in before choosing a password.
    let early = relay
        .post(
            None,
            "/v1/sessions",
            json!({ "email": "ana@acme.test", "password": PASSWORD }),
        )
        .await;
    assert_eq!(early.status, StatusCode::UNAUTHORIZED);

    // Too short a password is refused and the code stays usable.
    let short = relay
        .accept_invitation(json!({ "code": code, "password": "short" }))
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let wrong = relay
        .accept_invitation(json!({ "code": "AAAA-BBBB-CCCC-DDDD-EEEE", "password": PASSWORD }))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["error"]["code"], "invitation_invalid");

    // Typed in lower case with spaces, it still works — once.
    let typed = code.to_lowercase().replace('-', " ");
    let accepted = relay
        .accept_invitation(
            json!({ "code": typed, "password": PASSWORD, "device_name": "Ana's laptop" }),
        )
        .await;
    assert_eq!(
        accepted.status,
        StatusCode::CREATED,
        "{:?}",
        accepted.json()
    );
    assert_eq!(accepted.json()["member"]["email"], "ana@acme.test");
    let again = relay
        .accept_invitation(json!({ "code": code, "password": PASSWORD }))
        .await;
    assert_eq!(again.json()["error"]["code"], "invitation_invalid");
    relay.sign_in("ana@acme.test").await;

    // An invitation not accepted in time is gone (one whose hour passed).
    let (late_code, late_hash) = zentro_relay::credentials::new_invitation_code();
    let owner_id = relay.member_id(&owner, OWNER).await;
    relay
        .store()
        .invite(
            &workspace,
            "late@acme.test",
            "Late",
            zentro_relay::roles::Role::Agent,
            &owner_id,
            &late_hash,
            zentro_events::clock::now_ms() - 1,
        )
        .await
        .unwrap();
    let expired = relay
        .accept_invitation(json!({ "code": late_code, "password": PASSWORD }))
        .await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert_eq!(expired.json()["error"]["code"], "invitation_expired");
    // Inviting again gives a fresh code; an active member's email cannot be invited again.
    let renewed = relay
        .invite(
            &owner,
            json!({ "email": "late@acme.test", "role": "admin" }),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::CREATED);
    assert_eq!(renewed.json()["member"]["role"], "admin");
    let taken = relay
        .invite(&owner, json!({ "email": "ana@acme.test", "role": "agent" }))
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_deactivated_nor_removed_and_admins_cannot_touch_owners()
 {
    let t = team().await;
    let owner_id = t.relay.member_id(&t.owner, OWNER).await;
    let admin_id = t.relay.member_id(&t.owner, "admin@acme.test").await;
    for change in [
        json!({ "role": "admin" }),
        json!({ "status": "deactivated" }),
    ] {
        let refused = t.relay.change_member(&t.owner, &owner_id, change).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(refused.json()["error"]["code"], "last_owner");
    }
    let removed = t
        .relay
        .delete(Some(&t.owner), &format!("/v1/members/{owner_id}"))
        .await;
    assert_eq!(removed.json()["error"]["code"], "last_owner");

    // Admins cannot demote an owner, nor make one.
    let by_admin = t
        .relay
        .change_member(&t.admin, &owner_id, json!({ "role": "agent" }))
        .await;
    assert_eq!(by_admin.status, StatusCode::FORBIDDEN);
    let promote = t
        .relay
        .change_member(&t.admin, &admin_id, json!({ "role": "owner" }))
        .await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN);
    let invite_owner = t
        .relay
        .invite(
            &t.admin,
            json!({ "email": "boss@acme.test", "role": "owner" }),
        )
        .await;
    assert_eq!(invite_owner.status, StatusCode::FORBIDDEN);

    // With a second owner, the first may step down.
    let promoted = t
        .relay
        .change_member(&t.owner, &admin_id, json!({ "role": "owner" }))
        .await;
    assert_eq!(promoted.status, StatusCode::OK);
    let stepped_down = t
        .relay
        .change_member(&t.owner, &owner_id, json!({ "role": "agent" }))
        .await;
    assert_eq!(
        stepped_down.status,
        StatusCode::OK,
        "{:?}",
        stepped_down.json()
    );
    // The role applies at once: the former owner's next admin call is refused.
    let now_agent = t.relay.get(Some(&t.owner), "/v1/audit").await;
    assert_eq!(now_agent.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn members_see_and_revoke_their_own_devices_and_admins_anyones() {
    let t = team().await;
    let second = t.relay.sign_in("agent@acme.test").await;
    let mine = t.relay.get_json(&t.agent, "/v1/devices").await;
    let devices = mine["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{mine:?}");
    assert!(
        devices
            .iter()
            .all(|d| d["member_email"] == "agent@acme.test")
    );
    assert!(devices.iter().any(|d| d["name"] == "agent laptop"));
    // No token or hash is shown.
    assert!(!mine.to_string().contains("token"));

    // The agent cannot revoke the admin's device; the admin can revoke the agent's.
    let all = t.relay.get_json(&t.admin, "/v1/devices?all=true").await;
    let admin_device = all["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["member_email"] == "admin@acme.test")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = t
        .relay
        .delete(Some(&t.agent), &format!("/v1/devices/{admin_device}"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let current = mine["current"].as_str().unwrap();
    let other = devices.iter().find(|d| d["id"] != current).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = t
        .relay
        .delete(Some(&t.agent), &format!("/v1/devices/{other}"))
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.relay.get(Some(&second), "/v1/members").await.status,
        StatusCode::UNAUTHORIZED
    );
    let by_admin = t
        .relay
        .delete(Some(&t.admin), &format!("/v1/devices/{current}"))
        .await;
    assert_eq!(by_admin.status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.relay.get(Some(&t.agent), "/v1/members").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn channel_tokens_are_sealed_at_rest_and_handed_only_to_allowed_members() {
    let t = team().await;
    let ch = &t.channel;
    let set = t
        .relay
        .put(
            Some(&t.admin),
            &format!("/v1/channels/{ch}/token"),
            json!({ "token": PLANTED }),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.json());
    assert_eq!(set.json()["channel"]["token_version"], 1);
    assert!(
        !set.body
            .windows(PLANTED.len())
            .any(|w| w == PLANTED.as_bytes())
    );

    // Every agent may use a channel nobody restricted.
    let fetched = t
        .relay
        .get(Some(&t.agent), &format!("/v1/channels/{ch}/token"))
        .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json()["token"], PLANTED);
    assert_eq!(fetched.json()["version"], 1);

    // Restricted to another agent: this one is refused, and the list says so.
    let other = t.relay.join(&t.owner, "other@acme.test", "agent").await;
    let other_id = t.relay.member_id(&t.owner, "other@acme.test").await;
    let restricted = t
        .relay
        .put(
            Some(&t.admin),
            &format!("/v1/channels/{ch}/access"),
            json!({ "agents": [other_id] }),
        )
        .await;
    assert_eq!(restricted.status, StatusCode::OK);
    let refused = t
        .relay
        .get(Some(&t.agent), &format!("/v1/channels/{ch}/token"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let list = t.relay.get_json(&t.agent, "/v1/channels").await;
    assert_eq!(list["channels"][0]["allowed"], false);
    assert_eq!(
        t.relay
            .get(Some(&other), &format!("/v1/channels/{ch}/token"))
            .await
            .status,
        StatusCode::OK
    );

    // Rotation bumps the version; revocation removes it for everyone.
    let rotated = t
        .relay
        .put(
            Some(&t.owner),
            &format!("/v1/channels/{ch}/token"),
            json!({ "token": format!("{PLANTED}-v2") }),
        )
        .await;
    assert_eq!(rotated.json()["channel"]["token_version"], 2);
    assert_eq!(
        t.relay
            .delete(Some(&t.admin), &format!("/v1/channels/{ch}/token"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = t
        .relay
        .get(Some(&other), &format!("/v1/channels/{ch}/token"))
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // Devices learn of each change from the log, without the token.
    let events = t.relay.events(&t.agent, 0).await;
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "channel.changed")
        .collect();
    assert!(changes.len() >= 4, "{events:?}");
    assert!(!serde_json::to_string(&events).unwrap().contains(PLANTED));

    // The database holds ciphertext only.
    assert!(
        !crate::support::stored_anywhere(&t.relay.database(), PLANTED).await,
        "a channel token in clear in the relay's database"
    );
}

#[tokio::test]
async fn without_a_token_key_the_relay_keeps_no_channel_tokens_and_says_why() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", OWNER, "P1").await;
    let owner = relay.sign_in(OWNER).await;
    let list = relay.get_json(&owner, "/v1/channels").await;
    let ch = list["channels"][0]["id"].as_str().unwrap();
    let refused = relay
        .put(
            Some(&owner),
            &format!("/v1/channels/{ch}/token"),
            json!({ "token": PLANTED }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.json()["error"]["code"], "token_key_missing");
    assert!(str_of(&refused.json()["error"]["message"]).contains("ZENTRO_RELAY_TOKEN_KEY"));
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_and_never_secrets() {
    let t = team().await;
    let failed = t
        .relay
        .post(
            None,
            "/v1/sessions",
            json!({ "email": "agent@acme.test", "password": "not the password" }),
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let agent_id = t.relay.member_id(&t.owner, "agent@acme.test").await;
    t.relay
        .change_member(&t.admin, &agent_id, json!({ "role": "admin" }))
        .await;
    t.relay
        .put(
            Some(&t.admin),
            &format!("/v1/channels/{}/token", t.channel),
            json!({ "token": PLANTED }),
        )
        .await;
    let reported = t
        .relay
        .post(Some(&t.admin), "/v1/audit", json!({ "action": "data.erasure", "subject": "receipt 5f2c", "details": { "conversations": 2 } }))
        .await;
    assert_eq!(reported.status, StatusCode::CREATED);
    let bad = t
        .relay
        .post(
            Some(&t.admin),
            "/v1/audit",
            json!({ "action": "member.removed", "subject": "x" }),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "devices report only data-rights actions"
    );

    let log = t.relay.get(Some(&t.owner), "/v1/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    let entries = log.json()["entries"].as_array().unwrap().clone();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "sign_in",
        "member.invited",
        "member.joined",
        "sign_in.failed",
        "member.role_changed",
        "channel.token_set",
        "data.erasure",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    assert!(
        entries
            .windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()),
        "newest first"
    );
    let role_change = entries
        .iter()
        .find(|e| e["action"] == "member.role_changed")
        .unwrap();
    assert_eq!(role_change["actor_email"], "admin@acme.test");
    assert_eq!(role_change["device"], "admin laptop");
    assert_eq!(role_change["subject"], "agent@acme.test");
    assert_eq!(
        role_change["details"],
        json!({ "from": "agent", "to": "admin" })
    );
    let text = log.json().to_string();
    assert!(
        !text.contains(PLANTED) && !text.contains(PASSWORD) && !text.contains("not the password")
    );

    // Paging by id.
    let page = t.relay.get_json(&t.owner, "/v1/audit?limit=2").await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let before = page["next_before"].as_i64().unwrap();
    let next = t
        .relay
        .get_json(&t.owner, &format!("/v1/audit?limit=2&before={before}"))
        .await;
    assert!(next["entries"][0]["id"].as_i64().unwrap() < before);
}

/// A team event's payload: a label put on a conversation.
fn labeled() -> Value {
    json!({ "type": "labeled", "label": "vip", "added": true, "conversation":
        { "channel_kind": "whatsapp", "channel_external_id": "P1", "customer_id": "16505551234" } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_a_member_closes_their_open_streams_at_once() {
    let relay = ServedRelay::start(OWNER, "").await;
    let base = relay.base.clone();
    let owner = relay.sign_in(OWNER).await;
    let Joined {
        token: agent,
        member_id: agent_id,
    } = relay
        .join(&owner, "agent@acme.test", "agent", "agent laptop")
        .await;

    let mut stream = Sse::open(&base, &agent, Some(0), None).await;
    // The stream is live: the owner's team event reaches it.
    let (status, answer) = relay
        .call(
            &owner,
            "POST",
            "/v1/events",
            json!({ "kind": "team.labeled", "payload": labeled(), "idempotency_key": "k1" }),
        )
        .await;
    assert!((200..300).contains(&status), "{answer}");
    loop {
        let (_, event) = stream.next().await.expect("the stream is open");
        if event["kind"] == "team.labeled" {
            break;
        }
    }
    // The owner keeps the workspace busy: an event every 200 ms wakes the stream each time
    // before the relay's 2-second safety poll is due, so only the revocation itself can end it.
    let busy = tokio::spawn({
        let (base, owner) = (base.clone(), owner.clone());
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            for n in 0.. {
                tick.tick().await;
                let event = json!({ "kind": "team.labeled", "payload": labeled(), "idempotency_key": format!("busy-{n}") });
                let (status, answer) =
                    call_at(&base, Some(&owner), "POST", "/v1/events", event).await;
                assert!((200..300).contains(&status), "{answer}");
            }
        }
    });
    let member = format!("/v1/members/{agent_id}");
    let deactivate = json!({ "status": "deactivated" });
    assert_eq!(
        relay.call(&owner, "PATCH", &member, deactivate).await.0,
        200
    );
    // A generous deadline, not a race with the poll: the stream stays open past it only if
    // deactivating does not end it.
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while stream.next().await.is_some() {}
    })
    .await;
    if busy.is_finished() {
        busy.await.expect("the owner kept publishing");
        unreachable!("the owner publishes until stopped");
    }
    busy.abort();
    assert!(
        ended.is_ok(),
        "the deactivated member's stream ends while events keep arriving"
    );
    let refused = relay.call(&agent, "GET", "/v1/events", Value::Null).await;
    assert_eq!(refused.0, 401);
    let agent_signs_in = async || {
        let credentials = json!({ "email": "agent@acme.test", "password": PASSWORD });
        call_at(&base, None, "POST", "/v1/sessions", credentials)
            .await
            .0
    };
    assert_eq!(
        agent_signs_in().await,
        401,
        "a deactivated member cannot sign in"
    );

    // Reactivated, they sign in again.
    let reactivate = json!({ "status": "active" });
    assert_eq!(
        relay.call(&owner, "PATCH", &member, reactivate).await.0,
        200
    );
    assert_eq!(agent_signs_in().await, 201);
    relay.stop().await;
}

#[tokio::test]
async fn an_erasure_purges_the_events_naming_the_customer_and_keeps_only_a_hash() {
    let relay = relay_with_keys().await;
    relay.workspace("Acme", OWNER, "P1").await;
    let owner = relay.sign_in(OWNER).await;
    for (wamid, phone) in [("wamid.1", "16505551234"), ("wamid.2", "16505550000")] {
        let mut body = crate::support::wa_text("P1", wamid, "my address is 1 Main St");
        body["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = json!(phone);
        body["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = json!(phone);
        assert_eq!(
            relay.post_signed(body.to_string().as_bytes()).await.status,
            StatusCode::OK
        );
    }
    wait_for_events(&relay, &owner, 2).await;
    // Too short an identifier would match unrelated events: refused.
    let short = relay
        .post(
            Some(&owner),
            "/v1/erasures",
            json!({ "identifiers": ["1650"], "salt": "0".repeat(32), "hash": "a".repeat(64) }),
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let erased = relay
        .post(Some(&owner), "/v1/erasures", json!({ "identifiers": ["16505551234"], "salt": "1".repeat(32), "hash": "b".repeat(64), "details": { "messages": 1 } }))
        .await;
    assert_eq!(erased.status, StatusCode::CREATED, "{:?}", erased.json());
    assert_eq!(erased.json()["events_purged"], 1);
    let events = relay.events(&owner, 0).await;
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("16505551234"),
        "the customer's events are gone"
    );
    assert!(text.contains("16505550000"), "other customers' events stay");
    let notice = events
        .iter()
        .find(|e| e["kind"] == "contact.erased")
        .unwrap();
    assert_eq!(
        notice["payload"],
        json!({ "salt": "1".repeat(32), "hash": "b".repeat(64) })
    );
    let audit = relay.get_json(&owner, "/v1/audit").await;
    let receipt = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "data.erasure")
        .unwrap();
    assert_eq!(receipt["subject"], format!("sha256:{}", "b".repeat(64)));
    assert!(!audit.to_string().contains("16505551234"));
}

async fn wait_for_events(relay: &TestRelay, token: &str, n: usize) {
    for _ in 0..100 {
        if relay.events(token, 0).await.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the webhooks did not reach the log");
}

#[tokio::test]
async fn only_admins_restrict_a_customers_processing() {
    let t = team().await;
    let edit = |restricted: Option<bool>| {
        json!({
            "kind": "team.contact_edited",
            "idempotency_key": format!("k-{restricted:?}-{}", zentro_events::clock::random_id()),
            "payload": { "type": "contact_edited", "contact": { "channel_kind": "whatsapp", "channel_external_id": "P1", "customer_id": "US.1" },
                         "changes": { "display_name": "Ana", "restricted": restricted } },
        })
    };
    let by_agent = t
        .relay
        .post(Some(&t.agent), "/v1/events", edit(Some(true)))
        .await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN);
    let rename_by_agent = t.relay.post(Some(&t.agent), "/v1/events", edit(None)).await;
    assert_eq!(
        rename_by_agent.status,
        StatusCode::CREATED,
        "agents still correct names"
    );
    let by_admin = t
        .relay
        .post(Some(&t.admin), "/v1/events", edit(Some(true)))
        .await;
    assert_eq!(by_admin.status, StatusCode::CREATED);
}

#[tokio::test]
async fn admins_set_retention_devices_hear_it_and_the_relay_drops_older_events() {
    let t = team().await;
    let by_agent = t
        .relay
        .put(
            Some(&t.agent),
            "/v1/workspace/retention",
            json!({ "conversation_days": 90, "media_days": 30 }),
        )
        .await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN);
    let zero = t
        .relay
        .put(
            Some(&t.admin),
            "/v1/workspace/retention",
            json!({ "conversation_days": 0, "media_days": null }),
        )
        .await;
    assert_eq!(zero.status, StatusCode::BAD_REQUEST);
    let set = t
        .relay
        .put(
            Some(&t.admin),
            "/v1/workspace/retention",
            json!({ "conversation_days": 90, "media_days": 30 }),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    let read = t.relay.get_json(&t.agent, "/v1/workspace/retention").await;
    assert_eq!(read, json!({ "conversation_days": 90, "media_days": 30 }));
    let events = t.relay.events(&t.agent, 0).await;
    let announced = events
        .iter()
        .find(|e| e["kind"] == "workspace.retention")
        .unwrap();
    assert_eq!(announced["payload"]["conversation_days"], 90);
    let audit = t.relay.get_json(&t.admin, "/v1/audit").await;
    assert!(audit.to_string().contains("retention.changed"));
    // A retention run reported by any member's device is recorded.
    let reported = t
        .relay
        .post(Some(&t.agent), "/v1/audit", json!({ "action": "data.retention", "subject": "retention periods", "details": { "conversations": 3 } }))
        .await;
    assert_eq!(reported.status, StatusCode::CREATED);

    // 91 days later, the relay keeps none of these events, though its own retention is a year.
    let later = zentro_events::clock::now_ms() + 91 * 86_400_000;
    let year = Duration::from_secs(365 * 86_400);
    t.relay.store().prune(later, year, year).await.unwrap();
    assert!(t.relay.events(&t.admin, 0).await.is_empty());
}
