//! `zentro broadcasts list`, `show`, `create`, `recipients`, `start`, `pause`, `resume` and
//! `cancel`: the workspace's broadcast campaigns on the relay (issue 24, ADR 0021). Members read;
//! admins change (the relay refuses others).

use std::io::Read;

use zentro_events::campaigns::{
    Campaign, CampaignRecipient, CampaignStart, NewCampaign, NewRecipient,
};

use zentro_core::broadcasts::recipients_csv;

use crate::cli::BroadcastsCommand;
use crate::context::Context;
use crate::exit::{Exit, Failure, fail};
use crate::terminal::{print_json, print_rows};

/// Runs a `zentro broadcasts` subcommand.
pub async fn broadcasts(ctx: &Context, command: BroadcastsCommand) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    match command {
        BroadcastsCommand::List { json } => list(client.campaigns(&token).await?, json),
        BroadcastsCommand::Show { id, json } => one(&client.campaign(&token, &id).await?, json),
        BroadcastsCommand::Create {
            name,
            channel,
            template,
            language,
            audience,
            per_second,
            recipients,
            json,
        } => {
            let recipients = recipients.map(|path| read_recipients(&path)).transpose()?;
            let new = NewCampaign {
                name,
                channel_id: channel,
                template_name: template,
                template_language: language,
                audience,
                per_second,
            };
            let mut campaign = client.create_campaign(&token, &new).await?;
            if let Some(recipients) = recipients {
                campaign = client
                    .add_campaign_recipients(&token, &campaign.id, &recipients)
                    .await?;
            }
            one(&campaign, json)
        }
        BroadcastsCommand::Recipients { id, csv: true, .. } => {
            print!("{}", recipients_csv(&client, &token, &id).await?);
            Ok(())
        }
        BroadcastsCommand::Recipients {
            id,
            add: Some(path),
            json,
            ..
        } => {
            let recipients = read_recipients(&path)?;
            let campaign = client
                .add_campaign_recipients(&token, &id, &recipients)
                .await?;
            one(&campaign, json)
        }
        BroadcastsCommand::Recipients {
            id,
            add: None,
            json,
            ..
        } => recipients(&client, &token, &id, json).await,
        BroadcastsCommand::Start { id, at, json } => {
            let start = CampaignStart { send_at: at };
            one(&client.start_campaign(&token, &id, &start).await?, json)
        }
        BroadcastsCommand::Pause { id, json } => {
            one(&client.pause_campaign(&token, &id).await?, json)
        }
        BroadcastsCommand::Resume { id, json } => {
            one(&client.resume_campaign(&token, &id).await?, json)
        }
        BroadcastsCommand::Cancel { id, json } => {
            one(&client.cancel_campaign(&token, &id).await?, json)
        }
    }
}

/// Recipients from a file (or standard input, `-`): one `customer_id[,name]` a line; blank lines
/// and lines starting with `#` are skipped.
fn read_recipients(path: &str) -> Result<Vec<NewRecipient>, Failure> {
    let text = if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| fail(Exit::Usage, format!("could not read the recipients: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| fail(Exit::Usage, format!("could not read {path}: {e}")))?
    };
    let mut recipients = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, name) = match line.split_once(',') {
            Some((id, name)) => (id.trim(), Some(name.trim().to_string())),
            None => (line, None),
        };
        if id.is_empty() {
            return Err(fail(
                Exit::Usage,
                format!("line {}: a recipient needs a customer id", n + 1),
            ));
        }
        recipients.push(NewRecipient {
            customer_id: id.to_string(),
            name: name.filter(|n| !n.is_empty()),
        });
    }
    Ok(recipients)
}

/// The outcome counts of a campaign, as one short line.
fn counts(c: &Campaign) -> String {
    let n = &c.counts;
    format!(
        "{} queued, {} sending, {} sent, {} delivered, {} read, {} replied, {} failed, {} skipped, {} cancelled",
        n.queued,
        n.sending,
        n.sent,
        n.delivered,
        n.read,
        n.replied,
        n.failed,
        n.skipped,
        n.cancelled
    )
}

/// A state as the relay names it.
fn state(c: &Campaign) -> String {
    serde_json::to_value(c.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The campaigns as a table, or JSON.
fn list(campaigns: Vec<Campaign>, json: bool) -> Result<(), Failure> {
    print_rows(
        campaigns,
        json,
        "ID                                    STATE      TEMPLATE             NAME",
        |c| {
            format!(
                "{:<37} {:<10} {:<20} {}",
                c.id,
                state(&c),
                c.template_name,
                c.name
            )
        },
    )
}

/// One campaign, readable or JSON.
fn one(c: &Campaign, json: bool) -> Result<(), Failure> {
    if json {
        return print_json(c);
    }
    println!("{} ({})", c.name, c.id);
    println!("state:     {}", state(c));
    if let Some(reason) = &c.paused_reason {
        println!("paused:    {reason}");
    }
    println!(
        "template:  {} ({}, {})",
        c.template_name, c.template_language, c.category
    );
    println!("from:      {}", c.channel_id);
    println!("pace:      {} a second", c.per_second);
    println!("audience:  {}", c.audience);
    println!("outcomes:  {}", counts(c));
    Ok(())
}

/// Every recipient of campaign `id` with their outcome, as a table or JSON.
async fn recipients(
    client: &zentro_core::relay_client::RelayClient,
    token: &zentro_core::vault::Secret,
    id: &str,
    json: bool,
) -> Result<(), Failure> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = client
            .campaign_recipients(token, id, after.as_deref())
            .await?;
        all.extend(page.recipients);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    print_recipients(all, json)
}

/// Recipients as a table, or JSON.
fn print_recipients(list: Vec<CampaignRecipient>, json: bool) -> Result<(), Failure> {
    print_rows(list, json, "CUSTOMER            STATUS     DETAIL", |r| {
        let status = serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let detail = r
            .skip_reason
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .or(r.error)
            .unwrap_or_default();
        format!("{:<19} {:<10} {}", r.customer_id, status, detail)
    })
}
