//! The event log, as devices see it: pages, live streams (SSE), team events and cursors.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Authenticated};
use super::{Body, body};
use crate::metrics::Metrics;
use crate::store::{Gap, SessionContext, StoredEvent};
use zentro_events::clock::now_ms;
use zentro_events::{DeviceEvent, Refusal};

/// Events per JSON page or per stream read.
const PAGE: i64 = 500;

#[derive(Deserialize)]
pub struct After {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

/// `GET /v1/events?after=SEQ`: one JSON page, or with `Accept: text/event-stream` a live stream
/// (event id = seq; resumes from `Last-Event-ID`).
pub async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Result<Response, ApiError> {
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    if wants_stream {
        let resume = headers
            .get("last-event-id")
            .and_then(|h| h.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let after = resume.or(q.after).unwrap_or(0).max(0);
        return Ok(stream(state, session, after).into_response());
    }
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(PAGE).clamp(1, PAGE);
    // Only what the member may read: events of channels they may not use are skipped, and the
    // page still moves past them.
    let page = state
        .store
        .readable_events_after(&session, after, limit)
        .await
        .map_err(ApiError::store)?;
    let events = page.events;
    let gap = gap_before(&state, &session.workspace_id, after, events.first())
        .await
        .map_err(ApiError::store)?;
    let next_after = (page.scanned_to > after)
        .then_some(page.scanned_to)
        .or(gap.map(|g| g.to))
        .unwrap_or(after);
    // Read after the page, so `head >= next_after`: how far behind the device is.
    let head = state
        .store
        .head(&session.workspace_id)
        .await
        .map_err(ApiError::store)?
        .max(next_after);
    let mut page = json!({ "events": events, "next_after": next_after, "head": head });
    if let Some(gap) = gap {
        page["gap"] = json!(gap);
    }
    Ok(Json(page).into_response())
}

/// Whether the relay pruned events after `after` that the device never received (`first` is the
/// first event read after it): the device is told, applies every remembered erasure
/// (`GET /v1/erasures`) and goes on from the oldest kept event.
async fn gap_before(
    state: &AppState,
    workspace_id: &str,
    after: i64,
    first: Option<&StoredEvent>,
) -> crate::store::Result<Option<Gap>> {
    if first.is_some_and(|e| e.seq == after + 1) {
        return Ok(None);
    }
    let gap = state.store.gap(workspace_id, after).await?;
    // Pruning may have gone on since the events were read: the gap ends before them.
    Ok(gap.and_then(|g| {
        let to = first.map_or(g.to, |e| g.to.min(e.seq - 1));
        (to >= g.from).then_some(Gap { from: g.from, to })
    }))
}

struct StreamClient(Arc<Metrics>);

impl Drop for StreamClient {
    fn drop(&mut self) {
        self.0.stream_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Cursor {
    state: AppState,
    session: SessionContext,
    after: i64,
    buffer: VecDeque<StoredEvent>,
    /// The last seq read (the member's or skipped): where the next read starts once the buffer
    /// is sent.
    scanned: i64,
    wake: tokio::sync::watch::Receiver<i64>,
    revoked: tokio::sync::watch::Receiver<u64>,
    /// Whether the start was checked for a gap (events pruned before the device had them).
    gap_checked: bool,
    /// When the stream last recorded its session as in use (UTC ms; 0: not yet).
    seen_at: i64,
    _client: StreamClient,
}

fn to_sse(event: &StoredEvent) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_default();
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.kind.clone())
        .data(data)
}

fn stream(
    state: AppState,
    session: SessionContext,
    after: i64,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    state.metrics.stream_clients.fetch_add(1, Ordering::Relaxed);
    let cursor = Cursor {
        wake: state.notifier.subscribe(&session.workspace_id),
        revoked: state.revocations.subscribe(),
        _client: StreamClient(state.metrics.clone()),
        state,
        session,
        after,
        buffer: VecDeque::new(),
        scanned: after,
        gap_checked: false,
        seen_at: 0,
    };
    let events = futures_util::stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next().await?;
        Some((Ok(event), cursor))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// What one read of the log gave a stream.
enum Read {
    /// Pruned events before the first read: the `gap` event to send first.
    Gap(SseEvent),
    /// Events (or skipped ones) were read: look at the buffer again.
    More,
    /// Nothing new: wait.
    Nothing,
}

impl Cursor {
    /// The next event to send, or `None` when the stream ends (the session ended, a read failed,
    /// the relay stops).
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.after = event.seq;
                return Some(to_sse(&event));
            }
            // Past the events the member may not read, too.
            self.after = self.after.max(self.scanned);
            if self.revoked.has_changed().unwrap_or(false) {
                self.revoked.borrow_and_update();
                if !is_live(&self.state, &self.session).await {
                    return None;
                }
            }
            match self.read().await? {
                Read::Gap(event) => return Some(event),
                Read::More => continue,
                Read::Nothing => {}
            }
            if !self.wait().await {
                return None;
            }
        }
    }

    /// Reads the next page into the buffer; the first read also looks for a gap. `None` when
    /// the read failed.
    async fn read(&mut self) -> Option<Read> {
        let page = match self
            .state
            .store
            .readable_events_after(&self.session, self.after, PAGE)
            .await
        {
            Ok(page) => page,
            Err(error) => return stream_failed(&error),
        };
        if !self.gap_checked {
            self.gap_checked = true;
            self.scanned = self.scanned.max(page.scanned_to);
            let events = page.events;
            let gap = gap_before(
                &self.state,
                &self.session.workspace_id,
                self.after,
                events.first(),
            )
            .await;
            self.buffer.extend(events);
            return match gap {
                // First of all, an event `gap` (no id): `{"gap": {from, to}}`.
                Ok(Some(gap)) => {
                    self.after = gap.to;
                    let event = SseEvent::default()
                        .event("gap")
                        .data(json!({ "gap": gap }).to_string());
                    Some(Read::Gap(event))
                }
                Ok(None) => Some(Read::More),
                Err(error) => stream_failed(&error),
            };
        }
        if page.scanned_to > self.after {
            self.scanned = page.scanned_to;
            self.buffer.extend(page.events);
            return Some(Read::More);
        }
        Some(Read::Nothing)
    }

    /// How often an open stream records its session as in use: a third of the presence window
    /// (30 s), so a desk that only follows the stream never counts as offline.
    fn seen_interval(&self) -> Duration {
        (self.state.store.presence_window() / 3).max(Duration::from_millis(100))
    }

    /// Records the stream's session as in use when it was not for a [`Self::seen_interval`].
    async fn keep_seen(&mut self) {
        let now = now_ms();
        let interval = i64::try_from(self.seen_interval().as_millis()).unwrap_or(i64::MAX);
        if now.saturating_sub(self.seen_at) < interval {
            return;
        }
        self.seen_at = now;
        if let Err(error) = self
            .state
            .store
            .session_seen(&self.session.session_id, now)
            .await
        {
            tracing::warn!(%error, "could not record an event stream's session as in use");
        }
    }

    /// Waits until the log may have grown; `false` when the stream must end instead.
    async fn wait(&mut self) -> bool {
        self.keep_seen().await;
        self.wake.borrow_and_update();
        let look_again = Duration::from_secs(2).min(self.seen_interval());
        tokio::select! {
            _ = self.wake.changed() => true,
            // Also look now and then: another relay process (the CLI releasing quarantined
            // webhooks) may have appended, a revoked device must be cut off, and the session is
            // recorded as in use.
            _ = tokio::time::sleep(look_again) => is_live(&self.state, &self.session).await,
            // Sessions were revoked somewhere: end at once if this one was.
            _ = self.revoked.changed() => is_live(&self.state, &self.session).await,
            _ = self.state.shutdown.cancelled() => false,
        }
    }
}

/// Whether the stream's session still works (a read error counts as no).
async fn is_live(state: &AppState, session: &SessionContext) -> bool {
    state
        .store
        .session_is_live(&session.session_id)
        .await
        .unwrap_or(false)
}

/// Logs why a stream ends after a failed read (the device reconnects).
fn stream_failed<T>(error: &crate::store::StoreError) -> Option<T> {
    tracing::error!(%error, "event stream read failed; closing it (the device reconnects)");
    None
}

#[derive(Deserialize)]
pub struct Publish {
    kind: String,
    payload: serde_json::Value,
    idempotency_key: String,
}

/// The device's event, parsed into its kind's type: 403 for the relay's own kinds, 400 for an
/// unknown kind or a payload not of its kind's type (logged without the payload).
fn device_event(session: &SessionContext, input: &Publish) -> Result<DeviceEvent, ApiError> {
    DeviceEvent::parse(&input.kind, &input.payload).map_err(|refusal| {
        tracing::info!(member = %session.member_id, kind = %input.kind.chars().take(64).collect::<String>(), %refusal, "event refused");
        match refusal {
            Refusal::RelayOnly(_) => ApiError::Forbidden(refusal.to_string()),
            Refusal::Unknown(_) | Refusal::Invalid { .. } => {
                ApiError::BadRequest(refusal.to_string())
            }
        }
    })
}

/// `POST /v1/events`: a device's event → `{seq}`; the same idempotency key returns the same seq.
///
/// Only the kinds devices produce (`team.*`, `message.sent`) are taken: the relay's own kinds
/// (`contact.*`, `workspace.*`, `channel.*`, `meta.*`) are refused with 403 whatever the role —
/// they come only from the relay's routes, with their checks — and unknown kinds with 400. The
/// payload must be its kind's type ([`DeviceEvent`], what desks apply) and is stored as parsed;
/// the caller's role must allow the event ([`crate::roles::permission_for`]); the author is the
/// caller, never a field of the payload.
pub async fn publish(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<Publish>,
) -> Result<Response, ApiError> {
    let input = body(input, "{kind, payload, idempotency_key}")?;
    if input.idempotency_key.is_empty() || input.idempotency_key.len() > 128 {
        return Err(ApiError::BadRequest(
            "idempotency_key must be 1-128 characters".into(),
        ));
    }
    let session = &auth.0;
    let event = device_event(session, &input)?;
    auth.require(crate::roles::permission_for(&event))?;
    // Nobody writes about a channel they may not use (they never see its conversations).
    if !state
        .store
        .may_write_about(session, &input.payload)
        .await
        .map_err(ApiError::store)?
    {
        return Err(ApiError::Forbidden(
            "you are not among the members allowed on this conversation's channel; ask an admin"
                .into(),
        ));
    }
    let mut payload = event.to_payload();
    if let DeviceEvent::MessageSent(_) = event {
        // Who sent it is who publishes it.
        payload["author_member_id"] = json!(session.member_id);
    }
    let published = state
        .sequencer
        .publish(
            &session.workspace_id,
            &session.member_id,
            event.kind(),
            payload,
            &input.idempotency_key,
        )
        .await
        .map_err(ApiError::sequencer)?;
    state
        .store
        .audit_published(&auth.0, published.seq, published.created)
        .await
        .map_err(ApiError::store)?;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "seq": published.seq }))).into_response())
}

#[derive(Deserialize)]
pub struct Ack {
    seq: i64,
}

/// `POST /v1/cursor`: what this device has durably applied.
pub async fn acknowledge(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    input: Body<Ack>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ack = body(input, "{seq}")?;
    let acked = state
        .sequencer
        .acknowledge(&session.workspace_id, &session.session_id, ack.seq)
        .await
        .map_err(ApiError::sequencer)?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(json!({ "acked_seq": acked })))
}
