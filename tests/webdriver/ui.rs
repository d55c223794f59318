//! What the WebDriver tests do with a window: wait, count, read, click, take a screenshot.

use std::time::Duration;

use fantoccini::{Client, Locator};
use zentro_tests::app::artifacts_dir;

pub async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

pub async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub async fn screenshot(client: &Client, name: &str) {
    client
        .execute_async(
            "requestAnimationFrame(() => requestAnimationFrame(arguments[0]))",
            vec![],
        )
        .await
        .unwrap();
    let dir = artifacts_dir().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, client.screenshot().await.unwrap()).unwrap();
    eprintln!("screenshot: {}", file.display());
}

/// Clicks the element `css` names (it must be there).
pub async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Opens the `index`-th conversation of the list, returning its name.
pub async fn open_row(client: &Client, index: usize) -> String {
    let rows = client
        .find_all(Locator::Css("[data-testid=conversation-row] button"))
        .await
        .unwrap();
    // The name first: the list may reorder as messages arrive.
    let name = rows[index]
        .find(Locator::Css("[data-testid=conversation-name]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    rows[index].click().await.unwrap();
    wait_for("the conversation to open", || async {
        text(client, "[data-testid=conversation-title]").await == name
    })
    .await;
    name
}

/// Opens the conversation named `name`.
pub async fn open_row_named(client: &Client, name: &str) {
    let rows = client
        .find_all(Locator::Css("[data-testid=conversation-row] button"))
        .await
        .unwrap();
    for (i, row) in rows.iter().enumerate() {
        if row.text().await.unwrap_or_default().contains(name) {
            open_row(client, i).await;
            return;
        }
    }
    panic!("no conversation named {name}");
}

/// Opens a conversation other than `name`'s, returning its name.
pub async fn open_row_other_than(client: &Client, name: &str) -> String {
    let rows = client
        .find_all(Locator::Css("[data-testid=conversation-row] button"))
        .await
        .unwrap();
    for (i, row) in rows.iter().enumerate() {
        if !row.text().await.unwrap_or_default().contains(name) {
            return open_row(client, i).await;
        }
    }
    panic!("only {name}'s conversation is listed");
}

/// The app in the sandbox on `data_dir` (the welcome skipped, customers answering replies only),
/// once the six opening conversations are listed; `extra` adds environment variables.
pub async fn sandbox_session(
    data_dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> zentro_tests::webdriver::AppSession {
    zentro_tests::app::skip_welcome(data_dir).unwrap();
    let dir = data_dir.to_string_lossy().into_owned();
    let mut envs = vec![
        ("ZENTRO_DATA_DIR", dir.as_str()),
        ("ZENTRO_SANDBOX", "1"),
        ("ZENTRO_SANDBOX_PACE", "3600"),
    ];
    envs.extend_from_slice(extra);
    let session = zentro_tests::webdriver::AppSession::start(
        &zentro_tests::app::app_binary().unwrap(),
        &envs,
    )
    .await
    .unwrap();
    wait_for("the sandbox's six conversations", || async {
        count(&session.client, "[data-testid=conversation-row]").await >= 6
    })
    .await;
    session
}
