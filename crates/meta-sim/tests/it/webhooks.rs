use std::time::Duration;

use zentro_meta::webhook::{Content, Event};
use zentro_meta_sim::{Customer, Inbound, SimConfig, WebhookDelivery};

use crate::receiver;

#[tokio::test]
async fn customers_write_every_type_and_each_webhook_verifies_as_signed() {
    let config = SimConfig::default();
    let (sim, received) = receiver::sim_with_receiver(config.clone()).await;
    sim.add_whatsapp_number("W", "P", "1555");
    let c = Customer {
        id: "US.7".into(),
        phone: Some("351912345678".into()),
        name: "João Ñúñez 😀".into(),
    };
    let messages = vec![
        Inbound::Text("Olá, está aí? ä 😀".into()),
        Inbound::Image {
            bytes: vec![1, 2, 3],
            caption: None,
        },
        Inbound::Voice { bytes: vec![4, 5] },
        Inbound::Document {
            bytes: vec![6],
            filename: "fatura.pdf".into(),
        },
        Inbound::Location {
            latitude: 38.7,
            longitude: -9.1,
            name: "Lisboa".into(),
        },
        Inbound::ContactCard {
            name: "Maria".into(),
            phone: "+351 91".into(),
        },
        Inbound::Reply {
            quoted_id: "wamid.OUT1".into(),
            text: "this".into(),
        },
        Inbound::Reaction {
            message_id: "wamid.OUT1".into(),
            emoji: Some("❤️".into()),
        },
        Inbound::ButtonReply {
            id: "yes".into(),
            title: "Sim".into(),
        },
        Inbound::Unsupported,
    ];
    for m in messages {
        let id = sim.customer_writes("P", &c, m).await;
        assert_eq!(
            received.items().last().map(|i| i.key.clone()),
            Some(format!("whatsapp:message:{id}"))
        );
    }
    assert_eq!(
        *received.bad_signatures.lock().unwrap(),
        0,
        "every body verifies with escaped unicode as sent"
    );
    let raw = String::from_utf8(received.bodies.lock().unwrap()[0].to_vec()).unwrap();
    assert!(
        raw.contains("\\u00e4") && raw.contains("\\ud83d\\ude00"),
        "non-ASCII travels escaped: {raw}"
    );
    let items = received.items();
    assert_eq!(items.len(), 10);
    assert!(
        matches!(&items[0].event, Event::Message(m) if matches!(&m.content, Content::Text { body } if body == "Olá, está aí? ä 😀"))
    );
    assert!(matches!(&items[7].event, Event::Reaction(r) if r.emoji.as_deref() == Some("❤️")));
}

#[tokio::test]
async fn failed_deliveries_are_retried_until_the_receiver_answers_200() {
    let config = SimConfig {
        retry_delays: vec![
            Duration::from_millis(20),
            Duration::from_millis(40),
            Duration::from_millis(80),
        ],
        ..SimConfig::default()
    };
    let (sim, received) = receiver::sim_with_receiver(config.clone()).await;
    sim.add_whatsapp_number("W", "P", "1555");
    *received.script.lock().unwrap() = vec![500, 503];
    let first = sim
        .post_webhook(serde_json::json!({"object":"whatsapp_business_account","entry":[]}))
        .await;
    assert_eq!(first, WebhookDelivery::Answered(500));
    sim.settle(Duration::from_secs(5)).await;
    assert_eq!(
        received.bodies.lock().unwrap().len(),
        1,
        "the third attempt got through"
    );
}

#[tokio::test]
async fn faults_duplicate_and_delay_deliveries_at_the_configured_rates() {
    let config = SimConfig {
        duplicate_rate: 0.5,
        late_rate: 0.3,
        max_extra_delay: Duration::from_millis(100),
        seed: 42,
        ..SimConfig::default()
    };
    let (sim, received) = receiver::sim_with_receiver(config.clone()).await;
    sim.add_whatsapp_number("W", "P", "1555");
    let c = receiver::customer("US.8", "E");
    for i in 0..40 {
        sim.customer_writes("P", &c, Inbound::Text(format!("m{i}")))
            .await;
    }
    sim.settle(Duration::from_secs(5)).await;
    let keys: Vec<String> = received.items().into_iter().map(|i| i.key).collect();
    let unique: std::collections::HashSet<_> = keys.iter().cloned().collect();
    assert_eq!(unique.len(), 40, "every message arrives");
    assert!(
        keys.len() > 45,
        "about half are duplicated: {} deliveries",
        keys.len()
    );
    // Late deliveries are overtaken: the first arrivals are not in sending order.
    let mut first_arrivals: Vec<String> = Vec::new();
    for item in received.items() {
        if let Event::Message(m) = item.event
            && let Content::Text { body } = m.content
            && !first_arrivals.contains(&body)
        {
            first_arrivals.push(body);
        }
    }
    let sent: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    assert_ne!(first_arrivals, sent, "some deliveries arrive late");
}
