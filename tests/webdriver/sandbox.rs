//! The README's run command on a fresh computer: the sandbox, with customers writing in, driven
//! in the real WebKit window.

use fantoccini::{Client, Locator, key::Key};

use zentro_tests::team::{ACME_SUPPORT, PASSWORD, TeamRelay};

use crate::ui::{
    click, count, fill, invite, screenshot, send_reply, sign_in_from_welcome, start_app, text,
    wait_for, wait_for_count, wait_for_live_sync, wait_for_team_workspace, wait_for_text,
};

async fn open_conversation(client: &Client, name: &str) {
    crate::ui::open_row_named(client, name).await;
    wait_for("the conversation to open", || async {
        text(client, "[data-testid=conversation-title]").await == name
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_sandbox_an_agent_reads_replies_sees_ticks_searches_and_assigns() {
    let data = tempfile::tempdir().unwrap();
    // No ZENTRO_SANDBOX: a first start (nobody signed in) opens the sandbox by itself. Customers
    // only answer replies here (no unprompted chatter), so what the test sees is deterministic.
    let session = start_app(data.path(), &[("ZENTRO_SANDBOX_PACE", "3600")]).await;
    let client = &session.client;

    wait_for_count(
        client,
        "the sandbox banner",
        "[data-testid=sandbox-banner]",
        1,
    )
    .await;
    // A first start asks once: the sandbox or a team's relay.
    wait_for_count(client, "the welcome", "[data-testid=welcome]", 1).await;
    click(client, "[data-testid=welcome-sandbox]").await;
    wait_for("six customers' conversations", || async {
        count(client, "[data-testid=conversation-row]").await >= 6
    })
    .await;
    wait_for_live_sync(client, "sync to be live").await;

    // A customer's photo and text, as they sent them.
    open_conversation(client, "Ana Souza").await;
    wait_for_count(client, "Ana's photo", "[data-kind=image] img", 1).await;
    assert!(
        text(client, "[data-testid=messages]")
            .await
            .contains("order #4821")
    );
    screenshot(client, "sandbox-conversation-light.png").await;

    // The agent replies; Meta (the stand-in) accepts it; delivered, then read, ticks arrive.
    let before = count(client, "[data-testid=message]").await;
    send_reply(client, "It left our warehouse yesterday, arriving Friday.").await;
    wait_for("the read ticks on the reply", || async {
        let Ok(ticks) = client
            .find_all(Locator::Css("[data-testid=delivery]"))
            .await
        else {
            return false;
        };
        for tick in ticks {
            if tick.attr("data-status").await.ok().flatten().as_deref() == Some("read") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        text(client, "[data-testid=messages]")
            .await
            .contains("arriving Friday")
    );
    // Ana answers (a message, a quoted reply or a reaction) a few seconds later: wait for it, so it
    // does not reopen the conversation after it is resolved below.
    wait_for("Ana's answer", || async {
        count(client, "[data-testid=message]").await >= before + 2
            || count(client, "[data-testid=reaction]").await >= 1
    })
    .await;

    // Assign to me and resolve: the header follows once the team event came back from the relay.
    click(client, "[data-testid=assign-me]").await;
    wait_for_count(client, "the assignment", "[data-testid=unassign]", 1).await;
    click(client, "[data-testid=resolve]").await;
    wait_for_count(client, "the resolved status", "[data-testid=reopen]", 1).await;

    // Search finds an older message in another conversation and jumps to it.
    click(client, "[data-testid=open-search]").await;
    let search = client
        .find(Locator::Css("[data-testid=search-input]"))
        .await
        .unwrap();
    search.send_keys("refu").await.unwrap();
    wait_for("a search hit", || async {
        count(client, "[data-testid=search-hit]").await >= 1
    })
    .await;
    assert!(
        text(client, "[data-testid=search-hit]")
            .await
            .to_lowercase()
            .contains("refund")
    );
    search.send_keys(&Key::Enter.to_string()).await.unwrap();
    wait_for("the hit's conversation", || async {
        text(client, "[data-testid=conversation-title]").await == "Eli Marsh"
    })
    .await;
    wait_for_text(client, "the highlighted message", ".highlighted", "refund").await;
    screenshot(client, "sandbox-search-jump-light.png").await;

    // Reports, computed from this desk's cache: the customers' messages and the reply above count,
    // and the heatmap is drawn.
    click(client, "[data-testid=open-reports]").await;
    wait_for_count(
        client,
        "the report's tiles",
        "[data-testid=report-tiles]",
        1,
    )
    .await;
    let figure = |testid: &'static str| async move {
        text(client, &format!("[data-testid={testid}] strong"))
            .await
            .trim()
            .replace([',', '.', '\u{a0}', ' '], "")
            .parse::<i64>()
            .unwrap_or(0)
    };
    wait_for("the reply among the messages sent", || async {
        figure("tile-sent").await >= 1
    })
    .await;
    assert!(
        figure("tile-received").await >= 6,
        "every sandbox customer wrote"
    );
    wait_for_count(client, "the heatmap", "[data-testid=heat-cell]", 7 * 24).await;
    screenshot(client, "sandbox-reports-light.png").await;

    session.close().await.unwrap();

    // The session's log file is in the data folder's logs, and holds no message text.
    let logs = data.path().join("logs");
    let mut logged = String::new();
    for entry in std::fs::read_dir(&logs).expect("a logs folder") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("zentro-desk.") && name.ends_with(".log"),
            "{name}"
        );
        logged.push_str(&std::fs::read_to_string(&path).unwrap());
    }
    assert!(
        logged.contains("starting"),
        "the app logged its start: {logged}"
    );
    for text in ["order #4821", "It left our warehouse yesterday", "refund"] {
        assert!(
            !logged.contains(text),
            "the log holds message text {text:?}"
        );
    }
}

/// An sRGB colour as `getComputedStyle` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Colour {
    rgb: [f64; 3],
    alpha: f64,
}

impl Colour {
    /// Parses `rgb(r, g, b)` or `rgba(r, g, b, a)`.
    fn parse(css: &str) -> Self {
        let inner = css
            .strip_prefix("rgba(")
            .or_else(|| css.strip_prefix("rgb("))
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| panic!("not an rgb() colour: {css:?}"));
        let parts: Vec<f64> = inner
            .split(',')
            .map(|p| {
                p.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("not an rgb() colour: {css:?}"))
            })
            .collect();
        assert!(
            parts.len() == 3 || parts.len() == 4,
            "not an rgb() colour: {css:?}"
        );
        Self {
            rgb: [parts[0], parts[1], parts[2]],
            alpha: parts.get(3).copied().unwrap_or(1.0),
        }
    }

    /// WCAG relative luminance: 0 for black, 1 for white.
    fn luminance(&self) -> f64 {
        let linear = |c: f64| {
            let c = c / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.rgb.map(linear);
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }
}

/// What the inbox draws: the page's background, and the conversation list's background and text.
#[derive(Debug)]
struct Drawn {
    page: Colour,
    list: Colour,
    list_text: Colour,
}

/// Reads the colours WebKit computed for the inbox, after checking which scheme it reports.
async fn drawn_colours(client: &Client, dark: bool) -> Drawn {
    let scheme = client
        .execute(
            "return window.matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert_eq!(
        scheme, dark,
        "WebKit did not report the system theme (dark expected: {dark})"
    );
    let colours = client
        .execute(
            "const list = document.querySelector('[data-testid=conversation-list]');
             const root = getComputedStyle(document.documentElement);
             const drawn = getComputedStyle(list);
             return [root.backgroundColor, drawn.backgroundColor, drawn.color];",
            vec![],
        )
        .await
        .unwrap();
    let colours: Vec<String> = serde_json::from_value(colours).unwrap();
    let drawn = Drawn {
        page: Colour::parse(&colours[0]),
        list: Colour::parse(&colours[1]),
        list_text: Colour::parse(&colours[2]),
    };
    for colour in [drawn.page, drawn.list, drawn.list_text] {
        assert_eq!(colour.alpha, 1.0, "a see-through colour: {drawn:?}");
    }
    drawn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_inbox_is_drawn_light_or_dark_with_the_system_theme() {
    // The same inbox under GTK's light and dark Adwaita: WebKit reports the preference and the
    // app's stylesheet follows it, so the colours it draws are light on dark or dark on light.
    let mut seen = Vec::new();
    for (theme, dark) in [("Adwaita", false), ("Adwaita:dark", true)] {
        let data = tempfile::tempdir().unwrap();
        let session = crate::ui::sandbox_session(data.path(), &[("GTK_THEME", theme)]).await;
        let client = &session.client;
        open_conversation(client, "Dara Okafor").await;
        let drawn = drawn_colours(client, dark).await;
        screenshot(
            client,
            if dark {
                "sandbox-conversation-dark.png"
            } else {
                "sandbox-conversation-system-light.png"
            },
        )
        .await;
        session.close().await.unwrap();
        let (page, list, text) = (
            drawn.page.luminance(),
            drawn.list.luminance(),
            drawn.list_text.luminance(),
        );
        if dark {
            assert!(
                page < 0.05 && list < 0.05,
                "the dark inbox has a light background: {drawn:?}"
            );
            assert!(text > 0.5, "the dark inbox has dark text: {drawn:?}");
        } else {
            assert!(
                page > 0.7 && list > 0.7,
                "the light inbox has a dark background: {drawn:?}"
            );
            assert!(text < 0.1, "the light inbox has light text: {drawn:?}");
        }
        seen.push(drawn);
    }
    let (light, dark) = (&seen[0], &seen[1]);
    assert!(
        light.list.luminance() > dark.list.luminance()
            && light.list_text.luminance() < dark.list_text.luminance(),
        "the themes do not differ the right way: light {light:?}, dark {dark:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_click_leaves_the_sandbox_for_a_team_relay() {
    // A team's relay on loopback, with one workspace.
    let relay = TeamRelay::start(&ACME_SUPPORT, |store, _| async { store }, |_| {}).await;
    let relay_url = relay.url.clone();

    let data = tempfile::tempdir().unwrap();
    let session = start_app(
        data.path(),
        &[("ZENTRO_SANDBOX", "1"), ("ZENTRO_SANDBOX_PACE", "3600")],
    )
    .await;
    let client = &session.client;
    // The first-run welcome offers the team's relay right away.
    sign_in_from_welcome(client, &relay_url, "ana@acme.test", "not the password").await;
    wait_for_text(
        client,
        "the refusal",
        "[data-testid=sign-in] [role=alert]",
        "Wrong email or password",
    )
    .await;

    fill(client, "[data-testid=sign-in-password]", PASSWORD).await;
    click(client, "[data-testid=sign-in-submit]").await;
    // The sandbox is gone; the team's (empty) inbox syncs live.
    wait_for_team_workspace(client).await;
    assert!(count(client, "[data-testid=conversation-list-empty]").await == 1);
    let account = std::fs::read_to_string(data.path().join("account.json")).unwrap();
    assert!(account.contains("ana@acme.test"));
    assert!(
        !account.contains("correct horse"),
        "no secret in the account file"
    );
    let remembered = std::fs::read_to_string(data.path().join("sign-in.json")).unwrap();
    assert!(
        remembered.contains(&relay_url),
        "the relay is remembered: {remembered}"
    );

    // The owner's Team page: invite a teammate, get the one-time code, see it in the audit log.
    click(client, "[data-testid=open-team]").await;
    wait_for_text(client, "the team", "[data-testid=team-me]", "(owner)").await;
    invite(client, "bo@acme.test").await;
    wait_for("the invited member in the list", || async {
        count(
            client,
            "[data-testid=team-member][data-email='bo@acme.test']",
        )
        .await
            == 1
    })
    .await;
    click(client, "[data-testid=team-tab-audit]").await;
    wait_for("the audit log", || async {
        count(
            client,
            "[data-testid=audit-entry][data-action='member.invited']",
        )
        .await
            == 1
            && count(client, "[data-testid=audit-entry][data-action=sign_in]").await >= 1
    })
    .await;
    screenshot(client, "team-audit-log.png").await;

    session.close().await.unwrap();
    relay.stop().await;
}

/// The app's log, as written so far in `data_dir`'s logs.
fn app_log(data_dir: &std::path::Path) -> String {
    let Ok(entries) = std::fs::read_dir(data_dir.join("logs")) else {
        return String::new();
    };
    entries
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default())
        .collect()
}

/// Waits until the first run's sandbox, started behind the welcome, finished starting (it then
/// ran until the sign-in stopped it, or was stopped at once as outdated) and checks that the
/// desk still shows the team's workspace, not the sandbox.
async fn still_the_team_after_the_sandbox_started(client: &Client, data_dir: &std::path::Path) {
    wait_for("the sandbox's start to end", || async {
        app_log(data_dir).contains("kind=Sandbox")
    })
    .await;
    // The race went the way the test is about: the sandbox finished starting after the sign-in
    // began, and was stopped as outdated (a sandbox up first would prove nothing).
    let log = app_log(data_dir);
    let ended = log
        .lines()
        .find(|l| l.contains("kind=Sandbox"))
        .unwrap_or_default();
    assert!(
        ended.contains("desk started after a newer one"),
        "the sandbox was meant to finish starting after the sign-in: {ended}"
    );
    let came_back = zentro_tests::wait::within(
        std::time::Duration::from_secs(3),
        std::time::Duration::from_millis(250),
        || async {
            count(client, "[data-testid=sandbox-banner]").await > 0
                || text(client, ".workspace").await != "Acme Support"
        },
    )
    .await;
    assert!(!came_back, "the sandbox replaced the team's desk");
}

/// The first run's sandbox starts in the background, and a person who signs in or joins from
/// the welcome at once can be quicker (here, always: asserted): the desk must stay the team's. (It did not: the
/// sandbox finishing last replaced it, so the owner's invitation went to the sandbox's relay and
/// the team's relay refused the code as not valid.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signs_in_and_an_agent_joins_from_the_welcome_while_the_sandbox_starts() {
    let relay = TeamRelay::start(&ACME_SUPPORT, |store, _| async { store }, |_| {}).await;
    // The sandbox starts 25 s late, as on a slow computer: both sign in before it is up.
    let slow = [
        ("ZENTRO_SANDBOX_PACE", "3600"),
        ("ZENTRO_SANDBOX_START_DELAY", "25"),
    ];

    // Ana, the owner, on a new computer: she signs in from the welcome right away, and invites
    // Bo on the Team page.
    let ana = tempfile::tempdir().unwrap();
    let session = start_app(ana.path(), &slow).await;
    let client = &session.client;
    sign_in_from_welcome(client, &relay.url, "ana@acme.test", PASSWORD).await;
    wait_for_team_workspace(client).await;
    still_the_team_after_the_sandbox_started(client, ana.path()).await;
    click(client, "[data-testid=open-team]").await;
    wait_for_text(client, "the team", "[data-testid=team-me]", "(owner)").await;
    let code = invite(client, "bo@acme.test").await;
    session.close().await.unwrap();

    // Bo, on his new computer, joins from the welcome with the code at once.
    let bo = tempfile::tempdir().unwrap();
    let session = start_app(bo.path(), &slow).await;
    let client = &session.client;
    wait_for_count(client, "the welcome", "[data-testid=welcome-invited]", 1).await;
    click(client, "[data-testid=welcome-invited]").await;
    fill(client, "[data-testid=sign-in-code]", &code).await;
    fill(client, "[data-testid=sign-in-relay]", &relay.url).await;
    fill(
        client,
        "[data-testid=sign-in-password]",
        "bo's own long password",
    )
    .await;
    click(client, "[data-testid=sign-in-submit]").await;
    wait_for_team_workspace(client).await;
    still_the_team_after_the_sandbox_started(client, bo.path()).await;
    click(client, "[data-testid=open-team]").await;
    wait_for_text(client, "the team", "[data-testid=team-me]", "(agent)").await;

    session.close().await.unwrap();
    relay.stop().await;
}
