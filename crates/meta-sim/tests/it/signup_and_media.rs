use std::time::Duration;

use bytes::Bytes;
use zentro_meta::AppSecret;
use zentro_meta::graph::{GraphClient, GraphError, MediaError, MediaHostPolicy, TokenInfo};
use zentro_meta::permissions::LoginFlow;
use zentro_meta::webhook::{Content, Event, Platform};
use zentro_meta_sim::{Inbound, MetaSim, SimConfig};

use crate::receiver;

/// The stand-in with its default settings (returned, for the app's id and secret) and a Graph
/// client pointed at it.
async fn sim_and_client() -> (SimConfig, MetaSim, GraphClient) {
    let config = SimConfig::default();
    let sim = MetaSim::start(config.clone()).await.unwrap();
    let client = GraphClient::new(&sim.base_url()).unwrap();
    (config, sim, client)
}

/// Exchanges a signup `code` for its token and inspects the token, as the relay does.
async fn redeem(
    client: &GraphClient,
    config: &SimConfig,
    code: &str,
) -> (zentro_meta::AccessToken, TokenInfo) {
    let token = client
        .exchange_code(&config.app_id, &config.app_secret, code, None)
        .await
        .unwrap();
    let info = client
        .debug_token(&config.app_id, &config.app_secret, &token)
        .await
        .unwrap();
    (token, info)
}

#[tokio::test]
async fn embedded_signup_calls_exchange_verify_subscribe_and_register() {
    let (config, sim, client) = sim_and_client().await;
    let (code, waba_id, phone_number_id) = sim.state().issue_signup_code();

    let (token, info) = redeem(&client, &config, &code).await;
    assert!(info.is_valid);
    assert_eq!(info.app_id, config.app_id);
    assert_eq!(
        info.expires_at, 0,
        "business integration tokens never expire"
    );
    assert!(info.grants("whatsapp_business_management", &waba_id));
    assert!(!info.grants("whatsapp_business_management", "some-other-waba"));

    client.subscribe_app(&waba_id, &token).await.unwrap();
    assert_eq!(
        client.subscribed_apps(&waba_id, &token).await.unwrap(),
        vec![config.app_id.clone()]
    );
    assert!(matches!(
        client
            .register_phone(&phone_number_id, &token, "12345")
            .await,
        Err(GraphError::InvalidInput(_))
    ));
    client
        .register_phone(&phone_number_id, &token, "123456")
        .await
        .unwrap();

    // A code works once.
    let again = client
        .exchange_code(&config.app_id, &config.app_secret, &code, None)
        .await
        .unwrap_err();
    assert!(
        matches!(again, GraphError::CodeRefused { expired: false }),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_signup_grants_the_configurations_permissions_unless_the_dialog_changed_them() {
    let (config, sim, client) = sim_and_client().await;
    let scopes_of = |code: String| {
        let (client, config) = (&client, &config);
        async move {
            let (_, info) = redeem(client, config, &code).await;
            let mut scopes = info.scopes.clone();
            scopes.sort();
            (scopes, info)
        }
    };
    // All the Embedded Signup configuration asks for.
    let (code, waba_id, _) = sim.state().issue_signup_code();
    let (scopes, info) = scopes_of(code).await;
    assert_eq!(
        scopes,
        [
            "business_management",
            "whatsapp_business_management",
            "whatsapp_business_messaging"
        ]
    );
    assert!(info.check_permissions(LoginFlow::WhatsAppSignup).is_exact());
    // The person unticked one in the dialog: the token has only what was left.
    sim.state()
        .grant_scopes_on_next_login(&["whatsapp_business_management", "business_management"]);
    let (code, waba_id2, _) = sim.state().issue_signup_code();
    let (scopes, info) = scopes_of(code).await;
    assert_eq!(
        scopes,
        ["business_management", "whatsapp_business_management"]
    );
    assert!(info.grants("whatsapp_business_management", &waba_id2));
    assert!(!info.grants("whatsapp_business_messaging", &waba_id2));
    assert_ne!(waba_id, waba_id2);
    // Only the next code: the one after grants everything again.
    let (code, _, _) = sim.state().issue_signup_code();
    assert_eq!(scopes_of(code).await.0.len(), 3);
    // A Facebook Login code can carry more than was asked for.
    sim.state().add_login_page("610000000000009", "Acme", None);
    sim.state().grant_scopes_on_next_login(&[
        "pages_show_list",
        "pages_messaging",
        "instagram_basic",
        "instagram_manage_messages",
        "business_management",
        "ads_management",
    ]);
    let code = sim.state().issue_login_code();
    let (_, info) = scopes_of(code).await;
    assert_eq!(
        info.check_permissions(LoginFlow::PagesLogin).extra,
        ["ads_management"]
    );
}

#[tokio::test]
async fn codes_expire_after_30_seconds_and_need_the_right_secret() {
    let (config, sim, client) = sim_and_client().await;
    let (code, _, _) = sim.state().issue_signup_code();
    let wrong = client
        .exchange_code(&config.app_id, &AppSecret::new("wrong"), &code, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong,
            GraphError::Transient { .. } | GraphError::Rejected { .. }
        ),
        "{wrong:?}"
    );
    assert!(
        !format!("{wrong:?}").contains("wrong"),
        "the secret is never echoed"
    );

    sim.state().advance(Duration::from_secs(31));
    let expired = client
        .exchange_code(&config.app_id, &config.app_secret, &code, None)
        .await
        .unwrap_err();
    assert_eq!(expired, GraphError::CodeRefused { expired: true });
    assert!(format!("{expired}").contains("expired"), "{expired}");
}

#[tokio::test]
async fn media_downloads_need_a_fresh_url_the_token_and_a_matching_checksum() {
    let config = SimConfig::default();
    let (sim, received) = receiver::sim_with_receiver(config.clone()).await;
    let token = sim.add_whatsapp_number("W", "P", "1555");
    let customer = receiver::customer("US.1", "Dee");
    let photo = b"\xff\xd8\xff\xe0 a jpeg".to_vec();
    sim.customer_writes(
        "P",
        &customer,
        Inbound::Image {
            bytes: photo.clone(),
            caption: Some("broken".into()),
        },
    )
    .await;

    let item = received.items().pop().unwrap();
    let Event::Message(message) = item.event else {
        panic!("expected a message")
    };
    let Content::Media(media) = &message.content else {
        panic!("expected media")
    };
    let base = url::Url::parse(&sim.base_url()).unwrap();
    let client = GraphClient::new(&sim.base_url())
        .unwrap()
        .with_media_policy(MediaHostPolicy::meta().allow_origin(&base));

    let info = client
        .media_info(media.id.as_deref().unwrap(), &token)
        .await
        .unwrap();
    assert_eq!(info.sha256, media.sha256);
    let bytes = client.download_media(&info, &token, 1024).await.unwrap();
    assert_eq!(bytes.as_ref(), photo.as_slice());

    // Too large for the caller's limit.
    assert!(matches!(
        client.download_media(&info, &token, 4).await,
        Err(GraphError::Media(MediaError::TooLarge { .. }))
    ));
    // A wrong checksum is refused.
    let mut tampered = info.clone();
    tampered.sha256 = Some("00".repeat(32));
    assert_eq!(
        client.download_media(&tampered, &token, 1024).await,
        Err(GraphError::Media(MediaError::ChecksumMismatch))
    );
    // The URL expires after 5 minutes; a fresh lookup works again.
    sim.state().advance(Duration::from_secs(301));
    assert!(matches!(
        client.download_media(&info, &token, 1024).await,
        Err(GraphError::Media(MediaError::UrlExpired(_)))
    ));
    let fresh = client
        .media_info(media.id.as_deref().unwrap(), &token)
        .await
        .unwrap();
    assert_eq!(
        client
            .download_media(&fresh, &token, 1024)
            .await
            .unwrap()
            .as_ref(),
        photo.as_slice()
    );

    // Without the allow-list entry, the stand-in's loopback host is refused like any non-Meta host.
    let strict = GraphClient::new(&sim.base_url()).unwrap();
    assert!(matches!(
        strict.download_media(&fresh, &token, 1024).await,
        Err(GraphError::Media(MediaError::HostNotAllowed(_)))
    ));
}

#[tokio::test]
async fn uploads_return_a_media_id_that_can_be_sent() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let token = sim.add_whatsapp_number("W", "P", "1555");
    let client = GraphClient::new(&sim.base_url()).unwrap();
    let id = client
        .upload_media(
            "P",
            &token,
            "application/pdf",
            "invoice.pdf",
            Bytes::from_static(b"%PDF-1.7"),
        )
        .await
        .unwrap();
    assert_eq!(sim.state().media_sha256(&id).unwrap().len(), 64);
}

#[tokio::test]
async fn user_profiles_name_messenger_and_instagram_customers_only_for_their_page() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let page_token = sim.add_page("PAGE1", false);
    let ig_token = sim.add_page("IG1", true);
    let client = GraphClient::new(&sim.base_url()).unwrap();
    let chen = receiver::customer("PSID9", "Chen Wei");
    let bruno = receiver::customer("IGSID7", "Bruno Costa");
    sim.customer_writes("PAGE1", &chen, Inbound::Text("hi".into()))
        .await;
    sim.customer_writes("IG1", &bruno, Inbound::Text("oi".into()))
        .await;

    let messenger = client
        .user_profile("PSID9", Platform::Messenger, &page_token)
        .await
        .unwrap();
    assert_eq!(messenger.first_name.as_deref(), Some("Chen"));
    assert_eq!(messenger.display_name().as_deref(), Some("Chen Wei"));
    let instagram = client
        .user_profile("IGSID7", Platform::Instagram, &ig_token)
        .await
        .unwrap();
    assert_eq!(instagram.name.as_deref(), Some("Bruno Costa"));
    assert_eq!(instagram.username.as_deref(), Some("bruno.costa"));

    // Another Page's token can't read the customer.
    let other = client
        .user_profile("PSID9", Platform::Messenger, &ig_token)
        .await;
    assert!(
        matches!(
            other,
            Err(GraphError::InvalidInput(_)
                | GraphError::Rejected { .. }
                | GraphError::PermissionDenied { .. })
        ),
        "{other:?}"
    );
}
