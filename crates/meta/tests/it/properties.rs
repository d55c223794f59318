//! Properties of the parser and the signatures over arbitrary input.

use proptest::prelude::*;
use serde_json::{Value, json};
use zentro_meta::AppSecret;
use zentro_meta::signature::{sign_webhook, verify_webhook};
use zentro_meta::webhook;

/// Arbitrary JSON, biased towards Meta's field names so the parser's branches are reached.
fn arb_json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "object",
        "entry",
        "id",
        "changes",
        "field",
        "value",
        "messages",
        "statuses",
        "contacts",
        "metadata",
        "phone_number_id",
        "type",
        "text",
        "body",
        "timestamp",
        "from",
        "messaging",
        "standby",
        "sender",
        "recipient",
        "message",
        "mid",
        "attachments",
        "payload",
        "read",
        "delivery",
        "reaction",
        "errors",
        "code",
        "context",
        "interactive",
        "button_reply",
        "image",
        "location",
        "latitude",
        "order",
        "product_items",
        "is_echo",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "whatsapp_business_account",
            "page",
            "instagram",
            "messages",
            "text",
            "image",
            "read",
            "1750000000"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = webhook::parse(&bytes);
    }

    #[test]
    fn every_item_of_arbitrary_json_round_trips_through_its_envelope(
        body in arb_json(),
        object in prop::sample::select(vec!["whatsapp_business_account", "page", "instagram", "other"]),
    ) {
        let mut body = body;
        if let Value::Object(map) = &mut body {
            map.insert("object".into(), json!(object));
        }
        if let Ok(items) = webhook::parse(body.to_string().as_bytes()) {
            for item in items {
                let again = webhook::parse_value(&item.envelope).unwrap();
                prop_assert_eq!(again.len(), 1);
                prop_assert_eq!(&again[0].key, &item.key);
                prop_assert_eq!(&again[0].route, &item.route);
            }
        }
    }

    #[test]
    fn a_signature_verifies_only_for_its_exact_bytes(
        body in prop::collection::vec(any::<u8>(), 0..256),
        flip in any::<prop::sample::Index>(),
    ) {
        let secret = AppSecret::new("secret");
        let header = sign_webhook(&secret, &body);
        prop_assert!(verify_webhook(&secret, &body, Some(&header)).is_ok());
        if !body.is_empty() {
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 0x01;
            prop_assert!(verify_webhook(&secret, &tampered, Some(&header)).is_err());
        }
    }
}
