//! `zentro login`, `join` and `logout`: this device's place in a workspace.

use std::io::IsTerminal;

use zentro_core::Cache;
use zentro_core::account::Account;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::Vault;

use crate::context::Context;
use crate::exit::{Failure, other};
use crate::terminal::read_password;

/// `zentro login`: sign in to `relay` as `email` with the password on standard input.
pub async fn login(
    ctx: &Context,
    relay: &str,
    email: &str,
    device_name: &str,
) -> Result<(), Failure> {
    let password = read_password()?;
    let account = zentro_core::account::sign_in(
        &ctx.data_dir,
        ctx.vault.clone(),
        relay,
        email,
        &password,
        device_name,
    )
    .await?;
    say_signed_in("Signed in to", &account);
    Ok(())
}

/// Says where and as whom this device is now signed in: "`done` workspace as email (role).".
fn say_signed_in(done: &str, account: &zentro_core::account::Account) {
    eprintln!(
        "{done} {} as {} ({}).",
        account.workspace_name, account.email, account.role
    );
}

/// `zentro join`: accept the invitation `code`, choosing the password on standard input.
pub async fn join(
    ctx: &Context,
    relay: &str,
    code: &str,
    device_name: &str,
) -> Result<(), Failure> {
    if std::io::stdin().is_terminal() {
        eprintln!("Choose a password (at least 10 characters).");
    }
    let password = read_password()?;
    let account = zentro_core::account::join(
        &ctx.data_dir,
        ctx.vault.clone(),
        relay,
        code,
        &password,
        device_name,
    )
    .await?;
    say_signed_in("Joined", &account);
    Ok(())
}

/// `zentro logout`: revoke this device's token at the relay (best effort), then forget it, the
/// channel tokens and the account here.
pub async fn logout(ctx: &Context) -> Result<(), Failure> {
    let account = ctx.account()?;
    if let Ok(token) = ctx.token(&account).await {
        let client = RelayClient::new(&account.relay_url)?;
        if let Err(error) = client.sign_out(&token).await {
            eprintln!(
                "warning: the relay did not confirm the sign-out ({error}); the token is forgotten here anyway"
            );
        }
    }
    let (vault, entry) = (
        ctx.vault.clone(),
        Vault::device_entry(&account.relay_url, &account.email),
    );
    tokio::task::spawn_blocking(move || vault.delete(&entry))
        .await
        .map_err(other)??;
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let removed = zentro_core::channel_tokens::forget_all(&cache, &ctx.vault)
        .await
        .map_err(other)?;
    Account::remove(&ctx.data_dir)?;
    eprintln!("Signed out ({removed} channel token(s) removed from the keychain).");
    Ok(())
}
