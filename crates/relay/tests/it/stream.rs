//! The event stream on a real socket: live delivery, resume from Last-Event-ID, graceful shutdown.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use crate::support::{ServedRelay, post_webhook, wa_text};

pub struct Sse {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Sse {
    pub async fn open(
        base: &str,
        token: &str,
        after: Option<i64>,
        last_event_id: Option<i64>,
    ) -> Self {
        let mut request = reqwest::Client::new()
            .get(format!(
                "{base}/v1/events{}",
                after.map(|a| format!("?after={a}")).unwrap_or_default()
            ))
            .bearer_auth(token)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event as `(id, data)`, or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<(i64, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let id = block
                    .lines()
                    .find_map(|l| l.strip_prefix("id:"))
                    .map(|v| v.trim().parse().unwrap());
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data:"))
                    .map(|v| serde_json::from_str(v.trim()).unwrap());
                if let (Some(id), Some(data)) = (id, data) {
                    return Some((id, data));
                }
                continue; // a keep-alive comment
            }
            match tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .expect("the stream stalled")
            {
                Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_deliver_live_resume_from_last_event_id_and_close_on_shutdown() {
    let relay = ServedRelay::start("owner@acme.test", "P1").await;
    let base = relay.base.clone();
    let token = relay.sign_in("owner@acme.test").await;

    for i in 1..=3 {
        post_webhook(&base, &wa_text("P1", &format!("wamid.{i}"), "x")).await;
    }
    let mut stream = Sse::open(&base, &token, Some(0), None).await;
    for expected in 1..=3 {
        let (id, data) = stream.next().await.unwrap();
        assert_eq!(id, expected);
        assert_eq!(data["seq"], expected);
        assert_eq!(data["kind"], "meta.webhook");
    }
    // Live: a webhook arriving now reaches the open stream.
    post_webhook(&base, &wa_text("P1", "wamid.4", "live")).await;
    let (id, data) = stream.next().await.unwrap();
    assert_eq!(id, 4);
    assert_eq!(
        data["payload"]
            .pointer("/entry/0/changes/0/value/messages/0/text/body")
            .unwrap(),
        "live"
    );
    drop(stream);

    // Reconnect with Last-Event-ID: 2 (it wins over ?after): 3 and 4 again, nothing before.
    let mut resumed = Sse::open(&base, &token, Some(0), Some(2)).await;
    assert_eq!(resumed.next().await.unwrap().0, 3);
    assert_eq!(resumed.next().await.unwrap().0, 4);

    // Shutdown closes the stream and the server returns.
    relay.stop().await;
    assert!(
        resumed.next().await.is_none(),
        "the stream ends on shutdown"
    );
}
