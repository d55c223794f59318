//! A WhatsApp number connected through Embedded Signup (relay + meta-sim on loopback, the real
//! Secret Service): its token reaches the owner's keychain, answers a customer, and when Meta
//! stops accepting it (a 190 on a send) the relay confirms and every device sees the channel
//! disconnected; disconnecting deletes the token from the keychain.

use serde_json::{Value, json};
use zentro_core::connections::Navigation;
use zentro_core::inbox;
use zentro_core::sync::RelayClient;
use zentro_core::vault::{Secret, Vault};
use zentro_meta_sim::{Inbound, MetaSim, SimConfig};
use zentro_relay::config::{MetaApp, VerifyToken};
use zentro_relay::credentials::hash_password;
use zentro_relay::sealing::{TokenKey, TokenKeys};
use zentro_relay::{Config, Store};

use crate::sync::{PASSWORD, customer, wait_for};

async fn keychain(vault: &Vault, entry: &str) -> Option<String> {
    let (vault, entry) = (vault.clone(), entry.to_string());
    tokio::task::spawn_blocking(move || {
        vault
            .read(&entry)
            .unwrap_or_else(|e| panic!("could not read {entry} from the keychain: {e}"))
            .map(|s| s.expose().to_string())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_connected_by_embedded_signup_answers_customers_until_meta_revokes_it() {
    // Meta (the stand-in) and a relay set up to connect channels through it.
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("relay")).await.unwrap();
    store
        .create_workspace("Acme", "owner@acme.test", "Owner", &hash_password(PASSWORD))
        .await
        .unwrap();
    store.close().await;
    let mut config = Config::new(
        dir.path().join("relay"),
        SimConfig::default().app_secret,
        VerifyToken::new("verify"),
    );
    config.token_keys = Some(TokenKeys {
        current: TokenKey::parse(&TokenKey::generate()).unwrap(),
        previous: None,
    });
    config.meta_app = Some(MetaApp {
        app_id: SimConfig::default().app_id,
        signup_config_id: "5566778899".into(),
        login_config_id: Some("880011223344".into()),
        graph_url: sim.base_url(),
        sdk_url: format!("{}/sim/sdk.js", sim.base_url()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zentro_relay::run(config, listener, async {
        let _ = stopped.await;
    }));
    sim.set_webhook_url(format!("{relay_url}/webhooks/meta"));

    // The owner's desk, with the real keychain.
    let laptop = tempfile::tempdir().unwrap();
    let relay = RelayClient::new(&relay_url).unwrap();
    let (token, identity) = relay
        .sign_in("owner@acme.test", &Secret::new(PASSWORD), "owner laptop")
        .await
        .unwrap();
    let vault = Vault::system();
    let (desk, cache) = crate::team::keychain_desk(
        &relay,
        &token,
        &identity,
        &sim.base_url(),
        laptop.path(),
        &vault,
    )
    .await;

    // The device starts the signup: a page on the relay, and a window policy that lets the
    // page and Meta's dialog load and recognises the end.
    let start = relay.start_signup(&token, "whatsapp").await.unwrap();
    assert!(start.url.as_str().starts_with(&relay_url));
    assert_eq!(start.policy.decide(&start.url), Navigation::Load);
    let dialog = url::Url::parse(&format!("{}/dialog/oauth", sim.base_url())).unwrap();
    assert_eq!(start.policy.decide(&dialog), Navigation::Load);
    let finished =
        url::Url::parse(&format!("{relay_url}/signup/finished?outcome=connected")).unwrap();
    assert_eq!(start.policy.decide(&finished), Navigation::Finished);
    let http = reqwest::Client::new();
    let page = http.get(start.url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page_token = start
        .url
        .query_pairs()
        .find(|(k, _)| k == "t")
        .unwrap()
        .1
        .to_string();

    // What the page does when Meta's dialog finishes.
    let finish: Value = http
        .post(format!(
            "{}/sim/signup/finish?coexistence=false",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (waba, number) = (
        finish["waba_id"].as_str().unwrap().to_string(),
        finish["phone_number_id"].as_str().unwrap().to_string(),
    );
    let completed: Value = http
        .post(format!("{relay_url}/signup/complete"))
        .json(
            &json!({ "t": page_token, "code": finish["code"], "event": "FINISH",
                       "data": { "waba_id": waba, "phone_number_id": number }, "pin": "314159" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(completed["state"], "connected", "{completed}");
    let outcome = relay.signup(&token, &start.id).await.unwrap();
    assert_eq!(outcome.state, "connected");
    assert!(
        outcome.message.starts_with("Connected"),
        "{}",
        outcome.message
    );

    // The token reaches the keychain from the channel.connected event, and answers customers.
    let entry = Vault::channel_entry(&format!("whatsapp:{number}"));
    wait_for("the new channel's token in the keychain", || async {
        keychain(&vault, &entry).await.is_some()
    })
    .await;
    let kept = keychain(&vault, &entry).await.unwrap();
    assert!(
        sim.state()
            .grant_of(&kept)
            .is_some_and(|g| g.wabas.contains(&waba))
    );
    sim.customer_writes(
        &number,
        &customer(41),
        Inbound::Text("Hello, are you open today?".into()),
    )
    .await;
    wait_for("the customer's message", || async {
        !inbox::conversations(&cache, None, 1)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let conversation = inbox::conversations(&cache, None, 1).await.unwrap()[0].id;
    desk.reply(conversation, "Yes, until 6 pm.", None)
        .await
        .unwrap();
    wait_for("the reply at Meta", || async {
        !sim.state().sent.is_empty()
    })
    .await;

    // The business removes the app at Meta: the next send gets 190, the device reports it, the
    // relay checks with Meta and marks the channel disconnected for everyone.
    sim.state().revoke_tokens_for(&waba);
    desk.reply(conversation, "One more thing…", None)
        .await
        .unwrap();
    let channel_health = || async { relay.channels(&token).await.unwrap()[0].health.clone() };
    wait_for("the channel disconnected on the relay", || async {
        channel_health().await == "disconnected"
    })
    .await;
    let channel = relay.channels(&token).await.unwrap().remove(0);
    assert!(channel.health_reason.unwrap().contains("reconnect"));

    // Disconnecting deletes the token on the relay and from the keychain.
    relay.disconnect_channel(&token, &channel.id).await.unwrap();
    wait_for("the token gone from the keychain", || async {
        keychain(&vault, &entry).await.is_none()
    })
    .await;

    desk.stop().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
