use std::time::Duration;

use zentro_meta::graph::*;
use zentro_meta::webhook::{DeliveryState, Event, MediaKind, Platform};
use zentro_meta_sim::{Customer, Inbound, MetaSim, SimConfig};

use crate::receiver;

const WABA: &str = "102290129340398";
const PHONE: &str = "106540352242922";

fn ana() -> Customer {
    Customer {
        id: "US.13491208655302741918".into(),
        phone: Some("16505551234".into()),
        name: "Ana".into(),
    }
}

fn text(to: Recipient, body: &str) -> WhatsAppSend {
    WhatsAppSend {
        to,
        message: Outgoing::Text {
            body: body.into(),
            preview_url: false,
        },
        reply_to: None,
        callback_data: "cm_1".into(),
    }
}

/// Sends a text from [`PHONE`] to `to` as `token`'s holder.
async fn send_text(
    client: &GraphClient,
    token: &zentro_meta::AccessToken,
    to: Recipient,
    body: &str,
) -> Result<zentro_meta::graph::Accepted, GraphError> {
    client.send_whatsapp(PHONE, token, &text(to, body)).await
}

async fn setup() -> (
    MetaSim,
    GraphClient,
    zentro_meta::AccessToken,
    receiver::Received,
) {
    let (sim, received) = receiver::sim_with_receiver(SimConfig::default()).await;
    let token = sim.add_whatsapp_number(WABA, PHONE, "15550783881");
    let client = GraphClient::new(&sim.base_url()).unwrap();
    (sim, client, token, received)
}

#[tokio::test]
async fn a_reply_inside_the_window_is_accepted_and_followed_by_sent_delivered_read() {
    let (sim, client, token, received) = setup().await;
    sim.customer_writes(PHONE, &ana(), Inbound::Text("Hi".into()))
        .await;

    let accepted = send_text(&client, &token, Recipient::UserId(ana().id), "Hello Ana")
        .await
        .unwrap();
    sim.settle(Duration::from_secs(5)).await;

    assert!(accepted.message_id.starts_with("wamid."));
    assert_eq!(accepted.status.as_deref(), Some("accepted"));
    let sent = &sim.state().sent;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["recipient"], "US.13491208655302741918");
    let states: Vec<DeliveryState> = received
        .items()
        .into_iter()
        .filter_map(|i| match i.event {
            Event::Status(s) if s.message_id == accepted.message_id => {
                assert_eq!(
                    s.callback_data.as_deref(),
                    Some("cm_1"),
                    "statuses echo biz_opaque_callback_data"
                );
                Some(s.state)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            DeliveryState::Sent,
            DeliveryState::Delivered,
            DeliveryState::Read
        ]
    );
}

#[tokio::test]
async fn free_form_outside_the_24_hour_window_is_refused_but_a_template_goes() {
    let (sim, client, token, _received) = setup().await;
    sim.customer_writes(PHONE, &ana(), Inbound::Text("Hi".into()))
        .await;
    sim.state().advance(Duration::from_secs(24 * 3600 + 1));

    let error = send_text(
        &client,
        &token,
        Recipient::Phone("+16505551234".into()),
        "late",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, GraphError::WindowClosed { .. }),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), None);

    sim.state()
        .add_template("order_update_v1", "en_US", 2, "APPROVED");
    let template = WhatsAppSend {
        to: Recipient::Phone("16505551234".into()),
        message: Outgoing::Template {
            name: "order_update_v1".into(),
            language: "en_US".into(),
            components: vec![TemplateComponent {
                kind: TemplateComponentKind::Body,
                parameters: vec![
                    TemplateParameter::text("Ana"),
                    TemplateParameter::text("#1042"),
                ],
            }],
        },
        reply_to: None,
        callback_data: "cm_2".into(),
    };
    client
        .send_whatsapp(PHONE, &token, &template)
        .await
        .unwrap();
}

#[tokio::test]
async fn template_problems_are_typed() {
    let (sim, client, token, _) = setup().await;
    sim.state().add_template("two_vars", "en_US", 2, "APPROVED");
    sim.state().add_template("paused", "en_US", 0, "PAUSED");
    sim.state().add_template("disabled", "en_US", 0, "DISABLED");
    let send = |name: &str, params: usize| WhatsAppSend {
        to: Recipient::Phone("16505551234".into()),
        message: Outgoing::Template {
            name: name.into(),
            language: "en_US".into(),
            components: vec![TemplateComponent {
                kind: TemplateComponentKind::Body,
                parameters: (0..params)
                    .map(|i| TemplateParameter::text(i.to_string()))
                    .collect(),
            }],
        },
        reply_to: None,
        callback_data: String::new(),
    };
    for (name, params, code) in [
        ("two_vars", 1, 132000),
        ("nope", 0, 132001),
        ("paused", 0, 132015),
        ("disabled", 0, 132016),
    ] {
        let error = client
            .send_whatsapp(PHONE, &token, &send(name, params))
            .await
            .unwrap_err();
        assert!(
            matches!(error, GraphError::Template { .. }),
            "{name}: {error:?}"
        );
        assert_eq!(error.code(), Some(code), "{name}");
    }
}

#[tokio::test]
async fn every_send_kind_is_accepted_with_the_body_meta_expects() {
    let (sim, client, token, _) = setup().await;
    sim.customer_writes(PHONE, &ana(), Inbound::Text("Hi".into()))
        .await;
    let to = || Recipient::Phone("16505551234".into());
    let sends = vec![
        Outgoing::Media {
            kind: MediaKind::Image,
            source: MediaSource::Link("https://example.com/a.jpg".into()),
            caption: Some("photo".into()),
            filename: None,
        },
        Outgoing::Media {
            kind: MediaKind::Document,
            source: MediaSource::Id("123".into()),
            caption: None,
            filename: Some("invoice.pdf".into()),
        },
        Outgoing::Buttons {
            body: "Pick one".into(),
            buttons: vec![
                ReplyButton {
                    id: "yes".into(),
                    title: "Yes".into(),
                },
                ReplyButton {
                    id: "no".into(),
                    title: "No".into(),
                },
            ],
            footer: None,
        },
        Outgoing::List {
            body: "Sizes".into(),
            button: "Choose".into(),
            sections: vec![ListSection {
                title: "All".into(),
                rows: vec![ListRow {
                    id: "m".into(),
                    title: "M".into(),
                    description: Some("Medium".into()),
                }],
            }],
        },
        Outgoing::Reaction {
            message_id: "wamid.X".into(),
            emoji: Some("👍".into()),
        },
    ];
    for message in sends {
        let send = WhatsAppSend {
            to: to(),
            message,
            reply_to: Some("wamid.Q".into()),
            callback_data: "cb".into(),
        };
        client.send_whatsapp(PHONE, &token, &send).await.unwrap();
    }
    client
        .mark_read(PHONE, &token, "wamid.IN", true)
        .await
        .unwrap();
    let kinds: Vec<String> = sim
        .state()
        .sent
        .iter()
        .map(|s| s.body["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "image",
            "document",
            "interactive",
            "interactive",
            "reaction"
        ]
    );
    assert_eq!(sim.state().sent[0].body["context"]["message_id"], "wamid.Q");
}

#[tokio::test]
async fn limits_are_enforced_by_the_client_and_by_meta() {
    let (sim, client, token, _) = setup().await;
    sim.customer_writes(PHONE, &ana(), Inbound::Text("Hi".into()))
        .await;
    let long = text(Recipient::Phone("16505551234".into()), &"x".repeat(4097));
    assert!(matches!(
        client.send_whatsapp(PHONE, &token, &long).await,
        Err(GraphError::InvalidInput(_))
    ));
    assert!(sim.state().sent.is_empty(), "nothing reached Meta");
    // The stand-in enforces it too, for callers that skip validation.
    let raw = reqwest::Client::new()
        .post(format!("{}/v26.0/{PHONE}/messages", sim.base_url()))
        .bearer_auth(token.expose())
        .json(&long.to_json())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
}

#[tokio::test]
async fn an_invalid_or_revoked_token_disconnects_the_channel() {
    let (sim, client, token, _) = setup().await;
    sim.customer_writes(PHONE, &ana(), Inbound::Text("Hi".into()))
        .await;
    let bogus = zentro_meta::AccessToken::new("EAAG-not-a-token");
    let error = send_text(&client, &bogus, Recipient::Phone("16505551234".into()), "x")
        .await
        .unwrap_err();
    assert!(error.disconnects_channel(), "{error:?}");
    sim.state().revoke_token(&token);
    let error = send_text(&client, &token, Recipient::Phone("16505551234".into()), "x")
        .await
        .unwrap_err();
    assert_eq!(error, GraphError::TokenInvalid);
    assert!(
        !format!("{error} {error:?}").contains(token.expose()),
        "errors never carry the token"
    );
}

#[tokio::test]
async fn rate_limits_and_transient_errors_say_how_long_to_wait() {
    let (sim, client, token, _) = setup().await;
    sim.customer_writes(PHONE, &ana(), Inbound::Text("Hi".into()))
        .await;
    sim.state().inject_send_errors(&[
        (400, 131056),
        (400, 130429),
        (400, 80007),
        (500, 131000),
        (400, 131026),
        (400, 131048),
    ]);
    let send = text(Recipient::Phone("16505551234".into()), "x");
    let mut errors = Vec::new();
    for _ in 0..6 {
        errors.push(
            client
                .send_whatsapp(PHONE, &token, &send)
                .await
                .unwrap_err(),
        );
    }
    assert!(matches!(errors[0], GraphError::PairRateLimited { .. }));
    assert!(matches!(errors[1], GraphError::ThroughputLimited { .. }));
    assert!(matches!(
        errors[2],
        GraphError::Throttled { code: 80007, .. }
    ));
    assert!(matches!(errors[3], GraphError::Transient { .. }));
    assert!(matches!(errors[4], GraphError::Undeliverable { .. }));
    assert!(matches!(errors[5], GraphError::QualityLimited { .. }));
    assert!(errors[..4].iter().all(|e| e.retry_after().is_some()));
    assert!(errors[4..].iter().all(|e| e.retry_after().is_none()));
}

#[tokio::test]
async fn an_unreachable_meta_means_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = GraphClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let error = send_text(
        &client,
        &zentro_meta::AccessToken::new("t"),
        Recipient::Phone("1".into()),
        "x",
    )
    .await
    .unwrap_err();
    assert!(matches!(error, GraphError::Unreachable(_)), "{error:?}");
}

#[tokio::test]
async fn a_timeout_after_sending_is_ambiguous_never_retried_blindly() {
    // A server that accepts the request and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        }
    });
    let client = GraphClient::new(&format!("http://{addr}"))
        .unwrap()
        .with_call_timeout(Duration::from_secs(1))
        .unwrap();
    let send = text(Recipient::Phone("1".into()), "x");
    let token = zentro_meta::AccessToken::new("t");
    let call = client.send_whatsapp(PHONE, &token, &send);
    let error = tokio::time::timeout(Duration::from_secs(40), call)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, GraphError::Ambiguous(_)), "{error:?}");
    assert_eq!(error.retry_after(), None);
}

#[tokio::test]
async fn messenger_and_instagram_sends_respect_their_windows_and_limits() {
    let (sim, received) = receiver::sim_with_receiver(SimConfig::default()).await;
    let page_token = sim.add_page("PAGE1", false);
    let ig_token = sim.add_page("IG1", true);
    let client = GraphClient::new(&sim.base_url()).unwrap();
    let psid = receiver::customer("PSID1", "Bo");
    let send = |platform, to: &str, text: String, messaging_type| MessengerSend {
        platform,
        recipient_id: to.into(),
        message: MessengerOutgoing::Text(text),
        messaging_type,
    };
    // A text to Bo from the Page, as the future of its send.
    let to_psid = |text: &str, messaging_type| {
        let message = send(Platform::Messenger, "PSID1", text.into(), messaging_type);
        let (client, page_token) = (&client, &page_token);
        async move { client.send_messenger("PAGE1", page_token, &message).await }
    };

    let closed = to_psid("hi", MessagingType::Response).await.unwrap_err();
    assert!(
        matches!(
            closed,
            GraphError::PermissionDenied { code: 10 } | GraphError::Rejected { .. }
        ),
        "{closed:?}"
    );

    sim.customer_writes("PAGE1", &psid, Inbound::Text("hello".into()))
        .await;
    let ok = to_psid("On it!", MessagingType::Response).await.unwrap();
    assert!(ok.message_id.starts_with("m_"));

    // After 2 days only a human agent may answer, with the tag.
    sim.state().advance(Duration::from_secs(2 * 24 * 3600));
    assert!(to_psid("late", MessagingType::Response).await.is_err());
    to_psid("late", MessagingType::HumanAgent).await.unwrap();

    let igsid = receiver::customer("IGSID1", "Cy");
    sim.customer_writes("IG1", &igsid, Inbound::Text("oi".into()))
        .await;
    let too_long = send(
        Platform::Instagram,
        "IGSID1",
        "é".repeat(501),
        MessagingType::Response,
    );
    assert!(matches!(
        client.send_messenger("IG1", &ig_token, &too_long).await,
        Err(GraphError::InvalidInput(_))
    ));
    client
        .send_messenger(
            "IG1",
            &ig_token,
            &send(
                Platform::Instagram,
                "IGSID1",
                "é".repeat(500),
                MessagingType::Response,
            ),
        )
        .await
        .unwrap();

    sim.settle(Duration::from_secs(5)).await;
    let echoes = received
        .items()
        .into_iter()
        .filter(|i| matches!(&i.event, Event::Message(m) if m.direction == zentro_meta::webhook::Direction::Echo && m.id == ok.message_id))
        .count();
    assert_eq!(echoes, 1, "each Messenger send is echoed once");
}
