//! `zentro channels` and `channel-token`: the workspace's channels and their Meta tokens.

use zentro_core::Cache;
use zentro_core::channel_tokens::ChannelInfo;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::{Secret, Vault};

use crate::cli::ChannelsCommand;
use crate::context::Context;
use crate::exit::{Exit, Failure, fail, other};
use crate::terminal::{print_rows, read_password};

/// `zentro channels …`.
pub async fn channels(ctx: &Context, command: ChannelsCommand) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    match command {
        ChannelsCommand::List { json } => list(&client, &token, json).await?,
        ChannelsCommand::SetToken { channel } => {
            let channel = find(&client, &token, &channel).await?;
            let meta_token = read_password()?;
            let updated = client
                .set_channel_token(&token, &channel.id, &meta_token)
                .await?;
            eprintln!(
                "Stored the token of {} on the relay (version {}).",
                updated.cache_id(),
                updated.token_version.unwrap_or_default()
            );
        }
        ChannelsCommand::RevokeToken { channel } => {
            let channel = find(&client, &token, &channel).await?;
            client.revoke_channel_token(&token, &channel.id).await?;
            eprintln!(
                "Revoked the token of {}; devices drop it when they next sync.",
                channel.cache_id()
            );
        }
        ChannelsCommand::Check { channel } => {
            let channel = find(&client, &token, &channel).await?;
            let checked = client.check_channel(&token, &channel.id).await?;
            println!("{}", checked.health);
            if let Some(reason) = &checked.health_reason {
                eprintln!("{}: {reason}", checked.cache_id());
            }
        }
        ChannelsCommand::Disconnect { channel } => {
            let channel = find(&client, &token, &channel).await?;
            client.disconnect_channel(&token, &channel.id).await?;
            eprintln!(
                "Disconnected {}: Meta no longer sends its messages here and devices drop its token when they next sync. An owner can connect it again from the app.",
                channel.cache_id()
            );
        }
        ChannelsCommand::Fetch => {
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let done =
                zentro_core::channel_tokens::refresh(&cache, &client, &token, &ctx.vault).await?;
            eprintln!(
                "{} channel token(s) stored in the keychain, {} removed.",
                done.stored, done.removed
            );
        }
    }
    Ok(())
}

/// `zentro channels list`: the channels, as JSON or a table.
async fn list(client: &RelayClient, token: &Secret, json: bool) -> Result<(), Failure> {
    let channels = client.channels(token).await?;
    print_rows(
        channels,
        json,
        &format!(
            "{:<32}  {:<30}  {:<20}  {:<8}  {:<7}  HEALTH",
            "ID", "CHANNEL", "NAME", "TOKEN", "ALLOWED"
        ),
        |c| {
            format!(
                "{:<32}  {:<30}  {:<20}  {:<8}  {:<7}  {}",
                c.id,
                c.cache_id(),
                c.display_name,
                c.token_version
                    .map(|v| format!("v{v}"))
                    .unwrap_or_else(|| "none".into()),
                if c.allowed { "yes" } else { "no" },
                c.health
            )
        },
    )?;
    Ok(())
}

/// The channel `wanted` names (its relay id or its cache id), or a usage failure pointing at
/// `zentro channels list`.
async fn find(client: &RelayClient, token: &Secret, wanted: &str) -> Result<ChannelInfo, Failure> {
    client
        .channels(token)
        .await?
        .into_iter()
        .find(|c| c.id == wanted || c.cache_id() == wanted)
        .ok_or_else(|| {
            fail(
                Exit::Usage,
                format!("no channel {wanted} (see `zentro channels list`)"),
            )
        })
}

/// `zentro channel-token`: keep a hand-connected channel's Meta token (from standard input) in
/// the keychain.
pub async fn store_token(ctx: &Context, channel: &str) -> Result<(), Failure> {
    let token = read_password()?;
    let (vault, entry) = (ctx.vault.clone(), Vault::channel_entry(channel));
    tokio::task::spawn_blocking(move || vault.store(&entry, &token))
        .await
        .map_err(other)??;
    eprintln!("Stored the token of {channel} in the keychain.");
    Ok(())
}
