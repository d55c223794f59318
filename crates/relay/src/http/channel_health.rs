//! Channel health: the relay asks Meta, periodically and when a device reports a failed send,
//! whether each connected channel still works, repairs a webhook subscription that silently
//! disappeared, and tells every device when a channel's state changes (`channel.changed` with
//! `health`). Admins disconnect a channel here too.
//!
//! - token no longer valid (`debug_token`, or 190 from any call) → `disconnected`, with a
//!   Reconnect for owners;
//! - our app missing from `subscribed_apps` → subscribed again (audited); if that fails →
//!   `attention`;
//! - a WhatsApp number rated `RED` → `attention`;
//! - Meta unreachable → nothing changes (the check is tried again later).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use zentro_meta::AccessToken;
use zentro_meta::graph::{GraphClient, GraphError};
use zentro_meta::platform;

use super::{ApiError, AppState, Authenticated};
use crate::config::MetaApp;
use crate::roles::Permission;
use crate::sealing::TokenKeys;
use crate::store::{Channel, ChannelHealth, NewAuditEntry};
use zentro_events::clock::random_id;

/// What one check found: the health to record, or `None` when Meta could not be asked.
async fn assess(state: &AppState, channel: &Channel) -> Option<ChannelHealth> {
    let (app, graph) = super::signup::meta(state).ok()?;
    let keys = state.config.token_keys.as_ref()?;
    let token = match channel_access(state, keys, channel).await {
        Ok(token) => token,
        Err(found) => return found,
    };
    match ask_meta(state, app, graph, channel, &token).await {
        Ok(health) => Some(health),
        Err(e) => gone(&e).or_else(|| unreachable(channel, &e)),
    }
}

/// The channel's token, opened; otherwise what that says of its health (`None`: unknown).
async fn channel_access(
    state: &AppState,
    keys: &TokenKeys,
    channel: &Channel,
) -> Result<AccessToken, Option<ChannelHealth>> {
    let sealed = match state.store.channel_token(&channel.id).await {
        Ok(Some(sealed)) => sealed,
        Ok(None) => {
            return Err(Some(ChannelHealth::disconnected(
                "No token is stored for this channel; an owner must connect it.",
            )));
        }
        Err(error) => {
            tracing::error!(%error, "could not read a channel token for its health check");
            return Err(None);
        }
    };
    match keys.open(&channel.id, &sealed.sealed) {
        Ok(t) => Ok(AccessToken::new(t.as_str())),
        Err(error) => {
            tracing::error!(%error, channel = %channel.id, "a channel token could not be opened");
            Err(Some(ChannelHealth::attention(
                "The relay cannot open this channel's token (its key changed); reconnect it.",
            )))
        }
    }
}

/// The health Meta's answers give: the token, the webhook subscription (renewed when it
/// disappeared) and, for WhatsApp, the number's quality. A Graph error stops the check.
async fn ask_meta(
    state: &AppState,
    app: &MetaApp,
    graph: &GraphClient,
    channel: &Channel,
    token: &AccessToken,
) -> Result<ChannelHealth, GraphError> {
    let info = graph
        .debug_token(&app.app_id, &state.config.app_secret, token)
        .await?;
    if !info.is_valid {
        return Ok(ChannelHealth::disconnected(
            "Meta says this channel's token is no longer valid. An owner must reconnect it.",
        ));
    }
    let mut attention = keep_subscribed(state, app, graph, channel, token).await?;
    let (mut phone, mut quality) = (None, None);
    if channel.kind == "whatsapp" {
        let number = graph.phone_number(&channel.external_id, token).await?;
        if number.quality_rating.as_deref() == Some("RED") && attention.is_none() {
            attention = Some(
                "Meta rates this number's quality low (RED): customers blocked or reported messages. Its messaging limit may drop."
                    .into(),
            );
        }
        phone = Some(number.display_phone_number).filter(|n| !n.is_empty());
        quality = number.quality_rating;
    }
    Ok(match attention {
        Some(reason) => ChannelHealth {
            phone_number: phone,
            quality_rating: quality,
            ..ChannelHealth::attention(reason)
        },
        None => ChannelHealth::connected(phone, quality),
    })
}

/// Subscribes our app again when its webhook subscription disappeared (audited). Returns what
/// needs attention when subscribing again failed.
async fn keep_subscribed(
    state: &AppState,
    app: &MetaApp,
    graph: &GraphClient,
    channel: &Channel,
    token: &AccessToken,
) -> Result<Option<String>, GraphError> {
    let object = subscribed_object(channel);
    if object.is_empty() {
        return Ok(None);
    }
    let apps = graph.subscribed_apps(&object, token).await?;
    if apps.iter().any(|a| a == &app.app_id) {
        return Ok(None);
    }
    tracing::warn!(channel = %channel.id, "the webhook subscription disappeared; subscribing again");
    let again = if channel.kind == "whatsapp" {
        graph.subscribe_app(&object, token).await
    } else {
        graph
            .subscribe_page(&object, token, platform::MESSAGING_FIELDS)
            .await
    };
    match again {
        Ok(()) => {
            let _ = state
                .store
                .record(NewAuditEntry {
                    workspace_id: &channel.workspace_id,
                    actor_id: None,
                    actor_email: None,
                    device: Some("relay"),
                    action: "channel.resubscribed",
                    subject: Some(&channel.audit_subject()),
                    details: json!({ "channel_id": channel.id }),
                })
                .await;
            Ok(None)
        }
        Err(e) if gone(&e).is_some() => Err(e),
        Err(e) => Ok(Some(format!(
            "Meta stopped sending this channel's messages and subscribing again failed ({e}); new messages may not arrive."
        ))),
    }
}

/// A disconnected health when Meta's error says the channel's access is gone.
fn gone(e: &GraphError) -> Option<ChannelHealth> {
    match e {
        GraphError::TokenInvalid | GraphError::PermissionDenied { .. } => {
            Some(ChannelHealth::disconnected(
                "Meta no longer accepts this channel's access (the app was removed, the token revoked, or a permission withdrawn). An owner must reconnect it.",
            ))
        }
        _ => None,
    }
}

/// What our app's webhook subscription hangs on: a WhatsApp number's WABA, an Instagram
/// account's linked Page, a Page itself.
fn subscribed_object(channel: &Channel) -> String {
    match channel.kind.as_str() {
        "whatsapp" => channel.account_id.clone().unwrap_or_default(),
        "instagram" => channel
            .account_id
            .clone()
            .unwrap_or_else(|| channel.external_id.clone()),
        _ => channel.external_id.clone(),
    }
}

fn unreachable(channel: &Channel, error: &GraphError) -> Option<ChannelHealth> {
    tracing::warn!(channel = %channel.id, %error, "a channel's health could not be checked");
    None
}

/// Checks one channel, records what was found and tells the devices when it changed. Returns the
/// channel as stored afterwards.
pub(crate) async fn check(state: &AppState, channel: &Channel) -> Result<Channel, ApiError> {
    if let Some(health) = assess(state, channel).await {
        let changed = state.store.set_channel_health(&channel.id, &health).await?;
        if changed {
            if health.state == "disconnected" {
                tracing::warn!(channel = %channel.id, "a channel is disconnected at Meta");
            }
            announce(state, channel, "meta", &health).await?;
        }
    }
    Ok(state
        .store
        .channel(&channel.workspace_id, &channel.id)
        .await?)
}

async fn announce(
    state: &AppState,
    channel: &Channel,
    author: &str,
    health: &ChannelHealth,
) -> Result<(), ApiError> {
    let token_version = state
        .store
        .channel_token(&channel.id)
        .await?
        .map(|t| t.version);
    state
        .sequencer
        .publish(
            &channel.workspace_id,
            author,
            super::channels::CHANNEL_CHANGED,
            json!({
                "channel_id": channel.id,
                "kind": channel.kind,
                "external_id": channel.external_id,
                "token_version": token_version,
                "health": health.state,
                "health_reason": health.reason,
            }),
            &format!("channel.health:{}:{}", channel.id, random_id()),
        )
        .await
        .map_err(ApiError::sequencer)?;
    Ok(())
}

/// Checks every channel with a token (the periodic health check).
pub async fn check_all(state: &AppState) {
    let channels = match state.store.channels_with_tokens().await {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "the channel health check could not list channels");
            return;
        }
    };
    for channel in channels {
        if state.shutdown.is_cancelled() {
            return;
        }
        if let Err(error) = check(state, &channel).await {
            tracing::error!(?error, channel = %channel.id, "a channel health check failed");
        }
    }
}

/// `POST /v1/channels/{id}/check`: checks the channel at Meta now (any member: a device that got
/// a 190 from a send reports it this way; the relay believes Meta, not the report).
pub async fn check_now(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(channel_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    super::signup::meta(&state)?;
    let channel = state
        .store
        .channel(&auth.0.workspace_id, &channel_id)
        .await?;
    check(&state, &channel).await?;
    let view = super::channels::view(&state, &auth, &channel.id).await?;
    Ok(Json(json!({ "channel": view })))
}

/// `POST /v1/channels/{id}/disconnect` (admins): unsubscribes the app at Meta, deletes the stored
/// token (devices delete their copies on their next sync) and marks the channel disconnected. Its
/// conversations stay.
pub async fn disconnect(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(channel_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageChannels)?;
    let channel = state
        .store
        .channel(&auth.0.workspace_id, &channel_id)
        .await?;
    let mut unsubscribed = false;
    if let (Ok((_, graph)), Some(keys)) = (
        super::signup::meta(&state),
        state.config.token_keys.as_ref(),
    ) && let Some(sealed) = state.store.channel_token(&channel.id).await?
        && let Ok(token) = keys.open(&channel.id, &sealed.sealed)
    {
        let object = subscribed_object(&channel);
        // A Page's Messenger and Instagram channels share its subscription: keep it for the other.
        let shared = state
            .store
            .channels_with_tokens()
            .await?
            .iter()
            .any(|c| c.id != channel.id && subscribed_object(c) == object);
        if !shared {
            match graph
                .unsubscribe_app(&object, &AccessToken::new(token.as_str()))
                .await
            {
                Ok(()) => unsubscribed = true,
                Err(error) => {
                    tracing::warn!(%error, channel = %channel.id, "unsubscribing at Meta failed; the token is deleted anyway")
                }
            }
        }
    }
    state.store.disconnect_channel(&channel.id).await?;
    let health = ChannelHealth::disconnected(format!(
        "Disconnected by {}. An owner can connect it again.",
        auth.0.email
    ));
    state.store.set_channel_health(&channel.id, &health).await?;
    state
        .store
        .record(auth.audit(
            "channel.disconnected",
            Some(&channel.audit_subject()),
            json!({ "channel_id": channel.id, "unsubscribed": unsubscribed }),
        ))
        .await?;
    announce(&state, &channel, &auth.0.member_id, &health).await?;
    let view = super::channels::view(&state, &auth, &channel.id).await?;
    Ok(Json(
        json!({ "channel": view, "unsubscribed": unsubscribed }),
    ))
}

/// Name of the channel checks' lease (see [`crate::Store::take_lease`]).
pub const CHECK_LEASE: &str = "channel_health";

/// Runs [`check_all`] every `ZENTRO_RELAY_CHANNEL_CHECK_MINUTES` until the relay stops, on one
/// instance at a time (the holder of [`CHECK_LEASE`]).
pub async fn check_periodically(state: AppState) {
    if state.config.meta_app.is_none() {
        return;
    }
    let every = state.config.channel_check_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = state.shutdown.cancelled() => {
                let _ = state.store.release_lease(CHECK_LEASE, &state.instance_id).await;
                return;
            }
        }
        // One instance checks (each check calls Meta); another takes over if it dies.
        match state
            .store
            .take_lease(CHECK_LEASE, &state.instance_id, 3 * every)
            .await
        {
            Ok(true) => check_all(&state).await,
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "could not take the channel-check lease"),
        }
    }
}
