//! What the WebDriver tests do with a window: wait, count, read, click, take a screenshot.

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator, key::Key};
use zentro_tests::app::{app_binary, artifacts_dir, skip_welcome};
use zentro_tests::webdriver::AppSession;

/// Waits (up to 60 s, naming it `what` if it times out) until `check` holds.
pub async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (timeout, every) = (Duration::from_secs(60), Duration::from_millis(250));
    zentro_tests::wait::until(what, timeout, every, check).await;
}

/// Waits (naming it `what`) until `css` matches exactly `n` elements.
pub async fn wait_for_count(client: &Client, what: &str, css: &str, n: usize) {
    wait_for(what, || async { count(client, css).await == n }).await;
}

/// Waits (naming it `what`) until the text of the first element `css` matches contains `needle`.
pub async fn wait_for_text(client: &Client, what: &str, css: &str, needle: &str) {
    wait_for(what, || async { text(client, css).await.contains(needle) }).await;
}

/// How many elements `css` matches. A WebDriver error fails the test rather than counting as
/// none, so a "nothing left" check cannot pass on an error.
pub async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("counting {css}: {e}"))
        .len()
}

/// The text of the first element `css` matches, or "" when there is none. An element replaced
/// while it is read is looked up again; any other WebDriver error fails the test.
pub async fn text(client: &Client, css: &str) -> String {
    for _ in 0..5 {
        let element = match client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) if e.is_no_such_element() => return String::new(),
            Err(e) => panic!("finding {css}: {e}"),
        };
        match element.text().await {
            Ok(text) => return text,
            Err(e) if e.is_stale_element_reference() => continue,
            Err(e) => panic!("reading {css}: {e}"),
        }
    }
    panic!("{css} was replaced every time it was read");
}

/// Saves a picture of the screen as `name` among the test's artifacts, once WebKit painted what
/// the test just did (two animation frames). The pixels come from the X server
/// ([`zentro_tests::screen`]), not from WebDriver's screenshot, which hangs the session when the
/// DMA-BUF renderer is off (ADR 0017).
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
    let display = zentro_tests::screen::current_display().expect("an app session is running");
    std::fs::write(&file, zentro_tests::screen::capture(&display).unwrap()).unwrap();
    eprintln!("screenshot: {}", file.display());
}

/// Clicks the element `css` names (it must be there), scrolled into view first as a person
/// would scroll to it: WebKit's driver does not scroll inside a panel that scrolls on its own
/// (the contact panel), and refuses an element outside the window as not interactable.
pub async fn click(client: &Client, css: &str) {
    let element = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    client
        .execute(
            "arguments[0].scrollIntoView({ block: 'center', inline: 'nearest' })",
            vec![serde_json::to_value(&element).unwrap()],
        )
        .await
        .unwrap_or_else(|e| panic!("scrolling to {css}: {e}"));
    element
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Which row of the conversation list to open.
enum Row<'a> {
    /// The `n`-th.
    At(usize),
    /// The first whose text contains this.
    Named(&'a str),
    /// The first whose text does not contain this.
    OtherThan(&'a str),
}

/// Picks a row, reads its name and clicks it in one step inside the page (the list reorders as
/// messages arrive, so a name read in one WebDriver call may belong to another row by the
/// next), then waits for that conversation to open; clicks again if it did not (a click that
/// landed while the list was re-rendering). Returns the name, or `None` when no row matches.
async fn open(client: &Client, row: Row<'_>) -> Option<String> {
    let (mode, index, needle) = match row {
        Row::At(n) => ("at", n, ""),
        Row::Named(name) => ("named", 0, name),
        Row::OtherThan(name) => ("other", 0, name),
    };
    let script = "const [mode, index, needle] = arguments;
        const rows = Array.from(document.querySelectorAll('[data-testid=conversation-row] button'));
        const row = mode === 'at' ? rows[index]
            : mode === 'named' ? rows.find((b) => b.innerText.includes(needle))
            : rows.find((b) => !b.innerText.includes(needle));
        if (!row) return null;
        const name = row.querySelector('[data-testid=conversation-name]').innerText;
        row.click();
        return name;";
    let args = vec![mode.into(), index.into(), needle.into()];
    for _ in 0..3 {
        let picked = client.execute(script, args.clone()).await.unwrap();
        let name: String = serde_json::from_value::<Option<String>>(picked).unwrap()?;
        let opened = zentro_tests::wait::within(
            Duration::from_secs(20),
            Duration::from_millis(250),
            || async { text(client, "[data-testid=conversation-title]").await == name },
        )
        .await;
        if opened {
            return Some(name);
        }
    }
    panic!("timed out waiting for the conversation to open");
}

/// Opens the `index`-th conversation of the list, returning its name.
pub async fn open_row(client: &Client, index: usize) -> String {
    open(client, Row::At(index))
        .await
        .unwrap_or_else(|| panic!("no conversation at row {index}"))
}

/// Opens the conversation named `name`.
pub async fn open_row_named(client: &Client, name: &str) {
    if open(client, Row::Named(name)).await.is_none() {
        panic!("no conversation named {name}");
    }
}

/// Opens a conversation other than `name`'s, returning its name.
pub async fn open_row_other_than(client: &Client, name: &str) -> String {
    open(client, Row::OtherThan(name))
        .await
        .unwrap_or_else(|| panic!("only {name}'s conversation is listed"))
}

/// Fills the field `css` names (it must be there) with `value`, replacing what it held. Typed
/// again if the field does not hold exactly `value` afterwards (keys typed while a dialog was
/// still opening can be lost, or land beside what the page filled in meanwhile).
pub async fn fill(client: &Client, css: &str, value: &str) {
    for _ in 0..3 {
        let field = client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
        if field.prop("value").await.unwrap().as_deref() == Some(value) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{css} would not hold what was typed into it");
}

/// Types `keys` into the element `css` names (it must be there), after what it holds.
pub async fn type_into(client: &Client, css: &str, keys: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

/// Sends `reply` from the open conversation's composer (typed, then Enter).
pub async fn send_reply(client: &Client, reply: &str) {
    let input = client
        .find(Locator::Css("[data-testid=composer-input]"))
        .await
        .unwrap();
    input.send_keys(reply).await.unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
}

/// Waits (naming it `what`) until the status bar says sync is live.
pub async fn wait_for_live_sync(client: &Client, what: &str) {
    wait_for(what, || async {
        let Ok(sync) = client.find(Locator::Css("[data-testid=sync-status]")).await else {
            return false;
        };
        sync.attr("data-phase").await.ok().flatten().as_deref() == Some("live")
    })
    .await;
}

/// Starts the app on `data_dir` (`ZENTRO_DATA_DIR`), with `envs` added to its environment.
pub async fn start_app(data_dir: &Path, envs: &[(&str, &str)]) -> AppSession {
    let dir = data_dir.to_string_lossy().into_owned();
    let mut all = vec![("ZENTRO_DATA_DIR", dir.as_str())];
    all.extend_from_slice(envs);
    AppSession::start(&app_binary().unwrap(), &all)
        .await
        .unwrap()
}

/// The app in the sandbox on `data_dir` (the welcome skipped, customers answering replies only),
/// as soon as it started; `extra` adds environment variables.
pub async fn sandbox_app(data_dir: &Path, extra: &[(&str, &str)]) -> AppSession {
    skip_welcome(data_dir).unwrap();
    let mut envs = vec![("ZENTRO_SANDBOX", "1"), ("ZENTRO_SANDBOX_PACE", "3600")];
    envs.extend_from_slice(extra);
    start_app(data_dir, &envs).await
}

/// The app in the sandbox on `data_dir` (see [`sandbox_app`]), once the six opening
/// conversations are listed; `extra` adds environment variables.
pub async fn sandbox_session(data_dir: &Path, extra: &[(&str, &str)]) -> AppSession {
    let session = sandbox_app(data_dir, extra).await;
    wait_for("the sandbox's six conversations", || async {
        count(&session.client, "[data-testid=conversation-row]").await >= 6
    })
    .await;
    session
}

/// Signs the desk in `client` in from its first-run welcome: `relay`, `email`, `password`.
pub async fn sign_in_from_welcome(client: &Client, relay: &str, email: &str, password: &str) {
    wait_for_count(client, "the welcome", "[data-testid=welcome-sign-in]", 1).await;
    click(client, "[data-testid=welcome-sign-in]").await;
    fill(client, "[data-testid=sign-in-relay]", relay).await;
    fill(client, "[data-testid=sign-in-email]", email).await;
    fill(client, "[data-testid=sign-in-password]", password).await;
    click(client, "[data-testid=sign-in-submit]").await;
}

/// Invites `email` from the Team page's member list (open): returns the one-time code it shows.
pub async fn invite(client: &Client, email: &str) -> String {
    fill(client, "[data-testid=invite-email]", email).await;
    click(client, "[data-testid=invite-submit]").await;
    wait_for("the invitation code", || async {
        text(client, "[data-testid=invitation-code]").await.len() == 24
    })
    .await;
    text(client, "[data-testid=invitation-code]").await
}

/// Waits until the desk left the sandbox for the team relay's workspace ("Acme Support") and
/// syncs with it live.
pub async fn wait_for_team_workspace(client: &Client) {
    wait_for("the team's workspace", || async {
        count(client, "[data-testid=sandbox-banner]").await == 0
            && text(client, ".workspace").await == "Acme Support"
    })
    .await;
    wait_for_live_sync(client, "live sync with the team's relay").await;
}
