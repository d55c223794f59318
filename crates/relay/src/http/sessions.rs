//! Device sign-in and sign-out, and who a device is signed in as.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Authenticated};
use crate::credentials::{dummy_hash, new_token, verify_password};
use crate::store::{Credentials, NewAuditEntry};

#[derive(Deserialize)]
struct SignIn {
    email: String,
    password: String,
    #[serde(default)]
    device_name: String,
}

/// `POST /v1/sessions`: email + password → a device token.
pub async fn sign_in(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let address = client_address(&request);
    let input: SignIn = read_json(request, "{email, password, device_name}").await?;
    let email = input.email.trim().to_lowercase();
    state
        .address_limiter
        .check(&address)
        .await
        .map_err(ApiError::TooManyRequests)?;
    // Per address and account: another client's failures never lock a member out from their own.
    let account_key = format!("{address} {email}");
    state
        .account_limiter
        .check(&account_key)
        .await
        .map_err(ApiError::TooManyRequests)?;

    let credentials = state
        .store
        .credentials(&email)
        .await
        .map_err(ApiError::store)?;
    let hash = credentials
        .as_ref()
        .and_then(|c| c.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let password = input.password;
    let valid = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let Some(credentials) = credentials.filter(|c| valid && c.status == "active") else {
        tracing::info!("sign-in failed");
        if let Ok(Some((member, workspace_id))) = state.store.member_by_email(&email).await {
            let _ = state
                .store
                .record(NewAuditEntry {
                    workspace_id: &workspace_id,
                    actor_id: Some(&member.id),
                    actor_email: Some(&member.email),
                    device: Some(device_name(&input.device_name).as_str()),
                    action: "sign_in.failed",
                    subject: Some(&member.email),
                    details: json!({ "address": address }),
                })
                .await;
        }
        return Err(ApiError::Unauthorized);
    };
    state.account_limiter.reset(&account_key).await;
    start_session(&state, &credentials, &input.device_name, &address).await
}

/// A device name as stored: trimmed, at most 100 characters, never empty.
pub(super) fn device_name(given: &str) -> String {
    if given.trim().is_empty() {
        "Unnamed device".to_string()
    } else {
        given.trim().chars().take(100).collect()
    }
}

/// Creates a device session for credentials already checked, records it, and answers 201 with
/// the token, the member and the workspace.
pub(super) async fn start_session(
    state: &AppState,
    credentials: &Credentials,
    device: &str,
    address: &str,
) -> Result<Response, ApiError> {
    let (token, hash) = new_token();
    let device = device_name(device);
    state
        .store
        .create_session(
            &credentials.member.id,
            &credentials.workspace.id,
            &hash,
            &device,
        )
        .await
        .map_err(ApiError::store)?;
    state
        .store
        .record(NewAuditEntry {
            workspace_id: &credentials.workspace.id,
            actor_id: Some(&credentials.member.id),
            actor_email: Some(&credentials.member.email),
            device: Some(&device),
            action: "sign_in",
            subject: Some(&credentials.member.email),
            details: json!({ "address": address }),
        })
        .await?;
    tracing::info!(member = %credentials.member.id, "signed in");
    Ok((StatusCode::CREATED, Json(json!({ "token": token, "member": credentials.member, "workspace": credentials.workspace }))).into_response())
}

/// The JSON body of `request` (at most 64 KiB), for handlers that also need the request itself;
/// a bad request naming the `shape` expected when it is not that JSON.
pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
    request: Request,
    shape: &str,
) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|_| ApiError::BadRequest("the body is too large".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::BadRequest(format!("expected JSON {shape}")))
}

/// The client's address, for rate limits and the audit log (resolved by
/// [`crate::ratelimit::guard`], trusted proxies considered).
pub(super) fn client_address(request: &Request) -> String {
    match request
        .extensions()
        .get::<crate::ratelimit::ClientAddress>()
    {
        Some(address) => address.0.clone(),
        None => request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "local".into()),
    }
}

/// `GET /v1/sessions/current`: who this device is signed in as, with their current role.
pub async fn current(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    let session = &auth.0;
    let member = state
        .store
        .member(&session.workspace_id, &session.member_id)
        .await?;
    let workspace = state.store.workspace(&session.workspace_id).await?;
    Ok(Json(json!({
        "member": member,
        "workspace": workspace,
        "device": { "id": session.session_id, "name": session.device_name },
        "permissions": session.role.permissions(),
    })))
}

/// `DELETE /v1/sessions/current`: revokes the calling device's token.
pub async fn sign_out(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .revoke_session(&auth.0.session_id)
        .await
        .map_err(ApiError::store)?;
    state.sessions_revoked();
    state
        .store
        .record(auth.audit("sign_out", Some(&auth.0.email), json!({})))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
