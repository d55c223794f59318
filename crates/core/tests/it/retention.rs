//! Retention periods (privacy promise P12), with a controllable clock: what the relay announces is
//! enforced on the device — old conversations and their customers go, old media files go while
//! their messages stay — and nothing happens while no period is set.

use serde_json::json;
use zentro_core::apply::RelayEvent;
use zentro_core::inbox;
use zentro_core::rights::{RetentionReport, enforce_retention};

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_780_000_000_000;

fn text(seq: i64, customer: &str, wamid: &str, body: &str, at_ms: i64) -> RelayEvent {
    crate::support::wa_text(seq, customer, customer, wamid, body, at_ms / 1000)
}

fn retention(seq: i64, conversation_days: Option<i64>, media_days: Option<i64>) -> RelayEvent {
    RelayEvent {
        seq,
        kind: "workspace.retention".into(),
        at: NOW - DAY,
        author: Some("relay".into()),
        payload: json!({ "conversation_days": conversation_days, "media_days": media_days }),
    }
}

#[tokio::test]
async fn old_conversations_and_media_go_and_recent_ones_stay() {
    let (dir, cache) = crate::support::cache_with(&[
        text(1, "US.old", "wamid.1", "ancient complaint", NOW - 120 * DAY),
        text(
            2,
            "US.new",
            "wamid.2",
            "photo of the receipt",
            NOW - 40 * DAY,
        ),
        text(3, "US.new", "wamid.3", "still waiting", NOW - 2 * DAY),
    ])
    .await;
    let (_, photo) = zentro_core::media::store(dir.path(), b"receipt bytes")
        .await
        .unwrap();
    sqlx::query("UPDATE messages SET media_path = ?, media_mime = 'image/jpeg' WHERE external_id = 'wamid.2'")
        .bind(photo.to_string_lossy().into_owned())
        .execute(cache.pool())
        .await
        .unwrap();

    // No period set: nothing happens.
    assert_eq!(
        enforce_retention(&cache, NOW).await.unwrap(),
        RetentionReport::default()
    );
    assert_eq!(inbox::contacts(&cache).await.unwrap().len(), 2);

    // The admin sets 90 days for conversations and 30 for media.
    crate::support::apply(&cache, &[retention(4, Some(90), Some(30))]).await;
    let report = enforce_retention(&cache, NOW).await.unwrap();
    assert_eq!(
        report,
        RetentionReport {
            conversations: 1,
            contacts: 1,
            media_files: 1
        }
    );
    let contacts = inbox::contacts(&cache).await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].customer_id, "US.new");
    assert!(
        inbox::search(&cache, "ancient", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(inbox::search(&cache, "waiting", 10).await.unwrap().len(), 1);
    assert!(
        crate::support::absent(&photo),
        "the old photo's file is deleted"
    );
    let kept: (Option<String>, String) =
        sqlx::query_as("SELECT media_path, body FROM messages WHERE external_id = 'wamid.2'")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(
        kept,
        (None, "photo of the receipt".to_string()),
        "the message stays"
    );

    // Running again changes nothing; lifting the periods keeps everything from then on.
    assert_eq!(
        enforce_retention(&cache, NOW).await.unwrap(),
        RetentionReport::default()
    );
    crate::support::apply(&cache, &[retention(5, None, None)]).await;
    assert_eq!(
        enforce_retention(&cache, NOW + 1000 * DAY).await.unwrap(),
        RetentionReport::default()
    );
    assert_eq!(inbox::contacts(&cache).await.unwrap().len(), 1);
}
