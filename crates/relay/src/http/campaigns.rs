//! Broadcast campaigns (`/v1/campaigns`, issue 24, ADR 0021): every member reads the workspace's
//! campaigns, their recipients' outcomes (paged, or as CSV) and what one customer received;
//! admins create a draft, add its recipients (at most
//! [`MAX_RECIPIENTS_PER_CALL`] a call), start it now or at a time, pause, resume and cancel it.
//! A campaign of another workspace is not found (404). Every change is audited (P2, P8) and each
//! state change is a relay-only `workspace.campaign` event ([`crate::campaigns::announce`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use zentro_events::campaigns::{
    Campaign, CampaignRecipient, CampaignStart, MAX_NAME, MAX_RECIPIENTS, MAX_RECIPIENTS_PER_CALL,
    NewCampaign, NewRecipient, ReceivedCampaign, RecipientPage,
};
use zentro_events::clock::{now_ms, random_id};

use super::{ApiError, AppState, Authenticated, Body, body};
use crate::campaigns::{
    self as engine, Actor, CampaignError, DEFAULT_PER_SECOND, MAX_PER_SECOND, skip_reason_of,
    status_of,
};
use crate::roles::Permission;
use crate::store::{CampaignRow, ChannelKind, RecipientRow};

/// Who may change campaigns: admins and owners (they choose what the business sends in bulk).
const CHANGE: Permission = Permission::ManageChannels;

/// Recipients per page of `GET /v1/campaigns/{id}/recipients`.
const PAGE: i64 = 500;

/// The longest audience description and customer id or name.
const MAX_AUDIENCE: usize = 2_000;
const MAX_FIELD: usize = 256;

impl From<CampaignError> for ApiError {
    fn from(error: CampaignError) -> Self {
        match error {
            CampaignError::Store(e) => e.into(),
            CampaignError::Sequencer(e) => ApiError::sequencer(e),
        }
    }
}

/// The member's device as the audit names it.
fn actor(auth: &Authenticated) -> Actor<'_> {
    Actor {
        member_id: Some(&auth.0.member_id),
        email: &auth.0.email,
        device: &auth.0.device_name,
    }
}

/// The workspace's campaign `id`, or 404 (another workspace's is not found either).
async fn campaign_of(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
) -> Result<CampaignRow, ApiError> {
    state
        .store
        .campaign(&auth.0.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such campaign in this workspace".into()))
}

/// A refusal of a change the campaign's state does not allow.
fn conflict(message: String) -> ApiError {
    ApiError::Refused {
        status: StatusCode::CONFLICT,
        code: "campaign_state",
        message,
    }
}

/// `GET /v1/campaigns` (any member): the workspace's campaigns, newest first.
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let mut campaigns = Vec::new();
    for row in state.store.campaigns(&auth.0.workspace_id).await? {
        campaigns.push(engine::view(&state, &row).await?);
    }
    Ok(Json(json!({ "campaigns": campaigns })))
}

/// `GET /v1/campaigns/{id}` (any member): one campaign with its counts.
pub async fn show(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    auth.require(Permission::Answer)?;
    let row = campaign_of(&state, &auth, &id).await?;
    Ok(Json(engine::view(&state, &row).await?))
}

/// `POST /v1/campaigns` (admins): a draft on one of the workspace's WhatsApp numbers, with a
/// template the relay keeps for that number's account.
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<NewCampaign>,
) -> Result<(StatusCode, Json<Campaign>), ApiError> {
    auth.require(CHANGE)?;
    let new = body(
        input,
        "{name, channel_id, template_name, template_language, audience, per_second}",
    )?;
    let (name, per_second) = checked(&new)?;
    let channel = state
        .store
        .channel_by_external_id(ChannelKind::Whatsapp, &new.channel_id)
        .await?
        .filter(|c| c.workspace_id == auth.0.workspace_id)
        .ok_or_else(|| ApiError::NotFound("no such WhatsApp number in this workspace".into()))?;
    let template = state
        .store
        .templates(&auth.0.workspace_id)
        .await?
        .into_iter()
        .find(|t| {
            t.name == new.template_name
                && t.language == new.template_language
                && channel
                    .account_id
                    .as_deref()
                    .is_none_or(|a| a == t.account_id)
        })
        .ok_or_else(|| ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "template_unknown",
            message: format!(
                "the relay keeps no template {} in {} for this number; refresh the templates first",
                new.template_name, new.template_language
            ),
        })?;
    let now = now_ms();
    let row = CampaignRow {
        id: format!("c_{}", random_id()),
        workspace_id: auth.0.workspace_id.clone(),
        name,
        channel_id: new.channel_id.clone(),
        template_name: template.name.clone(),
        template_language: template.language.clone(),
        category: template.category.clone(),
        audience: new.audience.clone(),
        state: "draft".into(),
        paused_reason: None,
        paused_until: None,
        per_second: i64::from(per_second),
        send_at: None,
        created_by: auth.0.member_id.clone(),
        created_at: now,
        started_at: None,
        finished_at: None,
        statuses_seen_at: 0,
    };
    let head = state.store.last_seq(&auth.0.workspace_id).await?;
    state.store.insert_campaign(&row, head).await?;
    let view = engine::view(&state, &row).await?;
    engine::announce(
        &state,
        &row.workspace_id,
        &view,
        "created",
        Some(&actor(&auth)),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A new campaign's name (trimmed) and pace, once within their bounds.
fn checked(new: &NewCampaign) -> Result<(String, u32), ApiError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::BadRequest(format!(
            "a campaign's name has 1 to {MAX_NAME} characters"
        )));
    }
    if new.audience.chars().count() > MAX_AUDIENCE {
        return Err(ApiError::BadRequest(format!(
            "the audience's description has at most {MAX_AUDIENCE} characters"
        )));
    }
    let per_second = new.per_second.unwrap_or(DEFAULT_PER_SECOND);
    if !(1..=MAX_PER_SECOND).contains(&per_second) {
        return Err(ApiError::BadRequest(format!(
            "per_second is 1 to {MAX_PER_SECOND} (Meta's highest throughput per number)"
        )));
    }
    Ok((name.to_string(), per_second))
}

/// The body of `POST /v1/campaigns/{id}/recipients`.
#[derive(Deserialize)]
pub struct NewRecipients {
    recipients: Vec<NewRecipient>,
}

/// `POST /v1/campaigns/{id}/recipients` (admins): adds recipients to a draft, in order; a
/// customer already on it is left as is.
pub async fn add_recipients(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    input: Body<NewRecipients>,
) -> Result<Json<Campaign>, ApiError> {
    auth.require(CHANGE)?;
    let row = campaign_of(&state, &auth, &id).await?;
    let new = body(input, "{recipients: [{customer_id, name}]}")?;
    if new.recipients.len() > MAX_RECIPIENTS_PER_CALL {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_RECIPIENTS_PER_CALL} recipients a call"
        )));
    }
    for r in &new.recipients {
        let id_ok = !r.customer_id.is_empty()
            && r.customer_id.len() <= MAX_FIELD
            && !r.customer_id.contains(':')
            && !r.customer_id.chars().any(char::is_control);
        if !id_ok
            || r.name
                .as_ref()
                .is_some_and(|n| n.chars().count() > MAX_FIELD)
        {
            return Err(ApiError::BadRequest(format!(
                "a recipient's customer_id has 1 to {MAX_FIELD} characters (no ':'), its name at most {MAX_FIELD}"
            )));
        }
    }
    if row.state != "draft" {
        return Err(conflict(format!(
            "recipients are added to a draft; this campaign is {}",
            row.state
        )));
    }
    let counts = state.store.campaign_counts(&row.id).await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    if total as usize + new.recipients.len() > MAX_RECIPIENTS {
        return Err(ApiError::BadRequest(format!(
            "a campaign has at most {MAX_RECIPIENTS} recipients"
        )));
    }
    let recipients: Vec<(String, Option<String>)> = new
        .recipients
        .into_iter()
        .map(|r| (r.customer_id, r.name))
        .collect();
    let added = state
        .store
        .add_campaign_recipients(&row.workspace_id, &row.id, &recipients, now_ms())
        .await?;
    state
        .store
        .record(auth.audit(
            "campaign.recipients_added",
            Some(&row.id),
            json!({ "given": recipients.len(), "added": added }),
        ))
        .await?;
    Ok(Json(engine::view(&state, &row).await?))
}

/// `POST /v1/campaigns/{id}/start` (admins): a draft with recipients goes now (`send_at` absent
/// or past) or at its time; its template must be approved.
pub async fn start(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    input: Body<CampaignStart>,
) -> Result<Json<Campaign>, ApiError> {
    auth.require(CHANGE)?;
    let mut row = campaign_of(&state, &auth, &id).await?;
    let start = body(input, "{send_at}")?;
    if row.state != "draft" {
        return Err(conflict(format!(
            "only a draft starts; this campaign is {}",
            row.state
        )));
    }
    let counts = state.store.campaign_counts(&row.id).await?;
    if counts.iter().map(|(_, n)| n).sum::<i64>() == 0 {
        return Err(conflict("the campaign has no recipients yet".into()));
    }
    template_approved(&state, &row).await?;
    let now = now_ms();
    let change = match start.send_at.filter(|at| *at > now) {
        Some(at) => {
            row.state = "scheduled".into();
            row.send_at = Some(at);
            "scheduled"
        }
        None => {
            row.state = "running".into();
            row.send_at = Some(now);
            row.started_at = Some(now);
            "started"
        }
    };
    changed(&state, &auth, &mut row, "draft", change).await
}

/// Refuses (409) unless the relay knows the campaign's template as approved.
async fn template_approved(state: &AppState, row: &CampaignRow) -> Result<(), ApiError> {
    let template = state
        .store
        .templates(&row.workspace_id)
        .await?
        .into_iter()
        .find(|t| t.name == row.template_name && t.language == row.template_language);
    match template {
        Some(t) if t.status == "APPROVED" => Ok(()),
        Some(t) => Err(conflict(format!(
            "the template {} is {} at Meta{}; it sends once approved again",
            t.name,
            t.status,
            t.reason.map(|r| format!(" ({r})")).unwrap_or_default()
        ))),
        None => Err(conflict(format!(
            "the relay no longer keeps the template {}; refresh the templates",
            row.template_name
        ))),
    }
}

/// Saves a route's change of state (if the campaign is still `from`), announces and audits it.
async fn changed(
    state: &AppState,
    auth: &Authenticated,
    row: &mut CampaignRow,
    from: &str,
    change: &str,
) -> Result<Json<Campaign>, ApiError> {
    match engine::change(state, row, from, change, Some(&actor(auth))).await? {
        Some(view) => Ok(Json(view)),
        None => Err(conflict(
            "the campaign changed meanwhile; read it again".into(),
        )),
    }
}

/// `POST /v1/campaigns/{id}/pause` (admins): a scheduled or running campaign stops sending.
pub async fn pause(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    auth.require(CHANGE)?;
    let mut row = campaign_of(&state, &auth, &id).await?;
    let from = row.state.clone();
    if !matches!(from.as_str(), "scheduled" | "running") {
        return Err(conflict(format!("a {from} campaign cannot be paused")));
    }
    row.state = "paused".into();
    row.paused_reason = Some(format!("paused by {}", auth.0.email));
    row.paused_until = None;
    changed(&state, &auth, &mut row, &from, "paused").await
}

/// `POST /v1/campaigns/{id}/resume` (admins): a paused campaign sends again — once the template
/// Meta paused is approved again.
pub async fn resume(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    auth.require(CHANGE)?;
    let mut row = campaign_of(&state, &auth, &id).await?;
    if row.state != "paused" {
        return Err(conflict(format!(
            "a {} campaign cannot be resumed",
            row.state
        )));
    }
    template_approved(&state, &row).await?;
    let due = row.send_at.is_some_and(|at| at > now_ms()) && row.started_at.is_none();
    row.state = if due { "scheduled" } else { "running" }.into();
    row.paused_reason = None;
    row.paused_until = None;
    changed(&state, &auth, &mut row, "paused", "resumed").await
}

/// `POST /v1/campaigns/{id}/cancel` (admins): stops it for good; recipients not reached become
/// `cancelled`.
pub async fn cancel(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    auth.require(CHANGE)?;
    let mut row = campaign_of(&state, &auth, &id).await?;
    let from = row.state.clone();
    if matches!(from.as_str(), "cancelled" | "completed") {
        return Err(conflict(format!("a {from} campaign cannot be cancelled")));
    }
    row.state = "cancelled".into();
    row.finished_at = Some(now_ms());
    if !state.store.update_campaign(&row, &from).await? {
        return Err(conflict(
            "the campaign changed meanwhile; read it again".into(),
        ));
    }
    state
        .store
        .cancel_queued_recipients(&row.id, now_ms())
        .await?;
    let view = engine::view(&state, &row).await?;
    engine::announce(
        &state,
        &row.workspace_id,
        &view,
        "cancelled",
        Some(&actor(&auth)),
    )
    .await?;
    Ok(Json(view))
}

/// The query of `GET /v1/campaigns/{id}/recipients`.
#[derive(Deserialize)]
pub struct After {
    after: Option<String>,
}

/// A recipient as members see it.
fn recipient_view(r: &RecipientRow) -> CampaignRecipient {
    CampaignRecipient {
        customer_id: r.customer_id.clone(),
        name: r.name.clone(),
        status: status_of(&r.status),
        skip_reason: r.skip_reason.as_deref().and_then(skip_reason_of),
        error: r.error.clone(),
        message_id: r.message_id.clone(),
        updated_at: r.updated_at,
    }
}

/// `GET /v1/campaigns/{id}/recipients?after=` (any member): a page of recipients with their
/// outcomes, in the order they were added.
pub async fn recipients(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<RecipientPage>, ApiError> {
    auth.require(Permission::Answer)?;
    let row = campaign_of(&state, &auth, &id).await?;
    let after = match query.after.as_deref() {
        None | Some("") => 0,
        Some(cursor) => cursor
            .parse::<i64>()
            .map_err(|_| ApiError::BadRequest("`after` is the `next` of the last page".into()))?,
    };
    let rows = state
        .store
        .campaign_recipients_after(&row.id, after, PAGE)
        .await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.ordinal.to_string()))
        .flatten();
    Ok(Json(RecipientPage {
        recipients: rows.iter().map(recipient_view).collect(),
        next,
    }))
}

/// `GET /v1/campaigns/{id}/recipients.csv` (any member): every recipient and outcome as CSV.
pub async fn recipients_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(Permission::Answer)?;
    let row = campaign_of(&state, &auth, &id).await?;
    let mut csv = String::from("customer_id,name,status,skip_reason,error,message_id,updated_at\n");
    let mut after = 0;
    loop {
        let rows = state
            .store
            .campaign_recipients_after(&row.id, after, PAGE)
            .await?;
        for r in &rows {
            let fields = [
                r.customer_id.clone(),
                r.name.clone().unwrap_or_default(),
                r.status.clone(),
                r.skip_reason.clone().unwrap_or_default(),
                r.error.clone().unwrap_or_default(),
                r.message_id.clone().unwrap_or_default(),
                crate::campaigns::send::utc_iso(r.updated_at),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            csv.push_str(&line.join(","));
            csv.push('\n');
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => after = last.ordinal,
            _ => break,
        }
    }
    state
        .store
        .record(auth.audit(
            "campaign.exported",
            Some(&row.id),
            json!({ "format": "csv" }),
        ))
        .await?;
    let disposition = format!("attachment; filename=\"campaign-{}.csv\"", row.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

/// One CSV field, quoted when it must be; a leading `=`, `+`, `-`, `@`, tab or carriage return is
/// neutralised so a spreadsheet never runs a customer's name as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The query of `GET /v1/campaigns/received`.
#[derive(Deserialize)]
pub struct Customer {
    channel_id: String,
    customer_id: String,
}

/// `GET /v1/campaigns/received?channel_id=&customer_id=` (any member): the campaigns a customer
/// received on a number, newest first (the contact panel).
pub async fn received(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(customer): Query<Customer>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let rows = state
        .store
        .campaigns_received(
            &auth.0.workspace_id,
            &customer.channel_id,
            &customer.customer_id,
        )
        .await?;
    let campaigns: Vec<ReceivedCampaign> = rows
        .into_iter()
        .map(|r| ReceivedCampaign {
            campaign_id: r.campaign_id,
            name: r.name,
            template_name: r.template_name,
            status: status_of(&r.status),
            updated_at: r.updated_at,
        })
        .collect();
    Ok(Json(json!({ "campaigns": campaigns })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("Ana"), "Ana");
        assert_eq!(csv_field("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("+351"), "'+351");
        assert_eq!(csv_field("\t=1+1"), "'\t=1+1");
    }
}
