//! The workspace's log: pages of events, the live stream, acknowledging, publishing, and files
//! shared for Meta to fetch.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{RelayClient, SyncError, network, read, send};
use crate::apply::RelayEvent;
use crate::gaps::Gap;
use crate::vault::Secret;

/// Events per page when catching up (the relay's maximum); each page is one transaction.
pub const PAGE: i64 = 500;

/// One page of a workspace's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The events, in seq order.
    pub events: Vec<RelayEvent>,
    /// The newest seq the relay has (at least the last event's).
    pub head: i64,
    /// Events after the asked cursor the relay pruned before this device received them.
    pub gap: Option<Gap>,
}

#[derive(Deserialize)]
struct PageBody {
    events: Vec<RelayEvent>,
    /// The relay's newest seq (older relays did not send it).
    #[serde(default)]
    head: Option<i64>,
    /// Events the relay pruned before this device received them.
    #[serde(default)]
    gap: Option<Gap>,
}

impl RelayClient {
    /// One page of events after `after`.
    pub async fn page(&self, token: &Secret, after: i64) -> Result<Page, SyncError> {
        let path = format!("/v1/events?after={after}&limit={}", self.page_size);
        let request = self
            .request(Method::GET, &path, Some(token))
            .timeout(Duration::from_secs(60));
        let page: PageBody = read(send(request).await?).await?;
        let last = page.events.last().map_or(after, |e| e.seq);
        // A gap begins right after the cursor asked for and ends before the events sent.
        let gap = page.gap.filter(|g| {
            g.from == after + 1
                && g.to >= g.from
                && page.events.first().is_none_or(|e| e.seq > g.to)
        });
        let last = last.max(gap.map_or(last, |g| g.to));
        Ok(Page {
            head: page.head.unwrap_or(last).max(last),
            events: page.events,
            gap,
        })
    }

    /// Opens the live stream of events after `after` (server-sent events): its body as chunks cut
    /// anywhere, for [`crate::sync`] to reassemble. No timeout: the stream stays open.
    pub(crate) async fn stream(
        &self,
        token: &Secret,
        after: i64,
    ) -> Result<impl Stream<Item = Result<impl AsRef<[u8]>, SyncError>> + Unpin, SyncError> {
        let request = self
            .request(
                Method::GET,
                &format!("/v1/events?after={after}"),
                Some(token),
            )
            .header("accept", "text/event-stream");
        let response = send(request).await?;
        Ok(response.bytes_stream().map(|chunk| chunk.map_err(network)))
    }

    /// Tells the relay what this device has durably applied.
    pub async fn acknowledge(&self, token: &Secret, seq: i64) -> Result<(), SyncError> {
        self.act(
            Method::POST,
            "/v1/cursor",
            token,
            Some(json!({ "seq": seq })),
        )
        .await
    }

    /// Publishes a team event; the same idempotency key returns the same seq.
    pub async fn publish(
        &self,
        token: &Secret,
        kind: &str,
        payload: Value,
        idempotency_key: &str,
    ) -> Result<i64, SyncError> {
        let body: Value = self
            .send_json(
                Method::POST,
                "/v1/events",
                token,
                json!({ "kind": kind, "payload": payload, "idempotency_key": idempotency_key }),
            )
            .await?;
        body.get("seq")
            .and_then(Value::as_i64)
            .ok_or_else(|| SyncError::Relay("no seq in the answer".into()))
    }

    /// Puts a file on the relay for an hour at an unguessable public address, for Meta to fetch
    /// (Instagram takes a reply's file only by link); returns the address.
    pub async fn share_file(
        &self,
        token: &Secret,
        file_name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Result<String, SyncError> {
        let request = self
            .request(Method::POST, "/v1/shared-files", Some(token))
            .query(&[("name", file_name)])
            .header(reqwest::header::CONTENT_TYPE, mime)
            .timeout(Duration::from_secs(120))
            .body(bytes);
        let body: Value = read(send(request).await?).await?;
        body.get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| SyncError::Relay("no url in the answer".into()))
    }
}
