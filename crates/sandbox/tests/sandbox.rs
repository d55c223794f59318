//! The sandbox as the app runs it: a desk over the in-process relay, customers writing in.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use zentro_core::desk::{DeskEvent, SyncState};
use zentro_core::inbox;
use zentro_sandbox::Sandbox;

async fn wait_for<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(what: &str, check: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_write_in_on_every_channel_and_answer_the_agents_reply() {
    let folder = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(&folder.path().join("sandbox"))
        .await
        .unwrap();
    // Its channels are connected as a team's are: tokens sealed on the relay, checked at Meta.
    let relay = zentro_core::sync::RelayClient::new(sandbox.relay_url()).unwrap();
    let channels = relay.channels(sandbox.device_token()).await.unwrap();
    assert_eq!(channels.len(), 3);
    for channel in &channels {
        assert_eq!(channel.health, "connected", "{channel:?}");
        assert_eq!(channel.token_version, Some(1), "{channel:?}");
    }
    let desk = sandbox.start_desk().await.unwrap();
    let cache = desk.cache().clone();
    let mut events = desk.subscribe();
    sandbox.start_customers(Duration::from_secs(3600));

    // The opening: six customers on WhatsApp, Instagram and Messenger.
    wait_for("six conversations", || async {
        inbox::conversations(&cache, None, 50).await.unwrap().len() == 6
    })
    .await;
    let list = inbox::conversations(&cache, None, 50).await.unwrap();
    for kind in ["whatsapp", "instagram", "messenger"] {
        assert!(
            list.iter().any(|c| c.channel_kind == kind),
            "{kind}: {list:?}"
        );
    }
    let mut saw_changed = false;
    while let Ok(event) = events.try_recv() {
        saw_changed |= event == DeskEvent::Changed;
    }
    assert!(saw_changed, "listeners are told the cache changed");
    assert_eq!(desk.sync_state(), SyncState::Live);

    // Messenger and Instagram webhooks carry only ids: names come from the User Profile API.
    wait_for(
        "names for the Messenger and Instagram customers",
        || async {
            let names: Vec<String> = inbox::conversations(&cache, None, 50)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.contact_name)
                .collect();
            ["Chen Wei", "Bruno Costa", "Fatima Zahra"]
                .iter()
                .all(|n| names.contains(&n.to_string()))
        },
    )
    .await;

    // The team, for assigning and mentions.
    let team = desk.members().await.unwrap();
    assert_eq!(team.len(), 1);
    assert_eq!(team[0].email, zentro_sandbox::AGENT_EMAIL);

    // The team's canned replies came with the log.
    wait_for("the canned replies", || async {
        zentro_core::team::canned_replies(&cache)
            .await
            .unwrap()
            .len()
            == 4
    })
    .await;

    // Ana's photo is fetched from the stand-in and kept on disk.
    let ana = list
        .iter()
        .find(|c| c.contact_name == "Ana Souza")
        .unwrap()
        .id;
    wait_for("the photo's file", || async {
        let messages = inbox::messages(&cache, ana, None, 100).await.unwrap();
        let Some(photo) = messages
            .iter()
            .find(|m| m.kind == "image" && m.media_stored)
        else {
            return false;
        };
        let (path, _) = inbox::media_file(&cache, photo.id).await.unwrap().unwrap();
        std::fs::read(path).unwrap().starts_with(b"\x89PNG")
    })
    .await;

    // The agent answers Ana: the reply is sent, read, and Ana writes back.
    let before = inbox::messages(&cache, ana, None, 100).await.unwrap().len();
    desk.reply(
        ana,
        "It left our warehouse yesterday — arriving Friday.",
        None,
    )
    .await
    .unwrap();
    wait_for("the read tick", || async {
        inbox::messages(&cache, ana, None, 100)
            .await
            .unwrap()
            .iter()
            .any(|m| m.direction == "outbound" && m.delivery_status.as_deref() == Some("read"))
    })
    .await;
    wait_for("Ana's answer", || async {
        let messages = inbox::messages(&cache, ana, None, 100).await.unwrap();
        messages.len() >= before + 2 || messages.iter().any(|m| m.reaction.is_some())
    })
    .await;

    desk.stop().await;
    sandbox.stop().await;
}
