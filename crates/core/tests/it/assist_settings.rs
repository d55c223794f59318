//! AI assist's settings as every desk learns them (issue 25): the relay's `workspace.assist`
//! event kept in the cache so the indicator shows whether AI is on and where text goes — only
//! when the relay wrote it, never an older version over a newer one, never a key.

use serde_json::{Value, json};
use zentro_core::apply::{RelayEvent, apply_batch};
use zentro_core::assist::announced_settings;

const AT: i64 = 1_780_000_000_000;

fn announcement(version: i64, enabled: bool, model: &str) -> Value {
    json!({
        "enabled": enabled,
        "provider": { "base_url": "http://127.0.0.1:11434/v1", "model": model, "name": "127.0.0.1:11434" },
        "masking": true,
        "auto_labels": true,
        "monthly_budget_tokens": 100_000,
        "key_set": true,
        "key_version": 1,
        "version": version,
    })
}

fn event(seq: i64, author: &str, payload: Value) -> RelayEvent {
    RelayEvent {
        seq,
        kind: "workspace.assist".into(),
        at: AT + seq,
        author: Some(author.into()),
        payload,
    }
}

#[tokio::test]
async fn the_relays_announcement_is_kept_and_an_older_or_forged_one_is_not() {
    let (_dir, cache) = crate::support::cache_with(&[]).await;
    assert_eq!(
        announced_settings(&cache).await.unwrap(),
        None,
        "off until announced"
    );

    let report = apply_batch(
        &cache,
        "ws",
        &[
            event(1, "relay", announcement(2, true, "llama3.1:8b")),
            // An older save arriving late, and a member's forgery turning it off.
            event(2, "relay", announcement(1, false, "old-model")),
            event(3, "m_agent", announcement(9, false, "forged")),
        ],
    )
    .await
    .unwrap();
    assert_eq!((report.applied, report.ignored), (1, 2));
    let kept = announced_settings(&cache).await.unwrap().expect("kept");
    assert!(kept.is_on());
    assert_eq!(kept.version, 2);
    assert_eq!(
        kept.provider.as_ref().map(|p| p.model.as_str()),
        Some("llama3.1:8b")
    );
    assert!(kept.auto_labels && kept.masking);

    // An owner turns it off: every desk learns it.
    apply_batch(
        &cache,
        "ws",
        &[event(4, "relay", announcement(3, false, "llama3.1:8b"))],
    )
    .await
    .unwrap();
    assert!(!announced_settings(&cache).await.unwrap().unwrap().is_on());

    // Whatever the payload carries beyond the announcement's fields (a key, were the relay ever
    // to send one) is not written to the cache.
    let mut leaky = announcement(4, true, "m");
    leaky["api_key"] = json!("sk-live-should-never-be-kept");
    apply_batch(&cache, "ws", &[event(5, "relay", leaky)])
        .await
        .unwrap();
    let row: String = sqlx::query_scalar("SELECT settings FROM assist_settings")
        .fetch_one(cache.pool())
        .await
        .unwrap();
    assert!(!row.contains("sk-live"), "{row}");
}
