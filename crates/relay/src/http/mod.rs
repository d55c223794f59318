//! The relay's HTTP surface: Meta's webhook endpoint and the devices' `/v1` API.

mod assist;
pub mod automation;
pub mod campaigns;
pub mod channel_health;
mod channels;
mod error;
mod events;
mod meta_callbacks;
mod ops;
mod rights;
mod sessions;
pub mod shared_files;
pub mod signup;
pub mod signup_pages;
mod team;
pub mod templates;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{delete, get, patch, post, put};
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use zentro_events::clock::now_ms;

pub use error::ApiError;

use crate::config::Config;
use crate::credentials::token_hash;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::sequencer::{Notifier, Sequencer};
use crate::store::{SessionContext, SessionUse, Store};

/// A handler's JSON body as axum extracts it: the value, or why it is not JSON of that shape.
pub(crate) type Body<T> = Result<axum::Json<T>, axum::extract::rejection::JsonRejection>;

/// The value of `input`; a bad request naming the `shape` expected when it is not JSON of it.
pub(crate) fn body<T>(input: Body<T>, shape: &str) -> Result<T, ApiError> {
    input
        .map(|axum::Json(v)| v)
        .map_err(|e| ApiError::BadRequest(format!("expected JSON {shape}: {}", e.body_text())))
}

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The relay's database: reads go straight to it, frequent writes through `sequencer`.
    pub store: Store,
    /// The single writer of the event logs.
    pub sequencer: Sequencer,
    /// Wakes streams when a log grows.
    pub notifier: Notifier,
    /// The counters `/metrics` renders (webhooks accepted and refused, events, streams).
    pub metrics: Arc<Metrics>,
    /// Settings (with the Meta secrets).
    pub config: Arc<Config>,
    /// Sign-in attempts per client address (shared by the instances on PostgreSQL).
    pub address_limiter: Arc<RateLimiter>,
    /// Sign-in attempts per client address and account (shared by the instances on PostgreSQL).
    pub account_limiter: Arc<RateLimiter>,
    /// Refused Meta callbacks (bad signatures) per client address (shared by the instances on
    /// PostgreSQL).
    pub meta_limiter: Arc<RateLimiter>,
    /// Writes per device session (keyed by the token's hash): per instance on both backends.
    pub write_limiter: Arc<RateLimiter>,
    /// This instance's name in the leases it takes on background work (random at start).
    pub instance_id: Arc<str>,
    /// Cancelled when the relay stops: open streams end.
    pub shutdown: CancellationToken,
    /// Bumped whenever sessions are revoked (sign-out, device revocation, deactivation, removal),
    /// so open streams check at once whether they may go on.
    pub revocations: Arc<tokio::sync::watch::Sender<u64>>,
    /// Meta's Graph API, when the Meta app is configured (signups, channel health).
    pub graph: Option<zentro_meta::graph::GraphClient>,
}

impl AppState {
    /// Tells open streams that sessions were revoked.
    pub fn sessions_revoked(&self) {
        self.revocations.send_modify(|n| *n += 1);
        if self.store.is_postgres() {
            // Other instances' streams of the revoked devices close too (crate::wakeups).
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.announce_revocation().await {
                    tracing::warn!(%error, "could not tell other relay instances of a revocation");
                }
            });
        }
    }
}

impl AppState {
    /// Builds the state over an open store and starts the sequencer.
    pub fn new(store: Store, config: Config) -> Self {
        let store = store.with_presence_window(config.presence_window);
        let metrics = Arc::new(Metrics::default());
        let notifier = Notifier::default();
        let sequencer = Sequencer::start(store.clone(), notifier.clone(), metrics.clone());
        Self {
            address_limiter: Arc::new(RateLimiter::shared(
                "address",
                config.sign_in_per_address,
                Duration::from_secs(60),
                &store,
            )),
            account_limiter: Arc::new(RateLimiter::shared(
                "account",
                config.sign_in_per_account,
                crate::ratelimit::LONGEST_WINDOW,
                &store,
            )),
            meta_limiter: Arc::new(RateLimiter::shared(
                "meta",
                config.meta_refusals_per_address,
                Duration::from_secs(60),
                &store,
            )),
            write_limiter: Arc::new(RateLimiter::new(
                config.writes_per_session,
                Duration::from_secs(60),
            )),
            store,
            sequencer,
            notifier,
            metrics,
            instance_id: zentro_events::clock::random_id().into(),
            shutdown: CancellationToken::new(),
            revocations: Arc::new(tokio::sync::watch::channel(0).0),
            graph: config.meta_app.as_ref().and_then(|app| {
                zentro_meta::graph::GraphClient::new(&app.graph_url)
                    .map_err(
                        |error| tracing::error!(%error, "the Graph API client could not be built"),
                    )
                    .ok()
            }),
            config: Arc::new(config),
        }
    }
}

/// The relay's router.
pub fn app(state: AppState) -> Router {
    // The timeout bounds how long a response takes to start; an event stream's body then stays open.
    Router::new()
        .merge(webhook_routes())
        .merge(team_routes())
        .merge(channel_routes())
        .merge(shared_file_routes())
        .merge(meta_callback_routes())
        .merge(automation_routes())
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::guard,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The largest body of an API request (files and webhooks have their own limits).
const API_MAX_BODY_BYTES: usize = 256 * 1024;

/// Meta's webhook endpoint.
fn webhook_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/meta",
            get(webhooks::handshake).post(webhooks::receive),
        )
        .layer(DefaultBodyLimit::max(
            zentro_meta::platform::WEBHOOK_MAX_BODY_BYTES,
        ))
}

/// Sessions, members, devices, the audit log, the workspace and its event log.
fn team_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(sessions::sign_in))
        .route(
            "/v1/sessions/current",
            get(sessions::current).delete(sessions::sign_out),
        )
        .route("/v1/members", get(team::members).post(team::invite))
        .route(
            "/v1/members/{id}",
            patch(team::update_member).delete(team::remove_member),
        )
        .route("/v1/invitations/accept", post(team::accept_invitation))
        .route("/v1/devices", get(team::devices))
        .route("/v1/devices/{id}", delete(team::revoke_device))
        .route("/v1/audit", get(team::audit).post(team::report))
        .route("/v1/erasures", get(rights::remembered).post(rights::erase))
        .route(
            "/v1/workspace",
            patch(team::rename_workspace).delete(team::terminate_workspace),
        )
        .route(
            "/v1/workspace/retention",
            get(team::retention).put(team::set_retention),
        )
        .route("/v1/events", get(events::list).post(events::publish))
        .route("/v1/cursor", post(events::acknowledge))
        .layer(DefaultBodyLimit::max(API_MAX_BODY_BYTES))
}

/// Channels, their tokens and health, and connecting them through Meta (the signup pages).
fn channel_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/channels", get(channels::list).post(channels::add))
        .route("/v1/channels/{id}", delete(channels::remove))
        .route(
            "/v1/channels/{id}/token",
            get(channels::token)
                .put(channels::set_token)
                .delete(channels::revoke_token),
        )
        .route("/v1/channels/{id}/access", put(channels::set_access))
        .route("/v1/channels/{id}/events", get(channels::history))
        .route("/v1/channels/{id}/check", post(channel_health::check_now))
        .route(
            "/v1/channels/{id}/disconnect",
            post(channel_health::disconnect),
        )
        .route("/v1/signups", post(signup::start))
        .route("/v1/signups/{id}", get(signup::show))
        .route("/signup", get(signup::signup_page))
        .route("/signup/complete", post(signup::complete))
        .route("/signup/abandon", post(signup::abandon))
        .route("/signup/pages/accounts", post(signup_pages::accounts))
        .route("/signup/pages/connect", post(signup_pages::connect))
        .route(signup::FINISHED_PATH, get(signup::finished))
        .layer(DefaultBodyLimit::max(API_MAX_BODY_BYTES))
}

/// The workspace's automation setup, members' presence, AI assist's settings and WhatsApp
/// templates.
fn automation_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/automation",
            get(automation::setup).put(automation::save_setup),
        )
        .route(
            "/v1/presence",
            get(automation::presence).put(automation::set_presence),
        )
        .route("/v1/assist", get(assist::settings).put(assist::change))
        .route("/v1/assist/key", get(assist::key))
        .route("/v1/assist/usage", post(assist::record_usage))
        .route(
            "/v1/templates",
            get(templates::list).post(templates::create),
        )
        .route("/v1/templates/refresh", post(templates::refresh))
        .route("/v1/templates/uses", put(templates::set_uses))
        .route(
            "/v1/campaigns",
            get(campaigns::list).post(campaigns::create),
        )
        .route("/v1/campaigns/received", get(campaigns::received))
        .route("/v1/campaigns/{id}", get(campaigns::show))
        .route(
            "/v1/campaigns/{id}/recipients",
            get(campaigns::recipients).post(campaigns::add_recipients),
        )
        .route(
            "/v1/campaigns/{id}/recipients.csv",
            get(campaigns::recipients_csv),
        )
        .route("/v1/campaigns/{id}/start", post(campaigns::start))
        .route("/v1/campaigns/{id}/pause", post(campaigns::pause))
        .route("/v1/campaigns/{id}/resume", post(campaigns::resume))
        .route("/v1/campaigns/{id}/cancel", post(campaigns::cancel))
        .layer(DefaultBodyLimit::max(API_MAX_BODY_BYTES))
}

/// Files for Meta to fetch by link (Instagram): up to Instagram's largest attachment.
fn shared_file_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/shared-files", post(shared_files::share))
        .route("/shared/{token}/{name}", get(shared_files::fetch))
        .layer(DefaultBodyLimit::max(shared_files::MAX_BYTES))
}

/// Meta's data-deletion and deauthorize callbacks.
fn meta_callback_routes() -> Router<AppState> {
    Router::new()
        .route("/meta/data-deletion", post(meta_callbacks::data_deletion))
        .route(
            "/meta/data-deletion/{code}",
            get(meta_callbacks::deletion_status),
        )
        .route("/meta/deauthorize", post(meta_callbacks::deauthorize))
        .layer(DefaultBodyLimit::max(16 * 1024))
}

/// The span of a request in the relay's traces: the method and the route it matched
/// (`/shared/{token}/{name}`, never the token), or the path when none did; never the query string,
/// which can carry a file's name or a code, and never a header.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| request.uri().path(), |m| m.as_str());
    tracing::debug_span!("request", method = %request.method(), path = %route, version = ?request.version())
}

/// A request authenticated with a device's bearer token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub SessionContext);

impl Authenticated {
    /// Refuses (403) unless the member's role has `permission`.
    pub fn require(&self, permission: crate::roles::Permission) -> Result<(), ApiError> {
        if self.0.role.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "only {}s may {} (you are {}); ask an admin of the workspace",
                permission.least_role().as_str(),
                permission.describe(),
                self.0.role.as_str()
            )))
        }
    }

    /// The audit entry of something this device did.
    pub fn audit<'a>(
        &'a self,
        action: &'a str,
        subject: Option<&'a str>,
        details: serde_json::Value,
    ) -> crate::store::NewAuditEntry<'a> {
        crate::store::NewAuditEntry {
            workspace_id: &self.0.workspace_id,
            actor_id: Some(&self.0.member_id),
            actor_email: Some(&self.0.email),
            device: Some(&self.0.device_name),
            action,
            subject,
            details,
        }
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let hash = token_hash(token.trim());
        let session = state
            .store
            .session_in_use(&hash, now_ms(), state.config.device_idle)
            .await
            .map_err(ApiError::store)?;
        match session {
            SessionUse::Live(session) => Ok(Authenticated(session)),
            SessionUse::Expired => Err(ApiError::Refused {
                status: axum::http::StatusCode::UNAUTHORIZED,
                code: "session_expired",
                message: format!(
                    "This device was not used for more than {} days: sign in again.",
                    state.config.device_idle.as_secs() / 86_400
                ),
            }),
            SessionUse::Unknown if state
                .store
                .was_terminated(&hash)
                .await
                .map_err(ApiError::store)? =>
            {
                Err(ApiError::Refused {
                    status: axum::http::StatusCode::GONE,
                    code: "workspace_terminated",
                    message: "The workspace was terminated by its owner: delete its data from this device.".into(),
                })
            }
            SessionUse::Unknown => Err(ApiError::Unauthorized),
        }
    }
}
