//! The Broadcasts page in the sandbox, in the real WebKit window: the owner starts a new
//! campaign and sees its audience counted on the desk's own cache — the sandbox's WhatsApp
//! customers, none of whom opted in, left out of a marketing template and counted as such — then
//! sends a utility template to all of them through the sandbox's relay and its Meta stand-in, and
//! sees every one reached.

use crate::ui::{click, count, fill, sandbox_session, screenshot, text, wait_for, wait_for_count};

/// The first number in `text` (digits with thousands separators), if any.
fn number(text: &str) -> Option<u64> {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '\u{a0}'))
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sees_a_new_campaigns_audience_counted_on_the_desk() {
    let data = tempfile::tempdir().unwrap();
    let session = sandbox_session(data.path(), &[]).await;
    let client = &session.client;

    click(client, "[data-testid=open-broadcasts]").await;
    wait_for_count(client, "the Broadcasts page", "[data-testid=broadcasts]", 1).await;
    wait_for("New campaign to be offered to the owner", || async {
        count(client, "[data-testid=new-campaign]:not([disabled])").await == 1
    })
    .await;
    click(client, "[data-testid=new-campaign]").await;
    wait_for_count(
        client,
        "the audience's count",
        "[data-testid=audience-count]",
        1,
    )
    .await;
    // No template chosen yet counts as marketing: only opted-in customers would receive it, and
    // no sandbox customer opted in — every WhatsApp customer is left out for want of consent.
    let eligible = number(&text(client, "[data-testid=audience-count]").await);
    assert_eq!(eligible, Some(0));
    let excluded = text(client, "[data-testid=audience-excluded]").await;
    let without_consent = number(&excluded).unwrap_or(0);
    assert!(
        without_consent >= 1,
        "the sandbox's WhatsApp customers counted as without consent: {excluded}"
    );
    screenshot(client, "broadcasts-new-campaign-light.png").await;

    // A utility template (the sandbox's `follow_up`, read from Meta by the relay) goes to everyone
    // not opted out: the same customers, now all counted in.
    click(client, "[data-testid=refresh-templates]").await;
    let follow_up = "[data-testid=template-choice][value='follow_up|en_US']";
    wait_for_count(client, "the sandbox's follow_up template", follow_up, 1).await;
    click(client, follow_up).await;
    wait_for("the utility template's audience", || async {
        number(&text(client, "[data-testid=audience-count]").await) == Some(without_consent)
    })
    .await;
    fill(client, "[data-testid=campaign-name]", "Checking in").await;
    wait_for_count(
        client,
        "Review to be offered",
        "[data-testid=campaign-review]:not([disabled])",
        1,
    )
    .await;
    click(client, "[data-testid=campaign-review]").await;
    wait_for_count(client, "the confirmation", "[data-testid=confirm]", 1).await;
    assert_eq!(
        number(&text(client, "[data-testid=confirm-count]").await),
        Some(without_consent)
    );
    click(client, "[data-testid=confirm-send]").await;
    wait_for_count(client, "the campaign's page", "[data-testid=campaign]", 1).await;
    // Polled from the relay while the page is open: every recipient accepted by Meta (and then
    // delivered, read or answered), none failed or skipped.
    let result = |key: &'static str| async move {
        number(&text(client, &format!("[data-testid=result-{key}]")).await).unwrap_or(0)
    };
    wait_for("every recipient reached", || async {
        result("sent").await
            + result("delivered").await
            + result("read").await
            + result("replied").await
            == without_consent
    })
    .await;
    assert_eq!(result("failed").await + result("skipped").await, 0);
    wait_for_count(
        client,
        "the recipients",
        "[data-testid=recipient-row]",
        without_consent as usize,
    )
    .await;
    screenshot(client, "broadcasts-campaign-light.png").await;
    session.close().await.unwrap();
}
