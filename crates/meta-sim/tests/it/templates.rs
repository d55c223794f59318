//! Templates: created as Meta checks them, reviewed as the test decides, each change a signed
//! `message_template_status_update`, and sends refused with Meta's codes unless approved.

use std::time::Duration;

use zentro_meta::graph::*;
use zentro_meta::webhook::Event;
use zentro_meta_sim::{MetaSim, SimConfig};

use crate::receiver;

const WABA: &str = "102290129340398";
const OTHER_WABA: &str = "102290129340399";
const PHONE: &str = "106540352242922";

fn restock() -> NewTemplate {
    NewTemplate {
        name: "restock_notice".into(),
        language: "en_US".into(),
        category: TemplateCategory::Marketing,
        body: "Hi {{1}}, {{2}} is back in stock.".into(),
        body_examples: vec!["Ana".into(), "Espresso".into()],
        header: None,
        header_example: None,
        footer: Some("Reply STOP to opt out".into()),
    }
}

fn send(name: &str, values: &[&str]) -> WhatsAppSend {
    WhatsAppSend {
        to: Recipient::Phone("16505551234".into()),
        message: Outgoing::Template {
            name: name.into(),
            language: "en_US".into(),
            components: vec![TemplateComponent {
                kind: TemplateComponentKind::Body,
                parameters: values.iter().map(|v| TemplateParameter::text(*v)).collect(),
            }],
        },
        reply_to: None,
        callback_data: String::new(),
    }
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

/// The template status webhooks received so far: (event, name, reason).
fn statuses(received: &receiver::Received) -> Vec<(String, Option<String>, Option<String>)> {
    received
        .items()
        .into_iter()
        .filter_map(|item| match item.event {
            Event::TemplateStatus(s) => Some((s.event, s.name, s.reason)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_created_template_is_pending_then_approved_by_review_and_sends() {
    let (sim, client, token, received) = setup().await;
    let created = client
        .create_message_template(WABA, &token, &restock())
        .await
        .unwrap();
    assert_eq!(
        (created.status.as_str(), created.category.as_str()),
        ("PENDING", "MARKETING")
    );
    let listed = client.message_templates(WABA, &token).await.unwrap();
    let t = listed.iter().find(|t| t.name == "restock_notice").unwrap();
    assert_eq!(t.id, created.id);
    assert_eq!(t.review(), TemplateReview::Pending);
    assert_eq!(t.quality(), TemplateQuality::Unknown);
    assert_eq!(t.body_variables(), 2);
    assert_eq!(t.footer(), Some("Reply STOP to opt out"));

    // In review, it does not send (Meta answers as for an unknown template).
    let error = client
        .send_whatsapp(PHONE, &token, &send("restock_notice", &["Ana", "Espresso"]))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(132001), "{error:?}");

    assert!(
        sim.review_template(WABA, "restock_notice", "en_US", "APPROVED", "NONE")
            .await
    );
    sim.settle(Duration::from_secs(5)).await;
    assert_eq!(
        statuses(&received),
        vec![(
            "APPROVED".into(),
            Some("restock_notice".into()),
            Some("NONE".into())
        )]
    );
    // Outside any window, an approved template still goes out.
    client
        .send_whatsapp(PHONE, &token, &send("restock_notice", &["Ana", "Espresso"]))
        .await
        .unwrap();
    assert_eq!(sim.state().sent.last().unwrap().kind(), "template");
}

#[tokio::test]
async fn rejected_paused_and_disabled_templates_are_announced_and_refused_with_metas_codes() {
    let (sim, client, token, received) = setup().await;
    client
        .create_message_template(WABA, &token, &restock())
        .await
        .unwrap();
    let mut other = restock();
    other.name = "bad_offer".into();
    client
        .create_message_template(WABA, &token, &other)
        .await
        .unwrap();

    sim.review_template(WABA, "bad_offer", "en_US", "REJECTED", "INVALID_FORMAT")
        .await;
    sim.review_template(WABA, "restock_notice", "en_US", "APPROVED", "NONE")
        .await;
    sim.review_template(WABA, "restock_notice", "en_US", "PAUSED", "NONE")
        .await;
    sim.settle(Duration::from_secs(5)).await;
    let events: Vec<String> = statuses(&received).into_iter().map(|s| s.0).collect();
    assert_eq!(events, ["REJECTED", "APPROVED", "PAUSED"]);
    let listed = client.message_templates(WABA, &token).await.unwrap();
    let paused = listed.iter().find(|t| t.name == "restock_notice").unwrap();
    assert_eq!(
        (paused.review(), paused.quality()),
        (TemplateReview::Paused, TemplateQuality::Red)
    );

    for (name, code) in [("bad_offer", 132001), ("restock_notice", 132015)] {
        let error = client
            .send_whatsapp(PHONE, &token, &send(name, &["Ana", "Espresso"]))
            .await
            .unwrap_err();
        assert!(
            matches!(error, GraphError::Template { .. }),
            "{name}: {error:?}"
        );
        assert_eq!(error.code(), Some(code), "{name}");
    }
    sim.review_template(WABA, "restock_notice", "en_US", "DISABLED", "NONE")
        .await;
    let error = client
        .send_whatsapp(PHONE, &token, &send("restock_notice", &["Ana", "Espresso"]))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(132016));
    assert!(
        !sim.review_template(WABA, "never_made", "en_US", "APPROVED", "NONE")
            .await
    );
}

#[tokio::test]
async fn creation_is_checked_as_meta_checks_it() {
    let (sim, client, token, _) = setup().await;
    client
        .create_message_template(WABA, &token, &restock())
        .await
        .unwrap();
    let cases: Vec<(&str, NewTemplate)> = vec![
        (
            "upper-case name",
            NewTemplate {
                name: "Restock Notice".into(),
                ..restock()
            },
        ),
        (
            "unknown language",
            NewTemplate {
                language: "english".into(),
                ..restock()
            },
        ),
        (
            "missing examples",
            NewTemplate {
                body_examples: vec![],
                ..restock()
            },
        ),
        (
            "variable at the end",
            NewTemplate {
                body: "Hello {{1}}".into(),
                body_examples: vec!["Ana".into()],
                ..restock()
            },
        ),
        (
            "gap in variables",
            NewTemplate {
                body: "Hi {{1}} and {{3}} ok".into(),
                body_examples: vec!["a".into()],
                ..restock()
            },
        ),
        (
            "long footer",
            NewTemplate {
                footer: Some("x".repeat(61)),
                ..restock()
            },
        ),
        ("duplicate name and language", restock()),
    ];
    for (what, template) in cases {
        let error = client
            .create_message_template(WABA, &token, &template)
            .await
            .unwrap_err();
        let GraphError::Rejected { code: 100, message } = &error else {
            panic!("{what}: {error:?}");
        };
        let expected = match what {
            "upper-case name" => "lowercase",
            "unknown language" => "language code",
            "missing examples" => "example",
            "variable at the end" => "start or end",
            "gap in variables" => "without gaps",
            "long footer" => "at most 60",
            _ => "already exists",
        };
        assert!(message.contains(expected), "{what}: {message}");
    }
    // The same name in another language is another translation: accepted.
    client
        .create_message_template(
            WABA,
            &token,
            &NewTemplate {
                language: "de".into(),
                ..restock()
            },
        )
        .await
        .unwrap();
    // Another account's token may neither create nor list here.
    let stranger = sim.add_whatsapp_number(OTHER_WABA, "106540352242923", "15550783882");
    let error = client
        .create_message_template(
            WABA,
            &stranger,
            &NewTemplate {
                name: "x_y".into(),
                ..restock()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, GraphError::PermissionDenied { .. }),
        "{error:?}"
    );
    assert!(
        client
            .message_templates(OTHER_WABA, &stranger)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        client.message_templates(WABA, &token).await.unwrap().len(),
        2
    );
}
