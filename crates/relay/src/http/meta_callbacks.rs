//! Meta's Data Deletion Request and Deauthorize callbacks (privacy promise P15): a `signed_request`
//! form field, verified with the app secret (algorithm checked, expiry honoured) before anything
//! is recorded.
//!
//! Meta names the Facebook user who connected channels by an app-scoped id. A deletion request
//! removes every channel that user connected (with its sealed token and access list; devices drop
//! their copies on their next sync) and answers with a status URL and a confirmation code; the
//! status page says what was done. A deauthorization marks those channels disconnected and forgets
//! their tokens.

use axum::Form;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use zentro_meta::signature::{SignedRequest, verify_signed_request};

use super::{ApiError, AppState};
use crate::store::NewAuditEntry;
use zentro_events::clock::{now_ms, random_id};

#[derive(Deserialize)]
pub struct Callback {
    signed_request: String,
}

fn verify(state: &AppState, raw: &str) -> Result<SignedRequest, ApiError> {
    verify_signed_request(&state.config.app_secret, raw, now_ms() / 1000).map_err(|e| {
        tracing::warn!(error = %e, "a Meta callback was refused");
        ApiError::BadRequest(format!("{e}"))
    })
}

/// Reads and verifies the `signed_request` form field. Genuine callbacks are never limited;
/// refused ones count against the address in Meta's own limiter (429 past it).
async fn read(state: &AppState, request: Request) -> Result<SignedRequest, Response> {
    let address = crate::ratelimit::ClientAddress(super::sessions::client_address(&request));
    let verified = match form(state, request).await {
        Ok(form) => verify(state, &form.signed_request),
        Err(error) => Err(error),
    };
    match verified {
        Ok(signed) => Ok(signed),
        Err(error) => {
            Err(crate::ratelimit::meta_refusal(state, &address, error.into_response()).await)
        }
    }
}

async fn form(state: &AppState, request: Request) -> Result<Callback, ApiError> {
    let Form(form) = Form::<Callback>::from_request(request, state)
        .await
        .map_err(|_| ApiError::BadRequest("expected the form field signed_request".into()))?;
    Ok(form)
}

/// The relay's address as Meta and devices reach it: the configured public URL, else the
/// request's host.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1:8787");
        format!("http://{host}")
    })
}

/// Appends `channel.changed {removed|disconnected}` and an audit entry in the channel's workspace.
async fn announce(
    state: &AppState,
    channel: &crate::store::Channel,
    action: &str,
    code: Option<&str>,
) -> Result<(), ApiError> {
    let change = json!({
        "channel_id": channel.id,
        "kind": channel.kind,
        "external_id": channel.external_id,
        "removed": action == "meta.data_deletion",
        "disconnected": action == "meta.deauthorized",
    });
    state
        .sequencer
        .publish(
            &channel.workspace_id,
            "meta",
            super::channels::CHANNEL_CHANGED,
            change,
            &format!("{action}:{}:{}", channel.id, random_id()),
        )
        .await
        .map_err(ApiError::sequencer)?;
    state
        .store
        .record(NewAuditEntry {
            workspace_id: &channel.workspace_id,
            action,
            subject: Some(&channel.audit_subject()),
            details: json!({ "channel_id": channel.id, "confirmation_code": code, "by": "Meta" }),
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// `POST /meta/data-deletion`: removes what the Facebook user connected; answers
/// `{url, confirmation_code}`.
pub async fn data_deletion(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let request = match read(&state, request).await {
        Ok(request) => request,
        Err(refused) => return Ok(refused),
    };
    let code = random_id()[..20].to_string();
    let channels = state.store.channels_connected_by(&request.user_id).await?;
    for channel in &channels {
        state
            .store
            .remove_channel(&channel.workspace_id, &channel.id)
            .await?;
        announce(&state, channel, "meta.data_deletion", Some(&code)).await?;
    }
    let user_hash = hex::encode(Sha256::digest(request.user_id.as_bytes()));
    state
        .store
        .record_deletion_request(&code, &user_hash, channels.len() as i64)
        .await?;
    tracing::info!(%code, channels = channels.len(), "Meta data deletion request carried out");
    let url = format!("{}/meta/data-deletion/{code}", base_url(&state, &headers));
    Ok(axum::Json(json!({ "url": url, "confirmation_code": code })).into_response())
}

/// `GET /meta/data-deletion/{code}`: the request's status, for a person.
pub async fn deletion_status(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let page = |status: StatusCode, body: String| {
        (
            status,
            Html(format!(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Data deletion request</title>\
                 <body style=\"font:16px system-ui;max-width:640px;margin:40px auto\"><h1>Data deletion request</h1>{body}</body></html>"
            )),
        )
            .into_response()
    };
    let safe: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect();
    match state.store.deletion_request(&safe).await? {
        Some((received, completed, removed)) => {
            let when = |ms: i64| {
                let secs = ms / 1000;
                format!("{} (Unix time)", secs)
            };
            let status = match completed {
                Some(done) => format!(
                    "<p>Status: <strong>completed</strong> on {}.</p><p>{removed} connection(s) made by you were removed, with their access tokens; \
                     the businesses' devices delete their copies when they next connect.</p>",
                    when(done)
                ),
                None => "<p>Status: <strong>in progress</strong>.</p>".to_string(),
            };
            Ok(page(
                StatusCode::OK,
                format!(
                    "<p>Confirmation code: <code>{safe}</code></p><p>Received {}.</p>{status}",
                    when(received)
                ),
            ))
        }
        None => Ok(page(
            StatusCode::NOT_FOUND,
            "<p>No deletion request has this confirmation code.</p>".into(),
        )),
    }
}

/// `POST /meta/deauthorize`: the user removed the app; their channels are disconnected.
pub async fn deauthorize(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let request = match read(&state, request).await {
        Ok(request) => request,
        Err(refused) => return Ok(refused),
    };
    let channels = state.store.channels_connected_by(&request.user_id).await?;
    for channel in &channels {
        state.store.disconnect_channel(&channel.id).await?;
        state
            .store
            .set_channel_health(
                &channel.id,
                &crate::store::ChannelHealth::disconnected(
                    "The Facebook user who connected it removed the app at Meta. An owner must reconnect it.",
                ),
            )
            .await?;
        announce(&state, channel, "meta.deauthorized", None).await?;
    }
    tracing::info!(
        channels = channels.len(),
        "Meta deauthorization: channels disconnected"
    );
    Ok(StatusCode::OK.into_response())
}
