//! Meta's webhook endpoint.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use zentro_events::clock::now_ms;
use zentro_meta::signature::{SIGNATURE_HEADER, verify_webhook};
use zentro_meta::webhook;

use super::AppState;

/// `GET /webhooks/meta`: the subscription handshake. Echoes `hub.challenge` raw when the verify
/// token matches (constant time), else 403.
pub async fn handshake(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mode = query.get("hub.mode").map(String::as_str);
    let token = query
        .get("hub.verify_token")
        .map(String::as_str)
        .unwrap_or_default();
    match (mode, query.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if state.config.verify_token.matches(token) => {
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => {
            tracing::warn!("webhook verification refused: wrong mode or verify token");
            StatusCode::FORBIDDEN.into_response()
        }
    }
}

/// `POST /webhooks/meta`: verify the signature over the raw bytes, store durably, then 200.
pub async fn receive(
    State(state): State<AppState>,
    address: crate::ratelimit::ClientAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                state
                    .metrics
                    .webhooks_rejected_size
                    .fetch_add(1, Ordering::Relaxed);
            }
            return rejection.into_response();
        }
    };
    let signature = headers.get(SIGNATURE_HEADER).and_then(|h| h.to_str().ok());
    if let Err(error) = verify_webhook(&state.config.app_secret, &body, signature) {
        return refuse_unsigned(&state, &address, &error).await;
    }
    let quarantined = state.metrics.webhooks_quarantined.load(Ordering::Relaxed);
    let mut template_updates = Vec::new();
    let stored = match webhook::parse(&body) {
        Ok(items) => {
            template_updates = super::templates::template_status_updates(&items);
            state.sequencer.webhook(items).await
        }
        Err(malformed) => {
            state
                .sequencer
                .unparseable(body, malformed.to_string())
                .await
        }
    };
    match stored {
        Ok(()) => {
            state
                .metrics
                .webhooks_accepted
                .fetch_add(1, Ordering::Relaxed);
            if state.metrics.webhooks_quarantined.load(Ordering::Relaxed) != quarantined {
                trim_quarantine(&state).await;
            }
            if !template_updates.is_empty() {
                super::templates::follow_status_updates(&state, template_updates).await;
            }
            StatusCode::OK.into_response()
        }
        Err(error) => {
            // Not stored: Meta must retry.
            tracing::error!(%error, "webhook not stored");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// 401 for a delivery not signed with the app secret (429 past the address's limit); many in a
/// minute raise an alert, the secret having probably been rotated.
async fn refuse_unsigned(
    state: &AppState,
    address: &crate::ratelimit::ClientAddress,
    error: &zentro_meta::signature::SignatureError,
) -> Response {
    if state.metrics.signature_failed() {
        tracing::error!(
            "ALERT: many webhook signature failures in the last minute; if Meta's deliveries are failing, \
             the app secret was probably rotated: update ZENTRO_RELAY_META_APP_SECRET"
        );
    }
    tracing::warn!(%error, "webhook refused");
    // Meta's signed deliveries are never limited; forgeries are, per address.
    crate::ratelimit::meta_refusal(state, address, StatusCode::UNAUTHORIZED.into_response()).await
}

/// Keeps the quarantine within its retention and size (after it grew, and periodically).
pub async fn trim_quarantine(state: &AppState) {
    match state
        .store
        .trim_quarantine(
            now_ms(),
            state.config.quarantine_retention,
            state.config.quarantine_max_items,
        )
        .await
    {
        Ok(0) => {}
        Ok(dropped) => tracing::warn!(
            dropped,
            "quarantined webhooks dropped (too old or too many)"
        ),
        Err(error) => tracing::error!(%error, "the quarantine could not be trimmed"),
    }
}
