//! The relay's HTTP surface: Meta's webhook endpoint and the devices' `/v1` API.

mod error;
mod events;
mod ops;
mod sessions;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::config::Config;
use crate::credentials::token_hash;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::sequencer::{Notifier, Sequencer};
use crate::store::{SessionContext, Store};

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The single writer of the event logs.
    pub sequencer: Sequencer,
    /// Wakes streams when a log grows.
    pub notifier: Notifier,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Settings (with the Meta secrets).
    pub config: Arc<Config>,
    /// Sign-in attempts per client address.
    pub address_limiter: Arc<RateLimiter>,
    /// Sign-in attempts per account.
    pub account_limiter: Arc<RateLimiter>,
    /// Cancelled when the relay stops: open streams end.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Builds the state over an open store and starts the sequencer.
    pub fn new(store: Store, config: Config) -> Self {
        let metrics = Arc::new(Metrics::default());
        let notifier = Notifier::default();
        let sequencer = Sequencer::start(store.clone(), notifier.clone(), metrics.clone());
        Self {
            address_limiter: Arc::new(RateLimiter::new(
                config.sign_in_per_address,
                Duration::from_secs(60),
            )),
            account_limiter: Arc::new(RateLimiter::new(
                config.sign_in_per_account,
                Duration::from_secs(15 * 60),
            )),
            store,
            sequencer,
            notifier,
            metrics,
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
        }
    }
}

/// The relay's router.
pub fn app(state: AppState) -> Router {
    let webhooks = Router::new()
        .route(
            "/webhooks/meta",
            get(webhooks::handshake).post(webhooks::receive),
        )
        .layer(DefaultBodyLimit::max(
            zentro_meta::platform::WEBHOOK_MAX_BODY_BYTES,
        ));
    let api = Router::new()
        .route("/v1/sessions", post(sessions::sign_in))
        .route("/v1/sessions/current", delete(sessions::sign_out))
        .route("/v1/members", get(sessions::members))
        .route("/v1/events", get(events::list).post(events::publish))
        .route("/v1/cursor", post(events::acknowledge))
        .layer(DefaultBodyLimit::max(256 * 1024));
    // The timeout bounds how long a response takes to start; an event stream's body then stays open.
    Router::new()
        .merge(webhooks)
        .merge(api)
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A request authenticated with a device's bearer token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub SessionContext);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let session = state
            .store
            .session(&token_hash(token.trim()))
            .await
            .map_err(ApiError::internal)?;
        session.map(Authenticated).ok_or(ApiError::Unauthorized)
    }
}
