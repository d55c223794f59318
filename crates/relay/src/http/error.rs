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
    /// Something failed on the relay; the cause is logged, not sent.
    Internal(String),
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
