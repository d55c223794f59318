//! WhatsApp media fetched from meta-sim into the content-addressed store, with retries.

use serde_json::json;
use zentro_core::Cache;
use zentro_core::apply::RelayEvent;
use zentro_core::media::{self, MediaReport};
use zentro_meta::AccessToken;
use zentro_meta::graph::{GraphClient, MediaHostPolicy};
use zentro_meta_sim::{MetaSim, SimConfig};

fn image(seq: i64, wamid: &str, media_id: &str, sha256: &str) -> RelayEvent {
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P" },
            "contacts": [{ "profile": { "name": "Dee" }, "user_id": "US.1" }],
            "messages": [{ "from_user_id": "US.1", "id": wamid, "timestamp": "1760000000", "type": "image",
                           "image": { "id": media_id, "mime_type": "image/jpeg", "sha256": sha256, "caption": "my order" } }] }}]}]}),
    )
}

fn instagram_image(seq: i64) -> RelayEvent {
    RelayEvent::webhook(
        seq,
        json!({ "object": "instagram", "entry": [{ "id": "IG1", "time": 1760000000000i64, "messaging": [{
            "sender": { "id": "IGSID1" }, "recipient": { "id": "IG1" }, "timestamp": 1760000000000i64,
            "message": { "mid": "ig_m1", "attachments": [{ "type": "image", "payload": { "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1" } }] } }] }] }),
    )
}

async fn media_path(cache: &Cache, wamid: &str) -> Option<String> {
    sqlx::query_scalar("SELECT media_path FROM messages WHERE external_id = ?")
        .bind(wamid)
        .fetch_one(cache.pool())
        .await
        .unwrap()
}

/// A media pass's report: files stored, downloads to retry, downloads still waiting.
fn media_report(stored: usize, retrying: usize, waiting: usize) -> MediaReport {
    MediaReport {
        stored,
        retrying,
        waiting,
    }
}

#[tokio::test]
async fn whatsapp_media_is_verified_stored_once_by_content_and_retried_after_a_failure() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let token = sim.add_whatsapp_number("W", "P", "1555");
    let photo = b"\xff\xd8\xff\xe0 a photo of the broken mug".to_vec();
    let (media_a, media_b, sha) = {
        let mut state = sim.state();
        let a = state.add_media(photo.clone(), "image/jpeg");
        let b = state.add_media(photo.clone(), "image/jpeg"); // the same picture, sent again
        let sha = state.media_sha256(&a).unwrap();
        (a, b, sha)
    };
    let base = url::Url::parse(&sim.base_url()).unwrap();
    let graph = GraphClient::new(&sim.base_url())
        .unwrap()
        .with_media_policy(MediaHostPolicy::meta().allow_origin(&base));
    let secret = token.expose().to_string();
    let tokens = move |channel: &str| (channel == "whatsapp:P").then(|| AccessToken::new(&secret));

    let (dir, cache) =
        crate::support::cache_with(&[image(1, "wamid.A", &media_a, &sha), instagram_image(2)])
            .await;

    // The CDN fails once: the download waits with the reason, nothing half-written is kept.
    sim.state().fail_media_downloads(1);
    let now = now_ms();
    let report = media::download_due(&cache, &graph, &tokens, dir.path(), now, 10)
        .await
        .unwrap();
    assert_eq!(
        report,
        media_report(0, 1, 1),
        "only WhatsApp media is downloaded"
    );
    let pending = media::pending(&cache).await.unwrap();
    assert!(
        pending[0]
            .2
            .as_deref()
            .expect("the waiting download keeps its reason")
            .contains("temporary failure"),
        "{pending:?}"
    );
    assert_eq!(media_path(&cache, "wamid.A").await, None);

    // Not before its backoff…
    let early = media::download_due(&cache, &graph, &tokens, dir.path(), now + 1_000, 10)
        .await
        .unwrap();
    assert_eq!(early.stored, 0);
    // …then it succeeds, under its SHA-256.
    let later = now + media::backoff(0).as_millis() as i64;
    let report = media::download_due(&cache, &graph, &tokens, dir.path(), later, 10)
        .await
        .unwrap();
    assert_eq!(report, media_report(1, 0, 0));
    let stored = media_path(&cache, "wamid.A").await.unwrap();
    assert_eq!(
        std::path::PathBuf::from(&stored),
        media::path_for(dir.path(), &sha)
    );
    assert_eq!(std::fs::read(&stored).unwrap(), photo);

    // A redelivery of a stored message queues nothing; the same picture in another message is
    // kept once.
    crate::support::apply(
        &cache,
        &[
            image(3, "wamid.A", &media_a, &sha),
            image(4, "wamid.B", &media_b, &sha),
        ],
    )
    .await;
    let report = media::download_due(&cache, &graph, &tokens, dir.path(), later, 10)
        .await
        .unwrap();
    assert_eq!(report.stored, 1);
    assert_eq!(media_path(&cache, "wamid.B").await.unwrap(), stored);
    let files: Vec<_> = walk(&dir.path().join(media::MEDIA_DIR_NAME));
    assert_eq!(files.len(), 1, "{files:?}");

    // Instagram keeps Meta's URL only.
    let ig: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT media_url, media_path FROM messages WHERE external_id = 'ig_m1'")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert!(ig.0.unwrap().starts_with("https://lookaside.fbsbx.com/"));
    assert_eq!(ig.1, None);
}

#[tokio::test]
async fn a_failed_download_is_retried_when_the_message_is_delivered_again_and_a_missing_token_is_explained()
 {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let token = sim.add_whatsapp_number("W", "P", "1555");
    let media_id = sim.state().add_media(b"voice".to_vec(), "audio/ogg");
    let sha = sim.state().media_sha256(&media_id).unwrap();
    let base = url::Url::parse(&sim.base_url()).unwrap();
    let graph = GraphClient::new(&sim.base_url())
        .unwrap()
        .with_media_policy(MediaHostPolicy::meta().allow_origin(&base));
    let (dir, cache) = crate::support::cache_with(&[image(1, "wamid.V", &media_id, &sha)]).await;

    let no_tokens = |_: &str| None;
    let now = now_ms();
    for attempt in 0..3 {
        let at = now
            + (0..attempt)
                .map(|a| media::backoff(a).as_millis() as i64)
                .sum::<i64>();
        let report = media::download_due(&cache, &graph, &no_tokens, dir.path(), at, 10)
            .await
            .unwrap();
        assert_eq!(report.retrying, 1);
    }
    let pending = media::pending(&cache).await.unwrap();
    assert_eq!(pending[0].1, 3);
    assert!(
        pending[0]
            .2
            .as_deref()
            .unwrap()
            .contains("reconnect the channel")
    );

    // Meta redelivers the message: the download is due again at once, and now works.
    crate::support::apply(&cache, &[image(2, "wamid.V", &media_id, &sha)]).await;
    let secret = token.expose().to_string();
    let tokens = move |_: &str| Some(AccessToken::new(&secret));
    let report = media::download_due(&cache, &graph, &tokens, dir.path(), now_ms(), 10)
        .await
        .unwrap();
    assert_eq!(report.stored, 1);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
