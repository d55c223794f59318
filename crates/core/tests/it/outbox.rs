//! Replies through the outbox against meta-sim: failures, and trying again.

use serde_json::json;
use zentro_core::Cache;
use zentro_core::apply::RelayEvent;
use zentro_core::{inbox, outbox};
use zentro_meta::AccessToken;
use zentro_meta::graph::GraphClient;
use zentro_meta_sim::{MetaSim, SimConfig};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn inbound(seq: i64, at_secs: i64) -> RelayEvent {
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P" },
            "contacts": [{ "profile": { "name": "Dee" }, "user_id": "US.1", "wa_id": "15550001111" }],
            "messages": [{ "from_user_id": "US.1", "from": "15550001111", "id": format!("wamid.in{seq}"), "timestamp": at_secs.to_string(),
                           "type": "text", "text": { "body": "hello?" } }] }}]}]}),
    )
}

/// A cache in `dir` holding one customer's message sent at `at_secs`, and its conversation.
async fn cache_with_a_customer_message(dir: &std::path::Path, at_secs: i64) -> (Cache, i64) {
    let cache = Cache::open_in(dir).await.unwrap();
    crate::support::apply(&cache, &[inbound(1, at_secs)]).await;
    let conversation = inbox::conversations(&cache, None, 1).await.unwrap()[0].id;
    (cache, conversation)
}

fn failed_status(seq: i64, wamid: &str) -> RelayEvent {
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P" },
            "statuses": [{ "id": wamid, "status": "failed", "timestamp": (now_ms() / 1000).to_string(), "recipient_id": "15550001111",
                           "errors": [{ "code": 131026, "title": "Message undeliverable" }] }] }}]}]}),
    )
}

/// Meta's stand-in with the WhatsApp number "P", its window open for customer US.1 (by phone
/// and by id); returns it, the number's token and a Graph client on it.
async fn meta_with_an_open_window() -> (MetaSim, AccessToken, GraphClient) {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let token = sim.add_whatsapp_number("W", "P", "1555");
    sim.state()
        .open_window("P", "15550001111", chrono::Utc::now());
    sim.state().open_window("P", "US.1", chrono::Utc::now());
    let graph = GraphClient::new(&sim.base_url()).unwrap();
    (sim, token, graph)
}

/// Delivers what is due now, which must be one message accepted by Meta, and returns the body
/// Meta received (its first send).
async fn deliver_the_one_due(
    cache: &Cache,
    graph: &GraphClient,
    tokens: &(dyn Fn(&str) -> Option<AccessToken> + Sync),
    sim: &MetaSim,
) -> serde_json::Value {
    let report = outbox::deliver_due(cache, graph, tokens, now_ms())
        .await
        .unwrap();
    assert_eq!(report.accepted.len(), 1, "{report:?}");
    sim.state().sent[0].body.clone()
}

#[tokio::test]
async fn a_failed_reply_is_tried_again_as_it_was_or_sent_anew_after_meta_accepted_it() {
    let (sim, token, graph) = meta_with_an_open_window().await;
    let dir = tempfile::tempdir().unwrap();
    let (cache, conversation) = cache_with_a_customer_message(dir.path(), now_ms() / 1000).await;

    // No token for the channel: the reply fails with the reason, nothing reached Meta.
    let client_id = outbox::queue_reply(&cache, "m1", conversation, "On its way", None, now_ms())
        .await
        .unwrap();
    let no_token = |_: &str| None;
    let report = outbox::deliver_due(&cache, &graph, &no_token, now_ms())
        .await
        .unwrap();
    assert_eq!(report.failed, 1);
    let shown = inbox::messages(&cache, conversation, None, 10)
        .await
        .unwrap();
    assert_eq!(shown[0].delivery_status.as_deref(), Some("failed"));
    assert!(
        shown[0]
            .error_message
            .as_deref()
            .unwrap()
            .contains("reconnect the channel")
    );
    assert!(sim.state().sent.is_empty());

    // Tried again after the channel was reconnected: the same reply, sent once.
    let again = outbox::retry(&cache, "m1", &client_id, now_ms())
        .await
        .unwrap();
    assert_eq!(again, client_id);
    let secret = token.expose().to_string();
    let tokens = move |_: &str| Some(AccessToken::new(&secret));
    let report = outbox::deliver_due(&cache, &graph, &tokens, now_ms())
        .await
        .unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(sim.state().sent.len(), 1);
    let wamid = report.accepted[0].external_id.clone();

    // Meta accepted it, then reported it undeliverable: a retry is a new reply.
    crate::support::apply(&cache, &[failed_status(2, &wamid)]).await;
    let anew = outbox::retry(&cache, "m1", &client_id, now_ms())
        .await
        .unwrap();
    assert_ne!(anew, client_id);
    outbox::deliver_due(&cache, &graph, &tokens, now_ms())
        .await
        .unwrap();
    assert_eq!(sim.state().sent.len(), 2);

    // Only failed replies can be retried.
    assert!(outbox::retry(&cache, "m1", &anew, now_ms()).await.is_err());
}

#[tokio::test]
async fn outside_the_window_only_an_approved_template_goes_out_with_its_variables() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let token = sim.add_whatsapp_number("W", "P", "1555");
    {
        let mut state = sim.state();
        state.add_template_text(
            "order_update",
            "en_US",
            "Hi {{1}}, your order {{2}} has shipped.",
            "APPROVED",
        );
        state.add_template_text("promo", "en_US", "Sale!", "PAUSED");
    }
    let graph = GraphClient::new(&sim.base_url()).unwrap();
    let secret = token.expose().to_string();
    let tokens = move |_: &str| Some(AccessToken::new(&secret));
    let dir = tempfile::tempdir().unwrap();
    // The customer last wrote two days ago.
    let (cache, conversation) =
        cache_with_a_customer_message(dir.path(), now_ms() / 1000 - 2 * 86_400).await;

    let refused =
        outbox::queue_reply(&cache, "m1", conversation, "Any news?", None, now_ms()).await;
    assert!(
        matches!(refused, Err(outbox::OutboxError::WindowClosed { .. })),
        "{refused:?}"
    );

    let listed = outbox::templates(&cache, &graph, &tokens, conversation)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["order_update"],
        "approved only"
    );
    assert_eq!(listed[0].body_variables(), 2);

    let choice = |variables: &[&str]| outbox::TemplateChoice {
        name: "order_update".into(),
        language: "en_US".into(),
        variables: variables.iter().map(|v| v.to_string()).collect(),
    };
    assert!(
        outbox::queue_template(
            &cache,
            "m1",
            conversation,
            choice(&["Dee", " "]),
            "",
            now_ms()
        )
        .await
        .is_err()
    );
    outbox::queue_template(
        &cache,
        "m1",
        conversation,
        choice(&["Dee", "#4821"]),
        "Hi Dee, your order #4821 has shipped.",
        now_ms(),
    )
    .await
    .unwrap();
    let sent = deliver_the_one_due(&cache, &graph, &tokens, &sim).await;
    assert_eq!(sent["type"], "template");
    assert_eq!(
        sent["template"]["components"][0]["parameters"][1]["text"],
        "#4821"
    );
    let shown = inbox::messages(&cache, conversation, None, 5)
        .await
        .unwrap();
    assert_eq!(
        shown[0].body.as_deref(),
        Some("Hi Dee, your order #4821 has shipped.")
    );
}

#[tokio::test]
async fn an_attached_file_is_kept_shown_uploaded_and_sent_within_whatsapps_limits() {
    let (sim, token, graph) = meta_with_an_open_window().await;
    let secret = token.expose().to_string();
    let tokens = move |_: &str| Some(AccessToken::new(&secret));
    let dir = tempfile::tempdir().unwrap();
    let (cache, conversation) = cache_with_a_customer_message(dir.path(), now_ms() / 1000).await;

    let too_big = outbox::Attachment {
        file_name: "huge.png".into(),
        mime: "image/png".into(),
        bytes: vec![0; 5 * 1024 * 1024 + 1],
    };
    let refused = outbox::queue_attachment(
        &cache,
        dir.path(),
        "m1",
        conversation,
        too_big,
        "",
        now_ms(),
    )
    .await;
    assert!(format!("{:?}", refused.unwrap_err()).contains("at most 5 MB"));

    let receipt = outbox::Attachment {
        file_name: "receipt.pdf".into(),
        mime: "application/pdf".into(),
        bytes: b"%PDF-1.4 receipt".to_vec(),
    };
    outbox::queue_attachment(
        &cache,
        dir.path(),
        "m1",
        conversation,
        receipt,
        "Your receipt",
        now_ms(),
    )
    .await
    .unwrap();
    // Shown at once, from the local copy.
    let shown = inbox::messages(&cache, conversation, None, 5)
        .await
        .unwrap();
    assert_eq!(
        (shown[0].kind.as_str(), shown[0].media_stored),
        ("document", true)
    );
    assert_eq!(shown[0].file_name.as_deref(), Some("receipt.pdf"));

    let sent = deliver_the_one_due(&cache, &graph, &tokens, &sim).await;
    assert_eq!(sent["type"], "document");
    assert_eq!(sent["document"]["filename"], "receipt.pdf");
    assert_eq!(sent["document"]["caption"], "Your receipt");
    let media_id = sent["document"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        sim.state().media_sha256(&media_id).unwrap().len(),
        64,
        "uploaded to Meta first"
    );
}

#[tokio::test]
async fn a_file_on_messenger_is_uploaded_then_sent_by_its_attachment_id() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let token = sim.add_page("PAGE1", false);
    sim.state()
        .open_window("PAGE1", "PSID7", chrono::Utc::now());
    let graph = GraphClient::new(&sim.base_url()).unwrap();
    let secret = token.expose().to_string();
    let tokens = move |_: &str| Some(AccessToken::new(&secret));
    let ms = now_ms();
    let hello = RelayEvent::webhook(
        1,
        json!({ "object": "page", "entry": [{ "id": "PAGE1", "time": ms, "messaging": [{
            "sender": { "id": "PSID7" }, "recipient": { "id": "PAGE1" }, "timestamp": ms,
            "message": { "mid": "m_1", "text": "can you send the invoice?" } }] }] }),
    );
    let (dir, cache) = crate::support::cache_with(&[hello]).await;
    let conversation = inbox::conversations(&cache, None, 1).await.unwrap()[0].id;
    let invoice = || outbox::Attachment {
        file_name: "invoice.pdf".into(),
        mime: "application/pdf".into(),
        bytes: b"%PDF-1.4 invoice".to_vec(),
    };

    let captioned = outbox::queue_attachment(
        &cache,
        dir.path(),
        "m1",
        conversation,
        invoice(),
        "here",
        now_ms(),
    )
    .await;
    assert!(format!("{:?}", captioned.unwrap_err()).contains("no caption"));
    outbox::queue_attachment(
        &cache,
        dir.path(),
        "m1",
        conversation,
        invoice(),
        "",
        now_ms(),
    )
    .await
    .unwrap();
    let sent = deliver_the_one_due(&cache, &graph, &tokens, &sim).await;
    assert_eq!(sent["message"]["attachment"]["type"], "file");
    let id = sent["message"]["attachment"]["payload"]["attachment_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        sim.state().media_sha256(&id).unwrap().len(),
        64,
        "uploaded first"
    );
}

/// A status webhook of WhatsApp for `wamid`, optionally carrying the callback data a send was
/// tagged with.
fn wa_status(seq: i64, wamid: &str, state: &str, callback: Option<&str>) -> RelayEvent {
    let mut status = json!({ "id": wamid, "status": state, "timestamp": (now_ms() / 1000).to_string(), "recipient_id": "15550001111" });
    if let Some(callback) = callback {
        status["biz_opaque_callback_data"] = callback.into();
    }
    if state == "failed" {
        status["errors"] = json!([{ "code": 131026, "title": "Message undeliverable" }]);
    }
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P" }, "statuses": [status] }}]}]}),
    )
}

#[tokio::test]
async fn a_send_that_timed_out_is_recognised_by_its_statuses_and_every_status_moves_forward() {
    // Meta takes the request and never answers: the outcome is unknown.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let silent = GraphClient::new(&format!("http://{address}"))
        .unwrap()
        .with_call_timeout(std::time::Duration::from_secs(1))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cache, conversation) = cache_with_a_customer_message(dir.path(), now_ms() / 1000).await;
    let client_id = outbox::queue_reply(&cache, "m1", conversation, "On its way", None, now_ms())
        .await
        .unwrap();
    let tokens = |_: &str| Some(AccessToken::new("t"));
    let report = outbox::deliver_due(&cache, &silent, &tokens, now_ms())
        .await
        .unwrap();
    assert_eq!(report.ambiguous, 1);
    // One batch: the timed-out send's statuses (the first tagged with its client id), and the
    // statuses of a message whose state is folded forward in the batch's order.
    let batch = [
        wa_status(2, "wamid.NEW", "sent", Some(&client_id)),
        wa_status(3, "wamid.NEW", "read", Some(&client_id)),
        wa_status(4, "wamid.NEW", "delivered", Some(&client_id)),
        wa_status(5, "wamid.LATE", "sent", None),
        wa_status(6, "wamid.LATE", "failed", None),
    ];
    crate::support::apply(&cache, &batch).await;
    let shown = inbox::messages(&cache, conversation, None, 10)
        .await
        .unwrap();
    let reply = shown.iter().find(|m| m.direction == "outbound").unwrap();
    assert_eq!(
        reply.delivery_status.as_deref(),
        Some("read"),
        "a late delivered does not undo read"
    );
    assert_eq!(
        outbox::state(&cache, &client_id).await.unwrap().0,
        "accepted"
    );
    let wamid: Option<String> =
        sqlx::query_scalar("SELECT external_id FROM messages WHERE client_id = ?")
            .bind(&client_id)
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(wamid.as_deref(), Some("wamid.NEW"));
    // A message not here yet keeps its newest state, with the error, until it arrives.
    let waiting: (String, Option<i64>) = sqlx::query_as(
        "SELECT status, error_code FROM pending_statuses WHERE external_id = 'wamid.LATE'",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    assert_eq!(waiting, ("failed".to_string(), Some(131026)));
    // A later delivered replaces failed, and clears the error.
    crate::support::apply(&cache, &[wa_status(7, "wamid.LATE", "delivered", None)]).await;
    let waiting: (String, Option<i64>) = sqlx::query_as(
        "SELECT status, error_code FROM pending_statuses WHERE external_id = 'wamid.LATE'",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    assert_eq!(waiting, ("delivered".to_string(), None));
}
