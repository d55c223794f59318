use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zentro_core::Cache;
use zentro_core::actions::{self, ConversationStatus, TeamEvent};
use zentro_core::apply::cursor;
use zentro_core::inbox;
use zentro_core::relay_client::{RelayClient, SyncError};
use zentro_core::sync::{catch_up, follow};
use zentro_core::vault::Secret;
use zentro_meta::AppSecret;
use zentro_meta_sim::{Inbound, SimConfig};

use crate::support::{PHONE, customer, device, finished, shut_down, wait_for, world};

async fn message_count(cache: &Cache) -> u32 {
    cache.status().await.unwrap().counts.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_message_reaches_both_devices_and_an_offline_device_catches_up_exactly() {
    let w = world(SimConfig {
        duplicate_rate: 0.3,
        late_rate: 0.2,
        ..SimConfig::default()
    })
    .await;
    let a = device(&w, "laptop A").await;
    let b = device(&w, "laptop B").await;

    // Device A follows the live stream; device B is offline.
    let stop = CancellationToken::new();
    let follower = {
        let (cache, client, token, ws, stop) = (
            a.cache.clone(),
            a.client.clone(),
            a.token.clone(),
            w.relay.workspace.clone(),
            stop.clone(),
        );
        tokio::spawn(async move { follow(&cache, &client, &token, &ws, &stop, &mut |_| {}).await })
    };

    let first = w
        .text_from(&customer(1), "Hello, is my order on its way?")
        .await;
    for i in 0..20 {
        w.text_from(&customer(i % 4), &format!("message {i}")).await;
    }
    w.sim
        .customer_writes(
            PHONE,
            &customer(2),
            Inbound::Image {
                bytes: vec![1, 2, 3],
                caption: Some("broken lid".into()),
            },
        )
        .await;
    w.sim.settle(Duration::from_secs(10)).await;

    // A has everything live (duplicates from Meta are not doubled).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while message_count(&a.cache).await < 22 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(message_count(&a.cache).await, 22);
    let hits = inbox::search(&a.cache, "order on its", 5).await.unwrap();
    assert_eq!(hits.len(), 1, "search finds the first message on A");

    // B comes online and catches up to exactly the same state, page by page, saying how far
    // behind it still is.
    let mut updates = Vec::new();
    let paged = b.client.clone().with_page_size(5);
    let report = catch_up(&b.cache, &paged, &b.token, &w.relay.workspace, &mut |p| {
        updates.push(p)
    })
    .await
    .unwrap();
    assert!(updates.last().unwrap().caught_up);
    assert_eq!(updates.last().unwrap().behind, 0);
    let behind: Vec<i64> = updates.iter().map(|u| u.behind).collect();
    assert!(updates.len() >= 5, "{behind:?}");
    assert_eq!(behind[0], report.cursor - 5, "{behind:?}");
    assert!(
        behind.windows(2).all(|w| w[1] < w[0] || w[1] == 0),
        "behind only shrinks: {behind:?}"
    );
    assert!(updates.iter().all(|u| u.rate > 0.0));
    assert_eq!(
        report.cursor,
        cursor(&a.cache, &w.relay.workspace).await.unwrap()
    );
    assert_eq!(
        b.cache.status().await.unwrap().counts,
        a.cache.status().await.unwrap().counts
    );
    let on_b: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE external_id = ?")
        .bind(&first)
        .fetch_one(b.cache.pool())
        .await
        .unwrap();
    assert_eq!(on_b, 1);
    assert_eq!(
        inbox::conversations(&b.cache, None, 50)
            .await
            .unwrap()
            .len(),
        4,
        "four customers, four conversations"
    );

    stop.cancel();
    finished(follower).await;
    shut_down(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_told_to_sign_in_again() {
    let w = world(SimConfig::default()).await;
    let a = device(&w, "laptop A").await;
    a.client.sign_out(&a.token).await.unwrap();
    let error = catch_up(
        &a.cache,
        &a.client,
        &a.token,
        &w.relay.workspace,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(error, SyncError::Unauthorized), "{error:?}");
    let wrong = a
        .client
        .sign_in("owner@acme.test", &Secret::new("wrong password!"), "x")
        .await
        .unwrap_err();
    assert!(matches!(wrong, SyncError::Unauthorized));
    assert!(!format!("{wrong} {wrong:?}").contains("wrong password!"));
    let _ = AppSecret::new("unused");
    w.relay.signal_stop();
}

async fn status_of(cache: &Cache, client_id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT delivery_status FROM messages WHERE client_id = ?")
        .bind(client_id)
        .fetch_optional(cache.pool())
        .await
        .unwrap()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_is_sent_once_even_offline_and_both_devices_see_it_delivered_and_read() {
    use zentro_core::outbox::{OutboxError, deliver_due, queue_reply};
    use zentro_meta::graph::GraphClient;

    let w = world(SimConfig::default()).await;
    let a = device(&w, "laptop A").await;
    let b = device(&w, "laptop B").await;
    w.text_from(&customer(7), "Can I return the blue one?")
        .await;
    w.sim.settle(Duration::from_secs(5)).await;
    for d in [&a, &b] {
        w.sync(d).await;
    }
    let conversation = inbox::conversations(&a.cache, None, 1).await.unwrap()[0].id;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    // Outside the window nothing is even written.
    let late = queue_reply(
        &a.cache,
        "member-a",
        conversation,
        "Sure!",
        None,
        now + 25 * 3_600_000,
    )
    .await
    .unwrap_err();
    assert!(matches!(late, OutboxError::WindowClosed { .. }), "{late:?}");

    // Written offline: Meta is unreachable, so it waits…
    let client_id = queue_reply(
        &a.cache,
        "member-a",
        conversation,
        "Yes, within 30 days.",
        None,
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        status_of(&a.cache, &client_id).await.as_deref(),
        Some("pending")
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let offline = GraphClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let token = w.channel_token.clone();
    let tokens = move |_: &str| Some(token.clone());
    let report = deliver_due(&a.cache, &offline, &tokens, now).await.unwrap();
    assert_eq!((report.waiting, report.accepted.len()), (1, 0));
    assert!(w.sim.state().sent.is_empty());

    // …and goes out once the network is back (once, even if delivery runs again).
    let graph = GraphClient::new(&w.sim.base_url()).unwrap();
    let report = deliver_due(&a.cache, &graph, &tokens, now + 60_000)
        .await
        .unwrap();
    assert_eq!(report.accepted.len(), 1);
    deliver_due(&a.cache, &graph, &tokens, now + 120_000)
        .await
        .unwrap();
    assert_eq!(w.sim.state().sent.len(), 1, "sent exactly once");
    assert_eq!(
        w.sim.state().sent[0].body["biz_opaque_callback_data"],
        client_id.as_str()
    );

    // Teammates learn about it through the relay.
    let sent = &report.accepted[0];
    a.client
        .publish(
            &a.token,
            "message.sent",
            serde_json::to_value(sent).unwrap(),
            &sent.client_id,
        )
        .await
        .unwrap();
    w.sim.settle(Duration::from_secs(5)).await;
    for d in [&a, &b] {
        wait_for("read on both devices", || async {
            w.sync(d).await;
            let status: Option<String> =
                sqlx::query_scalar("SELECT delivery_status FROM messages WHERE external_id = ?")
                    .bind(&sent.external_id)
                    .fetch_optional(d.cache.pool())
                    .await
                    .unwrap()
                    .flatten();
            status.as_deref() == Some("read")
        })
        .await;
        let copies: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE external_id = ?")
            .bind(&sent.external_id)
            .fetch_one(d.cache.pool())
            .await
            .unwrap();
        assert_eq!(copies, 1);
    }
    let on_b = inbox::messages(
        &b.cache,
        inbox::conversations(&b.cache, None, 1).await.unwrap()[0].id,
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(on_b[0].body.as_deref(), Some("Yes, within 30 days."));
    assert_eq!(on_b[0].direction, "outbound");
    w.relay.signal_stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_events_written_offline_reach_every_device_once_in_the_relays_order() {
    let w = world(SimConfig::default()).await;
    let a = device(&w, "laptop A").await;
    let b = device(&w, "laptop B").await;
    w.text_from(&customer(1), "My parcel is late").await;
    w.sim.settle(Duration::from_secs(10)).await;
    for d in [&a, &b] {
        wait_for("the customer's message", || async {
            w.sync(d).await;
            message_count(&d.cache).await == 1
        })
        .await;
    }
    let on_a = inbox::conversations(&a.cache, None, 1).await.unwrap()[0].id;
    let conversation = actions::conversation_ref(&a.cache, on_a).await.unwrap();

    // Device A works offline: the events wait in its queue, its cache is unchanged.
    let now = 1_760_000_000_000;
    for event in [
        TeamEvent::Assigned {
            conversation: conversation.clone(),
            assignee: Some("m_someone".into()),
        },
        TeamEvent::NoteAdded {
            conversation: conversation.clone(),
            note_id: "note-1".into(),
            body: "Carrier says Friday".into(),
            mentions: vec![],
            at: now,
        },
        TeamEvent::Labeled {
            conversation: conversation.clone(),
            label: "shipping".into(),
            added: true,
        },
        TeamEvent::StatusChanged {
            conversation: conversation.clone(),
            status: ConversationStatus::Pending,
            snoozed_until: None,
        },
    ] {
        actions::queue(&a.cache, &event, now).await.unwrap();
    }
    let offline = RelayClient::new("http://127.0.0.1:9").unwrap();
    assert!(actions::flush(&a.cache, &offline, &a.token).await.is_err());
    assert_eq!(actions::waiting(&a.cache).await.unwrap(), 4);
    assert_eq!(
        actions::conversation_state(&a.cache, on_a)
            .await
            .unwrap()
            .unwrap()
            .status,
        "open"
    );

    // Back online: published once each (a second flush finds nothing), applied by both devices.
    assert_eq!(
        actions::flush(&a.cache, &a.client, &a.token).await.unwrap(),
        4
    );
    assert_eq!(
        actions::flush(&a.cache, &a.client, &a.token).await.unwrap(),
        0
    );
    for d in [&a, &b] {
        w.sync(d).await;
        let id = inbox::conversations(&d.cache, None, 1).await.unwrap()[0].id;
        let state = actions::conversation_state(&d.cache, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.assignee.as_deref(), Some("m_someone"));
        assert_eq!(state.status, "pending");
        assert_eq!(state.labels, vec!["shipping".to_string()]);
        let notes = actions::notes(&d.cache, id).await.unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].author_member_id, a.member_id,
            "the relay names the author"
        );
    }
    w.relay.signal_stop();
}
