//! A WhatsApp number connected through Embedded Signup (relay + meta-sim on loopback, the real
//! Secret Service): its token reaches the owner's keychain, answers a customer, and when Meta
//! stops accepting it (a 190 on a send) the relay confirms and every device sees the channel
//! disconnected; disconnecting deletes the token from the keychain.

use serde_json::{Value, json};
use zentro_core::connections::Navigation;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::{Secret, Vault};
use zentro_meta_sim::{Inbound, MetaSim, SimConfig};
use zentro_relay::Config;
use zentro_relay::config::VerifyToken;
use zentro_tests::team::{fresh_token_keys, meta_app};

use crate::support::{
    PASSWORD, acme_store, answer_json, answer_the_first_customer, customer, keychain, serve_relay,
    wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_connected_by_embedded_signup_answers_customers_until_meta_revokes_it() {
    // Meta (the stand-in) and a relay set up to connect channels through it.
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = acme_store(&dir.path().join("relay")).await;
    store.close().await;
    let mut config = Config::new(
        dir.path().join("relay"),
        SimConfig::default().app_secret,
        VerifyToken::new("verify"),
    );
    config.token_keys = Some(fresh_token_keys());
    config.meta_app = Some(meta_app(&sim, Some("880011223344")));
    let served = serve_relay(config).await;
    let relay_url = served.url.clone();
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
        Some(&vault),
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
    let finish: Value = answer_json(http.post(format!(
        "{}/sim/signup/finish?coexistence=false",
        sim.base_url()
    )))
    .await;
    let (waba, number) = (
        finish["waba_id"].as_str().unwrap().to_string(),
        finish["phone_number_id"].as_str().unwrap().to_string(),
    );
    let completed: Value = answer_json(http.post(format!("{relay_url}/signup/complete")).json(
        &json!({ "t": page_token, "code": finish["code"], "event": "FINISH",
                       "data": { "waba_id": waba, "phone_number_id": number }, "pin": "314159" }),
    ))
    .await;
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
    let conversation = answer_the_first_customer(&desk, &cache, &sim, "Yes, until 6 pm.").await;

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
    let _ = served.stop.send(());
    served.server.await.unwrap().unwrap();
}
