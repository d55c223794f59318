//! AI assist's settings (`/v1/assist`) and usage (`/v1/assist/usage`), on either backend: off
//! until an owner turns it on, changed by owners only, each workspace its own, the key sealed and
//! never in a response (but `/v1/assist/key`), a log line or the audit, every change in the log
//! and the audit, and usage counted toward the monthly budget without content.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestRelay, new_token_keys};

const KEY: &str = "sk-assist-planted-key-0123456789";
const CONVERSATION: &str = "5f2b8c1e9a7d4e6f8b0c2d4e6f8a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a";

/// Acme with its owner signed in, on a relay that can seal keys.
async fn relay_with_owner() -> (TestRelay, String, String) {
    let relay = TestRelay::start_with(|c| c.token_keys = Some(new_token_keys())).await;
    let workspace = relay.workspace("Acme", "owner@acme.test", "P1").await;
    let owner = relay.sign_in("owner@acme.test").await;
    (relay, owner, workspace)
}

fn turned_on(budget: Option<i64>) -> Value {
    json!({
        "enabled": true,
        "base_url": "https://llm.acme.internal:8443/v1",
        "model": "llama3.1:8b",
        "masking": true,
        "auto_labels": false,
        "monthly_budget_tokens": budget,
        "api_key": KEY,
    })
}

/// Everything a log line of the relay says while `f` runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn audit(relay: &TestRelay, owner: &str) -> Vec<Value> {
    relay.get_json(owner, "/v1/audit").await["entries"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn off_until_an_owner_turns_it_on_and_the_key_never_shows() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish(),
    );
    let (relay, owner, workspace) = relay_with_owner().await;
    let agent = relay.join(&owner, "agent@acme.test", "agent").await;
    let admin = relay.join(&owner, "admin@acme.test", "admin").await;

    let off = relay.get_json(&agent, "/v1/assist").await;
    assert_eq!(off["enabled"], false);
    assert_eq!(off["masking"], true, "masking is on by default");
    assert_eq!(
        (off["version"].clone(), off["key_set"].clone()),
        (json!(0), json!(false))
    );

    for (who, token) in [("agent", &agent), ("admin", &admin)] {
        let refused = relay.put(Some(token), "/v1/assist", turned_on(None)).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{who} may not turn AI on"
        );
    }
    assert_eq!(relay.get_json(&agent, "/v1/assist").await["enabled"], false);

    let saved = relay
        .put(Some(&owner), "/v1/assist", turned_on(Some(50_000)))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.json());
    let on = relay.get_json(&agent, "/v1/assist").await;
    assert_eq!(on["enabled"], true);
    assert_eq!(
        on["provider"],
        json!({ "base_url": "https://llm.acme.internal:8443/v1", "model": "llama3.1:8b", "name": "llm.acme.internal:8443" })
    );
    assert_eq!(
        (
            on["key_set"].clone(),
            on["key_version"].clone(),
            on["version"].clone()
        ),
        (json!(true), json!(1), json!(1))
    );
    assert_eq!(
        (
            on["monthly_budget_tokens"].clone(),
            on["spent_this_month"].clone()
        ),
        (json!(50_000), json!(0))
    );

    // Every desk hears of it from the log; the owner's change is audited; neither holds the key.
    let events = relay.events(&agent, 0).await;
    let announced: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "workspace.assist")
        .collect();
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0]["payload"]["enabled"], true);
    let entries = audit(&relay, &owner).await;
    let changed = entries
        .iter()
        .find(|e| e["action"] == "assist.changed")
        .expect("audited");
    assert_eq!(changed["details"]["key_changed"], true);

    // Only the desk's own request for it hands the key out (audited).
    let key = relay.get_json(&agent, "/v1/assist/key").await;
    assert_eq!(key, json!({ "key": KEY, "key_version": 1 }));
    assert!(
        audit(&relay, &owner)
            .await
            .iter()
            .any(|e| e["action"] == "assist.key_issued")
    );

    // At rest it is sealed.
    let row = relay
        .store()
        .assist_settings(&workspace)
        .await
        .unwrap()
        .unwrap();
    let sealed = row.key.expect("sealed key stored");
    assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains("planted"));

    let everything = format!(
        "{}{on}{events:?}{:?}",
        saved.json(),
        audit(&relay, &owner).await
    );
    assert!(
        !everything.contains(KEY),
        "the key leaked into a response, the log or the audit"
    );
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains("AI assist settings changed"),
        "the capture works: {logged}"
    );
    assert!(!logged.contains(KEY), "the key reached a log line");
}

fn usage(feature: &str, prompt: i64, completion: i64) -> Value {
    json!({
        "conversation": CONVERSATION,
        "feature": feature,
        "provider": "llm.acme.internal:8443",
        "prompt_tokens": prompt,
        "completion_tokens": completion,
    })
}

#[tokio::test]
async fn usage_counts_toward_the_budget_and_is_audited_without_content() {
    let (relay, owner, _) = relay_with_owner().await;
    let agent = relay.join(&owner, "agent@acme.test", "agent").await;
    let off = relay
        .post(Some(&agent), "/v1/assist/usage", usage("draft", 1, 1))
        .await;
    assert_eq!(
        off.status,
        StatusCode::CONFLICT,
        "nothing to count while AI is off"
    );
    assert_eq!(off.json()["error"]["code"], "assist_off");

    relay
        .put(Some(&owner), "/v1/assist", turned_on(Some(1_000)))
        .await;
    let first = relay
        .post(Some(&agent), "/v1/assist/usage", usage("draft", 300, 200))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.json());
    assert_eq!(first.json()["spent_this_month"], 500);
    relay
        .post(Some(&owner), "/v1/assist/usage", usage("summary", 100, 50))
        .await;
    let read = relay.get_json(&agent, "/v1/assist").await;
    assert_eq!(
        (
            read["spent_this_month"].clone(),
            read["monthly_budget_tokens"].clone()
        ),
        (json!(650), json!(1_000))
    );

    let entries = audit(&relay, &owner).await;
    let used: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "assist.used")
        .collect();
    assert_eq!(used.len(), 2);
    let draft = used
        .iter()
        .find(|e| e["details"]["feature"] == "draft")
        .unwrap();
    assert_eq!(draft["actor_email"], "agent@acme.test");
    assert_eq!(
        draft["details"],
        usage("draft", 300, 200),
        "who, which conversation, feature, provider, tokens: nothing else"
    );

    for bad in [
        json!({ "conversation": "conv-1", "feature": "draft", "provider": "p", "prompt_tokens": 1, "completion_tokens": 1 }),
        usage("poem", 1, 1),
        usage("draft", -1, 1),
        json!({ "conversation": CONVERSATION, "feature": "draft", "provider": "p", "prompt_tokens": 1, "completion_tokens": 1, "text": "the customer's message" }),
    ] {
        let refused = relay
            .post(Some(&agent), "/v1/assist/usage", bad.clone())
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        relay.get_json(&agent, "/v1/assist").await["spent_this_month"],
        650,
        "refused reports count nothing"
    );
}

#[tokio::test]
async fn another_workspace_sees_and_changes_only_its_own() {
    let (relay, owner, _) = relay_with_owner().await;
    relay.put(Some(&owner), "/v1/assist", turned_on(None)).await;
    relay
        .post(Some(&owner), "/v1/assist/usage", usage("draft", 10, 10))
        .await;
    relay.workspace("Other", "owner@other.test", "P2").await;
    let other = relay.sign_in("owner@other.test").await;

    let theirs = relay.get_json(&other, "/v1/assist").await;
    assert_eq!(
        (
            theirs["enabled"].clone(),
            theirs["spent_this_month"].clone()
        ),
        (json!(false), json!(0))
    );
    assert_eq!(
        relay.get(Some(&other), "/v1/assist/key").await.status,
        StatusCode::CONFLICT,
        "their AI is off; Acme's key is not theirs"
    );
    let change = json!({ "enabled": false });
    assert_eq!(
        relay.put(Some(&other), "/v1/assist", change).await.status,
        StatusCode::OK
    );
    assert_eq!(
        relay.get_json(&owner, "/v1/assist").await["enabled"],
        true,
        "Acme's settings are untouched"
    );
    assert!(
        relay
            .events(&other, 0)
            .await
            .iter()
            .all(|e| e["payload"]["provider"]["model"] != "llama3.1:8b")
    );
    assert_eq!(
        relay.get(None, "/v1/assist").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        relay.put(None, "/v1/assist", turned_on(None)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_settings_are_refused_and_keys_rotate_or_go() {
    let (relay, owner, _) = relay_with_owner().await;
    for bad in [
        json!({ "enabled": true }),
        json!({ "enabled": true, "base_url": "ftp://llm/v1", "model": "m" }),
        json!({ "enabled": true, "base_url": "https://user:pw@llm/v1", "model": "m" }),
        json!({ "enabled": true, "base_url": "https://llm/v1", "model": "m", "monthly_budget_tokens": 0 }),
        json!({ "enabled": true, "base_url": "https://llm/v1", "model": "m", "api_key": "two words" }),
        json!({ "enabled": true, "base_url": "https://llm/v1", "model": "m", "api_key": KEY, "remove_key": true }),
        json!({ "enabled": true, "base_url": "https://llm/v1", "model": "m", "provider_key": KEY }),
    ] {
        let refused = relay.put(Some(&owner), "/v1/assist", bad.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            !String::from_utf8_lossy(&refused.body).contains(KEY),
            "a refusal echoes no key"
        );
    }
    assert_eq!(
        relay.get_json(&owner, "/v1/assist").await["version"],
        0,
        "nothing was saved"
    );

    relay.put(Some(&owner), "/v1/assist", turned_on(None)).await;
    let mut rotate = turned_on(None);
    rotate["api_key"] = json!("sk-second-key-abcdefghijkl");
    rotate["expected_version"] = json!(1);
    relay.put(Some(&owner), "/v1/assist", rotate.clone()).await;
    assert_eq!(
        relay.get_json(&owner, "/v1/assist/key").await["key"],
        "sk-second-key-abcdefghijkl"
    );
    let stale = relay.put(Some(&owner), "/v1/assist", rotate).await;
    assert_eq!(
        stale.status,
        StatusCode::CONFLICT,
        "a save over a newer version is refused"
    );

    let mut keep = turned_on(None);
    keep.as_object_mut().unwrap().remove("api_key");
    relay.put(Some(&owner), "/v1/assist", keep).await;
    assert_eq!(
        relay.get_json(&owner, "/v1/assist").await["key_version"],
        2,
        "no api_key keeps the key"
    );
    let mut forget = turned_on(None);
    forget.as_object_mut().unwrap().remove("api_key");
    forget["remove_key"] = json!(true);
    relay.put(Some(&owner), "/v1/assist", forget).await;
    assert_eq!(relay.get_json(&owner, "/v1/assist").await["key_set"], false);
    assert_eq!(
        relay.get(Some(&owner), "/v1/assist/key").await.status,
        StatusCode::NOT_FOUND
    );
}
