//! AI assist's settings (`/v1/assist`: any member reads them, owners change them; the provider's
//! key sealed at rest like channel tokens and handed only to members' desks), and the usage desks
//! record after each request, without content, which the monthly budget counts (ADR 0016).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use zentro_assist::BudgetMonth;
use zentro_events::clock::{now_ms, random_id};
use zeroize::Zeroizing;

use super::channels::keys;
use super::{ApiError, AppState, Authenticated};
use super::{Body, body};
use crate::roles::Permission;
use crate::store::{AssistRow, AssistUse};

/// The log event that tells every desk AI assist's settings changed (never the key).
pub const WORKSPACE_ASSIST: &str = zentro_events::WORKSPACE_ASSIST;

/// The most tokens a budget may allow per month.
const MAX_BUDGET: i64 = 1_000_000_000_000;

/// The most tokens one request may report (prompt or answer).
const MAX_REPORTED_TOKENS: i64 = 10_000_000;

/// The features a desk may report using.
const FEATURES: [&str; 4] = ["summary", "draft", "rewrite", "labels"];

/// What a workspace has before an owner saves anything: off, masking on.
fn never_saved() -> AssistRow {
    AssistRow {
        version: 0,
        enabled: false,
        base_url: None,
        model: None,
        masking: true,
        auto_labels: false,
        monthly_budget_tokens: None,
        key: None,
        key_version: 0,
        saved_at: 0,
        saved_by: None,
    }
}

/// The associated data a workspace's key is sealed with: it opens for no other workspace.
fn sealing_context(workspace_id: &str) -> String {
    format!("assist:{workspace_id}")
}

/// The settings as every desk may see them (no key, no spending).
fn public_settings(row: &AssistRow) -> Value {
    let provider = match (&row.base_url, &row.model) {
        (Some(base_url), Some(model)) => {
            let name = url::Url::parse(base_url)
                .map(|u| zentro_assist::settings::provider_name(&u))
                .unwrap_or_default();
            json!({ "base_url": base_url, "model": model, "name": name })
        }
        _ => Value::Null,
    };
    json!({
        "enabled": row.enabled,
        "provider": provider,
        "masking": row.masking,
        "auto_labels": row.auto_labels,
        "monthly_budget_tokens": row.monthly_budget_tokens,
        "key_set": row.key.is_some(),
        "key_version": row.key_version,
        "version": row.version,
    })
}

/// The month budgets count in: the calendar month of the workspace's time zone (its automation
/// setup's), UTC when it has none.
async fn budget_month(state: &AppState, workspace_id: &str) -> Result<BudgetMonth, ApiError> {
    let zone = state
        .store
        .automation_setup(workspace_id)
        .await?
        .and_then(|saved| {
            saved.setup["hours"]["time_zone"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_default();
    Ok(BudgetMonth::containing(now_ms(), &zone))
}

/// The settings with this month's spending, as `GET /v1/assist` answers.
async fn view(state: &AppState, workspace_id: &str) -> Result<Value, ApiError> {
    let row = state
        .store
        .assist_settings(workspace_id)
        .await?
        .unwrap_or_else(never_saved);
    let month = budget_month(state, workspace_id).await?;
    let spent = state
        .store
        .assist_tokens_since(workspace_id, month.starts_at_ms)
        .await?;
    let mut view = public_settings(&row);
    view["spent_this_month"] = json!(spent);
    view["month"] = json!(month.label());
    view["saved_at"] = json!((row.version > 0).then_some(row.saved_at));
    view["saved_by"] = json!(row.saved_by);
    Ok(view)
}

/// `GET /v1/assist` (any member): on or off, the provider (base URL, model, its host), masking,
/// automatic labels, the monthly budget and what is spent this month; never the key.
pub async fn settings(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    Ok(Json(view(&state, &auth.0.workspace_id).await?))
}

/// What an owner sends to change the settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistChange {
    enabled: bool,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default = "masking_by_default")]
    masking: bool,
    #[serde(default)]
    auto_labels: bool,
    #[serde(default)]
    monthly_budget_tokens: Option<i64>,
    /// A new key (absent or null: keep the current one).
    #[serde(default)]
    api_key: Option<String>,
    /// Forget the current key.
    #[serde(default)]
    remove_key: bool,
    /// The version the owner started from (a save over someone else's is refused).
    #[serde(default)]
    expected_version: Option<i64>,
}

fn masking_by_default() -> bool {
    true
}

/// The provider's base URL and model, checked (both or neither; both when turning it on).
fn checked_provider(input: &AssistChange) -> Result<(Option<String>, Option<String>), ApiError> {
    let base_url = input
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let model = input
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let (Some(base_url), Some(model)) = (base_url, model) else {
        if input.enabled || base_url.is_some() || model.is_some() {
            return Err(ApiError::BadRequest(
                "name the provider: base_url (an OpenAI-compatible API, like https://api.openai.com/v1) and model".into(),
            ));
        }
        return Ok((None, None));
    };
    let url = zentro_assist::settings::parse_base_url(base_url)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if model.chars().count() > 200 || model.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "model: a model name of at most 200 characters".into(),
        ));
    }
    Ok((Some(url.to_string()), Some(model.to_string())))
}

/// The new key, checked (one word of at most 1024 characters), if one was sent.
fn checked_key(input: &mut AssistChange) -> Result<Option<Zeroizing<String>>, ApiError> {
    let Some(key) = input.api_key.take().map(Zeroizing::new) else {
        return Ok(None);
    };
    let trimmed = Zeroizing::new(key.trim().to_string());
    if trimmed.is_empty()
        || trimmed.len() > 1024
        || trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::BadRequest(
            "api_key: the provider's key as it gives it (one word); remove_key to forget it".into(),
        ));
    }
    Ok(Some(trimmed))
}

/// The row an owner's change makes of the current one.
fn changed_row(
    state: &AppState,
    auth: &Authenticated,
    current: AssistRow,
    mut input: AssistChange,
) -> Result<(AssistRow, bool), ApiError> {
    let (base_url, model) = checked_provider(&input)?;
    if let Some(budget) = input.monthly_budget_tokens
        && !(1..=MAX_BUDGET).contains(&budget)
    {
        return Err(ApiError::BadRequest(
            "monthly_budget_tokens: 1 to 10^12 tokens, or null for no limit".into(),
        ));
    }
    let new_key = checked_key(&mut input)?;
    if new_key.is_some() && input.remove_key {
        return Err(ApiError::BadRequest(
            "send api_key or remove_key, not both".into(),
        ));
    }
    let key_changed = new_key.is_some() || (input.remove_key && current.key.is_some());
    let key = match &new_key {
        Some(key) => Some(
            keys(state)?
                .current
                .seal(&sealing_context(&auth.0.workspace_id), key),
        ),
        None if input.remove_key => None,
        None => current.key,
    };
    let row = AssistRow {
        version: current.version + 1,
        enabled: input.enabled,
        base_url,
        model,
        masking: input.masking,
        auto_labels: input.auto_labels,
        monthly_budget_tokens: input.monthly_budget_tokens,
        key,
        key_version: current.key_version + i64::from(new_key.is_some()),
        saved_at: now_ms(),
        saved_by: Some(auth.0.member_id.clone()),
    };
    Ok((row, key_changed))
}

/// `PUT /v1/assist` (owners): turns AI assist on or off and names its provider, masking,
/// automatic labels, the monthly budget and (optionally) a new key, sealed at rest. Every change
/// is a `workspace.assist` event (no key) for every desk, and an audit row.
pub async fn change(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<AssistChange>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageWorkspace)?;
    let input = body(
        input,
        "{enabled, base_url, model, masking, auto_labels, monthly_budget_tokens, api_key?, remove_key?, expected_version?}",
    )?;
    let workspace_id = &auth.0.workspace_id;
    let current = state
        .store
        .assist_settings(workspace_id)
        .await?
        .unwrap_or_else(never_saved);
    if let Some(expected) = input.expected_version
        && expected != current.version
    {
        return Err(ApiError::Refused {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: format!(
                "the settings changed meanwhile (now version {}): reload them",
                current.version
            ),
        });
    }
    let (row, key_changed) = changed_row(&state, &auth, current, input)?;
    state.store.save_assist_settings(workspace_id, &row).await?;
    let public = public_settings(&row);
    state
        .sequencer
        .publish(
            workspace_id,
            &auth.0.member_id,
            WORKSPACE_ASSIST,
            public.clone(),
            &format!("{WORKSPACE_ASSIST}:{}", random_id()),
        )
        .await
        .map_err(ApiError::sequencer)?;
    let mut details = public;
    details["key_changed"] = json!(key_changed);
    state
        .store
        .record(auth.audit("assist.changed", None, details))
        .await?;
    tracing::info!(workspace = %workspace_id, version = row.version, enabled = row.enabled, "AI assist settings changed");
    Ok(Json(view(&state, workspace_id).await?))
}

/// `GET /v1/assist/key` (any member's device, while AI assist is on): the provider's key, for the
/// desk's keychain; each hand-out is audited.
pub async fn key(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let workspace_id = &auth.0.workspace_id;
    let row = state
        .store
        .assist_settings(workspace_id)
        .await?
        .unwrap_or_else(never_saved);
    if !row.enabled {
        return Err(assist_off());
    }
    let sealed = row.key.ok_or_else(|| {
        ApiError::NotFound("AI assist has no key (its provider may need none)".into())
    })?;
    let key = keys(&state)?
        .open(&sealing_context(workspace_id), &sealed)
        .map_err(ApiError::internal)?;
    state
        .store
        .record(auth.audit(
            "assist.key_issued",
            None,
            json!({ "key_version": row.key_version }),
        ))
        .await?;
    Ok(Json(
        json!({ "key": key.as_str(), "key_version": row.key_version }),
    ))
}

fn assist_off() -> ApiError {
    ApiError::Refused {
        status: StatusCode::CONFLICT,
        code: "assist_off",
        message: "AI assist is off in this workspace; an owner can turn it on".into(),
    }
}

/// What a desk reports after a request (no content).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    conversation: String,
    feature: String,
    provider: String,
    prompt_tokens: i64,
    completion_tokens: i64,
}

fn check_usage(input: &UsageReport) -> Result<(), ApiError> {
    let bad = |why: &str| Err(ApiError::BadRequest(why.into()));
    if input.conversation.len() != 64 || !input.conversation.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return bad("conversation: the desk's hash of the conversation (64 hex digits)");
    }
    if !FEATURES.contains(&input.feature.as_str()) {
        return bad("feature: summary, draft, rewrite or labels");
    }
    if input.provider.is_empty()
        || input.provider.len() > 255
        || input.provider.chars().any(char::is_control)
    {
        return bad("provider: the provider's host");
    }
    for tokens in [input.prompt_tokens, input.completion_tokens] {
        if !(0..=MAX_REPORTED_TOKENS).contains(&tokens) {
            return bad("prompt_tokens and completion_tokens: 0 to 10^7");
        }
    }
    Ok(())
}

/// `POST /v1/assist/usage` `{conversation, feature, provider, prompt_tokens, completion_tokens}`
/// (any member's device, while AI assist is on): records a request without content, audited,
/// counted toward the monthly budget; answers what is spent this month.
pub async fn record_usage(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<UsageReport>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let input = body(
        input,
        "{conversation, feature, provider, prompt_tokens, completion_tokens}",
    )?;
    check_usage(&input)?;
    let workspace_id = &auth.0.workspace_id;
    let row = state
        .store
        .assist_settings(workspace_id)
        .await?
        .unwrap_or_else(never_saved);
    if !row.enabled {
        return Err(assist_off());
    }
    let usage = AssistUse {
        workspace_id,
        member_id: &auth.0.member_id,
        conversation: &input.conversation,
        feature: &input.feature,
        provider: &input.provider,
        prompt_tokens: input.prompt_tokens,
        completion_tokens: input.completion_tokens,
    };
    state.store.record_assist_use(&usage).await?;
    let details = json!({
        "conversation": input.conversation,
        "feature": input.feature,
        "provider": input.provider,
        "prompt_tokens": input.prompt_tokens,
        "completion_tokens": input.completion_tokens,
    });
    state
        .store
        .record(auth.audit("assist.used", None, details))
        .await?;
    let month = budget_month(&state, workspace_id).await?;
    let spent = state
        .store
        .assist_tokens_since(workspace_id, month.starts_at_ms)
        .await?;
    Ok(Json(json!({
        "spent_this_month": spent,
        "monthly_budget_tokens": row.monthly_budget_tokens,
        "month": month.label(),
    })))
}
