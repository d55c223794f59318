//! The one error type of the HTTP boundary: a stable `code` and a safe message; internal causes
//! are logged once and never sent.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A failed request.
#[derive(Debug)]
pub enum ApiError {
    /// No or a bad bearer token, or wrong credentials (one generic message).
    Unauthorized,
    /// The request is malformed; the message says what to fix.
    BadRequest(String),
    /// Too many attempts; retry after the given time.
    TooManyRequests(Duration),
    /// The member's role does not allow it; the message says what is needed.
    Forbidden(String),
    /// What the request names does not exist (in this workspace).
    NotFound(String),
    /// The request breaks a rule; a stable code and what to do.
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// Stable code for callers.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Something failed on the relay; the cause is logged, not sent.
    Internal(String),
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        let (status, code) = match &error {
            StoreError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            StoreError::NotFound(_) => return Self::NotFound(error.to_string()),
            StoreError::LastOwner => (StatusCode::CONFLICT, "last_owner"),
            StoreError::InvitationInvalid => (StatusCode::BAD_REQUEST, "invitation_invalid"),
            StoreError::InvitationExpired => (StatusCode::GONE, "invitation_expired"),
            _ => return Self::internal(error),
        };
        Self::Refused {
            status,
            code,
            message: error.to_string(),
        }
    }
}

impl ApiError {
    /// Wraps an internal error (logged when the response is built).
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Sign in again: the email, password or device token is not valid.".to_string(),
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many attempts; wait and try again.".to_string(),
            ),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            Self::Refused {
                status,
                code,
                message,
            } => (*status, *code, message.clone()),
            Self::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "The relay could not complete the request; try again.".to_string(),
                )
            }
        };
        let mut response = (
            status,
            axum::Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response();
        if let Self::TooManyRequests(wait) = self
            && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
