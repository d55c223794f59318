//! Connecting WhatsApp from the app: Meta's Embedded Signup, completed on the relay.
//!
//! 1. An owner's device asks for a signup (`POST /v1/signups`) and gets a one-time link to the
//!    relay's signup page (`GET /signup?t=…`), which it opens in a locked-down window. Meta only
//!    runs Embedded Signup on the HTTPS domains listed in the app's settings: the relay's.
//! 2. The page loads Meta's JavaScript SDK, asks for the number's two-step PIN, calls `FB.login`
//!    with the Embedded Signup configuration, and listens for the `WA_EMBEDDED_SIGNUP` message
//!    events from facebook.com only.
//! 3. On finish it posts Meta's code and the ids to `POST /signup/complete`. Within the code's 30
//!    seconds the relay exchanges it (the app secret never leaves the relay), checks with
//!    `debug_token` that the grant covers the account (and compares the permissions granted with
//!    those asked for: privacy promise P4), subscribes the app to the account's
//!    webhooks, registers the number with the PIN (not for the WhatsApp Business app, which keeps
//!    its registration), and only then creates the channel, seals its token and appends a
//!    `channel.connected` event. Any failure leaves nothing behind.
//! 4. Cancel and error end at `POST /signup/abandon`. The page then goes to `/signup/finished`,
//!    which the app watches to close the window and read the outcome (`GET /v1/signups/{id}`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use zentro_meta::AccessToken;
use zentro_meta::graph::{GraphClient, GraphError, PhoneNumber, TokenInfo};
use zentro_meta::permissions::{LoginFlow, PermissionCheck};
use zentro_meta::platform::{self, signup_events};

use super::{ApiError, AppState, Authenticated};
use super::{Body, body};
use crate::config::MetaApp;
use crate::credentials::{new_token, token_hash};
use crate::roles::Permission;
use crate::sealing::TokenKeys;
use crate::store::{
    Channel, ChannelHealth, ChannelKind, NewAuditEntry, Signup, SignupRefusal, SignupState,
};
use zentro_events::clock::random_id;

/// The log event of a newly connected (or reconnected) channel.
pub const CHANNEL_CONNECTED: &str = "channel.connected";

/// A signup that connects a WhatsApp number (Embedded Signup).
pub const WHATSAPP: &str = "whatsapp";
/// A signup that connects Facebook Pages and their Instagram accounts (Facebook Login for
/// Business).
pub const PAGES: &str = "pages";

/// The path the page ends on; the app closes the window when it gets there.
pub const FINISHED_PATH: &str = "/signup/finished";

/// The Meta app settings and a Graph client, or 503 saying what the operator must set.
pub(crate) fn meta(state: &AppState) -> Result<(&MetaApp, &GraphClient), ApiError> {
    match (&state.config.meta_app, &state.graph) {
        (Some(app), Some(graph)) => Ok((app, graph)),
        _ => Err(ApiError::Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "meta_app_missing",
            message: "this relay is not set up to connect channels: its operator must set ZENTRO_RELAY_META_APP_ID and ZENTRO_RELAY_META_SIGNUP_CONFIG_ID (see docs/meta.md)".into(),
        }),
    }
}

/// The body of `POST /v1/signups`.
#[derive(Deserialize)]
pub struct NewSignup {
    #[serde(default = "whatsapp")]
    kind: String,
}

fn whatsapp() -> String {
    "whatsapp".into()
}

/// `POST /v1/signups` `{kind: "whatsapp"}` (owners): a one-time signup link.
pub async fn start(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<NewSignup>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Permission::ConnectChannels)?;
    let input = body(input, "{kind}")?;
    let kind = match input.kind.as_str() {
        "whatsapp" => WHATSAPP,
        "pages" | "messenger" | "instagram" => PAGES,
        other => {
            return Err(ApiError::BadRequest(format!(
                "kind must be whatsapp or pages (Facebook Pages and Instagram), not {other:?}"
            )));
        }
    };
    let (app, _) = meta(&state)?;
    if kind == PAGES && app.login_config_id.is_none() {
        return Err(ApiError::Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "meta_app_missing",
            message: "this relay is not set up to connect Pages: its operator must set ZENTRO_RELAY_META_LOGIN_CONFIG_ID (see docs/meta.md); meanwhile an admin can add a Page with its token".into(),
        });
    }
    let dialog_origins: Vec<String> = app.stand_in_origin().into_iter().collect();
    super::channels::keys(&state)?;
    let (token, hash) = new_token();
    let signup = state
        .store
        .create_signup(
            &auth.0.workspace_id,
            &auth.0.member_id,
            kind,
            &hash,
            state.config.signup_ttl,
        )
        .await?;
    state
        .store
        .record(auth.audit(
            "channel.signup_started",
            Some(kind),
            json!({ "signup_id": signup.id }),
        ))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "signup": signup,
            "path": format!("/signup?t={token}"),
            "finished_path": FINISHED_PATH,
            "dialog_origins": dialog_origins,
        })),
    ))
}

/// `GET /v1/signups/{id}`: where a signup is (owners of the workspace).
pub async fn show(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ConnectChannels)?;
    let signup = state.store.signup(&auth.0.workspace_id, &id).await?;
    Ok(Json(json!({ "signup": signup })))
}

/// The signup page's query (`t`: its one-time token).
#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    t: String,
}

fn page(
    status: StatusCode,
    nonce: &str,
    connect_src: &str,
    sdk_src: &str,
    body: String,
) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}' {sdk_src}; style-src 'unsafe-inline'; \
         connect-src 'self' {connect_src}; img-src 'self' data: https://*.fbcdn.net https://*.facebook.com; \
         frame-src https://*.facebook.com {connect_src}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn message_page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><main><h1>{}</h1><p>{}</p></main></body></html>",
        escape(title),
        escape(title),
        escape(text)
    )
}

/// `GET /signup?t=…`: the signup page (its token is the only credential; one use).
pub async fn signup_page(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    let nonce = random_id();
    let Ok((app, _)) = meta(&state) else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            &nonce,
            "",
            "",
            message_page(
                "Connecting channels is not set up",
                "The relay's operator must set the Meta app id and Embedded Signup configuration.",
            ),
        );
    };
    let stand_in = app.stand_in_origin().unwrap_or_default();
    let sdk_origin = url::Url::parse(&app.sdk_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let (status, html) = match state.store.pending_signup(&token_hash(q.t.trim())).await {
        Ok(Ok(signup)) => (
            StatusCode::OK,
            signup_html(app, &signup, q.t.trim(), &nonce, &stand_in),
        ),
        Ok(Err(refusal)) => link_refused(refusal),
        Err(error) => {
            tracing::error!(%error, "the signup page could not be served");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                message_page(
                    "Something went wrong",
                    "The relay could not open this signup; try again.",
                ),
            )
        }
    };
    page(status, &nonce, &stand_in, &sdk_origin, html)
}

/// The page shown instead of the signup when its link no longer works.
fn link_refused(refusal: SignupRefusal) -> (StatusCode, String) {
    match refusal {
        SignupRefusal::Expired => (
            StatusCode::GONE,
            message_page(
                "This link has expired",
                "Close this window and choose “Connect WhatsApp” again in Zentro Desk.",
            ),
        ),
        SignupRefusal::Invalid => (
            StatusCode::NOT_FOUND,
            message_page(
                "This link is not valid",
                "It was used already. Close this window and choose “Connect WhatsApp” again in Zentro Desk.",
            ),
        ),
    }
}

/// The signup page of `signup` (WhatsApp or Pages), its configuration filled in.
fn signup_html(app: &MetaApp, signup: &Signup, token: &str, nonce: &str, stand_in: &str) -> String {
    let (template, config_id) = if signup.kind == PAGES {
        (PAGES_HTML, app.login_config_id.clone().unwrap_or_default())
    } else {
        (SIGNUP_HTML, app.signup_config_id.clone())
    };
    let config = json!({
        "token": token,
        "signupId": signup.id,
        "appId": app.app_id,
        "configId": config_id,
        "graphVersion": platform::GRAPH_API_VERSION,
        "extras": {
            "setup": {},
            "featureType": "",
            "sessionInfoVersion": platform::EMBEDDED_SIGNUP_SESSION_INFO_VERSION,
            "version": platform::EMBEDDED_SIGNUP_VERSION,
        },
        "coexistenceFeature": platform::COEXISTENCE_FEATURE_TYPE,
        "standInOrigin": stand_in,
        "finishedPath": FINISHED_PATH,
    });
    // `</` cannot end the script element from inside the JSON.
    let config = config.to_string().replace("</", "<\\/");
    template
        .replace("{{style}}", STYLE.trim_end())
        .replace("{{nonce}}", nonce)
        .replace("{{config}}", &config)
        .replace("{{sdk}}", &escape(&app.sdk_url))
        .replace(
            "{{permissions}}",
            &escape(&platform::REQUESTED_PERMISSIONS.join(", ")),
        )
}

/// The finished page's query.
#[derive(Deserialize)]
pub struct FinishedQuery {
    #[serde(default)]
    outcome: String,
}

/// `GET /signup/finished`: the page the signup ends on (the app closes the window here).
pub async fn finished(Query(q): Query<FinishedQuery>) -> Response {
    let text = match q.outcome.as_str() {
        "connected" => "WhatsApp is connected. You can close this window.",
        "cancelled" => "Nothing was connected. You can close this window.",
        _ => "Nothing was connected. Zentro Desk shows what happened; you can close this window.",
    };
    page(
        StatusCode::OK,
        &random_id(),
        "",
        "",
        message_page("Zentro Desk", text),
    )
}

/// The `data` of a `WA_EMBEDDED_SIGNUP` event.
#[derive(Deserialize, Default)]
pub struct SessionInfo {
    #[serde(default)]
    waba_id: Option<String>,
    #[serde(default)]
    phone_number_id: Option<String>,
    #[serde(default)]
    current_step: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    error_id: Option<String>,
}

/// The body of `POST /signup/complete`.
#[derive(Deserialize)]
pub struct Completion {
    t: String,
    #[serde(default)]
    code: String,
    event: String,
    #[serde(default)]
    data: SessionInfo,
    #[serde(default)]
    pin: Option<String>,
}

/// A failed completion: a stable code and what to do, for people.
pub(crate) struct Failure {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn meta(step: &str, error: &GraphError) -> Self {
        match error {
            GraphError::CodeRefused { expired: true } => Self::new(
                "code_expired",
                "Meta's code expired before the relay could use it (codes live 30 seconds). Start again.",
            ),
            GraphError::CodeRefused { expired: false } => Self::new(
                "code_invalid",
                "Meta's code was already used or is not valid. Start again.",
            ),
            GraphError::Unreachable(_)
            | GraphError::Ambiguous(_)
            | GraphError::Transient { .. } => Self::new(
                "meta_unavailable",
                format!(
                    "Meta could not be reached while {step}; nothing was connected. Try again in a few minutes."
                ),
            ),
            other => Self::new(
                "meta_refused",
                format!("Meta refused while {step}: {other}. Nothing was connected."),
            ),
        }
    }
}

fn digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// `POST /signup/complete`: Meta's code and ids from the page; connects the number.
pub async fn complete(
    State(state): State<AppState>,
    input: Body<Completion>,
) -> Result<Json<Value>, ApiError> {
    detached(async move { complete_step(state, input).await }).await
}

async fn complete_step(state: AppState, input: Body<Completion>) -> Result<Json<Value>, ApiError> {
    let input = body(input, "{t, code, event, data, pin}")?;
    let (app, graph) = meta(&state)?;
    let coexistence = input.event == signup_events::FINISH_COEXISTENCE;
    let known = [
        signup_events::FINISH,
        signup_events::FINISH_COEXISTENCE,
        signup_events::FINISH_ONLY_WABA,
    ];
    if !known.contains(&input.event.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "event must be one of {known:?} here (cancel and error go to /signup/abandon)"
        )));
    }
    let pin = input.pin.as_deref().map(str::trim).unwrap_or_default();
    if !coexistence && (pin.len() != 6 || !digits(pin)) {
        return Err(ApiError::BadRequest(
            "choose a 6-digit PIN for the number's two-step verification".into(),
        ));
    }
    let signup = begin(&state, &input.t, WHATSAPP).await?;
    let outcome = connect_whatsapp(&state, app, graph, &signup, &input, coexistence, pin).await;
    let (state_now, channel_id, outcome) = match outcome {
        Ok((channel, reconnected, permissions)) => (
            SignupState::Connected,
            Some(channel.id.clone()),
            json!({
                "message": with_permissions(
                    format!(
                        "{} {} ({}).",
                        if reconnected { "Reconnected" } else { "Connected" },
                        channel.display_name,
                        channel.phone_number.clone().unwrap_or_else(|| channel.external_id.clone())
                    ),
                    &permissions,
                ),
                "channel_id": channel.id,
                "reconnected": reconnected,
                "permissions": permissions,
            }),
        ),
        Err(failure) => {
            tracing::warn!(signup = %signup.id, code = failure.code, "a WhatsApp signup failed");
            (
                SignupState::Failed,
                None,
                json!({ "code": failure.code, "message": failure.message }),
            )
        }
    };
    end(&state, &signup, state_now, channel_id.as_deref(), outcome).await
}

/// Runs a signup step to its end even when the page's request is dropped (the relay's request
/// timeout while Meta is slow, a window closed mid-way): what it did at Meta is then recorded
/// and undone or completed, never left half-done.
pub(crate) async fn detached(
    step: impl std::future::Future<Output = Result<Json<Value>, ApiError>> + Send + 'static,
) -> Result<Json<Value>, ApiError> {
    tokio::spawn(step).await.map_err(ApiError::internal)?
}

/// Records how a signup ended (and a failure in the audit log); the page's answer.
pub(crate) async fn end(
    state: &AppState,
    signup: &Signup,
    state_now: SignupState,
    channel_id: Option<&str>,
    outcome: Value,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .finish_signup(&signup.id, state_now, channel_id, &outcome)
        .await?;
    super::signup_pages::forget(state, &signup.id).await;
    if state_now == SignupState::Failed {
        audit(
            state,
            signup,
            "channel.signup_failed",
            None,
            json!({ "signup_id": signup.id, "code": outcome["code"] }),
        )
        .await?;
    }
    Ok(Json(
        json!({ "state": state_now, "outcome": outcome, "signup_id": signup.id }),
    ))
}

/// The body of `POST /signup/abandon`.
#[derive(Deserialize)]
pub struct Abandonment {
    t: String,
    event: String,
    #[serde(default)]
    data: SessionInfo,
}

/// `POST /signup/abandon`: the owner cancelled Meta's dialog, or Meta reported an error.
pub async fn abandon(
    State(state): State<AppState>,
    input: Body<Abandonment>,
) -> Result<Json<Value>, ApiError> {
    let input = body(input, "{t, event, data}")?;
    let (to, outcome) = abandoned(&input.event, input.data)?;
    let signup = claim(
        &state,
        &input.t,
        &[SignupState::Pending, SignupState::Working],
        to,
        Some(&outcome),
    )
    .await?;
    super::signup_pages::forget(&state, &signup.id).await;
    audit(
        &state,
        &signup,
        if to == SignupState::Cancelled {
            "channel.signup_cancelled"
        } else {
            "channel.signup_failed"
        },
        None,
        json!({ "signup_id": signup.id, "code": outcome["code"], "error_id": outcome["error_id"] }),
    )
    .await?;
    Ok(Json(
        json!({ "state": to, "outcome": outcome, "signup_id": signup.id }),
    ))
}

/// How a signup abandoned with Meta's `event` ends: its new state and its outcome (Meta's words
/// clipped to 200 characters).
fn abandoned(event: &str, data: SessionInfo) -> Result<(SignupState, Value), ApiError> {
    let clip = |s: Option<String>| s.map(|s| s.chars().take(200).collect::<String>());
    match event {
        signup_events::CANCEL => {
            let step = clip(data.current_step);
            Ok((
                SignupState::Cancelled,
                json!({
                    "code": "cancelled",
                    "message": match &step {
                        Some(step) => format!("The signup was cancelled at Meta's step {step}; nothing was connected."),
                        None => "The signup was cancelled; nothing was connected.".into(),
                    },
                    "step": step,
                }),
            ))
        }
        signup_events::ERROR => {
            let (message, id) = (clip(data.error_message), clip(data.error_id));
            Ok((
                SignupState::Failed,
                json!({
                    "code": "meta_error",
                    "message": format!(
                        "Meta reported an error: {}{}. Nothing was connected; try again, or give Meta's support the error id.",
                        message.as_deref().unwrap_or("no details"),
                        id.as_deref().map(|id| format!(" (error id {id})")).unwrap_or_default()
                    ),
                    "error_id": id,
                }),
            ))
        }
        other => Err(ApiError::BadRequest(format!(
            "event must be CANCEL or ERROR here, not {other:?}"
        ))),
    }
}

fn refusal(refusal: SignupRefusal) -> ApiError {
    match refusal {
        SignupRefusal::Expired => ApiError::Refused {
            status: StatusCode::GONE,
            code: "signup_expired",
            message: "this signup link has expired; start again in Zentro Desk".into(),
        },
        SignupRefusal::Invalid => ApiError::Refused {
            status: StatusCode::BAD_REQUEST,
            code: "signup_invalid",
            message:
                "this signup link is not valid or was used already; start again in Zentro Desk"
                    .into(),
        },
    }
}

/// The signup a page token opens in one of `states`.
pub(crate) async fn open(
    state: &AppState,
    token: &str,
    states: &[SignupState],
) -> Result<Signup, ApiError> {
    state
        .store
        .open_signup(&token_hash(token.trim()), states)
        .await?
        .map_err(refusal)
}

/// Takes a pending signup of `kind` by its page token into `working`, once (Meta's code arrived).
pub(crate) async fn begin(state: &AppState, token: &str, kind: &str) -> Result<Signup, ApiError> {
    let pending = open(state, token, &[SignupState::Pending]).await?;
    if pending.kind != kind {
        return Err(ApiError::BadRequest(format!(
            "this signup connects {}, not {kind}; post to its own route",
            pending.kind
        )));
    }
    claim(
        state,
        token,
        &[SignupState::Pending],
        SignupState::Working,
        None,
    )
    .await
}

/// Exchanges Meta's code (the app secret never leaves the relay) and checks with `debug_token`
/// that the token is valid and this app's.
pub(crate) async fn exchange_and_verify(
    state: &AppState,
    app: &MetaApp,
    graph: &GraphClient,
    code: &str,
) -> Result<(AccessToken, zentro_meta::graph::TokenInfo), Failure> {
    if code.trim().is_empty() {
        return Err(Failure::new(
            "code_invalid",
            "Meta's dialog gave no code. Start again.",
        ));
    }
    let token = graph
        .exchange_code(&app.app_id, &state.config.app_secret, code.trim(), None)
        .await
        .map_err(|e| Failure::meta("exchanging the code", &e))?;
    let info = graph
        .debug_token(&app.app_id, &state.config.app_secret, &token)
        .await
        .map_err(|e| Failure::meta("checking the token", &e))?;
    if !info.is_valid || info.app_id != app.app_id {
        return Err(Failure::new(
            "grant_invalid",
            "Meta's token is not valid for this app. Start again.",
        ));
    }
    Ok((token, info))
}

/// Compares the permissions Meta granted with those `flow` asked for (privacy promise P4). When
/// they differ it says so in the log (permission names only) and the audit log
/// (`channel.permissions_differ`); the signup goes on, and its outcome carries the comparison.
pub(crate) async fn check_permissions(
    state: &AppState,
    signup: &Signup,
    flow: LoginFlow,
    info: &TokenInfo,
) -> PermissionCheck {
    let check = info.check_permissions(flow);
    if !check.is_exact() {
        tracing::warn!(
            signup = %signup.id,
            extra = ?check.extra,
            missing = ?check.missing,
            "Meta granted other permissions than the signup asked for"
        );
        if let Err(error) = audit(
            state,
            signup,
            "channel.permissions_differ",
            None,
            json!({ "signup_id": signup.id, "extra": check.extra, "missing": check.missing }),
        )
        .await
        {
            tracing::error!(?error, "a permission difference could not be audited");
        }
    }
    check
}

/// `message`, followed by what differs in the permissions granted, if anything.
pub(crate) fn with_permissions(message: String, permissions: &PermissionCheck) -> String {
    match permissions.describe() {
        Some(difference) => format!("{message} {difference}"),
        None => message,
    }
}

/// Moves a signup from one of `from` to `to`, once.
pub(crate) async fn claim(
    state: &AppState,
    token: &str,
    from: &[SignupState],
    to: SignupState,
    outcome: Option<&Value>,
) -> Result<Signup, ApiError> {
    match state
        .store
        .claim_signup(&token_hash(token.trim()), from, to, outcome)
        .await?
    {
        Ok(signup) => Ok(signup),
        Err(r) => Err(refusal(r)),
    }
}

pub(crate) async fn audit(
    state: &AppState,
    signup: &Signup,
    action: &str,
    subject: Option<&str>,
    details: Value,
) -> Result<(), ApiError> {
    let member = state
        .store
        .member(&signup.workspace_id, &signup.member_id)
        .await
        .ok();
    state
        .store
        .record(NewAuditEntry {
            workspace_id: &signup.workspace_id,
            actor_id: Some(&signup.member_id),
            actor_email: member.as_ref().map(|m| m.email.as_str()),
            device: Some("signup window"),
            action,
            subject,
            details,
        })
        .await?;
    Ok(())
}

/// Exchanges, verifies, subscribes, registers; then creates the channel with its sealed token.
async fn connect_whatsapp(
    state: &AppState,
    app: &MetaApp,
    graph: &GraphClient,
    signup: &Signup,
    input: &Completion,
    coexistence: bool,
    pin: &str,
) -> Result<(Channel, bool, PermissionCheck), Failure> {
    let keys = token_keys(state)?;
    let waba_id = shared_account(input)?;
    let (token, info) = exchange_and_verify(state, app, graph, &input.code).await?;
    let permissions = check_permissions(state, signup, LoginFlow::WhatsAppSignup, &info).await;
    check_account_granted(&info, waba_id)?;
    let number = chosen_number(graph, waba_id, &token, input).await?;
    let is_new = unclaimed_number(state, signup, &number.id).await?;
    let pin = (!coexistence).then_some(pin);
    subscribe_and_register(graph, waba_id, &number.id, &token, pin, is_new).await?;
    let connected = state
        .store
        .connect_channel(
            &signup.workspace_id,
            ChannelKind::Whatsapp,
            &number.id,
            Some(waba_id),
            &whatsapp_name(&number),
            |channel_id| keys.current.seal(channel_id, token.expose()),
            &signup.member_id,
            &number_health(&number),
        )
        .await;
    let (channel, version, reconnected) = match connected {
        Ok(c) => c,
        Err(error) => {
            if is_new {
                undo_subscription(graph, waba_id, &token).await;
            }
            return Err(store_failure(error));
        }
    };
    let connection = Connection {
        channel: &channel,
        version,
        reconnected,
        connector: info.user_id.as_deref(),
    };
    record_connected(
        state,
        signup,
        &connection,
        json!({ "channel_id": channel.id, "version": version, "coexistence": coexistence, "signup_id": signup.id }),
        json!({ "phone_number": channel.phone_number }),
        &format!("{CHANNEL_CONNECTED}:{}", signup.id),
    )
    .await
    .map_err(|_| Failure::new("internal", "The channel was connected but could not be recorded; check the Channels tab."))?;
    Ok((channel, reconnected, permissions))
}

/// The keys that seal channel tokens, or a failure when the relay has none.
fn token_keys(state: &AppState) -> Result<&TokenKeys, Failure> {
    super::channels::keys(state).map_err(|_| {
        Failure::new(
            "token_key_missing",
            "this relay keeps no channel tokens until its operator sets ZENTRO_RELAY_TOKEN_KEY",
        )
    })
}

/// A store error while connecting: logged, and a failure that says nothing was connected.
fn store_failure(error: crate::store::StoreError) -> Failure {
    tracing::error!(%error, "a signup could not be stored");
    Failure::new(
        "internal",
        "The relay could not store the channel; nothing was connected. Try again.",
    )
}

/// The WhatsApp Business Account Meta's dialog shared, when it also shared a number.
fn shared_account(input: &Completion) -> Result<&str, Failure> {
    let waba_id = input
        .data
        .waba_id
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if !digits(waba_id) {
        return Err(Failure::new(
            "no_account",
            "Meta's dialog did not say which WhatsApp Business Account was shared. Start again.",
        ));
    }
    if input.event == signup_events::FINISH_ONLY_WABA {
        return Err(Failure::new(
            "no_number",
            "Meta's dialog shared the WhatsApp Business Account without a phone number. Start again and add a number.",
        ));
    }
    Ok(waba_id)
}

/// The number chosen in the dialog (or the account's first) among the account's numbers.
async fn chosen_number(
    graph: &GraphClient,
    waba_id: &str,
    token: &AccessToken,
    input: &Completion,
) -> Result<PhoneNumber, Failure> {
    let numbers = graph
        .phone_numbers(waba_id, token)
        .await
        .map_err(|e| Failure::meta("reading the account's numbers", &e))?;
    let wanted = input
        .data
        .phone_number_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    match wanted {
        Some(id) => numbers.into_iter().find(|n| n.id == id).ok_or_else(|| {
            Failure::new("number_not_in_account", format!("The number {id} is not in the shared WhatsApp Business Account. Start again."))
        }),
        None => numbers.into_iter().next().ok_or_else(|| {
            Failure::new("no_number", "The shared WhatsApp Business Account has no phone number. Add one in WhatsApp Manager, then start again.")
        }),
    }
}

/// Whether the number is new to the relay (`true`) or this workspace's already; a failure when
/// another workspace has it.
async fn unclaimed_number(
    state: &AppState,
    signup: &Signup,
    number_id: &str,
) -> Result<bool, Failure> {
    let existing = state
        .store
        .channel_by_external_id(ChannelKind::Whatsapp, number_id)
        .await
        .map_err(store_failure)?;
    if existing
        .as_ref()
        .is_some_and(|c| c.workspace_id != signup.workspace_id)
    {
        return Err(Failure::new(
            "channel_taken",
            "This number is connected to another Zentro Desk workspace; disconnect it there first.",
        ));
    }
    Ok(existing.is_none())
}

/// Subscribes the app to the account's webhooks, then registers the number with `pin` (none
/// for the WhatsApp Business app); a failed registration undoes a new subscription.
async fn subscribe_and_register(
    graph: &GraphClient,
    waba_id: &str,
    number_id: &str,
    token: &AccessToken,
    pin: Option<&str>,
    is_new: bool,
) -> Result<(), Failure> {
    graph
        .subscribe_app(waba_id, token)
        .await
        .map_err(|e| Failure::meta("subscribing to the account's webhooks", &e))?;
    if let Some(pin) = pin
        && let Err(error) = graph.register_phone(number_id, token, pin).await
    {
        if is_new {
            undo_subscription(graph, waba_id, token).await;
        }
        return Err(Failure::meta("registering the number", &error));
    }
    Ok(())
}

/// A failure unless Meta's grant covers the WhatsApp Business Account chosen in the dialog.
fn check_account_granted(info: &TokenInfo, waba_id: &str) -> Result<(), Failure> {
    if !info.grants("whatsapp_business_management", waba_id)
        && !info.grants("whatsapp_business_messaging", waba_id)
    {
        return Err(Failure::new(
            "account_not_granted",
            format!(
                "Meta's grant does not include the WhatsApp Business Account chosen in the dialog ({waba_id}). Start again and share that account."
            ),
        ));
    }
    Ok(())
}

/// A newly connected number's health: its display number and quality rating.
fn number_health(number: &PhoneNumber) -> ChannelHealth {
    ChannelHealth::connected(
        Some(number.display_phone_number.clone()).filter(|n| !n.is_empty()),
        number.quality_rating.clone(),
    )
}

/// The channel's name: its verified name, else its display number.
fn whatsapp_name(number: &PhoneNumber) -> String {
    if number.verified_name.is_empty() {
        format!("WhatsApp {}", number.display_phone_number)
    } else {
        format!("WhatsApp {}", number.verified_name)
    }
}

/// A channel a signup has just stored.
pub(crate) struct Connection<'a> {
    pub(crate) channel: &'a Channel,
    pub(crate) version: i64,
    pub(crate) reconnected: bool,
    /// The app-scoped id of the Facebook user who connected it.
    pub(crate) connector: Option<&'a str>,
}

/// After a signup stored a channel: who connected it (best effort), the audit entry
/// (`channel.connected` or `channel.reconnected`, with `audit_details`), then the
/// `channel.connected` log event (its fields plus `extra`; a failure to append it is logged).
pub(crate) async fn record_connected(
    state: &AppState,
    signup: &Signup,
    connection: &Connection<'_>,
    audit_details: Value,
    extra: Value,
    event_key: &str,
) -> Result<(), ApiError> {
    let channel = connection.channel;
    if let Some(user) = connection.connector
        && let Err(error) = state.store.set_channel_connector(&channel.id, user).await
    {
        tracing::warn!(%error, "could not record who connected a channel");
    }
    let subject = channel.audit_subject();
    let action = if connection.reconnected {
        "channel.reconnected"
    } else {
        "channel.connected"
    };
    audit(state, signup, action, Some(&subject), audit_details).await?;
    let mut event = json!({
        "channel_id": channel.id,
        "kind": channel.kind,
        "external_id": channel.external_id,
        "token_version": connection.version,
        "name": channel.display_name,
    });
    if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
        event.extend(extra);
    }
    event["reconnected"] = json!(connection.reconnected);
    let published = state
        .sequencer
        .publish(
            &signup.workspace_id,
            &signup.member_id,
            CHANNEL_CONNECTED,
            event,
            event_key,
        )
        .await;
    if let Err(error) = published {
        tracing::error!(%error, "the channel.connected event could not be appended");
    }
    Ok(())
}

pub(crate) async fn undo_subscription(graph: &GraphClient, object_id: &str, token: &AccessToken) {
    if let Err(error) = graph.unsubscribe_app(object_id, token).await {
        tracing::warn!(%error, "could not undo a webhook subscription after a failed signup");
    }
}

/// The signup page. `{{config}}` is JSON, `{{nonce}}` the CSP nonce, `{{sdk}}` the SDK address.
const SIGNUP_HTML: &str = include_str!("signup.html");
/// The Pages page, with the same placeholders.
const PAGES_HTML: &str = include_str!("signup_pages.html");
/// The style rules both pages share, filled in for their `{{style}}`; each page adds its own.
const STYLE: &str = include_str!("signup.css");
