use std::time::Duration;

use fantoccini::Locator;
use zentro_core::Cache;

use crate::ui::{screenshot, start_app};

/// Puts a few real rows in a cache file, as sync would, so the UI must show what the file holds.
async fn seed_cache(data_dir: &std::path::Path) {
    let cache = Cache::open_in(data_dir).await.unwrap();
    sqlx::query(
        "INSERT INTO channels (id, kind, external_id, created_at) VALUES ('ch1', 'whatsapp', '106540352242922', 0);
         INSERT INTO contacts (id, channel_id, external_id, display_name, created_at)
             VALUES (1, 'ch1', 'US.13491208655302741918', 'Sheena Nelson', 0),
                    (2, 'ch1', 'US.99', 'Ana', 0);
         INSERT INTO conversations (id, contact_id, last_activity_at, created_at) VALUES (1, 1, 0, 0), (2, 2, 0, 0);
         INSERT INTO messages (conversation_id, external_id, direction, kind, body, sent_at)
             VALUES (1, 'wamid.1', 'inbound', 'text', 'Does it come in another color?', 0),
                    (1, 'wamid.2', 'outbound', 'text', 'Yes, in blue.', 1),
                    (2, 'wamid.3', 'inbound', 'text', 'Hi', 2);",
    )
    .execute(cache.pool())
    .await
    .unwrap();
    cache.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_shows_the_inbox_layout_and_the_real_cache_status() {
    let data = tempfile::tempdir().unwrap();
    seed_cache(data.path()).await;
    zentro_tests::app::skip_welcome(data.path()).unwrap();
    let data_dir = data.path().to_string_lossy().into_owned();

    // Not the sandbox: nobody is signed in, so the app shows what the cache holds, read-only.
    let session = start_app(data.path(), &[("ZENTRO_SANDBOX", "0")]).await;
    let client = &session.client;

    assert_eq!(client.title().await.unwrap(), "Zentro Desk");
    for region in [
        "conversation-list",
        "conversation-pane",
        "contact-panel",
        "status-bar",
    ] {
        let element = client
            .find(Locator::Css(&format!("[data-testid={region}]")))
            .await;
        assert!(element.is_ok(), "the inbox layout has no {region}");
    }

    // The status bar appears only after the UI's command opened the cache file and counted rows.
    let status = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=cache-status]"))
        .await
        .expect("the cache status never appeared in the status bar");
    // WebKit paints the update before the picture is taken.
    screenshot(client, "inbox-offline-cache.png").await;

    let text = status.text().await.unwrap();
    let schema = format!("schema v{}", zentro_core::cache::migrator().iter().count());
    assert!(text.contains(&schema), "status bar: {text}");
    assert!(
        text.contains("2 conversations, 3 messages, 2 contacts"),
        "status bar: {text}"
    );
    let cache_file = format!("{data_dir}/cache.sqlite");
    assert!(
        text.contains(&cache_file),
        "the status bar must name {cache_file}: {text}"
    );

    // The list shows what the file holds, without any network.
    let names = texts(client, "[data-testid=conversation-name]").await;
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Sheena Nelson".to_string()), "{names:?}");
    let sync = client
        .find(Locator::Css("[data-testid=sync-status]"))
        .await
        .unwrap();
    assert_eq!(
        sync.attr("data-phase").await.unwrap().as_deref(),
        Some("stopped")
    );

    session.close().await.unwrap();
}

async fn texts(client: &fantoccini::Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in client.find_all(Locator::Css(css)).await.unwrap() {
        out.push(element.text().await.unwrap());
    }
    out
}
