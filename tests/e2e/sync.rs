use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zentro_core::Cache;
use zentro_core::apply::cursor;
use zentro_core::inbox;
use zentro_core::sync::{RelayClient, SyncError, catch_up, follow};
use zentro_core::vault::Secret;
use zentro_meta::AppSecret;
use zentro_meta_sim::{Customer, Inbound, MetaSim, SimConfig};
use zentro_relay::config::VerifyToken;
use zentro_relay::credentials::hash_password;
use zentro_relay::store::ChannelKind;
use zentro_relay::{Config, Store};

const PASSWORD: &str = "correct horse battery";
const PHONE: &str = "106540352242922";

struct World {
    sim: MetaSim,
    relay_url: String,
    workspace: String,
    _dir: tempfile::TempDir,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn world(config: SimConfig) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("relay")).await.unwrap();
    let ws = store
        .create_workspace("Acme", "owner@acme.test", "Owner", &hash_password(PASSWORD))
        .await
        .unwrap();
    store
        .add_channel(
            &ws.id,
            ChannelKind::Whatsapp,
            PHONE,
            Some("102290129340398"),
            "Support",
        )
        .await
        .unwrap();
    let relay_config = Config::new(
        dir.path().join("relay"),
        config.app_secret.clone(),
        VerifyToken::new("verify"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zentro_relay::run(relay_config, listener, async {
        let _ = stopped.await;
    }));
    let sim = MetaSim::start(config).await.unwrap();
    sim.set_webhook_url(format!("{relay_url}/webhooks/meta"));
    sim.add_whatsapp_number("102290129340398", PHONE, "15550783881");
    World {
        sim,
        relay_url,
        workspace: ws.id,
        _dir: dir,
        stop,
        server,
    }
}

struct Device {
    cache: Cache,
    client: RelayClient,
    token: Secret,
    _dir: tempfile::TempDir,
}

async fn device(world: &World, name: &str) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let client = RelayClient::new(&world.relay_url).unwrap();
    let (token, identity) = client
        .sign_in("owner@acme.test", &Secret::new(PASSWORD), name)
        .await
        .unwrap();
    assert_eq!(identity.workspace.id, world.workspace);
    Device {
        cache,
        client,
        token,
        _dir: dir,
    }
}

fn customer(i: usize) -> Customer {
    Customer {
        id: format!("US.{i}"),
        phone: Some(format!("1650555{i:04}")),
        name: format!("Customer {i}"),
    }
}

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
            w.workspace.clone(),
            stop.clone(),
        );
        tokio::spawn(async move { follow(&cache, &client, &token, &ws, &stop, &mut |_| {}).await })
    };

    let first = w
        .sim
        .customer_writes(
            PHONE,
            &customer(1),
            Inbound::Text("Hello, is my order on its way?".into()),
        )
        .await;
    for i in 0..20 {
        w.sim
            .customer_writes(
                PHONE,
                &customer(i % 4),
                Inbound::Text(format!("message {i}")),
            )
            .await;
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

    // B comes online and catches up to exactly the same state.
    let mut updates = Vec::new();
    let report = catch_up(&b.cache, &b.client, &b.token, &w.workspace, &mut |p| {
        updates.push(p)
    })
    .await
    .unwrap();
    assert!(updates.last().unwrap().caught_up);
    assert_eq!(report.cursor, cursor(&a.cache, &w.workspace).await.unwrap());
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
    tokio::time::timeout(Duration::from_secs(10), follower)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    w.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), w.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_told_to_sign_in_again() {
    let w = world(SimConfig::default()).await;
    let a = device(&w, "laptop A").await;
    a.client.sign_out(&a.token).await.unwrap();
    let error = catch_up(&a.cache, &a.client, &a.token, &w.workspace, &mut |_| {})
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
    w.stop.send(()).unwrap();
}
