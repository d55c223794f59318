//! `zentro://` links clicked elsewhere on the computer: the operating system launches the app
//! with the link, the launch hands it to the running app, and the running window follows it.

use fantoccini::Locator;

use crate::ui::{
    open_row, open_row_other_than, sandbox_session, text, wait_for, wait_for_count, wait_for_text,
};
use crate::window::launch_again;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_open_a_conversation_or_join_and_anything_else_is_explained() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_string_lossy().into_owned();
    let session = sandbox_session(data.path(), &[]).await;
    let client = &session.client;

    // The link a teammate would copy from the contact panel.
    let first = open_row(client, 0).await;
    let link = client
        .find(Locator::Css("[data-testid=copy-link]"))
        .await
        .unwrap()
        .attr("title")
        .await
        .unwrap()
        .unwrap();
    assert!(link.starts_with("zentro://conversation?channel="), "{link}");
    let second = open_row_other_than(client, &first).await;
    assert_ne!(first, second);

    // Clicked elsewhere: the OS launches the app with the link; it hands over and exits, and
    // the running window shows that conversation.
    assert!(launch_again(&session, &data_dir, &[&link]).await.success());
    wait_for("the linked conversation", || async {
        text(client, "[data-testid=conversation-title]").await == first
    })
    .await;

    // A conversation this computer does not have: said, nothing else changes.
    let elsewhere = "zentro://conversation?channel=ch_elsewhere&contact=15550000";
    assert!(
        launch_again(&session, &data_dir, &[elsewhere])
            .await
            .success()
    );
    wait_for_text(
        client,
        "the notice",
        "[data-testid=notice]",
        "not on this computer",
    )
    .await;
    assert_eq!(
        text(client, "[data-testid=conversation-title]").await,
        first
    );

    // An invitation: "Join your team", filled in, waiting for the new member's password.
    let invitation = "zentro://invite?relay=https%3A%2F%2Frelay.acme.test&code=WXYZ-2345-6789";
    assert!(
        launch_again(&session, &data_dir, &[invitation])
            .await
            .success()
    );
    wait_for_count(client, "Join your team", "[data-testid=sign-in-code]", 1).await;
    let value = |css: &'static str| async move {
        client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    };
    assert_eq!(value("[data-testid=sign-in-code]").await, "WXYZ-2345-6789");
    assert_eq!(
        value("[data-testid=sign-in-relay]").await,
        "https://relay.acme.test"
    );
    assert_eq!(client.windows().await.unwrap().len(), 1);
    session.close().await.unwrap();
}
