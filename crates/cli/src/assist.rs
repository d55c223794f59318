//! `zentro assist summary|draft|rewrite|labels`: AI assist on a conversation of the local cache,
//! with the workspace's provider and the key from this device's keychain, through the same calls
//! as the desk (`zentro_core::assist_requests`): streamed to standard output, then recorded on
//! the relay without content.

use std::io::Write;

use zentro_assist::{AssistError, Timeouts};
use zentro_core::Cache;
use zentro_core::assist_requests::{
    Ask, AssistAccess, AssistRequestError, RewriteAs, stream_answer, suggest_labels,
};

use crate::cli::{AssistCommand, RewriteStyleArg};
use crate::context::Context;
use crate::exit::{Exit, Failure, fail, other};

/// `zentro assist …`.
pub async fn assist(ctx: &Context, command: AssistCommand) -> Result<(), Failure> {
    let (conversation_id, show_request, ask) = match command {
        AssistCommand::Summary {
            conversation,
            show_request,
        } => (conversation, show_request, Ask::Summary),
        AssistCommand::Draft {
            conversation,
            show_request,
        } => (conversation, show_request, Ask::Draft),
        AssistCommand::Rewrite {
            conversation,
            style,
            draft,
            show_request,
        } => (
            conversation,
            show_request,
            Ask::Rewrite {
                style: rewrite_as(style),
                draft,
            },
        ),
        AssistCommand::Labels {
            conversation,
            show_request,
        } => (conversation, show_request, Ask::Labels),
    };
    let account = ctx.account()?;
    let (relay, token) = ctx.relay().await?;
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let access = AssistAccess {
        relay: &relay,
        token: &token,
        workspace_id: &account.workspace_id,
        cache: &cache,
        keychain: Some(&ctx.vault),
    };
    let ready = access
        .prepare(conversation_id, &ask)
        .await
        .map_err(request_failure)?;
    let ready = access.with_key(ready).await.map_err(request_failure)?;
    if show_request {
        let sent = ready.what_is_sent();
        eprintln!(
            "POST {} ({} placeholders masked)\n{}",
            sent.endpoint,
            sent.masked.len(),
            sent.body
        );
    }
    let usage = if ask == Ask::Labels {
        let (labels, usage) = suggest_labels(&ready, Timeouts::default())
            .await
            .map_err(|e| assist_failure(&e))?;
        println!("{}", labels.labels().join("\n"));
        usage
    } else {
        let mut out = std::io::stdout().lock();
        let mut written = Ok(());
        let usage = stream_answer(&ready, Timeouts::default(), |piece| {
            if written.is_ok() {
                written = out.write_all(piece.as_bytes()).and_then(|()| out.flush());
            }
        })
        .await
        .map_err(|e| assist_failure(&e))?;
        written.and_then(|()| writeln!(out)).map_err(other)?;
        usage
    };
    let outcome = access.record_usage(&ready, usage).await?;
    eprintln!(
        "{} tokens via {} ({} this month)",
        outcome.tokens,
        ready.provider.provider_name(),
        outcome.spent_this_month
    );
    Ok(())
}

fn rewrite_as(style: RewriteStyleArg) -> RewriteAs {
    match style {
        RewriteStyleArg::Shorter => RewriteAs::Shorter,
        RewriteStyleArg::Friendlier => RewriteAs::Friendlier,
        RewriteStyleArg::Formal => RewriteAs::MoreFormal,
        RewriteStyleArg::CustomersLanguage => RewriteAs::CustomersLanguage,
    }
}

/// A request that could not be made, as the command ends with it.
fn request_failure(error: AssistRequestError) -> Failure {
    match error {
        AssistRequestError::Assist(error) => assist_failure(&error),
        AssistRequestError::NoConversation(id) => fail(
            Exit::Usage,
            format!("no conversation {id} here (see `zentro conversations`)"),
        ),
        AssistRequestError::Relay(error) => error.into(),
        AssistRequestError::Cache(error) => error.into(),
        AssistRequestError::Keychain(error) => error.into(),
    }
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
