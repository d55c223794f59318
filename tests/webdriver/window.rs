//! The main window comes back at the size the user left it, and a second launch on the same
//! data folder hands over to the running app instead of starting another.

use std::time::Duration;

use zentro_tests::app::{app_binary, skip_welcome};
use zentro_tests::webdriver::AppSession;

use crate::ui::{wait_for, wait_for_count};

pub async fn start(data_dir: &str) -> AppSession {
    crate::ui::start_app(std::path::Path::new(data_dir), &[("ZENTRO_SANDBOX", "0")]).await
}

/// Launches the app a second time on `data_dir` (same display and D-Bus session as `session`)
/// with `args`, and waits for it to exit, as it does when an app already runs there.
pub async fn launch_again(
    session: &AppSession,
    data_dir: &str,
    args: &[&str],
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    let mut second = std::process::Command::new(app_binary().unwrap())
        .args(args)
        .env("ZENTRO_DATA_DIR", data_dir)
        .env("DISPLAY", session.display())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    loop {
        if let Some(status) = second.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = second.kill();
            panic!("the second launch is still running: it started a second app");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_launch_on_the_same_data_folder_hands_over_and_exits() {
    let data = tempfile::tempdir().unwrap();
    skip_welcome(data.path()).unwrap();
    let data_dir = data.path().to_string_lossy().into_owned();
    let session = start(&data_dir).await;
    let first = session.client.window().await.unwrap();

    // Launched again (same D-Bus session, same display, same folder): it exits at once, with
    // success, after handing its arguments to the running app.
    let status = launch_again(&session, &data_dir, &[]).await;
    assert!(status.success(), "{status}");
    // The first app is untouched and still answers.
    assert_eq!(session.client.window().await.unwrap(), first);
    assert_eq!(session.client.windows().await.unwrap().len(), 1);
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_minimized_the_window_stays_hidden_until_the_app_is_launched_again() {
    let data = tempfile::tempdir().unwrap();
    skip_welcome(data.path()).unwrap();
    std::fs::write(
        data.path().join("preferences.json"),
        r#"{"start_minimized": true}"#,
    )
    .unwrap();
    let data_dir = data.path().to_string_lossy().into_owned();
    let session = start(&data_dir).await;
    let visibility = || async {
        let state = session
            .client
            .execute("return document.visibilityState", vec![])
            .await
            .unwrap();
        state
            .as_str()
            .unwrap_or_else(|| panic!("visibilityState is not a string: {state}"))
            .to_string()
    };
    // Only the tray icon shows; the inbox loads behind it. Ready means the UI has asked the app
    // for the cache's status and shown the answer (a command answered, the window's page live).
    wait_for_count(
        &session.client,
        "the inbox's cache status, loaded behind the tray",
        "[data-testid=cache-status]",
        1,
    )
    .await;
    assert_eq!(
        visibility().await,
        "hidden",
        "the window showed although the app was to start in the tray"
    );
    let log = read_logs(data.path());
    assert!(
        log.contains("starting minimized to the tray"),
        "the app did not say it started in the tray: {log}"
    );

    // Launching it again (or the tray's "Open Zentro Desk") brings the window.
    assert!(launch_again(&session, &data_dir, &[]).await.success());
    wait_for("the window shown", || async {
        visibility().await == "visible"
    })
    .await;
    session.close().await.unwrap();
}

/// Everything the app has logged in `data_dir`'s log folder so far.
fn read_logs(data_dir: &std::path::Path) -> String {
    let mut logged = String::new();
    for entry in std::fs::read_dir(data_dir.join("logs")).expect("a logs folder") {
        logged.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    logged
}
