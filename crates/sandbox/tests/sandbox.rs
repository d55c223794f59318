//! The sandbox as the app runs it: a desk over the in-process relay, customers writing in.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use zentro_core::desk::{DeskEvent, SyncState};
use zentro_core::inbox;
use zentro_sandbox::{Sandbox, automation, customers};

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

/// Whether a conversation event of the log is about `regular` (a WhatsApp customer is named by
/// their id or their number).
fn about(event: &zentro_core::apply::RelayEvent, regular: &customers::Regular) -> bool {
    let customer = event.payload.pointer("/conversation/customer_id");
    let channel = event
        .payload
        .pointer("/conversation/channel_external_id")
        .and_then(|c| c.as_str());
    channel == Some(regular.channel)
        && customer.and_then(|c| c.as_str()).is_some_and(|c| {
            c == regular.customer.id || regular.customer.phone.as_deref() == Some(c)
        })
}

/// The value at `pointer` of the last event of `kind` about `regular` under the automation's
/// `rule`.
fn decided<'a>(
    log: &'a [zentro_core::apply::RelayEvent],
    regular: &customers::Regular,
    kind: &str,
    rule: &str,
    pointer: &str,
) -> Option<&'a str> {
    log.iter()
        .rev()
        .filter(|e| e.kind == kind && about(e, regular))
        .find(|e| zentro_events::automation_rule(e.author.as_deref()) == Some(rule))
        .and_then(|e| e.payload.pointer(pointer))
        .and_then(|v| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_answer_the_menu_bot_and_land_with_their_team_and_the_agent() {
    let (_folder, sandbox) = start_in_a_temporary_folder().await;
    // The member's desk is open, so they are available for the automation to assign.
    let desk = sandbox.start_desk().await.unwrap();
    let cache = desk.cache().clone();
    sandbox.start_customers(Duration::from_secs(3600));
    let relay = zentro_core::relay_client::RelayClient::new(sandbox.relay_url()).unwrap();
    let member = sandbox.identity().member.id.clone();
    let cast = customers::cast();

    // In the relay's log, every customer's conversation is routed by their menu answer to the
    // team of their topic, then assigned in turn to the member: on all three channels (WhatsApp
    // reply buttons, Messenger and Instagram quick replies).
    let mut log = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let landed = |log: &[zentro_core::apply::RelayEvent], regular: &customers::Regular| {
        decided(log, regular, "team.routed", "menu", "/team") == Some(regular.topic)
            && decided(log, regular, "team.assigned", "round_robin", "/assignee")
                == Some(member.as_str())
    };
    while !cast.iter().all(|regular| landed(&log, regular)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for the automation to route and assign every customer: {:?}",
            cast.iter()
                .filter(|r| !landed(&log, r))
                .map(|r| &r.customer.name)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = log
            .last()
            .map_or(0, |e: &zentro_core::apply::RelayEvent| e.seq);
        let page = relay.page(sandbox.device_token(), after).await.unwrap();
        log.extend(page.events);
    }
    // The setup was saved by the owner, as Team → Automation saves it.
    let saved = log
        .iter()
        .find(|e| e.kind == "workspace.automation")
        .unwrap();
    assert_eq!(saved.payload["version"], 1);
    assert_eq!(saved.payload["saved_by"], member.as_str());

    // Meta (the stand-in) carried the greeting (or, outside the hours, the away message) and the
    // menu to each of them; their answer was understood the first time.
    let sent = sandbox.sim().state().sent.clone();
    for regular in &cast {
        let to_them: Vec<_> = sent
            .iter()
            .filter(|m| {
                m.channel_id == regular.channel
                    && (m.to == regular.customer.id
                        || regular.customer.phone.as_deref() == Some(m.to.as_str()))
            })
            .collect();
        let name = &regular.customer.name;
        assert!(
            to_them.iter().any(|m| {
                let text = m.text().unwrap_or_default();
                text == automation::GREETING || text == automation::AWAY
            }),
            "{name} got no greeting nor away message: {to_them:?}"
        );
        let menu = to_them
            .iter()
            .find(|m| m.text().as_deref() == Some(automation::MENU_PROMPT))
            .unwrap_or_else(|| panic!("{name} got no menu: {to_them:?}"));
        let titles: Vec<String> = menu.options().into_iter().map(|o| o.title).collect();
        assert_eq!(titles, ["Sales", "Support", "Billing"], "{name}");
        let expected = if regular.channel == zentro_sandbox::WHATSAPP_NUMBER {
            "buttons"
        } else {
            "quick_replies"
        };
        assert_eq!(menu.kind(), expected, "{name}");
        assert!(
            !to_them
                .iter()
                .any(|m| m.text().as_deref() == Some(automation::MENU_RETRY)),
            "{name} was asked again: {to_them:?}"
        );
    }

    // The desk shows every conversation assigned to the member.
    wait_for("the conversations assigned on the desk", || async {
        let list = inbox::conversations(&cache, None, 50).await.unwrap();
        list.len() == cast.len()
            && list
                .iter()
                .all(|c| c.assignee_id.as_deref() == Some(member.as_str()))
    })
    .await;

    desk.stop().await;
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_rates_the_conversation_the_agent_resolved() {
    let (_folder, sandbox) = start_in_a_temporary_folder().await;
    let desk = sandbox.start_desk().await.unwrap();
    let cache = desk.cache().clone();
    sandbox.start_customers(Duration::from_secs(3600));
    let ana = &customers::cast()[0]; // on WhatsApp: the survey is a list

    // Ana's conversation lands with the member; they answer her, and she writes back.
    wait_for("Ana's conversation, assigned", || async {
        let list = inbox::conversations(&cache, None, 50).await.unwrap();
        list.iter()
            .any(|c| c.contact_name == ana.customer.name && c.assignee_id.is_some())
    })
    .await;
    let list = inbox::conversations(&cache, None, 50).await.unwrap();
    let id = list
        .iter()
        .find(|c| c.contact_name == ana.customer.name)
        .unwrap()
        .id;
    let before = inbox::messages(&cache, id, None, 100).await.unwrap().len();
    desk.reply(id, "All sorted: a new parcel leaves today.", None)
        .await
        .unwrap();
    wait_for("Ana's answer", || async {
        let messages = inbox::messages(&cache, id, None, 100).await.unwrap();
        messages.len() >= before + 2 || messages.iter().any(|m| m.reaction.is_some())
    })
    .await;
    // Ana's answer may be a reaction, which arrives without a message: give it time to land.
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The member resolves it: the survey goes out, Ana rates it, every desk learns her rating.
    let phone = ana.customer.phone.clone().unwrap();
    desk.act(&zentro_events::TeamEvent::StatusChanged {
        conversation: zentro_core::actions::conversation_ref(&cache, id)
            .await
            .unwrap(),
        status: zentro_events::ConversationStatus::Resolved,
        snoozed_until: None,
    })
    .await
    .unwrap();
    wait_for("Ana's rating on the desk", || async {
        zentro_core::satisfaction::satisfaction(&cache, 0, i64::MAX, None, None, None)
            .await
            .unwrap()
            .responses
            == 1
    })
    .await;
    let survey = sandbox
        .sim()
        .state()
        .sent
        .iter()
        .find(|m| m.text().as_deref() == Some(automation::CSAT_QUESTION))
        .cloned()
        .unwrap();
    assert!(survey.to == ana.customer.id || survey.to == phone);
    assert_eq!(survey.kind(), "list");
    let figures = zentro_core::satisfaction::satisfaction(&cache, 0, i64::MAX, None, None, None)
        .await
        .unwrap();
    assert!(figures.average.is_some_and(|a| a >= 3.0), "{figures:?}");
    assert_eq!(figures.by_agent[0].member_id, sandbox.identity().member.id);
    // Her answer did not reopen the conversation.
    let status = inbox::conversations_where(
        &cache,
        &inbox::ConversationFilter {
            status: Some("resolved".into()),
            ..Default::default()
        },
        None,
        50,
    )
    .await
    .unwrap()
    .into_iter()
    .find(|c| c.id == id)
    .map(|c| c.status);
    assert_eq!(status.as_deref(), Some("resolved"));

    desk.stop().await;
    sandbox.stop().await;
}
