//! Health and metrics.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use zentro_events::clock::now_ms;

/// `GET /healthz`: 200 when the database answers.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.last_seq("").await {
        Ok(_) => (axum::http::StatusCode::OK, "ok"),
        Err(error) => {
            tracing::error!(%error, "health check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable",
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
