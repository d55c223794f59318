//! The workspace's automation setup (`/v1/automation`: any member reads it, admins and owners
//! save it, versioned) and members' presence (`/v1/presence`: each member sets their own status;
//! everyone sees the team's), with the presence sweep that announces members going offline.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use zentro_automation::setup::Setup;
use zentro_events::clock::now_ms;

use super::{ApiError, AppState, Authenticated, Body, body};
use crate::roles::{Permission, Role};
use crate::store::{SaveOutcome, Store};

/// Name of the presence sweep's lease (see [`Store::take_lease`]).
pub const PRESENCE_LEASE: &str = "presence";

/// `GET /v1/automation` (any member): `{version, setup, saved_at, saved_by}`; version 0 and the
/// default setup (nothing automated) when it was never saved.
pub async fn setup(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    Ok(Json(
        match state.store.automation_setup(&auth.0.workspace_id).await? {
            Some(saved) => json!({
                "version": saved.version,
                "setup": saved.setup,
                "saved_at": saved.saved_at,
                "saved_by": saved.saved_by,
            }),
            None => json!({
                "version": 0,
                "setup": Setup::default(),
                "saved_at": null,
                "saved_by": null,
            }),
        },
    ))
}

/// What `PUT /v1/automation` takes.
#[derive(Deserialize)]
pub struct SaveSetup {
    /// The version the editor started from (0: never saved).
    expected_version: i64,
    /// The whole setup (checked as [`Setup`] below, for a message that names the field).
    setup: Value,
}

/// A 422 `invalid` with `message`.
fn invalid(message: String) -> ApiError {
    ApiError::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid",
        message,
    }
}

/// `PUT /v1/automation` `{expected_version, setup}` (admins and owners): saves the setup as the
/// next version when `expected_version` is the current one (else 409 `version_conflict`), after
/// checking it (422 `invalid`, saying what to fix: a field, an unknown member or team, a time
/// zone). Every save is a `workspace.automation` event in the log and an audit entry.
pub async fn save_setup(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<SaveSetup>,
) -> Result<Json<Value>, ApiError> {
    if auth.0.role == Role::Agent {
        return Err(ApiError::Forbidden(
            "only admins and owners may change the automation (you are agent); ask an admin of \
             the workspace"
                .into(),
        ));
    }
    let input = body(input, "{expected_version, setup}")?;
    let setup: Setup = serde_json::from_value(input.setup)
        .map_err(|e| invalid(format!("the automation setup is not valid: {e}")))?;
    let members: BTreeSet<String> = state
        .store
        .members(&auth.0.workspace_id)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    setup
        .validate(&members)
        .map_err(|e| invalid(format!("the automation setup is not valid: {e}")))?;
    let setup_json = serde_json::to_value(&setup).map_err(ApiError::internal)?;
    let outcome = state
        .store
        .save_automation_setup(
            &auth.0.workspace_id,
            input.expected_version,
            &setup_json,
            &auth.0.member_id,
            &summary(&setup),
        )
        .await?;
    match outcome {
        SaveOutcome::Saved { version } => {
            wake_streams(&state, &auth.0.workspace_id).await;
            Ok(Json(json!({ "version": version })))
        }
        SaveOutcome::Conflict { current } => Err(ApiError::Refused {
            status: StatusCode::CONFLICT,
            code: "version_conflict",
            message: format!(
                "someone saved the automation meanwhile (version {current}, you started from \
                 version {}): reload it and make your changes again",
                input.expected_version
            ),
        }),
    }
}

/// What the audit log says of a setup: counts and switches, never a text or a name.
fn summary(setup: &Setup) -> String {
    let on = |yes: bool| if yes { "on" } else { "off" };
    format!(
        "automation {}, {} teams, menu {}, hours {}, greeting {}, away {}",
        on(setup.enabled),
        setup.teams.len(),
        on(setup.menu.is_some()),
        on(setup.hours.is_some()),
        on(setup.greeting.is_some()),
        on(setup.away.is_some()),
    )
}

/// Wakes this instance's streams of a workspace whose log grew outside the sequencer (other
/// instances hear of it from the database when the transaction commits).
async fn wake_streams(state: &AppState, workspace_id: &str) {
    match state.store.last_seq(workspace_id).await {
        Ok(seq) => state.notifier.notify(workspace_id, seq),
        Err(error) => tracing::warn!(%error, "could not read the log's end to wake its streams"),
    }
}

/// What `PUT /v1/presence` takes.
#[derive(Deserialize)]
pub struct SetPresence {
    /// `available` or `away`.
    status: String,
}

/// `PUT /v1/presence` `{status}` (any member, about themselves): `available` or `away`; counts
/// as a sign of life of the calling device. Answers `{presence}`, the effective presence; when it
/// changed, the log gets a `workspace.presence` event.
pub async fn set_presence(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<SetPresence>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let input = body(input, "{status}")?;
    if !matches!(input.status.as_str(), "available" | "away") {
        return Err(invalid(
            "status is \"available\" or \"away\" (offline is what the relay says of a member \
             none of whose devices is connected)"
                .into(),
        ));
    }
    let now = now_ms();
    let (workspace_id, member_id) = (&auth.0.workspace_id, &auth.0.member_id);
    state
        .store
        .set_presence_status(workspace_id, member_id, &input.status, now)
        .await?;
    state.store.session_seen(&auth.0.session_id, now).await?;
    let (presence, appended) = state
        .store
        .refresh_presence(workspace_id, member_id, now)
        .await?
        .ok_or_else(|| ApiError::NotFound("the member".into()))?;
    if let Some(seq) = appended {
        state.notifier.notify(workspace_id, seq);
    }
    Ok(Json(json!({ "presence": presence })))
}

/// `GET /v1/presence` (any member): `[{member_id, status, presence, last_seen_at}]`, one per
/// active member of the workspace.
pub async fn presence(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let rows = state.store.presence(&auth.0.workspace_id).await?;
    Ok(Json(json!(rows)))
}

/// Announces, every `Config::presence_sweep_interval` and on one instance at a time (the holder
/// of [`PRESENCE_LEASE`]), the members whose effective presence changed without a request of
/// theirs: devices gone silent (offline), devices back. Runs until the relay stops.
pub async fn sweep_presence_periodically(state: AppState) {
    let period = state.config.presence_sweep_interval;
    let instance: Arc<str> = state.instance_id.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = state.shutdown.cancelled() => {
                let _ = state.store.release_lease(PRESENCE_LEASE, &instance).await;
                return;
            }
        }
        match state
            .store
            .take_lease(PRESENCE_LEASE, &instance, 3 * period)
            .await
        {
            Ok(true) => sweep_presence(&state.store, &state, now_ms()).await,
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "could not take the presence lease"),
        }
    }
}

/// One sweep at `now`: announces what changed and wakes this instance's streams.
async fn sweep_presence(store: &Store, state: &AppState, now: i64) {
    match store.sweep_presence(now).await {
        Ok(appended) => {
            for (workspace_id, seq) in appended {
                state.notifier.notify(&workspace_id, seq);
            }
        }
        Err(error) => tracing::error!(%error, "the presence sweep failed"),
    }
}
