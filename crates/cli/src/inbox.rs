//! `zentro sync`, `conversations`, `show`, `search` and `send`: the inbox in the local cache.

use tokio_util::sync::CancellationToken;
use zentro_core::Cache;
use zentro_core::account::Account;
use zentro_core::inbox;
use zentro_core::relay_client::{RelayClient, SyncError};
use zentro_core::sync::{Progress, catch_up, follow};
use zentro_core::vault::{Secret, Vault};
use zentro_events::clock::now_ms;

use crate::context::Context;
use crate::exit::{Exit, Failure, fail, other};
use crate::graph::{channel_tokens, graph_client};
use crate::terminal::{print_json, print_rows, time};

/// `zentro sync`: the cache brought up to date with the relay, then (unless following) the
/// steps that follow a catch-up; with `keep`, new events keep coming until interrupted.
pub async fn sync(ctx: &Context, keep: bool) -> Result<(), Failure> {
    let account = ctx.account()?;
    let token = ctx.token(&account).await?;
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let client = RelayClient::new(&account.relay_url)?;
    let synced = if keep {
        follow_until_interrupted(&cache, &client, &token, &account).await
    } else {
        catch_up(&cache, &client, &token, &account.workspace_id, &mut report)
            .await
            .map(|_| ())
    };
    match synced {
        Err(SyncError::WorkspaceTerminated) => {
            return Err(forget_workspace(ctx, &account, cache).await);
        }
        other => other?,
    }
    if !keep {
        after_catch_up(ctx, &cache, &client, &token).await?;
    }
    Ok(())
}

/// Follows the relay's events into the cache until Ctrl-C.
async fn follow_until_interrupted(
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
    account: &Account,
) -> Result<(), SyncError> {
    let stop = CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        signal.cancel();
    });
    follow(
        cache,
        client,
        token,
        &account.workspace_id,
        &stop,
        &mut report,
    )
    .await
}

/// What a catch-up is followed by: erasures cleaned up, team events written offline sent, the
/// channel tokens refreshed and due media downloaded.
async fn after_catch_up(
    ctx: &Context,
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
) -> Result<(), Failure> {
    zentro_core::rights::cleanup(cache).await?;
    // Team events written while offline go out, and media that arrived come in.
    zentro_core::actions::flush(cache, client, token).await?;
    match zentro_core::channel_tokens::refresh(cache, client, token, &ctx.vault).await {
        Ok(done) if done.stored + done.removed > 0 => eprintln!(
            "Channel tokens: {} stored in the keychain, {} removed.",
            done.stored, done.removed
        ),
        Ok(_) => {}
        Err(error) => eprintln!("warning: channel tokens not updated: {error}"),
    }
    download_media(ctx, cache)
}

/// Downloads the media that are due (at most 500) and says how many came and how many wait.
fn download_media(ctx: &Context, cache: &Cache) -> Result<(), Failure> {
    let graph = graph_client()?;
    let tokens = channel_tokens(&ctx.vault);
    let media = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(zentro_core::media::download_due(
            cache,
            &graph,
            &tokens,
            &ctx.data_dir,
            now_ms(),
            500,
        ))
    })?;
    if media.stored + media.retrying > 0 {
        eprintln!(
            "Media: {} downloaded, {} to retry later.",
            media.stored, media.retrying
        );
    }
    Ok(())
}

/// The workspace was terminated: its data is deleted from this computer and the failure says so.
async fn forget_workspace(ctx: &Context, account: &Account, cache: Cache) -> Failure {
    let entry = Vault::device_entry(&account.relay_url, &account.email);
    let done =
        zentro_core::account::forget_workspace(&ctx.data_dir, cache, Some(&ctx.vault), &entry)
            .await;
    fail(
        Exit::SignIn,
        format!(
            "the workspace was terminated by its owner; its data was deleted from this computer ({} files, {} keychain entries)",
            done.files, done.keychain_entries
        ),
    )
}

/// Sync progress on standard error.
fn report(progress: Progress) {
    if progress.caught_up {
        eprintln!(
            "synced: up to event {} ({} applied)",
            progress.cursor, progress.applied
        );
    } else {
        eprintln!(
            "catching up: event {}, {} behind ({} applied so far, {:.0} events/s)",
            progress.cursor, progress.behind, progress.applied, progress.rate
        );
    }
}

/// `zentro conversations`: the most recently active conversations, as JSON or a table.
pub async fn conversations(ctx: &Context, limit: i64, json: bool) -> Result<(), Failure> {
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let list = inbox::conversations(&cache, None, limit.clamp(1, 1000)).await?;
    print_rows(
        list,
        json,
        &format!(
            "{:>6}  {:<9}  {:<8}  {:>6}  {:<16}  {:<24}  LAST MESSAGE",
            "ID", "CHANNEL", "STATUS", "UNREAD", "ACTIVITY (UTC)", "CUSTOMER"
        ),
        |c| {
            format!(
                "{:>6}  {:<9}  {:<8}  {:>6}  {:<16}  {:<24}  {}",
                c.id,
                c.channel_kind,
                c.status,
                c.unread_count,
                time(c.last_activity_at),
                c.contact_name,
                c.preview
            )
        },
    )?;
    Ok(())
}

/// `zentro show`: a conversation's latest messages, oldest first, as JSON or lines.
pub async fn show(ctx: &Context, conversation: i64, limit: i64, json: bool) -> Result<(), Failure> {
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let mut messages = inbox::messages(&cache, conversation, None, limit.clamp(1, 1000)).await?;
    if messages.is_empty() {
        return Err(fail(
            Exit::Other,
            format!(
                "conversation {conversation} has no messages here (see `zentro conversations`)"
            ),
        ));
    }
    messages.reverse();
    if json {
        return print_json(&messages);
    }
    for m in messages {
        let who = if m.direction == "inbound" {
            "customer"
        } else {
            "us"
        };
        let text = if m.deleted {
            "(unsent by the customer)".to_string()
        } else {
            m.body
                .or(m.caption)
                .unwrap_or_else(|| format!("[{}]", m.kind))
        };
        let status = m
            .delivery_status
            .map(|s| format!("  [{s}]"))
            .unwrap_or_default();
        println!("{}  {:<8}  {text}{status}", time(m.sent_at), who);
    }
    Ok(())
}

/// `zentro search`: matching conversations across all history, as JSON or lines.
pub async fn search(ctx: &Context, query: &str, limit: i64, json: bool) -> Result<(), Failure> {
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let hits = inbox::search(&cache, query, limit.clamp(1, 200)).await?;
    if json {
        return print_json(&hits);
    }
    for h in hits {
        println!("{:>6}  {}", h.conversation_id, h.snippet);
    }
    Ok(())
}

/// `zentro send`: a reply queued in the outbox, delivered through Meta and announced to
/// teammates; a reply still queued afterwards fails as a network failure.
pub async fn send(ctx: &Context, conversation: i64, text: &str) -> Result<(), Failure> {
    let account = ctx.account()?;
    let token = ctx.token(&account).await?;
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let now = now_ms();
    let client_id =
        zentro_core::outbox::queue_reply(&cache, &account.member_id, conversation, text, None, now)
            .await
            .map_err(other)?;
    let graph = graph_client()?;
    let tokens = channel_tokens(&ctx.vault);
    let delivered = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(zentro_core::outbox::deliver_due(
            &cache, &graph, &tokens, now,
        ))
    })
    .map_err(other)?;
    let client = RelayClient::new(&account.relay_url)?;
    for sent in &delivered.accepted {
        let payload = serde_json::to_value(sent).map_err(other)?;
        client
            .publish(&token, "message.sent", payload, &sent.client_id)
            .await?;
    }
    if delivered.accepted.iter().any(|s| s.client_id == client_id) {
        eprintln!("Sent.");
        return Ok(());
    }
    let (state, error) = zentro_core::outbox::state(&cache, &client_id)
        .await
        .map_err(other)?;
    let exit = if state == "queued" {
        Exit::Network
    } else {
        Exit::Other
    };
    Err(fail(
        exit,
        format!("not sent ({state}): {}", error.unwrap_or_default()),
    ))
}
