//! Tenants cannot touch each other (issue 19, item 6): erasure stays in the caller's workspace, a
//! Meta id of another workspace is refused and an unclaimed one needs proof from Meta, the
//! quarantine is bounded and forgets removed channels, and every `/v1` route that takes an id
//! answers 404 to another workspace's ids and changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};
use zentro_meta_sim::MetaSim;
use zentro_relay::Store;
use zentro_relay::credentials::hash_password;
use zentro_relay::store::ChannelKind;

use crate::support::{Bind, RawDatabase};
use crate::support::{
    PASSWORD, ServedRelay, meta_app_of, new_token_keys, post_webhook, start_meta_sim, wa_text,
};

const ACME: &str = "owner@acme.test";
const GLOBEX: &str = "owner@globex.test";
/// The customer both workspaces talk to (the sender of [`wa_text`]).
const CUSTOMER: &str = "16505551234";

struct Tenants {
    relay: ServedRelay,
    sim: MetaSim,
    acme: String,
    globex: String,
}

/// Acme has the number PA (WABA WA), Globex PG (WABA WG); Meta's stand-in knows both and more.
async fn tenants(adjust: impl FnOnce(&mut zentro_relay::Config)) -> Tenants {
    let sim = start_meta_sim().await;
    let meta_app = meta_app_of(&sim);
    let relay = ServedRelay::start_on(
        |c| {
            c.token_keys = Some(new_token_keys());
            c.meta_app = Some(meta_app);
            adjust(c);
        },
        async |store| {
            for (name, email, number, waba) in
                [("Acme", ACME, "PA", "WA"), ("Globex", GLOBEX, "PG", "WG")]
            {
                let ws = store
                    .create_workspace(name, email, "Owner", &hash_password(PASSWORD))
                    .await
                    .unwrap();
                store
                    .add_channel(&ws.id, ChannelKind::Whatsapp, number, Some(waba), "")
                    .await
                    .unwrap();
            }
        },
    )
    .await;
    let acme = relay.sign_in(ACME).await;
    let globex = relay.sign_in(GLOBEX).await;
    Tenants {
        relay,
        sim,
        acme,
        globex,
    }
}

impl Tenants {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.unwrap_or(Value::Null);
        let (status, answer) = self.relay.call(token, method, path, body).await;
        (StatusCode::from_u16(status).unwrap(), answer)
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, token, Some(body)).await
    }

    async fn ok(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(method, path, token, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    async fn webhook(&self, body: &Value) {
        post_webhook(&self.relay.base, body).await;
    }

    /// The relay's quarantine, read from its database.
    async fn quarantine(&self) -> Vec<zentro_relay::store::QuarantineEntry> {
        let store = Store::open_at(&self.relay.database).await.unwrap();
        let entries = store.quarantine().await.unwrap();
        store.close().await;
        entries
    }

    /// Where the quarantined webhooks were headed (their route ids), oldest first.
    async fn quarantined_routes(&self) -> Vec<String> {
        let entries = self.quarantine().await.into_iter();
        entries.filter_map(|q| q.route_id).collect()
    }

    async fn database(&self) -> RawDatabase {
        RawDatabase::open(&self.relay.database).await
    }

    /// Everything a workspace's owner can read about it (what another tenant must not change).
    async fn snapshot(&self, token: &str) -> Value {
        let mut snapshot = json!({});
        for path in [
            "/v1/sessions/current",
            "/v1/members",
            "/v1/devices?all=true",
            "/v1/channels",
            "/v1/events?after=0&limit=1000",
            "/v1/audit?limit=1000",
            "/v1/workspace/retention",
            "/v1/campaigns",
        ] {
            snapshot[path] = self.ok("GET", path, token, None).await;
        }
        snapshot
    }
}

#[tokio::test]
async fn an_erasure_purges_only_the_callers_workspace() {
    let t = tenants(|_| {}).await;
    t.webhook(&wa_text("PA", "wamid.acme", "hello Acme")).await;
    t.webhook(&wa_text("PG", "wamid.globex", "hello Globex"))
        .await;
    // Addressed to a number nobody has connected yet: quarantined, nobody's.
    t.webhook(&wa_text("PX", "wamid.nobody", "hello?")).await;
    assert_eq!(t.quarantine().await.len(), 1);
    let globex_before = t.snapshot(&t.globex).await;

    let erased = t
        .ok(
            "POST",
            "/v1/erasures",
            &t.acme,
            Some(json!({ "identifiers": [CUSTOMER], "salt": "0".repeat(32), "hash": "a".repeat(64) })),
        )
        .await;
    assert_eq!(erased["events_purged"], 1, "{erased}");
    assert_eq!(erased["quarantine_purged"], 0, "{erased}");
    assert_eq!(
        t.quarantine().await.len(),
        1,
        "another tenant's quarantine is kept"
    );
    assert_eq!(t.snapshot(&t.globex).await, globex_before);
}

#[tokio::test]
async fn a_meta_id_of_another_workspace_is_refused_and_an_unclaimed_one_needs_proof() {
    let t = tenants(|_| {}).await;
    let add = |body: Value| t.post(&t.acme, "/v1/channels", body);
    // Globex's number, or its WABA behind another number: refused.
    let sim_token = t.sim.add_whatsapp_number("WG", "PG", "+1 555 0100");
    for body in [
        json!({ "kind": "whatsapp", "external_id": "PG", "waba_id": "WG", "token": sim_token.expose() }),
        json!({ "kind": "whatsapp", "external_id": "PN", "waba_id": "WG", "token": sim_token.expose() }),
    ] {
        let (status, answer) = add(body.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body} {answer}");
    }
    // The operator's CLI may not put one id in two workspaces either.
    let store = Store::open_at(&t.relay.database).await.unwrap();
    let acme_id = t.ok("GET", "/v1/sessions/current", &t.acme, None).await["workspace"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        store
            .add_channel(&acme_id, ChannelKind::Whatsapp, "PZ", Some("WG"), "")
            .await
            .is_err(),
        "a WABA of another workspace"
    );

    // An unclaimed Page: not without a token, not with a token of something else…
    let page_token = t.sim.add_page("5550001", false);
    let other_token = t.sim.add_page("5550002", false);
    let (status, answer) = add(json!({ "kind": "messenger", "external_id": "5550001" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "proof_required");
    let (status, answer) = add(
        json!({ "kind": "messenger", "external_id": "5550001", "token": other_token.expose() }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "not_granted");
    let (status, answer) = add(
        json!({ "kind": "messenger", "external_id": "5550001", "token": "EAAG-not-a-token-at-all-00" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    // …but with a token whose debug_token grants it.
    let (status, answer) =
        add(json!({ "kind": "messenger", "external_id": "5550001", "token": page_token.expose() }))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // A WhatsApp number: its WABA granted and the number in it.
    let wa_token = t.sim.add_whatsapp_number("WN", "PN2", "+1 555 0199");
    let (status, answer) = add(
        json!({ "kind": "whatsapp", "external_id": "PN3", "waba_id": "WN", "token": wa_token.expose() }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a number not in the WABA: {answer}"
    );
    let (status, answer) = add(
        json!({ "kind": "whatsapp", "external_id": "PN2", "waba_id": "WN", "token": wa_token.expose() }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // Globex cannot take it now, even with a token.
    let (status, _) = t
        .post(
            &t.globex,
            "/v1/channels",
            json!({ "kind": "messenger", "external_id": "5550001", "token": page_token.expose() }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The operator's CLI needs no proof.
    store
        .add_channel(&acme_id, ChannelKind::Messenger, "5550009", None, "")
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn the_quarantine_is_bounded_and_forgets_removed_channels() {
    let t = tenants(|c| c.quarantine_max_items = 3).await;
    for i in 0..5 {
        t.webhook(&wa_text(&format!("PX{i}"), &format!("wamid.q{i}"), "hi"))
            .await;
    }
    let kept = t.quarantined_routes().await;
    assert_eq!(kept, ["PX2", "PX3", "PX4"], "the newest are kept");

    // Older than the retention (7 days by default): dropped.
    let db = t.database().await;
    let eight_days_ago = zentro_events::clock::now_ms() - 8 * 24 * 3600 * 1000;
    db.execute(
        "UPDATE quarantine SET received_at = $1 WHERE route_id = 'PX2'",
        &[Bind::Int(eight_days_ago)],
    )
    .await;
    t.webhook(&wa_text("PX5", "wamid.q5", "hi")).await;
    let kept = t.quarantined_routes().await;
    assert_eq!(kept, ["PX3", "PX4", "PX5"]);

    // Removing a channel drops what waits for it (here: deliveries that raced its addition).
    let channels = t.ok("GET", "/v1/channels", &t.acme, None).await;
    let channel = channels["channels"][0]["id"].as_str().unwrap().to_string();
    for (kind, id, key) in [
        ("whatsapp_phone_number", "PA", "raced-1"),
        ("whatsapp_account", "WA", "raced-2"),
        ("whatsapp_phone_number", "PG", "raced-3"),
    ] {
        db.execute(
            "INSERT INTO quarantine (received_at, route_kind, route_id, reason, dedup_key, body) VALUES ($1, $2, $3, 'raced', $4, $5)",
            &[
                Bind::Int(zentro_events::clock::now_ms()),
                Bind::Text(Some(kind)),
                Bind::Text(Some(id)),
                Bind::Text(Some(key)),
                Bind::Bytes(Some(b"{}")),
            ],
        )
        .await;
    }
    db.close().await;
    t.ok("DELETE", &format!("/v1/channels/{channel}"), &t.acme, None)
        .await;
    let kept = t.quarantined_routes().await;
    assert_eq!(kept, ["PX3", "PX4", "PX5", "PG"], "Globex's is kept");
}

/// The `/v1` routes of the router that take ids, read from its definition, with their methods.
fn routes_with_ids() -> Vec<(String, String)> {
    let source = include_str!("../../src/http/mod.rs");
    let mut routes = Vec::new();
    for part in source.split(".route(").skip(1) {
        let part = part.split(".layer(").next().unwrap();
        let Some(path) = part
            .trim_start()
            .strip_prefix('"')
            .and_then(|p| p.split('"').next())
        else {
            continue;
        };
        if !path.starts_with("/v1/") || !path.contains('{') {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = part
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|word| word == method);
            if called && part.contains(&format!("{method}(")) {
                routes.push((method.to_uppercase(), path.to_string()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_with_an_id_answers_404_to_another_workspaces_ids_and_changes_nothing() {
    let t = tenants(|_| {}).await;
    // Globex: a second member and device, a signup, a channel with a token and an access list.
    let invited = t
        .ok(
            "POST",
            "/v1/members",
            &t.globex,
            Some(json!({ "email": "agent@globex.test", "role": "agent" })),
        )
        .await;
    let member = invited["member"]["id"].as_str().unwrap().to_string();
    let channels = t.ok("GET", "/v1/channels", &t.globex, None).await;
    let channel = channels["channels"][0]["id"].as_str().unwrap().to_string();
    t.ok(
        "PUT",
        &format!("/v1/channels/{channel}/token"),
        &t.globex,
        Some(json!({ "token": "EAAG-globex-channel-token-0123456789" })),
    )
    .await;
    let devices = t.ok("GET", "/v1/devices?all=true", &t.globex, None).await;
    let device = devices["devices"][0]["id"].as_str().unwrap().to_string();
    let signup = t
        .ok(
            "POST",
            "/v1/signups",
            &t.globex,
            Some(json!({ "kind": "whatsapp" })),
        )
        .await;
    let signup = signup["signup"]["id"].as_str().unwrap().to_string();
    // A campaign of Globex's (a draft, as an admin of Globex would leave it).
    let db = t.database().await;
    db.execute(
        "INSERT INTO campaigns (id, workspace_id, name, channel_id, template_name,
            template_language, category, audience, state, per_second, created_by, created_at)
         SELECT 'c_globex', id, 'Theirs', 'PG', 'sale', 'en_US', 'MARKETING', '', 'draft', 20,
            'owner', 0 FROM workspaces WHERE name = 'Globex'",
        &[],
    )
    .await;
    db.close().await;
    let campaign = "c_globex".to_string();
    // Which of Globex's ids each route's parameter names, by the route's collection.
    let id_for = |path: &str| -> String {
        let collection = path.trim_start_matches("/v1/").split('/').next().unwrap();
        match collection {
            "members" => member.clone(),
            "channels" => channel.clone(),
            "devices" => device.clone(),
            "signups" => signup.clone(),
            "campaigns" => campaign.clone(),
            other => panic!("no id of another workspace for /v1/{other}/…: add one to this test"),
        }
    };
    let routes = routes_with_ids();
    assert!(
        routes.len() >= 10,
        "the router's routes were read: {routes:?}"
    );
    let globex_before = t.snapshot(&t.globex).await;
    let mut answered = Vec::new();
    for (method, path) in &routes {
        let id = id_for(path);
        let concrete: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    id.as_str()
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        // Bodies that would succeed on the caller's own ids.
        let body = match (method.as_str(), path.as_str()) {
            ("PATCH", _) => Some(json!({ "role": "admin", "status": "deactivated" })),
            ("PUT", p) if p.ends_with("/token") => {
                Some(json!({ "token": "EAAG-acme-planted-token-0123456789" }))
            }
            ("PUT", p) if p.ends_with("/access") => Some(json!({ "agents": [] })),
            _ => None,
        };
        let (status, answer) = t.call(method, &concrete, &t.acme, body).await;
        answered.push(format!("{method} {path}"));
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {concrete}: {answer}"
        );
        assert_eq!(answer["error"]["code"], "not_found", "{method} {concrete}");
    }
    for expected in [
        "PATCH /v1/members/{id}",
        "DELETE /v1/members/{id}",
        "DELETE /v1/devices/{id}",
        "DELETE /v1/channels/{id}",
        "GET /v1/channels/{id}/token",
        "PUT /v1/channels/{id}/token",
        "DELETE /v1/channels/{id}/token",
        "PUT /v1/channels/{id}/access",
        "GET /v1/channels/{id}/events",
        "POST /v1/channels/{id}/check",
        "POST /v1/channels/{id}/disconnect",
        "GET /v1/signups/{id}",
        "GET /v1/campaigns/{id}",
        "POST /v1/campaigns/{id}/recipients",
        "GET /v1/campaigns/{id}/recipients.csv",
        "POST /v1/campaigns/{id}/start",
        "POST /v1/campaigns/{id}/cancel",
    ] {
        assert!(
            answered.iter().any(|a| a == expected),
            "{expected} was walked: {answered:?}"
        );
    }
    assert_eq!(
        t.snapshot(&t.globex).await,
        globex_before,
        "Globex is unchanged"
    );
}
