//! Sync with the relay: catch up from the stored cursor page by page, follow the live stream,
//! acknowledge what was applied, reconnect after any failure with backoff and jitter, and report
//! progress to whoever listens (the UI, the CLI). The HTTP calls are [`RelayClient`]'s.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::apply::{ApplyReport, RelayEvent, apply_batch, cursor};
use crate::cache::Cache;
use crate::relay_client::{Page, RelayClient, SyncError};
use crate::vault::Secret;

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

/// How many of `events` change a channel, its token or its access (the desk then refreshes its
/// channel tokens).
fn channel_changes(events: &[RelayEvent]) -> usize {
    events
        .iter()
        .filter(|e| {
            e.kind == crate::channel_tokens::CHANNEL_CHANGED
                || e.kind == crate::connections::CHANNEL_CONNECTED
        })
        .count()
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

/// Catches up, then applies the live stream as it arrives until it fails or goes quiet.
async fn follow_once(
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
    workspace_id: &str,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), SyncError> {
    catch_up(cache, client, token, workspace_id, progress).await?;
    let after = cursor(cache, workspace_id).await?;
    let mut body = client.stream(token, after).await?;
    let mut buffer = SseBuffer::default();
    let mut applied = 0usize;
    loop {
        let (batch, gap) = received(&mut buffer)?;
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
            Ok(Some(Ok(chunk))) => buffer.push(chunk.as_ref()),
            Ok(Some(Err(error))) => return Err(error),
            Ok(None) => return Err(SyncError::Network("the relay closed the stream".into())),
            Err(_) => {
                return Err(SyncError::Network(
                    "no keep-alive from the relay for 45 s".into(),
                ));
            }
        }
    }
}

/// Every complete event already received, as one batch, up to a gap the relay announces (events
/// pruned before this device had them; first in the stream) if there is one.
fn received(
    buffer: &mut SseBuffer,
) -> Result<(Vec<RelayEvent>, Option<crate::gaps::Gap>), SyncError> {
    let mut batch = Vec::new();
    while let Some(data) = buffer.next_data() {
        if data.is_empty() {
            continue; // keep-alive comment
        }
        if let Some(gap) = crate::gaps::stream_gap(&data) {
            return Ok((batch, Some(gap)));
        }
        let event: RelayEvent = serde_json::from_str(&data)
            .map_err(|e| SyncError::Relay(format!("bad event from the relay: {e}")))?;
        batch.push(event);
    }
    Ok((batch, None))
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
    use super::SseBuffer;

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
