//! The workspace's WhatsApp message templates (`/v1/templates`, issue 24): every member lists
//! them; admins refresh them from Meta, create one for Meta's review, and choose which contact
//! field fills each variable (with a fallback) and which automated message a template carries
//! once a customer's 24-hour window closed. Meta's `message_template_status_update` webhooks
//! keep their status current ([`follow_status_updates`]). Every change is a
//! `workspace.templates` event for every desk, and an audit row.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use zentro_events::WORKSPACE_TEMPLATES;
use zentro_events::clock::{now_ms, random_id};
use zentro_events::templates::{TemplateVariable, check_variables, default_variables};
use zentro_meta::AccessToken;
use zentro_meta::graph::{GraphClient, GraphError, MessageTemplate, NewTemplate};
use zentro_meta::webhook::{Event, Route, WebhookItem};

use super::channels::keys;
use super::{ApiError, AppState, Authenticated, Body, body};
use crate::roles::Permission;
use crate::store::{Channel, TemplateRow};

/// The automated messages a template may carry outside the window (the automation's rules).
pub const STANDS_IN_FOR: [&str; 4] = ["away", "csat", "hand_back", "greeting"];

/// A template as members see it.
fn view(row: &TemplateRow) -> Value {
    let components: Value = serde_json::from_str(&row.components).unwrap_or(Value::Null);
    let variables: Value = serde_json::from_str(&row.variables).unwrap_or(json!([]));
    json!({
        "account_id": row.account_id,
        "name": row.name,
        "language": row.language,
        "id": row.meta_id,
        "category": row.category,
        "status": row.status,
        "quality": row.quality,
        "reason": row.reason,
        "components": components,
        "variables": variables,
        "stands_in_for": row.stands_in_for,
        "updated_at": row.updated_at,
    })
}

/// A template as Meta lists it, as a row (its variables the defaults until an admin chooses).
fn row_from_meta(account_id: &str, t: &MessageTemplate) -> TemplateRow {
    let variables = default_variables(t.body_variables());
    TemplateRow {
        account_id: account_id.into(),
        name: t.name.clone(),
        language: t.language.clone(),
        meta_id: t.id.clone(),
        category: t.category.clone(),
        status: t.status.clone(),
        quality: t.quality().as_str().into(),
        reason: t.rejected_reason.clone().filter(|r| r != "NONE"),
        components: Value::from(t.components.clone()).to_string(),
        variables: serde_json::to_string(&variables).unwrap_or_else(|_| "[]".into()),
        stands_in_for: None,
        updated_at: now_ms(),
    }
}

/// The workspace's templates as members see them.
async fn list_views(state: &AppState, workspace_id: &str) -> Result<Vec<Value>, ApiError> {
    Ok(state
        .store
        .templates(workspace_id)
        .await?
        .iter()
        .map(view)
        .collect())
}

/// Tells every desk of the workspace its templates changed.
async fn announce(
    state: &AppState,
    workspace_id: &str,
    author: &str,
) -> Result<Vec<Value>, ApiError> {
    let templates = list_views(state, workspace_id).await?;
    state
        .sequencer
        .publish(
            workspace_id,
            author,
            WORKSPACE_TEMPLATES,
            json!({ "templates": templates }),
            &format!("{WORKSPACE_TEMPLATES}:{}", random_id()),
        )
        .await
        .map_err(ApiError::sequencer)?;
    Ok(templates)
}

/// `GET /v1/templates` (any member): the workspace's templates with their category, status,
/// quality and variables.
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let templates = list_views(&state, &auth.0.workspace_id).await?;
    Ok(Json(json!({ "templates": templates })))
}

/// Meta's Graph API, or why the relay cannot reach it.
fn graph(state: &AppState) -> Result<&GraphClient, ApiError> {
    state.graph.as_ref().ok_or(ApiError::Refused {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "meta_not_configured",
        message: "this relay has no Meta app configured, so it cannot reach Meta's templates"
            .into(),
    })
}

/// What a refusal or failure of Meta means for the caller.
fn meta_error(error: &GraphError) -> ApiError {
    tracing::warn!(%error, "Meta refused or failed a template call");
    let status = match error {
        GraphError::Rejected { .. } | GraphError::InvalidInput(_) => StatusCode::BAD_REQUEST,
        GraphError::TokenInvalid | GraphError::PermissionDenied { .. } => StatusCode::CONFLICT,
        _ => StatusCode::BAD_GATEWAY,
    };
    ApiError::Refused {
        status,
        code: "meta_refused",
        message: format!("Meta: {error}"),
    }
}

/// The workspace's WhatsApp channels with a known account, and each one's token.
async fn whatsapp_accounts(
    state: &AppState,
    workspace_id: &str,
) -> Result<Vec<(Channel, String, AccessToken)>, ApiError> {
    let keys = keys(state)?;
    let mut accounts = Vec::new();
    for channel in state.store.channels(Some(workspace_id)).await? {
        let Some(account) = channel
            .account_id
            .clone()
            .filter(|_| channel.kind == "whatsapp")
        else {
            continue;
        };
        if accounts.iter().any(|(_, a, _)| *a == account) {
            continue;
        }
        let Some(sealed) = state.store.channel_token(&channel.id).await? else {
            continue;
        };
        let token = keys
            .open(&channel.id, &sealed.sealed)
            .map_err(ApiError::internal)?;
        accounts.push((channel, account, AccessToken::new(token.as_str())));
    }
    Ok(accounts)
}

/// `POST /v1/templates/refresh` (admins): reads every WhatsApp account's templates from Meta and
/// keeps them (the variables and uses chosen for templates still there are kept).
pub async fn refresh(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageChannels)?;
    let graph = graph(&state)?;
    let workspace_id = &auth.0.workspace_id;
    let accounts = whatsapp_accounts(&state, workspace_id).await?;
    if accounts.is_empty() {
        return Err(ApiError::NotFound(
            "the workspace has no connected WhatsApp number with a token".into(),
        ));
    }
    for (_, account, token) in &accounts {
        let listed = graph
            .message_templates(account, token)
            .await
            .map_err(|e| meta_error(&e))?;
        let rows: Vec<TemplateRow> = listed.iter().map(|t| row_from_meta(account, t)).collect();
        state
            .store
            .save_templates_from_meta(workspace_id, account, &rows)
            .await?;
    }
    let templates = announce(&state, workspace_id, &auth.0.member_id).await?;
    state
        .store
        .record(auth.audit(
            "templates.refreshed",
            None,
            json!({ "accounts": accounts.len(), "templates": templates.len() }),
        ))
        .await?;
    Ok(Json(json!({ "templates": templates })))
}

/// What an admin asks to create.
#[derive(Debug, Deserialize)]
pub struct TemplateCreation {
    /// The WhatsApp channel whose account gets it (optional when the workspace has one account).
    #[serde(default)]
    channel_id: Option<String>,
    /// The template itself.
    #[serde(flatten)]
    template: NewTemplate,
    /// Which contact field fills each body variable (defaults: first name, "there").
    #[serde(default)]
    variables: Option<Vec<TemplateVariable>>,
    /// The automated message it carries outside the window.
    #[serde(default)]
    stands_in_for: Option<String>,
}

/// The account (and its token) a template goes to: the channel's, or the workspace's only one.
async fn account_for(
    state: &AppState,
    workspace_id: &str,
    channel_id: Option<&str>,
) -> Result<(String, AccessToken), ApiError> {
    let accounts = whatsapp_accounts(state, workspace_id).await?;
    let chosen: Vec<_> = accounts
        .into_iter()
        .filter(|(c, _, _)| channel_id.is_none_or(|id| c.id == id))
        .collect();
    match chosen.len() {
        0 => Err(ApiError::NotFound(
            "no connected WhatsApp number with a token (in this workspace) by that id".into(),
        )),
        1 => Ok(chosen
            .into_iter()
            .next()
            .map(|(_, a, t)| (a, t))
            .ok_or_else(|| ApiError::internal("no account"))?),
        _ => Err(ApiError::BadRequest(
            "the workspace has several WhatsApp accounts: name the channel (channel_id)".into(),
        )),
    }
}

/// The uses asked for, checked: the variables against the body, `stands_in_for` against the
/// automation's messages.
fn checked_uses(
    variables: Option<Vec<TemplateVariable>>,
    stands_in_for: Option<String>,
    body_variables: usize,
    category: &str,
) -> Result<(String, Option<String>), ApiError> {
    let variables = variables.unwrap_or_else(|| default_variables(body_variables));
    check_variables(&variables, body_variables).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if let Some(rule) = &stands_in_for {
        if !STANDS_IN_FOR.contains(&rule.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "stands_in_for must be one of {}",
                STANDS_IN_FOR.join(", ")
            )));
        }
        if category != "UTILITY" {
            return Err(ApiError::BadRequest(
                "only a UTILITY template may stand in for an automated message (marketing templates go only to customers who opted in)".into(),
            ));
        }
    }
    Ok((
        serde_json::to_string(&variables).map_err(ApiError::internal)?,
        stands_in_for,
    ))
}

/// `POST /v1/templates` (admins): submits a template to Meta for review and keeps it (PENDING
/// until Meta's status webhook says otherwise).
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<TemplateCreation>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageChannels)?;
    let input = body(
        input,
        "{channel_id?, name, language, category, body, body_examples, header?, header_example?, footer?, variables?, stands_in_for?}",
    )?;
    let graph = graph(&state)?;
    let workspace_id = &auth.0.workspace_id;
    let expected = zentro_meta::graph::templates::count_variables(&input.template.body);
    let (variables, stands_in_for) = checked_uses(
        input.variables,
        input.stands_in_for,
        expected,
        input.template.category.as_str(),
    )?;
    let (account, token) = account_for(&state, workspace_id, input.channel_id.as_deref()).await?;
    let created = graph
        .create_message_template(&account, &token, &input.template)
        .await
        .map_err(|e| meta_error(&e))?;
    let request = input.template.to_json();
    let row = TemplateRow {
        account_id: account.clone(),
        name: input.template.name.clone(),
        language: input.template.language.clone(),
        meta_id: created.id,
        category: created.category,
        status: created.status,
        quality: "UNKNOWN".into(),
        reason: None,
        components: request["components"].to_string(),
        variables,
        stands_in_for,
        updated_at: now_ms(),
    };
    state.store.save_template(workspace_id, &row).await?;
    state.store.set_template_uses(workspace_id, &row).await?;
    announce(&state, workspace_id, &auth.0.member_id).await?;
    let subject = format!("{}:{}", row.name, row.language);
    state
        .store
        .record(auth.audit(
            "template.created",
            Some(&subject),
            json!({ "account_id": account, "category": row.category, "status": row.status }),
        ))
        .await?;
    Ok(Json(view(&row)))
}

/// What an admin chooses for a kept template.
#[derive(Debug, Deserialize)]
pub struct TemplateUses {
    /// The account (optional when the workspace has templates of one account only).
    #[serde(default)]
    account_id: Option<String>,
    /// The template's name.
    name: String,
    /// Its language.
    language: String,
    /// Which contact field fills each body variable, with fallbacks.
    variables: Vec<TemplateVariable>,
    /// The automated message it carries outside the window, or none.
    #[serde(default)]
    stands_in_for: Option<String>,
}

/// `PUT /v1/templates/uses` (admins): which contact field fills each variable of a template
/// (with fallbacks), and which automated message it carries once a customer's window closed
/// (one template per message and account: choosing it here takes it from another).
pub async fn set_uses(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<TemplateUses>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageChannels)?;
    let input = body(
        input,
        "{account_id?, name, language, variables: [{field, fallback}], stands_in_for?}",
    )?;
    let workspace_id = &auth.0.workspace_id;
    let kept = state.store.templates(workspace_id).await?;
    let matching: Vec<&TemplateRow> = kept
        .iter()
        .filter(|t| {
            t.name == input.name
                && t.language == input.language
                && input.account_id.as_ref().is_none_or(|a| *a == t.account_id)
        })
        .collect();
    let [current] = matching.as_slice() else {
        return Err(if matching.is_empty() {
            ApiError::NotFound("no such template in this workspace (refresh them first)".into())
        } else {
            ApiError::BadRequest("several accounts have this template: name the account_id".into())
        });
    };
    let body_variables = template_body_variables(current);
    let (variables, stands_in_for) = checked_uses(
        Some(input.variables),
        input.stands_in_for,
        body_variables,
        &current.category,
    )?;
    if let Some(rule) = &stands_in_for {
        for other in kept.iter().filter(|t| {
            t.account_id == current.account_id
                && t.stands_in_for.as_deref() == Some(rule.as_str())
                && !(t.name == current.name && t.language == current.language)
        }) {
            let freed = TemplateRow {
                stands_in_for: None,
                updated_at: now_ms(),
                ..other.clone()
            };
            state.store.set_template_uses(workspace_id, &freed).await?;
        }
    }
    let row = TemplateRow {
        variables,
        stands_in_for,
        updated_at: now_ms(),
        ..(*current).clone()
    };
    state.store.set_template_uses(workspace_id, &row).await?;
    announce(&state, workspace_id, &auth.0.member_id).await?;
    let subject = format!("{}:{}", row.name, row.language);
    state
        .store
        .record(auth.audit(
            "template.uses_changed",
            Some(&subject),
            json!({ "stands_in_for": row.stands_in_for, "variables": serde_json::from_str::<Value>(&row.variables).unwrap_or_default() }),
        ))
        .await?;
    Ok(Json(view(&row)))
}

/// A kept template's body text, with `{{1}}`… where its variables go.
pub fn template_body(row: &TemplateRow) -> String {
    let components: Vec<Value> = serde_json::from_str(&row.components).unwrap_or_default();
    components
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("BODY"))
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// How many variables a kept template's body has.
pub fn template_body_variables(row: &TemplateRow) -> usize {
    zentro_meta::graph::templates::count_variables(&template_body(row))
}

/// The template status changes among a verified webhook's items: (account id, the change).
pub fn template_status_updates(items: &[WebhookItem]) -> Vec<(String, TemplateRow)> {
    items
        .iter()
        .filter_map(|item| match (&item.route, &item.event) {
            (Route::WhatsAppAccount(account), Event::TemplateStatus(s)) => Some((
                account.clone(),
                TemplateRow {
                    account_id: account.clone(),
                    name: s.name.clone()?,
                    language: s.language.clone()?,
                    meta_id: s.template_id.clone(),
                    category: s.category.clone().unwrap_or_default(),
                    status: s.event.clone(),
                    quality: String::new(),
                    reason: s
                        .details
                        .clone()
                        .or_else(|| s.reason.clone())
                        .filter(|r| r != "NONE"),
                    components: String::new(),
                    variables: String::new(),
                    stands_in_for: None,
                    updated_at: now_ms(),
                },
            )),
            _ => None,
        })
        .collect()
}

/// Applies Meta's template status changes (already stored in the logs as webhooks) to the kept
/// templates, and tells the desks of each workspace that keeps one. A failure is logged: the next
/// refresh catches up.
pub async fn follow_status_updates(state: &AppState, updates: Vec<(String, TemplateRow)>) {
    for (account, row) in updates {
        let changed = match state.store.set_template_status(&account, &row).await {
            Ok(changed) => changed,
            Err(error) => {
                tracing::error!(%error, "a template's status could not be kept");
                continue;
            }
        };
        for workspace_id in changed {
            tracing::info!(workspace = %workspace_id, template = %row.name, status = %row.status, "Meta changed a template's status");
            if let Err(error) = announce(state, &workspace_id, zentro_events::RELAY_AUTHOR).await {
                tracing::error!(?error, "the desks could not be told of a template's status");
            }
        }
    }
}
