//! `zentro assist summary` and `draft`: AI assist on a conversation of the local cache, with the
//! workspace's provider and the key from this device's keychain (fetched from the relay when the
//! keychain has no copy of the current one), streamed to standard output, then recorded on the
//! relay without content.

use std::io::Write;

use futures_util::StreamExt;
use zentro_assist::features::{self, RequestOptions};
use zentro_assist::{
    ApiKey, AssistClient, AssistError, Budget, PreparedRequest, ProviderSettings, StreamEvent,
    Timeouts, Usage, UsageReport,
};
use zentro_core::Cache;
use zentro_core::assist::assist_conversation;
use zentro_core::relay_client::{AssistSettings, RelayClient};
use zentro_core::vault::{Secret, Vault};

use crate::cli::AssistCommand;
use crate::context::Context;
use crate::exit::{Exit, Failure, fail, other};

/// How many of the latest messages a request takes.
const MESSAGES: i64 = 40;

/// `zentro assist …`.
pub async fn assist(ctx: &Context, command: AssistCommand) -> Result<(), Failure> {
    let (conversation_id, show_request, summary) = match command {
        AssistCommand::Summary {
            conversation,
            show_request,
        } => (conversation, show_request, true),
        AssistCommand::Draft {
            conversation,
            show_request,
        } => (conversation, show_request, false),
    };
    let account = ctx.account()?;
    let (relay, token) = ctx.relay().await?;
    let settings = relay.assist_settings(&token).await?;
    let provider = match (&settings.enabled, &settings.provider) {
        (true, Some(provider)) => provider.clone(),
        _ => return Err(assist_failure(&AssistError::Off)),
    };
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let found = assist_conversation(&cache, &account.workspace_id, conversation_id, MESSAGES)
        .await?
        .ok_or_else(|| {
            fail(
                Exit::Usage,
                format!("no conversation {conversation_id} here (see `zentro conversations`)"),
            )
        })?;
    let options = RequestOptions {
        masking: settings.masking,
        ..RequestOptions::default()
    };
    let request = if summary {
        features::summary(&found.conversation, &options)
    } else {
        features::draft(&found.conversation, &options)
    }
    .map_err(|e| assist_failure(&e))?;
    let budget = Budget {
        monthly_tokens: settings.monthly_budget_tokens,
        spent_this_month: settings.spent_this_month,
    };
    budget.check(&request).map_err(|e| assist_failure(&e))?;
    let key = provider_key(ctx, &relay, &token, &account.workspace_id, &settings).await?;
    let provider = ProviderSettings::new(&provider.base_url, &provider.model, key)
        .map_err(|e| assist_failure(&e))?;
    if show_request {
        let sent = request.what_is_sent(&provider);
        eprintln!(
            "POST {} ({} placeholders masked)\n{}",
            sent.endpoint,
            sent.masked.len(),
            sent.body
        );
    }
    let client =
        AssistClient::new(provider.clone(), Timeouts::default()).map_err(|e| assist_failure(&e))?;
    let usage = stream_to_stdout(&client, &request).await?;
    let report = UsageReport::new(found.reference, &request, &provider, usage);
    let spent = relay.record_assist_usage(&token, &report).await?;
    eprintln!(
        "{} tokens via {} ({spent} this month)",
        report.prompt_tokens + report.completion_tokens,
        report.provider
    );
    Ok(())
}

/// Streams the answer to standard output as it arrives; the provider's usage, if it said.
async fn stream_to_stdout(
    client: &AssistClient,
    request: &PreparedRequest,
) -> Result<Option<Usage>, Failure> {
    let mut stream = client
        .stream(request)
        .await
        .map_err(|e| assist_failure(&e))?;
    let mut out = std::io::stdout().lock();
    while let Some(event) = stream.next().await {
        match event.map_err(|e| assist_failure(&e))? {
            StreamEvent::Text(piece) => {
                out.write_all(piece.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(other)?;
            }
            StreamEvent::Done { usage, .. } => {
                writeln!(out).map_err(other)?;
                return Ok(usage);
            }
        }
    }
    Err(assist_failure(&AssistError::UnreadableAnswer(
        "the answer ended early".into(),
    )))
}

/// The provider's key from this device's keychain; fetched from the relay (and kept in the
/// keychain) when the keychain has no copy of the current version. `None` when the provider
/// needs no key.
async fn provider_key(
    ctx: &Context,
    relay: &RelayClient,
    token: &Secret,
    workspace_id: &str,
    settings: &AssistSettings,
) -> Result<Option<ApiKey>, Failure> {
    if !settings.key_set {
        return Ok(None);
    }
    let entry = Vault::assist_entry(workspace_id, settings.key_version);
    let vault = ctx.vault.clone();
    let read_entry = entry.clone();
    let kept = tokio::task::spawn_blocking(move || vault.read(&read_entry))
        .await
        .map_err(other)??;
    let key = match kept {
        Some(key) => key,
        None => {
            let (key, version) = relay.assist_key(token).await?;
            let vault = ctx.vault.clone();
            let entry = Vault::assist_entry(workspace_id, version);
            let stored = key.clone();
            let previous = (version > 1).then(|| Vault::assist_entry(workspace_id, version - 1));
            tokio::task::spawn_blocking(move || {
                vault.store(&entry, &stored)?;
                match previous {
                    Some(previous) => vault.delete(&previous),
                    None => Ok(()),
                }
            })
            .await
            .map_err(other)??;
            key
        }
    };
    Ok(Some(ApiKey::new(key.expose())))
}

/// An AI failure as the command ends with it: the message a person can act on.
fn assist_failure(error: &AssistError) -> Failure {
    let exit = match error {
        AssistError::Unreachable { .. } | AssistError::Timeout => Exit::Network,
        AssistError::NothingToSend(_) => Exit::Usage,
        AssistError::Restricted | AssistError::Off | AssistError::BudgetSpent { .. } => {
            Exit::Forbidden
        }
        _ => Exit::Other,
    };
    fail(exit, error.user_message())
}
