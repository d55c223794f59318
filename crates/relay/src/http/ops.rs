//! Health and metrics.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use zentro_events::clock::now_ms;

/// How long `/healthz` waits for its write to commit before calling the relay unhealthy.
const HEALTH_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /healthz`: 200 `ok` when the database takes writes: a probe row is rewritten in the
/// sequencer's next group commit, the path every webhook takes, and no batch of events failed in
/// the last [`crate::sequencer::RECENT_FAILURE`] without one committing since (a nearly full disk
/// may take the probe's small row while webhooks fail). A full disk, an I/O error or a lost
/// database shows here as 503 while webhooks themselves answer 503, which Meta retries.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    use axum::http::StatusCode;
    match tokio::time::timeout(HEALTH_WRITE_TIMEOUT, state.sequencer.probe()).await {
        Ok(Ok(())) if state.sequencer.failing_recently(now_ms()) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the event log refused writes in the last seconds: see the relay's log",
        ),
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        Ok(Err(error)) => {
            tracing::error!(%error, "health check: the event log cannot be written");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the event log cannot be written: see the relay's log",
            )
        }
        Err(_) => {
            tracing::error!("health check: a write did not commit within 2 s");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the event log cannot be written in time: see the relay's log",
            )
        }
    }
}

/// `GET /metrics` in Prometheus text format: aggregates for anyone who can reach it; with
/// `Authorization: Bearer <ZENTRO_RELAY_METRICS_TOKEN>` also the series per workspace (which name
/// workspaces). A wrong token is refused (401), so a misconfigured scraper shows.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let per_workspace = match headers.get(header::AUTHORIZATION) {
        None => false,
        Some(value) => {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            match (&state.config.metrics_token, token) {
                (Some(expected), Some(token)) if expected.matches(token) => true,
                _ => return ApiError::Unauthorized.into_response(),
            }
        }
    };
    let oldest = state
        .store
        .oldest_unacknowledged(now_ms())
        .await
        .unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&oldest, per_workspace),
    )
        .into_response()
}
