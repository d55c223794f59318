//! Device sign-in and sign-out.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Authenticated};
use crate::credentials::{dummy_hash, new_token, verify_password};

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
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".into());
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|_| ApiError::BadRequest("the body is too large".into()))?;
    let input: SignIn = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("expected JSON {email, password, device_name}".into()))?;
    let email = input.email.trim().to_lowercase();
    state
        .address_limiter
        .check(&address)
        .map_err(ApiError::TooManyRequests)?;
    state
        .account_limiter
        .check(&email)
        .map_err(ApiError::TooManyRequests)?;

    let credentials = state
        .store
        .credentials(&email)
        .await
        .map_err(ApiError::internal)?;
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
        return Err(ApiError::Unauthorized);
    };
    state.account_limiter.reset(&email);
    let (token, hash) = new_token();
    let device_name = if input.device_name.trim().is_empty() {
        "Unnamed device".to_string()
    } else {
        input.device_name.trim().chars().take(100).collect()
    };
    state
        .store
        .create_session(
            &credentials.member.id,
            &credentials.workspace.id,
            &hash,
            &device_name,
        )
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(member = %credentials.member.id, "signed in");
    Ok((StatusCode::CREATED, Json(json!({ "token": token, "member": credentials.member, "workspace": credentials.workspace }))).into_response())
}

/// `DELETE /v1/sessions/current`: revokes the calling device's token.
pub async fn sign_out(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .revoke_session(&session.session_id)
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/members`: the workspace's members (for assigning and mentioning), no secrets.
pub async fn members(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    let members = state
        .store
        .members(&session.workspace_id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "members": members })))
}
