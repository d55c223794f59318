//! `zentro team`, `devices` and `audit`: the workspace's people, their devices and its record.

use zentro_core::members::MemberChange;
use zentro_core::members::Teammate;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::Secret;

use crate::cli::{DevicesCommand, TeamCommand};
use crate::context::Context;
use crate::exit::{Exit, Failure, fail};
use crate::terminal::{print_json, print_rows, time};

/// `zentro team …`.
pub async fn team(ctx: &Context, command: TeamCommand) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    match command {
        TeamCommand::List { json } => list_members(&client, &token, json).await?,
        TeamCommand::Invite { email, role, name } => {
            let invitation = client.invite(&token, &email, &name, role).await?;
            eprintln!(
                "Invited {} as {}; the code works once, until {} UTC. Hand them:",
                invitation.member.email,
                invitation.member.role,
                time(invitation.expires_at)
            );
            println!("{}", invitation.code);
            eprintln!("  link: {}", invitation.link);
        }
        TeamCommand::SetRole { email, role } => {
            let change = MemberChange {
                role: Some(role),
                status: None,
            };
            change_member(&client, &token, &email, &change).await?
        }
        TeamCommand::Deactivate { email } => {
            let change = MemberChange {
                role: None,
                status: Some("deactivated".into()),
            };
            change_member(&client, &token, &email, &change).await?
        }
        TeamCommand::Activate { email } => {
            let change = MemberChange {
                role: None,
                status: Some("active".into()),
            };
            change_member(&client, &token, &email, &change).await?
        }
        TeamCommand::Remove { email } => {
            let member = member_by_email(&client, &token, &email).await?;
            client.remove_member(&token, &member.id).await?;
            eprintln!("Removed {}.", member.email);
        }
    }
    Ok(())
}

/// `zentro team list`: the members, as JSON or a table.
async fn list_members(client: &RelayClient, token: &Secret, json: bool) -> Result<(), Failure> {
    let members = client.members(token).await?;
    print_rows(
        members,
        json,
        &format!(
            "{:<32}  {:<24}  {:<6}  {:<11}  LAST SIGN-IN",
            "EMAIL", "NAME", "ROLE", "STATUS"
        ),
        |m| {
            format!(
                "{:<32}  {:<24}  {:<6}  {:<11}  {}",
                m.email,
                m.display_name,
                m.role,
                m.status,
                m.last_sign_in_at
                    .map(time)
                    .unwrap_or_else(|| "never".into())
            )
        },
    )?;
    Ok(())
}

/// Applies `change` to the member with `email` and says what they are now.
async fn change_member(
    client: &RelayClient,
    token: &Secret,
    email: &str,
    change: &MemberChange,
) -> Result<(), Failure> {
    let member = member_by_email(client, token, email).await?;
    let updated = client.update_member(token, &member.id, change).await?;
    eprintln!("{}: {} ({}).", updated.email, updated.status, updated.role);
    Ok(())
}

/// The member with `email` (any case), or a usage failure pointing at `zentro team list`.
async fn member_by_email(
    client: &RelayClient,
    token: &Secret,
    email: &str,
) -> Result<Teammate, Failure> {
    client
        .members(token)
        .await?
        .into_iter()
        .find(|m| m.email.eq_ignore_ascii_case(email.trim()))
        .ok_or_else(|| {
            fail(
                Exit::Usage,
                format!("no member {email} (see `zentro team list`)"),
            )
        })
}

/// `zentro devices …`.
pub async fn devices(ctx: &Context, command: DevicesCommand) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    match command {
        DevicesCommand::List { all, json } => {
            let devices = client.devices(&token, all).await?;
            print_rows(
                devices,
                json,
                &format!(
                    "{:<32}  {:<28}  {:<24}  {:<16}  LAST SEEN",
                    "ID", "MEMBER", "NAME", "SIGNED IN"
                ),
                |d| {
                    format!(
                        "{:<32}  {:<28}  {:<24}  {:<16}  {}{}",
                        d.id,
                        d.member_email,
                        d.name,
                        time(d.created_at),
                        time(d.last_seen_at),
                        if d.current { "  (this device)" } else { "" }
                    )
                },
            )?;
        }
        DevicesCommand::Revoke { id } => {
            client.revoke_device(&token, &id).await?;
            eprintln!("Signed out device {id}.");
        }
    }
    Ok(())
}

/// `zentro audit`: a page of the audit log, newest first, as JSON or a table.
pub async fn audit(
    ctx: &Context,
    limit: i64,
    before: Option<i64>,
    json: bool,
) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    let page = client.audit(&token, before, limit.clamp(1, 500)).await?;
    if json {
        return print_json(&serde_json::json!({
            "entries": page.entries.iter().map(|e| serde_json::json!({
                "id": e.id, "at": e.at, "actor_email": e.actor_email, "device": e.device,
                "action": e.action, "subject": e.subject,
                "details": serde_json::from_str::<serde_json::Value>(&e.details).unwrap_or_default(),
            })).collect::<Vec<_>>(),
            "next_before": page.next_before,
        }));
    }
    println!(
        "{:<16}  {:<24}  {:<22}  {:<28}  DEVICE",
        "WHEN", "WHO", "WHAT", "SUBJECT"
    );
    for e in &page.entries {
        println!(
            "{:<16}  {:<24}  {:<22}  {:<28}  {}",
            time(e.at),
            e.actor_email.as_deref().unwrap_or("(operator)"),
            e.action,
            e.subject.as_deref().unwrap_or("-"),
            e.device.as_deref().unwrap_or("-")
        );
    }
    if let Some(next) = page.next_before {
        eprintln!("more: zentro audit --before {next}");
    }
    Ok(())
}
