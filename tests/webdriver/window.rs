//! The main window comes back at the size the user left it.

use std::time::Duration;

use zentro_tests::app::{app_binary, skip_welcome};
use zentro_tests::webdriver::AppSession;

use crate::ui::wait_for;

async fn start(data_dir: &str) -> AppSession {
    AppSession::start(
        &app_binary().unwrap(),
        &[("ZENTRO_DATA_DIR", data_dir), ("ZENTRO_SANDBOX", "0")],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_reopens_at_the_size_it_was_left() {
    let data = tempfile::tempdir().unwrap();
    skip_welcome(data.path()).unwrap();
    let data_dir = data.path().to_string_lossy().into_owned();
    let file = data.path().join("window.json");

    let session = start(&data_dir).await;
    let (width, height) = session.client.get_window_size().await.unwrap();
    assert!(width >= 900 && height >= 560, "{width}x{height}");
    session.client.set_window_size(1040, 690).await.unwrap();
    wait_for("the new size saved", || async {
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["width"] == 1040 && v["height"] == 690)
    })
    .await;
    session.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let session = start(&data_dir).await;
    wait_for("the window at its saved size", || async {
        session.client.get_window_size().await.unwrap_or_default() == (1040, 690)
    })
    .await;
    session.close().await.unwrap();
}
