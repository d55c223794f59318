//! Menus end to end: the real Graph client sends WhatsApp reply buttons and lists and Messenger /
//! Instagram quick replies to the stand-in, which checks them against Meta's limits, records them
//! readably, and plays the customer's answer back as a signed webhook that zentro_meta parses.

use serde_json::{Value, json};
use zentro_meta::graph::*;
use zentro_meta::webhook::{Content, Event, InteractiveKind, Message, Platform};
use zentro_meta_sim::{Customer, Inbound, MetaSim, SentOption, SimConfig};

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

fn option(id: &str, title: &str) -> SentOption {
    SentOption {
        id: id.into(),
        title: title.into(),
    }
}

/// The last customer message the receiver got, parsed by zentro_meta.
fn last_inbound(received: &receiver::Received) -> Message {
    received
        .items()
        .into_iter()
        .filter_map(|i| match i.event {
            Event::Message(m) => Some(*m),
            _ => None,
        })
        .rfind(|m| m.direction == zentro_meta::webhook::Direction::Inbound)
        .expect("a customer message arrived")
}

fn whatsapp(message: Outgoing) -> WhatsAppSend {
    WhatsAppSend {
        to: Recipient::UserId(ana().id),
        message,
        reply_to: None,
        callback_data: "cm_menu".into(),
    }
}

#[tokio::test]
async fn a_whatsapp_list_is_recorded_readably_and_its_answer_parses_as_a_list_reply() {
    let (sim, received) = receiver::sim_with_receiver(SimConfig::default()).await;
    let token = sim.add_whatsapp_number(WABA, PHONE, "15550783881");
    let client = GraphClient::new(&sim.base_url()).unwrap();
    sim.customer_writes(PHONE, &ana(), Inbound::Text("Hi".into()))
        .await;

    let list = whatsapp(Outgoing::List {
        body: "Which team should help you?".into(),
        button: "Choose".into(),
        sections: vec![ListSection {
            title: "Teams".into(),
            rows: vec![
                ListRow {
                    id: "sales".into(),
                    title: "Sales".into(),
                    description: None,
                },
                ListRow {
                    id: "billing".into(),
                    title: "Billing".into(),
                    description: Some("Invoices and refunds".into()),
                },
            ],
        }],
    });
    let accepted = client.send_whatsapp(PHONE, &token, &list).await.unwrap();
    let sent = sim.state().sent[0].clone();
    assert_eq!(sent.kind(), "list");
    assert_eq!(sent.text().as_deref(), Some("Which team should help you?"));
    assert_eq!(
        sent.options(),
        [option("sales", "Sales"), option("billing", "Billing")]
    );

    let answer = sim
        .customer_picks_list_row(PHONE, &ana(), "billing", "Billing")
        .await;
    let reply = last_inbound(&received);
    assert_eq!(reply.id, answer);
    let Content::InteractiveReply(picked) = &reply.content else {
        panic!("expected an interactive reply, got {:?}", reply.content);
    };
    assert_eq!(picked.kind, InteractiveKind::ListReply);
    assert_eq!(picked.id.as_deref(), Some("billing"));
    assert_eq!(picked.title.as_deref(), Some("Billing"));
    assert_eq!(
        reply.context.and_then(|c| c.quoted_id),
        Some(accepted.message_id),
        "the answer quotes the menu"
    );
}

#[tokio::test]
async fn whatsapp_reply_buttons_are_recorded_readably_and_a_tap_parses_as_a_button_reply() {
    let (sim, received) = receiver::sim_with_receiver(SimConfig::default()).await;
    let token = sim.add_whatsapp_number(WABA, PHONE, "15550783881");
    let client = GraphClient::new(&sim.base_url()).unwrap();
    sim.customer_writes(PHONE, &ana(), Inbound::Text("Hi".into()))
        .await;

    let buttons = whatsapp(Outgoing::Buttons {
        body: "Which team?".into(),
        buttons: vec![
            ReplyButton {
                id: "sales".into(),
                title: "Sales".into(),
            },
            ReplyButton {
                id: "support".into(),
                title: "Support".into(),
            },
        ],
        footer: Some("Or write agent".into()),
    });
    client.send_whatsapp(PHONE, &token, &buttons).await.unwrap();
    let sent = sim.state().sent[0].clone();
    assert_eq!(sent.kind(), "buttons");
    assert_eq!(sent.text().as_deref(), Some("Which team?"));
    assert_eq!(
        sent.options(),
        [option("sales", "Sales"), option("support", "Support")]
    );

    sim.customer_taps_button(PHONE, &ana(), "support", "Support")
        .await;
    let Content::InteractiveReply(tapped) = last_inbound(&received).content else {
        panic!("expected an interactive reply");
    };
    assert_eq!(tapped.kind, InteractiveKind::ButtonReply);
    assert_eq!(tapped.id.as_deref(), Some("support"));
    assert_eq!(tapped.title.as_deref(), Some("Support"));
}

#[tokio::test]
async fn quick_replies_round_trip_on_messenger_and_instagram() {
    let (sim, received) = receiver::sim_with_receiver(SimConfig::default()).await;
    let client = GraphClient::new(&sim.base_url()).unwrap();
    for (page, instagram, platform) in [
        ("PAGE1", false, Platform::Messenger),
        ("IG1", true, Platform::Instagram),
    ] {
        let token = sim.add_page(page, instagram);
        let customer = receiver::customer(&format!("{page}-customer"), "Bo");
        sim.customer_writes(page, &customer, Inbound::Text("hello".into()))
            .await;
        let menu = MessengerSend {
            platform,
            recipient_id: customer.id.clone(),
            message: MessengerOutgoing::QuickReplies {
                text: "Which team?".into(),
                replies: vec![
                    QuickReply {
                        title: "Sales".into(),
                        payload: "menu:sales".into(),
                    },
                    QuickReply {
                        title: "Billing".into(),
                        payload: "menu:billing".into(),
                    },
                ],
            },
            messaging_type: MessagingType::Response,
        };
        client.send_messenger(page, &token, &menu).await.unwrap();
        let sent = sim.state().sent.last().unwrap().clone();
        assert_eq!(sent.kind(), "quick_replies");
        assert_eq!(sent.text().as_deref(), Some("Which team?"));
        assert_eq!(
            sent.options(),
            [
                option("menu:sales", "Sales"),
                option("menu:billing", "Billing")
            ]
        );

        sim.customer_taps_quick_reply(page, &customer, "Billing", "menu:billing")
            .await;
        let answer = last_inbound(&received);
        assert_eq!(answer.platform, platform);
        assert_eq!(
            answer.content,
            Content::QuickReply {
                text: "Billing".into(),
                payload: "menu:billing".into()
            }
        );
    }
}

/// Posts `body` straight to the stand-in's send endpoint (no client-side checks) and returns
/// the HTTP status and Meta's `error` object.
async fn raw_send(sim: &MetaSim, from: &str, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/{}/{from}/messages",
            sim.base_url(),
            zentro_meta::platform::GRAPH_API_VERSION
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let json: Value = response.json().await.unwrap();
    (status, json["error"].clone())
}

fn interactive(part: Value) -> Value {
    json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
            "type": "interactive", "interactive": part })
}

fn buttons_part(count: usize, title: &str) -> Value {
    let buttons: Vec<Value> = (0..count)
        .map(|i| json!({ "type": "reply", "reply": { "id": format!("b{i}"), "title": title } }))
        .collect();
    json!({ "type": "button", "body": { "text": "Which team?" }, "action": { "buttons": buttons } })
}

fn list_part(button: &str, rows: usize, row_title: &str) -> Value {
    let rows: Vec<Value> = (0..rows)
        .map(|i| json!({ "id": format!("r{i}"), "title": row_title }))
        .collect();
    json!({ "type": "list", "body": { "text": "Which team?" },
            "action": { "button": button, "sections": [{ "title": "Teams", "rows": rows }] } })
}

#[tokio::test]
async fn the_stand_in_refuses_whatsapp_menus_beyond_metas_limits_with_131009() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let token = sim.add_whatsapp_number(WABA, PHONE, "15550783881");
    let now = sim.state().now();
    sim.state().open_window(PHONE, "16505551234", now);
    let token = token.expose().to_string();
    let mut long_body = buttons_part(1, "ok");
    long_body["body"]["text"] = json!("x".repeat(1025));
    let refused = [
        (
            buttons_part(4, "ok"),
            "Buttons count should be between 1 and 3",
        ),
        (
            buttons_part(1, &"t".repeat(21)),
            "Button title length is too long. Max length is 20",
        ),
        (
            long_body,
            "Body text length is too long. Max length is 1024",
        ),
        (
            list_part("Choose", 11, "Row"),
            "Total row count exceed max allowed count: 10",
        ),
        (
            list_part(&"b".repeat(21), 2, "Row"),
            "Button title length is too long. Max length is 20",
        ),
        (
            list_part("Choose", 2, &"t".repeat(25)),
            "Row title length is too long. Max length is 24",
        ),
    ];
    for (part, details) in refused {
        let (status, error) = raw_send(&sim, PHONE, &token, interactive(part)).await;
        assert_eq!(status, 400, "{details}");
        assert_eq!(error["code"], 131009, "{details}: {error}");
        assert_eq!(error["error_data"]["details"], details);
    }
    let accepted = [
        buttons_part(3, &"t".repeat(20)),
        list_part(&"b".repeat(20), 10, &"t".repeat(24)),
    ];
    for part in accepted {
        let (status, error) = raw_send(&sim, PHONE, &token, interactive(part)).await;
        assert_eq!(status, 200, "{error}");
    }
    assert_eq!(sim.state().sent.len(), 2, "only the valid menus were sent");
}

#[tokio::test]
async fn the_stand_in_refuses_quick_replies_beyond_metas_limits_with_100() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let token = sim.add_page("PAGE1", false).expose().to_string();
    let now = sim.state().now();
    sim.state().open_window("PAGE1", "PSID1", now);
    let menu = |count: usize, title: &str, payload: &str| {
        let replies: Vec<Value> = (0..count)
            .map(|_| json!({ "content_type": "text", "title": title, "payload": payload }))
            .collect();
        json!({ "recipient": { "id": "PSID1" }, "messaging_type": "RESPONSE",
                "message": { "text": "Which team?", "quick_replies": replies } })
    };
    let refused = [
        (
            menu(14, "t", "p"),
            "(#100) param message[quick_replies] must have between 1 and 13 elements.",
        ),
        (
            menu(1, &"t".repeat(21), "p"),
            "(#100) Length of param message[quick_replies][0][title] must be less than or equal to 20",
        ),
        (
            menu(1, "t", &"p".repeat(1001)),
            "(#100) Length of param message[quick_replies][0][payload] must be less than or equal to 1000",
        ),
    ];
    for (body, message) in refused {
        let (status, error) = raw_send(&sim, "PAGE1", &token, body).await;
        assert_eq!(status, 400, "{message}");
        assert_eq!(error["code"], 100);
        assert_eq!(error["message"], message);
    }
    let (status, error) = raw_send(
        &sim,
        "PAGE1",
        &token,
        menu(13, &"t".repeat(20), &"p".repeat(1000)),
    )
    .await;
    assert_eq!(status, 200, "{error}");
    assert_eq!(sim.state().sent.len(), 1);
}
