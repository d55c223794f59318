//! Erasure of a customer (privacy promise P14): purge the log, tell every device, keep a receipt.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, Authenticated};
use super::{Body, body};
use crate::roles::Permission;

/// The log event that tells devices to erase a customer (named by a salted hash only).
pub const CONTACT_ERASED: &str = "contact.erased";

/// The shortest identifier events are purged by: shorter ones would match unrelated events.
const MIN_IDENTIFIER_CHARS: usize = 5;

#[derive(Deserialize)]
pub struct Erasure {
    identifiers: Vec<String>,
    salt: String,
    hash: String,
    #[serde(default)]
    details: Value,
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Refuses (400) an erasure whose identifiers, salt, hash or details are not as documented.
fn check_erasure(input: &Erasure) -> Result<(), ApiError> {
    if input.identifiers.is_empty()
        || input.identifiers.len() > 10
        || input.identifiers.iter().any(|i| {
            i.chars().count() < MIN_IDENTIFIER_CHARS
                || i.len() > 200
                || i.contains(['"', '\\', '%', '_'])
        })
    {
        return Err(ApiError::BadRequest(format!(
            "identifiers: 1 to 10 customer ids or phone numbers of at least {MIN_IDENTIFIER_CHARS} characters"
        )));
    }
    if !is_hex(&input.salt, 32) || !is_hex(&input.hash, 64) {
        return Err(ApiError::BadRequest(
            "salt (32 hex digits) and hash (64 hex digits) are required".into(),
        ));
    }
    if input.details.to_string().len() > 2048 {
        return Err(ApiError::BadRequest("details are limited to 2 KiB".into()));
    }
    Ok(())
}

/// `POST /v1/erasures` `{identifiers, salt, hash, details}` (admins): deletes every event of the
/// workspace's log and every quarantined webhook that names one of `identifiers` (as a JSON
/// string), appends `contact.erased {salt, hash}` for every device, and records the receipt (the
/// hash and counts — never the identifiers, which are not stored anywhere).
pub async fn erase(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<Erasure>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Permission::ManageData)?;
    let input = body(input, "{identifiers, salt, hash, details}")?;
    check_erasure(&input)?;
    let (events, quarantined) = state
        .store
        .purge_mentions(&auth.0.workspace_id, &input.identifiers)
        .await?;
    // Kept after the event is pruned, for devices that were away (`GET /v1/erasures`).
    state
        .store
        .remember_erasure(&auth.0.workspace_id, &input.salt, &input.hash)
        .await?;
    state
        .sequencer
        .publish(
            &auth.0.workspace_id,
            &auth.0.member_id,
            CONTACT_ERASED,
            json!({ "salt": input.salt, "hash": input.hash }),
            &format!("{CONTACT_ERASED}:{}", input.hash),
        )
        .await
        .map_err(ApiError::sequencer)?;
    state
        .store
        .record(auth.audit(
            "data.erasure",
            Some(&format!("sha256:{}", input.hash)),
            json!({
                "salt": input.salt,
                "events_purged": events,
                "quarantine_purged": quarantined,
                "device": input.details,
            }),
        ))
        .await?;
    state.store.checkpoint().await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "events_purged": events, "quarantine_purged": quarantined })),
    ))
}

/// `GET /v1/erasures` (any member): `{erasures: [{salt, hash}]}`, every erasure of the workspace
/// the relay remembers — as long as it keeps anything of the workspace, after their
/// `contact.erased` events were pruned. A device that missed events (a gap) applies them all.
/// Salted hashes only: no identifier is stored anywhere.
pub async fn remembered(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let erasures = state.store.erasures(&auth.0.workspace_id).await?;
    Ok(Json(json!({ "erasures": erasures })))
}
