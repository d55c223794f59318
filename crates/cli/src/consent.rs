//! `zentro consent show` and `record`: a customer's consent to marketing messages on their
//! channel, with its history, and recording what they told a member (or, for admins, consent
//! collected by a form or imported).

use zentro_core::Cache;
use zentro_core::consent::{self, ChannelConsent};
use zentro_events::ConsentSource;
use zentro_events::clock::now_ms;

use crate::cli::ConsentCommand;
use crate::context::Context;
use crate::exit::{Exit, Failure, fail};
use crate::terminal::{print_json, time};

/// Runs a `zentro consent` subcommand.
pub async fn consent(ctx: &Context, command: ConsentCommand) -> Result<(), Failure> {
    match command {
        ConsentCommand::Show { contact, json } => show(ctx, contact, json).await,
        ConsentCommand::Record {
            contact,
            opt,
            source,
            note,
        } => record(ctx, contact, opt.opted_in(), source.into(), note).await,
    }
}

/// `zentro consent show CONTACT`: the current consent and every record, newest first.
async fn show(ctx: &Context, contact: i64, json: bool) -> Result<(), Failure> {
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let Some(found) = consent::consent_of_contact(&cache, contact).await? else {
        return Err(fail(
            Exit::Usage,
            format!("no contact {contact} in this cache (see `zentro contacts`)"),
        ));
    };
    if json {
        return print_json(&found);
    }
    print!("{}", described(&found));
    Ok(())
}

/// What `show` prints for people.
fn described(c: &ChannelConsent) -> String {
    let now = match c.opted_in {
        Some(true) => "opted in",
        Some(false) => "opted out",
        None => "not recorded (no marketing messages)",
    };
    let mut text = format!(
        "{} {} on {}: {now}\n",
        c.channel_kind, c.customer_id, c.channel_external_id
    );
    for r in &c.history {
        text.push_str(&format!(
            "  {}  {:<3}  {:<7}  {}{}\n",
            time(r.at),
            if r.opted_in { "in" } else { "out" },
            r.source,
            r.recorded_by.as_deref().unwrap_or("-"),
            r.note
                .as_deref()
                .map(|n| format!("  \"{n}\""))
                .unwrap_or_default()
        ));
    }
    text
}

/// `zentro consent record CONTACT --in|--out`: queued, then published to the relay (which
/// refuses `form` and `import` from agents); every device applies it.
async fn record(
    ctx: &Context,
    contact: i64,
    opted_in: bool,
    source: ConsentSource,
    note: Option<String>,
) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let event = consent::record_event(&cache, contact, opted_in, source, note, now_ms())
        .await
        .map_err(|e| fail(Exit::Usage, e.to_string()))?;
    zentro_core::actions::queue(&cache, &event, now_ms())
        .await
        .map_err(|e| fail(Exit::Usage, e.to_string()))?;
    zentro_core::actions::flush(&cache, &client, &token).await?;
    eprintln!(
        "Recorded: contact {contact} opted {} ({}). Every device shows it at its next sync.",
        if opted_in { "in" } else { "out" },
        source.as_str()
    );
    Ok(())
}
