//! Connecting WhatsApp in the real app: the owner opens the Channels tab, Embedded Signup runs in
//! the app's own locked-down window (the relay's signup page) with Meta's dialog as its popup
//! (meta-sim's stand-in, in the sandbox), and the new channel shows as connected.

use std::time::Duration;

use fantoccini::wd::WindowHandle;
use fantoccini::{Client, Locator};
use zentro_tests::webdriver::AppSession;

use crate::ui::{
    click, count, sandbox_app, screenshot, text, type_into, wait_for, wait_for_count, wait_for_text,
};

/// Waits for a window that is not in `known` and switches to it.
async fn switch_to_new_window(client: &Client, known: &[WindowHandle], what: &str) -> WindowHandle {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let handles = client.windows().await.unwrap_or_default();
        if let Some(handle) = handles.into_iter().find(|h| !known.contains(h)) {
            client.switch_to_window(handle.clone()).await.unwrap();
            return handle;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The windows of a signup under way: the app's main window and the relay's signup page.
struct Signup {
    session: AppSession,
    main: WindowHandle,
    page: WindowHandle,
}

/// The app in the sandbox (past the welcome, customers quiet) with its data in `data`, its
/// Channels tab open and `button` clicked: switched to the signup window that opened.
async fn start_signup(data: &tempfile::TempDir, button: &str) -> Signup {
    let session = sandbox_app(data.path(), &[]).await;
    let client = &session.client;
    open_channels(client).await;
    let main = client.window().await.unwrap();
    click(client, button).await;
    // The relay's signup page, in its own window.
    let page = switch_to_new_window(client, std::slice::from_ref(&main), "the signup window").await;
    Signup {
        session,
        main,
        page,
    }
}

impl Signup {
    /// Switches to the popup Meta's dialog opens (named `what` if it never does).
    async fn switch_to_metas_popup(&self, what: &str) {
        let known = [self.main.clone(), self.page.clone()];
        switch_to_new_window(&self.session.client, &known, what).await;
    }

    /// Switches back to the main window and waits until the notice `css` (the Channels tab's
    /// notice or problem) says `needle`.
    async fn outcome(&self, css: &str, needle: &str) {
        self.back_to(&self.main).await;
        wait_for_text(&self.session.client, "the outcome", css, needle).await;
    }

    /// Switches back to `window`.
    async fn back_to(&self, window: &WindowHandle) {
        self.session
            .client
            .switch_to_window(window.clone())
            .await
            .unwrap();
    }
}

async fn open_channels(client: &Client) {
    wait_for("the sandbox's conversations", || async {
        count(client, "[data-testid=conversation-row]").await >= 6
    })
    .await;
    click(client, "[data-testid=open-team]").await;
    click(client, "[data-testid=team-tab-channels]").await;
    wait_for_count(
        client,
        "the sandbox's three channels",
        "[data-testid=team-channel]",
        3,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_connects_whatsapp_through_embedded_signup_in_the_apps_window() {
    let data = tempfile::tempdir().unwrap();
    let signup = start_signup(&data, "[data-testid=connect-whatsapp]").await;
    let client = &signup.session.client;
    wait_for_text(client, "the signup page", "h1", "Connect WhatsApp").await;
    assert_eq!(
        client.title().await.unwrap(),
        "Connect WhatsApp — Zentro Desk"
    );
    // The page has no way into the app's commands: Tauri refuses them to this window.
    let answer = client
        .execute_async(
            "const done = arguments[0];
             const ipc = window.__TAURI_INTERNALS__;
             if (!ipc || typeof ipc.invoke !== 'function') { done('no ipc'); return; }
             ipc.invoke('channels').then((v) => done('allowed: ' + JSON.stringify(v)), (e) => done('refused: ' + String(e)));",
            vec![],
        )
        .await
        .unwrap();
    let answer = answer.as_str().unwrap_or_default().to_string();
    eprintln!("signup window IPC: {answer}");
    assert!(
        answer == "no ipc" || answer.starts_with("refused"),
        "the signup window reached a command: {answer}"
    );
    // A PIN is needed first.
    click(client, "#connect").await;
    wait_for_text(client, "the PIN hint", "#status", "six digits").await;
    type_into(client, "#pin", "246810").await;
    screenshot(client, "signup-page.png").await;
    click(client, "#connect").await;

    // Meta's dialog opens as a popup of the page.
    signup.switch_to_metas_popup("Meta's dialog").await;
    wait_for_count(client, "the dialog", "#finish", 1).await;
    screenshot(client, "signup-meta-dialog.png").await;
    click(client, "#finish").await;

    // The windows close by themselves; the Channels tab says what happened.
    signup
        .outcome("[data-testid=team-notice]", "Connected")
        .await;
    wait_for("the signup windows to close", || async {
        client.windows().await.map(|w| w.len()).unwrap_or(0) == 1
    })
    .await;
    wait_for_count(client, "the new channel", "[data-testid=team-channel]", 4).await;
    let rows = client
        .find_all(Locator::Css("[data-testid=team-channel]"))
        .await
        .unwrap();
    let mut new_row = String::new();
    for row in rows {
        let row_text = row.text().await.unwrap();
        if row_text.contains("+1555") {
            new_row = row_text;
        }
    }
    assert!(new_row.contains("Connected"), "{new_row}");
    assert!(new_row.contains("stored (v1)"), "{new_row}");
    screenshot(client, "signup-connected.png").await;
    signup.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_meta_dialog_connects_nothing_and_says_so() {
    let data = tempfile::tempdir().unwrap();
    let signup = start_signup(&data, "[data-testid=connect-whatsapp]").await;
    let client = &signup.session.client;
    wait_for_count(client, "the signup page", "#pin", 1).await;
    type_into(client, "#pin", "246810").await;
    click(client, "#connect").await;
    signup.switch_to_metas_popup("Meta's dialog").await;
    wait_for_count(client, "the dialog", "#cancel", 1).await;
    click(client, "#cancel").await;
    signup
        .outcome("[data-testid=team-problem]", "cancelled")
        .await;
    assert!(
        text(client, "[data-testid=team-problem]")
            .await
            .contains("PHONE_NUMBER_SETUP")
    );
    assert_eq!(count(client, "[data-testid=team-channel]").await, 3);
    signup.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_connects_a_facebook_page_and_its_instagram_account() {
    let data = tempfile::tempdir().unwrap();
    let signup = start_signup(&data, "[data-testid=connect-pages]").await;
    let client = &signup.session.client;
    wait_for_count(client, "the Pages page", "#login", 1).await;
    assert_eq!(
        client.title().await.unwrap(),
        "Connect Facebook Pages and Instagram — Zentro Desk"
    );
    click(client, "#login").await;
    // Meta's login dialog: the owner shares their Pages.
    signup.switch_to_metas_popup("Meta's login").await;
    wait_for_count(client, "the login dialog", "#share-pages", 1).await;
    click(client, "#share-pages").await;
    // Back on the relay's page: choose what to connect.
    signup.back_to(&signup.page).await;
    wait_for_count(
        client,
        "the Pages to choose from",
        "#choose input[type=checkbox]",
        2,
    )
    .await;
    let choices = text(client, "#choose").await;
    assert!(
        choices.contains("Sandbox Coffee Roastery") && choices.contains("@sandboxroastery"),
        "{choices}"
    );
    screenshot(client, "signup-pages-choice.png").await;
    click(client, "#connect").await;
    signup
        .outcome("[data-testid=team-notice]", "@sandboxroastery")
        .await;
    wait_for_count(
        client,
        "the two new channels",
        "[data-testid=team-channel]",
        5,
    )
    .await;
    screenshot(client, "signup-pages-connected.png").await;
    signup.session.close().await.unwrap();
}
