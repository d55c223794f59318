//! Sync with the relay: sign in, catch up from the stored cursor, follow the live stream,
//! acknowledge what was applied, reconnect after any failure with backoff and jitter, and report
//! progress to whoever listens (the UI, the CLI).

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::apply::{ApplyReport, RelayEvent, apply_batch, cursor};
use crate::cache::{Cache, CacheError};
use crate::vault::Secret;

/// Events per page when catching up.
/// Events per page when catching up (the relay's maximum); each page is one transaction.
pub const PAGE: i64 = 500;

/// What went wrong talking to the relay.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The relay refused the credentials or the device token (revoked, expired): sign in again.
    #[error("the relay refused the sign-in or this device's token; sign in again")]
    Unauthorized,
    /// Too many sign-in attempts.
    #[error("too many attempts; try again in {0:?}")]
    RateLimited(Duration),
    /// The relay could not be reached or the connection broke; retried automatically when syncing.
    #[error("the relay could not be reached ({0}); check the address and the network")]
    Network(String),
    /// The workspace was terminated by its owner: this device deletes its data.
    #[error("the workspace was terminated by its owner")]
    WorkspaceTerminated,
    /// The member's role does not allow it; the relay's message names who may.
    #[error("{0}")]
    Forbidden(String),
    /// The relay refused the request for a reason people can act on (an expired invitation, the
    /// last owner, a name taken); `code` is the relay's stable code.
    #[error("{message}")]
    Refused {
        /// The relay's code (`invitation_expired`, `last_owner`, `conflict`, …).
        code: String,
        /// The relay's message, for people.
        message: String,
    },
    /// The relay answered with an error.
    #[error("the relay answered with an error: {0}")]
    Relay(String),
    /// The relay's URL is not valid.
    #[error("the relay address is not valid: {0}")]
    BadAddress(String),
    /// The local cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// A member and workspace, as the relay describes them at sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    /// The member.
    pub member: Member,
    /// The workspace.
    pub workspace: Workspace,
}

/// A member.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Member {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// owner, admin or agent.
    pub role: String,
}

/// A teammate, as the relay lists them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Teammate {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Name.
    pub display_name: String,
    /// owner, admin or agent.
    pub role: String,
    /// invited, active or deactivated.
    pub status: String,
    /// When they were invited or created (UTC ms).
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub created_at: i64,
    /// Their last sign-in (UTC ms).
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub last_sign_in_at: Option<i64>,
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Workspace {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// Catch-up progress, for the UI's status bar and the CLI's stderr.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// The cursor after the last applied batch.
    pub cursor: i64,
    /// Events applied in this run so far.
    pub applied: usize,
    /// Events the relay has that this device has not applied yet (as of the last page).
    pub behind: i64,
    /// Events applied per second in this run.
    pub rate: f64,
    /// Whether the device has everything the relay had when the page was read.
    pub caught_up: bool,
    /// `channel.changed` events in what was just applied: the device refreshes its channel tokens.
    pub channel_changes: usize,
    /// The relay had pruned events this device never received: what was done about it (every
    /// remembered erasure applied, the cursor moved past the gap).
    pub resynced: Option<crate::gaps::Resync>,
}

fn channel_changes(events: &[RelayEvent]) -> usize {
    events
        .iter()
        .filter(|e| {
            e.kind == crate::channel_tokens::CHANNEL_CHANGED
                || e.kind == crate::connections::CHANNEL_CONNECTED
        })
        .count()
}

/// A client of one relay.
#[derive(Debug, Clone)]
pub struct RelayClient {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    page_size: i64,
}

#[derive(Deserialize)]
struct PageBody {
    events: Vec<RelayEvent>,
    /// The relay's newest seq (older relays did not send it).
    #[serde(default)]
    head: Option<i64>,
    /// Events the relay pruned before this device received them.
    #[serde(default)]
    gap: Option<crate::gaps::Gap>,
}

/// One page of a workspace's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The events, in seq order.
    pub events: Vec<RelayEvent>,
    /// The newest seq the relay has (at least the last event's).
    pub head: i64,
    /// Events after the asked cursor the relay pruned before this device received them.
    pub gap: Option<crate::gaps::Gap>,
}

pub(crate) async fn check(response: reqwest::Response) -> Result<reqwest::Response, SyncError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(SyncError::Unauthorized);
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|h| h.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        return Err(SyncError::RateLimited(Duration::from_secs(wait)));
    }
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let message = body
        .pointer("/error/message")
        .and_then(|m| m.as_str())
        .unwrap_or("no details")
        .to_string();
    let code = body.pointer("/error/code").and_then(|c| c.as_str());
    match (status, code) {
        (reqwest::StatusCode::GONE, Some("workspace_terminated")) => {
            Err(SyncError::WorkspaceTerminated)
        }
        (reqwest::StatusCode::FORBIDDEN, _) => Err(SyncError::Forbidden(message)),
        (s, Some(code)) if s.is_client_error() || s == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
            Err(SyncError::Refused {
                code: code.to_string(),
                message,
            })
        }
        _ => Err(SyncError::Relay(format!("HTTP {status}: {message}"))),
    }
}

pub(crate) fn network(error: reqwest::Error) -> SyncError {
    SyncError::Network(error.without_url().to_string())
}

/// Checks the address of a relay before anything is sent to it, wherever it comes from (sign-in,
/// an invitation code or link, a saved account): `https://`, or plain `http://` only to this
/// computer (127.0.0.0/8, `::1`, `localhost`), since a device token, a password and customers'
/// messages cross that connection. The one check every way in uses.
pub fn relay_address(base_url: &str) -> Result<url::Url, SyncError> {
    let url = url::Url::parse(base_url.trim()).map_err(|e| SyncError::BadAddress(e.to_string()))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(SyncError::BadAddress(format!(
            "{} is plain http://, which anyone on the network can read and change; use the \
             relay's https:// address (plain http:// only reaches a relay on this computer: \
             127.0.0.1, ::1 or localhost)",
            url.origin().ascii_serialization()
        ))),
        _ => Err(SyncError::BadAddress(
            "use the relay's https:// address".into(),
        )),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl RelayClient {
    /// A client for the relay at `base_url` (e.g. `https://relay.acme.example`); refused unless
    /// [`relay_address`] accepts it.
    pub fn new(base_url: &str) -> Result<Self, SyncError> {
        relay_address(base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("ZentroDesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Network(e.to_string()))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            page_size: PAGE,
        })
    }

    /// Catches up in pages of `events` (1 to [`PAGE`]): smaller pages mean smaller transactions
    /// and more frequent progress reports.
    pub fn with_page_size(mut self, events: i64) -> Self {
        self.page_size = events.clamp(1, PAGE);
        self
    }

    /// The relay's address.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Signs in; returns the device token (keep it in the vault) and who signed in.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &Secret,
        device_name: &str,
    ) -> Result<(Secret, Identity), SyncError> {
        let response = self
            .http
            .post(format!("{}/v1/sessions", self.base))
            .timeout(Duration::from_secs(30))
            .json(&json!({ "email": email, "password": password.expose(), "device_name": device_name }))
            .send()
            .await
            .map_err(network)?;
        let body: serde_json::Value = check(response).await?.json().await.map_err(network)?;
        let token = body
            .get("token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| SyncError::Relay("no token in the answer".into()))?;
        let identity: Identity =
            serde_json::from_value(body.clone()).map_err(|e| SyncError::Relay(e.to_string()))?;
        Ok((Secret::new(token), identity))
    }

    /// One page of events after `after`.
    pub async fn page(&self, token: &Secret, after: i64) -> Result<Page, SyncError> {
        let response = self
            .http
            .get(format!(
                "{}/v1/events?after={after}&limit={}",
                self.base, self.page_size
            ))
            .bearer_auth(token.expose())
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(network)?;
        let page: PageBody = check(response).await?.json().await.map_err(network)?;
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

    /// Tells the relay what this device has durably applied.
    pub async fn acknowledge(&self, token: &Secret, seq: i64) -> Result<(), SyncError> {
        let response = self
            .http
            .post(format!("{}/v1/cursor", self.base))
            .bearer_auth(token.expose())
            .timeout(Duration::from_secs(30))
            .json(&json!({ "seq": seq }))
            .send()
            .await
            .map_err(network)?;
        check(response).await?;
        Ok(())
    }

    /// Publishes a team event; the same idempotency key returns the same seq.
    pub async fn publish(
        &self,
        token: &Secret,
        kind: &str,
        payload: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<i64, SyncError> {
        let response = self
            .http
            .post(format!("{}/v1/events", self.base))
            .bearer_auth(token.expose())
            .timeout(Duration::from_secs(30))
            .json(&json!({ "kind": kind, "payload": payload, "idempotency_key": idempotency_key }))
            .send()
            .await
            .map_err(network)?;
        let body: serde_json::Value = check(response).await?.json().await.map_err(network)?;
        body.get("seq")
            .and_then(|s| s.as_i64())
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
        let response = self
            .http
            .post(format!("{}/v1/shared-files", self.base))
            .query(&[("name", file_name)])
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, mime)
            .timeout(Duration::from_secs(120))
            .body(bytes)
            .send()
            .await
            .map_err(network)?;
        let body: serde_json::Value = check(response).await?.json().await.map_err(network)?;
        body.get("url")
            .and_then(|u| u.as_str())
            .map(str::to_string)
            .ok_or_else(|| SyncError::Relay("no url in the answer".into()))
    }

    /// The workspace's members.
    pub async fn members(&self, token: &Secret) -> Result<Vec<Teammate>, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            members: Vec<Teammate>,
        }
        let response = self
            .http
            .get(format!("{}/v1/members", self.base))
            .bearer_auth(token.expose())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(network)?;
        let body: Body = check(response).await?.json().await.map_err(network)?;
        Ok(body.members)
    }

    /// Revokes this device's token on the relay.
    pub async fn sign_out(&self, token: &Secret) -> Result<(), SyncError> {
        let response = self
            .http
            .delete(format!("{}/v1/sessions/current", self.base))
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(network)?;
        check(response).await?;
        Ok(())
    }
}

/// Applies everything the relay has after this device's cursor, page by page (each page in one
/// transaction with the cursor), acknowledging as it goes.
pub async fn catch_up(
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
    workspace_id: &str,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ApplyReport, SyncError> {
    let mut total = ApplyReport {
        cursor: cursor(cache, workspace_id).await?,
        ..ApplyReport::default()
    };
    let started = std::time::Instant::now();
    let rate = |applied: usize| applied as f64 / started.elapsed().as_secs_f64().max(0.001);
    loop {
        let Page { events, head, gap } = client.page(token, total.cursor).await?;
        let mut resynced = None;
        if let Some(gap) = gap {
            resynced = Some(crate::gaps::recover(cache, client, token, workspace_id, gap).await?);
            total.cursor = total.cursor.max(gap.to);
        }
        if events.is_empty() {
            progress(Progress {
                cursor: total.cursor,
                applied: total.applied,
                behind: 0,
                rate: rate(total.applied),
                caught_up: true,
                channel_changes: 0,
                resynced,
            });
            return Ok(total);
        }
        let changes = channel_changes(&events);
        let report = apply_batch(cache, workspace_id, &events).await?;
        total.applied += report.applied;
        total.skipped += report.skipped;
        total.ignored += report.ignored;
        total.cursor = report.cursor;
        client.acknowledge(token, report.cursor).await?;
        progress(Progress {
            cursor: total.cursor,
            applied: total.applied,
            behind: (head - total.cursor).max(0),
            rate: rate(total.applied),
            caught_up: false,
            channel_changes: changes,
            resynced,
        });
    }
}

/// Catches up, then follows the live stream until `stop` is cancelled, reconnecting after any
/// network failure with exponential backoff and jitter. Returns on `stop`, or with
/// [`SyncError::Unauthorized`] when the device must sign in again.
pub async fn follow(
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
    workspace_id: &str,
    stop: &CancellationToken,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), SyncError> {
    follow_reporting(
        cache,
        client,
        token,
        workspace_id,
        stop,
        progress,
        &mut |_| {},
    )
    .await
}

/// [`follow`], also telling `interrupted` about each failure before it waits to reconnect.
pub async fn follow_reporting(
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
    workspace_id: &str,
    stop: &CancellationToken,
    progress: &mut (dyn FnMut(Progress) + Send),
    interrupted: &mut (dyn FnMut(&SyncError) + Send),
) -> Result<(), SyncError> {
    let mut failures = 0u32;
    loop {
        let result = tokio::select! {
            r = follow_once(cache, client, token, workspace_id, progress) => r,
            _ = stop.cancelled() => return Ok(()),
        };
        match result {
            Err(SyncError::Unauthorized) => return Err(SyncError::Unauthorized),
            Err(SyncError::WorkspaceTerminated) => return Err(SyncError::WorkspaceTerminated),
            Err(SyncError::Cache(e)) => return Err(SyncError::Cache(e)),
            Err(error) => {
                failures += 1;
                interrupted(&error);
                let base = Duration::from_millis(500) * 2u32.saturating_pow(failures.min(6));
                let wait = base
                    .min(Duration::from_secs(30))
                    .mul_f64(0.5 + fastrand::f64() * 0.5);
                tracing::warn!(%error, ?wait, "sync interrupted; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return Ok(()),
                }
            }
            Ok(()) => failures = 0,
        }
    }
}

async fn follow_once(
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
    workspace_id: &str,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), SyncError> {
    catch_up(cache, client, token, workspace_id, progress).await?;
    let after = cursor(cache, workspace_id).await?;
    let response = client
        .http
        .get(format!("{}/v1/events?after={after}", client.base))
        .bearer_auth(token.expose())
        .header("accept", "text/event-stream")
        .send()
        .await
        .map_err(network)?;
    let mut body = check(response).await?.bytes_stream();
    let mut buffer = SseBuffer::default();
    let mut applied = 0usize;
    loop {
        // Take every complete event already received as one batch.
        let mut batch = Vec::new();
        let mut gap = None;
        while let Some(data) = buffer.next_data() {
            if data.is_empty() {
                continue; // keep-alive comment
            }
            // Events were pruned before this device had them (first in the stream).
            if let Some(found) = crate::gaps::stream_gap(&data) {
                gap = Some(found);
                break;
            }
            let event: RelayEvent = serde_json::from_str(&data)
                .map_err(|e| SyncError::Relay(format!("bad event from the relay: {e}")))?;
            batch.push(event);
        }
        if !batch.is_empty() {
            let report = apply_batch(cache, workspace_id, &batch).await?;
            applied += report.applied;
            client.acknowledge(token, report.cursor).await?;
            progress(Progress {
                cursor: report.cursor,
                applied,
                behind: 0,
                rate: 0.0,
                caught_up: true,
                channel_changes: channel_changes(&batch),
                resynced: None,
            });
        }
        if let Some(gap) = gap {
            let resynced = crate::gaps::recover(cache, client, token, workspace_id, gap).await?;
            progress(Progress {
                cursor: gap.to,
                applied,
                behind: 0,
                rate: 0.0,
                caught_up: true,
                channel_changes: 0,
                resynced: Some(resynced),
            });
            continue; // what followed the gap may already be here
        }
        match tokio::time::timeout(Duration::from_secs(45), body.next()).await {
            Ok(Some(Ok(chunk))) => buffer.push(&chunk),
            Ok(Some(Err(error))) => return Err(network(error)),
            Ok(None) => return Err(SyncError::Network("the relay closed the stream".into())),
            Err(_) => {
                return Err(SyncError::Network(
                    "no keep-alive from the relay for 45 s".into(),
                ));
            }
        }
    }
}

/// Server-sent events as they arrive, in chunks cut anywhere: the bytes are kept until a whole
/// event (ended by a blank line) is there and only then decoded, so a character or a line break
/// split across two chunks arrives whole.
#[derive(Debug, Default)]
struct SseBuffer {
    /// Received bytes, line breaks normalised to `\n`.
    bytes: Vec<u8>,
    /// A `\r` that ended the last chunk: half of a `\r\n` whose `\n` has not arrived.
    carriage_return: bool,
    /// How far `bytes` has been searched for the end of an event.
    searched: usize,
}

impl SseBuffer {
    /// Appends a chunk as received.
    fn push(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let mut chunk = chunk;
        if std::mem::take(&mut self.carriage_return) && chunk.first() != Some(&b'\n') {
            self.bytes.push(b'\r');
        }
        if let Some(rest) = chunk.strip_suffix(b"\r") {
            self.carriage_return = true;
            chunk = rest;
        }
        let mut i = 0;
        while i < chunk.len() {
            if chunk[i] == b'\r' && chunk.get(i + 1) == Some(&b'\n') {
                i += 1; // keep the \n only
            }
            self.bytes.push(chunk[i]);
            i += 1;
        }
    }

    /// The `data:` lines of the next complete event, joined (empty for a comment), or `None` until
    /// one has fully arrived.
    fn next_data(&mut self) -> Option<String> {
        let from = self.searched.saturating_sub(1);
        let Some(end) = self.bytes[from..]
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|i| from + i + 2)
        else {
            self.searched = self.bytes.len();
            return None;
        };
        let block: Vec<u8> = self.bytes.drain(..end).collect();
        self.searched = 0;
        // A whole event ends on an ASCII blank line, so no character is cut here.
        let block = String::from_utf8_lossy(&block);
        Some(
            block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{SseBuffer, SyncError, relay_address};

    #[test]
    fn plain_http_reaches_only_a_relay_on_this_computer() {
        for refused in [
            "http://relay.example.com",
            "http://relay.example.com:8787/",
            "http://10.0.0.5:8787",
            "http://[2001:db8::1]:8787",
            "http://localhost.example.com",
            "ftp://relay.example.com",
        ] {
            match relay_address(refused) {
                Err(SyncError::BadAddress(message)) => {
                    assert!(message.contains("https://"), "{refused}: {message}")
                }
                other => panic!("{refused} was not refused: {other:?}"),
            }
        }
        for accepted in [
            "https://relay.example.com",
            "https://relay.example.com:8443/",
            "http://127.0.0.1:8787",
            "http://127.10.0.1",
            "http://[::1]:8787",
            "http://localhost:8787",
            "http://LOCALHOST",
        ] {
            assert!(relay_address(accepted).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn events_cut_anywhere_come_out_whole() {
        let stream = ": keep-alive\r\n\r\ndata: {\"t\":\"👋 olá\"}\r\n\r\ndata: x\n\n";
        for cut_a in 0..stream.len() {
            for cut_b in cut_a..stream.len() {
                let bytes = stream.as_bytes();
                let mut buffer = SseBuffer::default();
                let mut out = Vec::new();
                for part in [&bytes[..cut_a], &bytes[cut_a..cut_b], &bytes[cut_b..]] {
                    buffer.push(part);
                    while let Some(data) = buffer.next_data() {
                        out.push(data);
                    }
                }
                assert_eq!(
                    out,
                    ["", "{\"t\":\"👋 olá\"}", "x"],
                    "cut at {cut_a} and {cut_b}"
                );
            }
        }
    }
}
