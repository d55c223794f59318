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

/// A sandbox in a folder of its own, removed when the returned guard is dropped.
async fn start_in_a_temporary_folder() -> (tempfile::TempDir, Sandbox) {
    let folder = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(&folder.path().join("sandbox"))
        .await
        .unwrap();
    (folder, sandbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_write_in_on_every_channel_and_answer_the_agents_reply() {
    let (_folder, sandbox) = start_in_a_temporary_folder().await;
    // Its channels are connected as a team's are: tokens sealed on the relay, checked at Meta.
    let relay = zentro_core::relay_client::RelayClient::new(sandbox.relay_url()).unwrap();
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
        zentro_core::actions::canned_replies(&cache)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_to_an_instagram_customer_goes_by_a_link_meta_fetches_from_the_relay() {
    let (_folder, sandbox) = start_in_a_temporary_folder().await;
    let desk = sandbox.start_desk().await.unwrap();
    let cache = desk.cache().clone();
    sandbox.start_customers(Duration::from_secs(3600));
    wait_for("an Instagram conversation", || async {
        inbox::conversations(&cache, None, 50)
            .await
            .unwrap()
            .iter()
            .any(|c| c.channel_kind == "instagram")
    })
    .await;
    let instagram = inbox::conversations(&cache, None, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.channel_kind == "instagram")
        .unwrap()
        .id;
    let photo = b"\xff\xd8\xff\xe0\x00\x10JFIF the label photo".to_vec();
    let file = |name: &str, mime: &str, bytes: Vec<u8>| zentro_core::outbox::Attachment {
        file_name: name.into(),
        mime: mime.into(),
        bytes,
    };

    // What Instagram does not take is refused before anything is kept or sent.
    let refused = desk
        .attach(
            instagram,
            file("notes.docx", "application/msword", b"PK..".to_vec()),
            "",
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("PNG or JPEG images"),
        "{refused}"
    );
    let captioned = desk
        .attach(
            instagram,
            file("label.jpg", "image/jpeg", photo.clone()),
            "your label",
        )
        .await
        .unwrap_err();
    assert!(captioned.to_string().contains("no caption"), "{captioned}");

    desk.attach(
        instagram,
        file("label.jpg", "image/jpeg", photo.clone()),
        "",
    )
    .await
    .unwrap();
    // Meta (the stand-in) fetched the file from the relay's short-lived link and sent it.
    wait_for("the photo sent on Instagram", || async {
        sandbox.sim().state().sent.iter().any(|m| {
            m.body
                .pointer("/message/attachment/payload/fetched_from")
                .is_some()
        })
    })
    .await;
    let sent = sandbox
        .sim()
        .state()
        .sent
        .iter()
        .rev()
        .find(|m| m.body.pointer("/message/attachment").is_some())
        .unwrap()
        .body
        .clone();
    assert_eq!(sent["message"]["attachment"]["type"], "image");
    let link = sent["message"]["attachment"]["payload"]["fetched_from"]
        .as_str()
        .unwrap();
    assert!(
        link.starts_with(sandbox.relay_url()) && link.contains("/shared/"),
        "{link}"
    );
    let media_id = sent["message"]["attachment"]["payload"]["media_id"]
        .as_str()
        .unwrap();
    assert_eq!(
        sandbox.sim().state().media_bytes(media_id).unwrap(),
        photo,
        "Meta received the very file"
    );
    // In the thread it is sent (then read, as Instagram reports).
    wait_for("the photo's tick", || async {
        inbox::messages(&cache, instagram, None, 100)
            .await
            .unwrap()
            .iter()
            .any(|m| {
                m.kind == "image"
                    && m.direction == "outbound"
                    && m.delivery_status.as_deref() != Some("pending")
            })
    })
    .await;

    desk.stop().await;
    sandbox.stop().await;
}
