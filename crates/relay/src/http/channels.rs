//! Channels of a workspace, their sealed Meta tokens, and who may use them.
//!
//! Every change appends a `channel.changed` event to the workspace's log (ids and the token's
//! version, never the token), so each device fetches or forgets tokens on its next sync.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, Authenticated, Body, body};
use crate::roles::{Permission, Role};
use crate::sealing::TokenKeys;
use crate::store::{Channel, ChannelKind, ChannelView};
use zentro_events::clock::random_id;

/// The log event that tells devices a channel or its token changed.
pub const CHANNEL_CHANGED: &str = "channel.changed";

pub(crate) fn keys(state: &AppState) -> Result<&TokenKeys, ApiError> {
    state.config.token_keys.as_ref().ok_or(ApiError::Refused {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "token_key_missing",
        message: "this relay keeps no channel tokens until its operator sets ZENTRO_RELAY_TOKEN_KEY (see `zentro-relay key generate`)".into(),
    })
}

async fn announce(state: &AppState, auth: &Authenticated, view: Value) -> Result<(), ApiError> {
    state
        .sequencer
        .publish(
            &auth.0.workspace_id,
            &auth.0.member_id,
            CHANNEL_CHANGED,
            view,
            &format!("{CHANNEL_CHANGED}:{}", random_id()),
        )
        .await
        .map_err(ApiError::sequencer)?;
    Ok(())
}

/// Records `action` on `channel` in the audit log (with `details`), then tells every device how
/// the channel looks now; returns that view.
async fn record_change(
    state: &AppState,
    auth: &Authenticated,
    action: &str,
    channel: &Channel,
    details: Value,
) -> Result<ChannelView, ApiError> {
    state
        .store
        .record(auth.audit(action, Some(&channel.audit_subject()), details))
        .await?;
    let view = view(state, auth, &channel.id).await?;
    announce(state, auth, change(&view)).await?;
    Ok(view)
}

/// The channel `channel_id` of the caller's workspace (not found when another workspace's).
async fn channel(
    state: &AppState,
    auth: &Authenticated,
    channel_id: &str,
) -> Result<Channel, ApiError> {
    Ok(state
        .store
        .channel(&auth.0.workspace_id, channel_id)
        .await?)
}

/// How the caller sees the channel `channel_id`, for a member who may answer and is allowed on
/// it (forbidden otherwise).
async fn allowed_view(
    state: &AppState,
    auth: &Authenticated,
    channel_id: &str,
) -> Result<ChannelView, ApiError> {
    auth.require(Permission::Answer)?;
    let view = view(state, auth, channel_id).await?;
    if !view.allowed {
        return Err(ApiError::Forbidden(
            "you are not among the members allowed on this channel; ask an admin".into(),
        ));
    }
    Ok(view)
}

pub(crate) async fn view(
    state: &AppState,
    auth: &Authenticated,
    channel_id: &str,
) -> Result<ChannelView, ApiError> {
    state
        .store
        .channel_views(&auth.0.workspace_id, &auth.0.member_id, auth.0.role)
        .await?
        .into_iter()
        .find(|v| v.channel.id == channel_id)
        .ok_or_else(|| ApiError::NotFound("the channel is not in this workspace".into()))
}

fn change(view: &ChannelView) -> Value {
    json!({
        "channel_id": view.channel.id,
        "kind": view.channel.kind,
        "external_id": view.channel.external_id,
        "token_version": view.token_version,
    })
}

/// `GET /v1/channels`: the workspace's channels, with whether the caller may use each.
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let channels = state
        .store
        .channel_views(&auth.0.workspace_id, &auth.0.member_id, auth.0.role)
        .await?;
    let mut channels = serde_json::to_value(channels).map_err(ApiError::internal)?;
    let advice = rotation_advice(&state, &auth).await?;
    for channel in channels.as_array_mut().into_iter().flatten() {
        let id = channel["id"].as_str().unwrap_or_default().to_string();
        channel["rotation_advised"] = advised_for(&advice, &id);
    }
    Ok(Json(json!({ "channels": channels })))
}

/// What admins are advised to rotate (agents are told nothing).
async fn rotation_advice(
    state: &AppState,
    auth: &Authenticated,
) -> Result<Vec<crate::store::RotationAdvice>, ApiError> {
    if auth.0.role < Role::Admin {
        return Ok(Vec::new());
    }
    Ok(state.store.rotation_advice(&auth.0.workspace_id).await?)
}

/// `[{member_id, email}]`: members who may no longer use the channel but whose devices were
/// handed its current token.
fn advised_for(advice: &[crate::store::RotationAdvice], channel_id: &str) -> Value {
    advice
        .iter()
        .filter(|a| a.channel_id == channel_id)
        .map(|a| json!({ "member_id": a.member_id, "email": a.email }))
        .collect()
}

#[derive(Deserialize)]
pub struct NewChannel {
    kind: String,
    external_id: String,
    #[serde(default)]
    waba_id: Option<String>,
    #[serde(default)]
    name: String,
    /// Proof: a Meta access token whose `debug_token` grants the id (the Page, or the WABA that
    /// holds the number).
    #[serde(default)]
    token: Option<String>,
}

fn refused(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Refused {
        status: StatusCode::FORBIDDEN,
        code,
        message: message.into(),
    }
}

/// Refuses (409) an id another workspace (or this one) already has, then (403) an unclaimed id
/// without proof that Meta granted it to the caller: `token`'s `debug_token` must be this app's,
/// valid, and grant the Page or Instagram account, or the WABA whose numbers include the number.
/// The operator's CLI (`zentro-relay channel add`) needs no proof.
async fn prove(
    state: &AppState,
    kind: ChannelKind,
    external_id: &str,
    waba_id: Option<&str>,
    token: Option<&str>,
) -> Result<(), ApiError> {
    refuse_taken(state, kind, external_id, waba_id).await?;
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(refused(
            "proof_required",
            "add a channel with a Meta token that grants it (`token`), connect it from the app, or ask the relay's operator (`zentro-relay channel add`)",
        ));
    };
    let (app, graph) = super::signup::meta(state)?;
    let token = zentro_meta::AccessToken::new(token.to_string());
    let info = graph
        .debug_token(&app.app_id, &state.config.app_secret, &token)
        .await
        .map_err(|error| {
            tracing::info!(%error, "a channel's proof was refused by Meta");
            not_granted(external_id)
        })?;
    if !info.is_valid || info.app_id != app.app_id {
        return Err(not_granted(external_id));
    }
    let (scopes, target) = match kind {
        ChannelKind::Whatsapp => (
            [
                "whatsapp_business_management",
                "whatsapp_business_messaging",
            ],
            waba_id.ok_or_else(|| {
                ApiError::BadRequest("a WhatsApp number needs its waba_id".into())
            })?,
        ),
        ChannelKind::Messenger => (["pages_messaging", "pages_manage_metadata"], external_id),
        ChannelKind::Instagram => (
            ["instagram_manage_messages", "instagram_basic"],
            external_id,
        ),
    };
    if !scopes.iter().any(|s| info.grants(s, target)) {
        return Err(not_granted(external_id));
    }
    if kind == ChannelKind::Whatsapp {
        let numbers = graph.phone_numbers(target, &token).await.map_err(|error| {
            tracing::info!(%error, "a channel's numbers could not be read at Meta");
            not_granted(external_id)
        })?;
        if !numbers.iter().any(|n| n.id == external_id) {
            return Err(not_granted(external_id));
        }
    }
    Ok(())
}

/// 409 when the channel, or the WhatsApp account it is in, is connected to a workspace already.
async fn refuse_taken(
    state: &AppState,
    kind: ChannelKind,
    external_id: &str,
    waba_id: Option<&str>,
) -> Result<(), ApiError> {
    let taken = state
        .store
        .channel_by_external_id(kind, external_id)
        .await?
        .is_some()
        || match waba_id {
            Some(waba) => state
                .store
                .workspace_of_account(kind, waba)
                .await?
                .is_some(),
            None => false,
        };
    if taken {
        return Err(ApiError::Refused {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: format!(
                "the {} id {external_id} is already connected to a workspace on this relay",
                kind.as_str()
            ),
        });
    }
    Ok(())
}

/// 403: Meta does not say the token grants the channel.
fn not_granted(external_id: &str) -> ApiError {
    refused(
        "not_granted",
        format!("Meta does not say this token grants {external_id}"),
    )
}

/// `POST /v1/channels`: adds a channel (admins) no workspace has, with proof that Meta granted it
/// ([`prove`]); quarantined webhooks naming it are delivered.
pub async fn add(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<NewChannel>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Permission::ManageChannels)?;
    let input = body(input, "{kind, external_id, waba_id?, name?}")?;
    let kind: ChannelKind = input.kind.parse().map_err(ApiError::BadRequest)?;
    let external_id = input.external_id.trim();
    if external_id.is_empty() || !external_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::BadRequest(
            "external_id must be Meta's numeric id of the number, Page or account".into(),
        ));
    }
    let waba_id = input
        .waba_id
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty());
    prove(&state, kind, external_id, waba_id, input.token.as_deref()).await?;
    let (channel, released) = state
        .store
        .add_channel(
            &auth.0.workspace_id,
            kind,
            external_id,
            waba_id,
            input.name.trim(),
        )
        .await?;
    let view = record_change(
        &state,
        &auth,
        "channel.added",
        &channel,
        json!({ "channel_id": channel.id }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "channel": view, "released": released })),
    ))
}

/// `DELETE /v1/channels/{id}`: removes a channel, its token and its access list (admins).
pub async fn remove(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(channel_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::ManageChannels)?;
    let channel = state
        .store
        .remove_channel(&auth.0.workspace_id, &channel_id)
        .await?;
    state
        .store
        .record(auth.audit(
            "channel.removed",
            Some(&channel.audit_subject()),
            json!({ "channel_id": channel.id }),
        ))
        .await?;
    announce(
        &state,
        &auth,
        json!({ "channel_id": channel.id, "kind": channel.kind, "external_id": channel.external_id, "removed": true }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct NewToken {
    token: String,
}

/// `PUT /v1/channels/{id}/token`: stores or rotates the channel's Meta token, sealed (admins).
pub async fn set_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(channel_id): Path<String>,
    input: Body<NewToken>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageChannels)?;
    let keys = keys(&state)?;
    let input = body(input, "{token}")?;
    let token = zeroize::Zeroizing::new(input.token);
    let token = token.trim();
    if token.len() < 20 || token.len() > 4096 || token.chars().any(char::is_whitespace) {
        return Err(ApiError::BadRequest(
            "token must be the channel's Meta access token (one word, as Meta gives it)".into(),
        ));
    }
    let channel = channel(&state, &auth, &channel_id).await?;
    let sealed = keys.current.seal(&channel.id, token);
    let version = state
        .store
        .set_channel_token(&channel.id, &sealed, Some(&auth.0.member_id))
        .await?;
    let action = if version == 1 {
        "channel.token_set"
    } else {
        "channel.token_rotated"
    };
    let details = json!({ "channel_id": channel.id, "version": version });
    let view = record_change(&state, &auth, action, &channel, details).await?;
    Ok(Json(json!({ "channel": view })))
}

/// `DELETE /v1/channels/{id}/token`: forgets the channel's token; devices delete their copy on
/// their next sync (admins).
pub async fn revoke_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(channel_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::ManageChannels)?;
    let channel = channel(&state, &auth, &channel_id).await?;
    if !state.store.revoke_channel_token(&channel.id).await? {
        return Err(ApiError::NotFound("the channel has no token".into()));
    }
    record_change(
        &state,
        &auth,
        "channel.token_revoked",
        &channel,
        json!({ "channel_id": channel.id }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/channels/{id}/token`: the channel's Meta token, for a signed-in device of a member
/// allowed on the channel (recorded in the audit log).
pub async fn token(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(channel_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = allowed_view(&state, &auth, &channel_id).await?;
    let keys = keys(&state)?;
    let sealed = state
        .store
        .channel_token(&channel_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound("the channel has no token; an admin must connect it".into())
        })?;
    let token = keys
        .open(&channel_id, &sealed.sealed)
        .map_err(ApiError::internal)?;
    state
        .store
        .record(auth.audit(
            "channel.token_issued",
            Some(&view.channel.audit_subject()),
            json!({ "channel_id": channel_id, "version": sealed.version }),
        ))
        .await?;
    Ok(Json(
        json!({ "token": token.as_str(), "version": sealed.version }),
    ))
}

#[derive(Deserialize)]
pub struct Access {
    agents: Vec<String>,
}

/// `PUT /v1/channels/{id}/access` with `{agents: [member ids]}`: the agents allowed on the
/// channel (empty: everyone). Admins and owners are always allowed.
pub async fn set_access(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(channel_id): Path<String>,
    input: Body<Access>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageChannels)?;
    let input = body(input, "{agents: [member ids]}")?;
    let channel = channel(&state, &auth, &channel_id).await?;
    state
        .store
        .set_channel_access(&auth.0.workspace_id, &channel.id, &input.agents)
        .await?;
    let view = record_change(
        &state,
        &auth,
        "channel.access_changed",
        &channel,
        json!({ "channel_id": channel.id, "agents": input.agents }),
    )
    .await?;
    // Who lost the channel while a device of theirs holds its token: rotate it.
    let advised = advised_for(&rotation_advice(&state, &auth).await?, &channel.id);
    if advised.as_array().is_some_and(|a| !a.is_empty()) {
        state
            .store
            .record(auth.audit(
                "channel.rotation_advised",
                Some(&channel.audit_subject()),
                json!({ "channel_id": channel.id, "members": advised }),
            ))
            .await?;
    }
    Ok(Json(
        json!({ "channel": view, "rotation_advised": advised }),
    ))
}

#[derive(Deserialize)]
pub struct HistoryRange {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

/// `GET /v1/channels/{id}/events?after=A[&before=B]`: the channel's events the relay still holds
/// with `A < seq <= B` (no `B`: up to the newest), for a device whose member was just allowed on it (403 otherwise) →
/// `{events, next_after}` (`next_after`: where the next page starts; at `B` or the newest seq when
/// done).
pub async fn history(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(channel_id): Path<String>,
    axum::extract::Query(range): axum::extract::Query<HistoryRange>,
) -> Result<Json<Value>, ApiError> {
    allowed_view(&state, &auth, &channel_id).await?;
    let limit = range.limit.unwrap_or(500).clamp(1, 500);
    let before = range.before.unwrap_or(i64::MAX);
    let events = state
        .store
        .channel_events(
            &auth.0.workspace_id,
            &channel_id,
            range.after.max(0),
            before,
            limit,
        )
        .await?;
    let next_after = if events.len() as i64 == limit {
        events.last().map_or(before, |e| e.seq)
    } else {
        state
            .store
            .head(&auth.0.workspace_id)
            .await?
            .min(before)
            .max(range.after)
    };
    Ok(Json(json!({ "events": events, "next_after": next_after })))
}
