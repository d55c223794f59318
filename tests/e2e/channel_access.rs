//! Per-channel access on real desks (issue 19, item 2): an agent's desk never receives the
//! events of a channel the agent may not use; when access is taken away that desk deletes the
//! channel's customers (conversations, messages, search rows, media files) and says so; when it is given back
//! the desk receives the history the relay still holds.

use std::time::Duration;

use serde_json::{Value, json};
use zentro_core::channel_access::reconcile;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::Secret;
use zentro_core::{Cache, inbox};
use zentro_meta_sim::{Customer, Inbound, SimConfig};
use zentro_relay::Store;
use zentro_relay::store::ChannelKind;

use crate::support::{
    Device, PASSWORD, World, answer_json, customer, device, files_holding, found, world,
};

/// Channel B: a second WhatsApp number of the same business.
const PHONE_B: &str = "106540352242999";

const PHOTO: &[u8] = b"\x89PNG\r\n\x1a\n bea's private photo bytes";

fn bea() -> Customer {
    Customer {
        id: "US.3003004005".into(),
        phone: Some("16505550042".into()),
        name: "Bea Secreta".into(),
    }
}

async fn has(cache: &Cache, who: &Customer) -> bool {
    inbox::contacts(cache)
        .await
        .unwrap()
        .iter()
        .any(|c| c.customer_id == who.id)
}

/// The owner invites an agent; returns the agent's desk.
async fn agent(w: &World, owner: &Device) -> Device {
    let http = reqwest::Client::new();
    let invited: Value = answer_json(
        http.post(format!("{}/v1/members", w.relay.url))
            .bearer_auth(owner.token.expose())
            .json(&json!({ "email": "ann@acme.test", "role": "agent" })),
    )
    .await;
    let joined: Value = answer_json(
        http.post(format!("{}/v1/invitations/accept", w.relay.url))
            .json(&json!({ "code": invited["code"], "password": PASSWORD, "device_name": "ann" })),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    Device {
        cache: Cache::open_in(dir.path()).await.unwrap(),
        client: RelayClient::new(&w.relay.url).unwrap(),
        token: Secret::new(joined["token"].as_str().unwrap()),
        member_id: joined["member"]["id"].as_str().unwrap().to_string(),
        _dir: dir,
    }
}

async fn allow_on_b(w: &World, owner: &Device, channel_b: &str, agents: &[&str]) {
    let response = reqwest::Client::new()
        .put(format!("{}/v1/channels/{channel_b}/access", w.relay.url))
        .bearer_auth(owner.token.expose())
        .json(&json!({ "agents": agents }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_loses_a_channel_its_data_goes_from_the_desk_and_comes_back_with_access() {
    let w = world(SimConfig::default()).await;
    let store = Store::open(&w.relay.data_dir()).await.unwrap();
    let (b, _) = store
        .add_channel(
            &w.relay.workspace,
            ChannelKind::Whatsapp,
            PHONE_B,
            Some("102290129340398"),
            "Second line",
        )
        .await
        .unwrap();
    store.close().await;
    let b_token = w
        .sim
        .add_whatsapp_number("102290129340398", PHONE_B, "15550783999");
    let owner = device(&w, "owner laptop").await;
    let ann = agent(&w, &owner).await;

    // Everyone may use both channels: Ann's desk has both customers.
    w.text_from(&customer(1), "question on A").await;
    w.sim
        .customer_writes(
            PHONE_B,
            &bea(),
            Inbound::Text("private XYZZY matter".into()),
        )
        .await;
    w.sim
        .customer_writes(
            PHONE_B,
            &bea(),
            Inbound::Image {
                bytes: PHOTO.to_vec(),
                caption: None,
            },
        )
        .await;
    w.sim.settle(Duration::from_secs(5)).await;
    w.sync(&ann).await;
    // B's token serves the download.
    w.download_media(&ann, &b_token).await;
    assert_eq!(
        files_holding(ann._dir.path(), PHOTO).len(),
        1,
        "B's photo is on Ann's desk"
    );
    assert!(has(&ann.cache, &bea()).await && has(&ann.cache, &customer(1)).await);
    assert_eq!(found(&ann.cache, "XYZZY").await, 1);

    // B becomes the owner's alone: Ann's desk deletes B's customer and says so.
    allow_on_b(&w, &owner, &b.id, &[&owner.member_id]).await;
    let change = reconcile(&ann.cache, &ann.client, &ann.token, &w.relay.workspace)
        .await
        .unwrap();
    assert_eq!(change.lost, ["Second line"], "{change:?}");
    assert_eq!(
        (
            change.conversations_deleted,
            change.messages_deleted,
            change.media_files_deleted
        ),
        (1, 2, 1)
    );
    assert!(change.describe().contains("deleted from this computer"));
    assert!(!has(&ann.cache, &bea()).await, "B's customer is gone");
    assert_eq!(
        found(&ann.cache, "XYZZY").await,
        0,
        "search finds nothing of B"
    );
    assert!(has(&ann.cache, &customer(1)).await, "A stays");
    let photo = files_holding(ann._dir.path(), PHOTO);
    assert!(photo.is_empty(), "B's photo is gone: {photo:?}");

    // B's new messages never reach Ann; A's do; the owner gets both.
    w.sim
        .customer_writes(PHONE_B, &bea(), Inbound::Text("second PLUGH note".into()))
        .await;
    w.text_from(&customer(2), "another on A").await;
    w.sim.settle(Duration::from_secs(5)).await;
    w.sync(&ann).await;
    w.sync(&owner).await;
    assert!(!has(&ann.cache, &bea()).await);
    assert_eq!(found(&ann.cache, "PLUGH").await, 0);
    assert!(has(&ann.cache, &customer(2)).await);
    assert_eq!(found(&owner.cache, "PLUGH").await, 1);
    let again = reconcile(&ann.cache, &ann.client, &ann.token, &w.relay.workspace)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");

    // Given back: the history the relay holds arrives, both messages.
    allow_on_b(&w, &owner, &b.id, &[]).await;
    let change = reconcile(&ann.cache, &ann.client, &ann.token, &w.relay.workspace)
        .await
        .unwrap();
    assert_eq!(change.gained, ["Second line"], "{change:?}");
    assert!(has(&ann.cache, &bea()).await);
    assert_eq!(found(&ann.cache, "XYZZY").await, 1);
    assert_eq!(found(&ann.cache, "PLUGH").await, 1);
    w.relay.signal_stop();
}
