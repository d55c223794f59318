//! `zentro contacts`, `export` and `erase`: customers' rights over their data.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use zentro_core::Cache;
use zentro_core::export::Scope;
use zentro_core::inbox;
use zentro_events::clock::now_ms;

use crate::context::Context;
use crate::exit::{Exit, Failure, fail};
use crate::terminal::print_rows;

/// `zentro contacts`: the customers in this cache, as JSON or a table.
pub async fn contacts(ctx: &Context, json: bool) -> Result<(), Failure> {
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let contacts = inbox::contacts(&cache).await?;
    print_rows(
        contacts,
        json,
        &format!(
            "{:>6}  {:<24}  {:<10}  {:<18}  CONVERSATIONS",
            "ID", "NAME", "CHANNEL", "PHONE/USERNAME"
        ),
        |c| {
            format!(
                "{:>6}  {:<24}  {:<10}  {:<18}  {}{}",
                c.id,
                c.name,
                c.channel_kind,
                c.phone.or(c.username).unwrap_or(c.customer_id),
                c.conversations,
                if c.restricted { "  (restricted)" } else { "" }
            )
        },
    )?;
    Ok(())
}

/// `zentro export`: one contact's data (or everyone's) to the archive `out`, recorded in the
/// audit log; progress at most once a second.
pub async fn export(
    ctx: &Context,
    contact: Option<i64>,
    all: bool,
    out: &Path,
) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let scope = match (contact, all) {
        (Some(id), false) => Scope::Contact(id),
        _ => Scope::All,
    };
    let mut last_report = std::time::Instant::now();
    let summary = zentro_core::export::export_recorded(
        &cache,
        &client,
        &token,
        scope,
        out,
        now_ms(),
        &mut |p| {
            if last_report.elapsed() > std::time::Duration::from_secs(1) {
                last_report = std::time::Instant::now();
                eprintln!(
                    "exporting: {}/{} contacts, {}/{} messages",
                    p.contacts_done, p.contacts_total, p.messages_done, p.messages_total
                );
            }
        },
    )
    .await?;
    eprintln!(
        "Exported {} contact(s), {} message(s), {} media file(s) ({} bytes); recorded in the audit log.",
        summary.contacts, summary.messages, summary.media_files, summary.bytes
    );
    println!("{}", summary.path);
    Ok(())
}

/// `zentro erase`: a contact erased here, at the relay and (at their next sync) on every
/// device, after confirmation unless `yes`.
pub async fn erase(ctx: &Context, contact: i64, yes: bool) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    let cache = Cache::open_in(&ctx.data_dir).await?;
    let preview = zentro_core::rights::preview(&cache, contact).await?;
    if !yes {
        confirm_erasure(&preview)?;
    }
    let receipt = zentro_core::rights::erase_everywhere(&cache, &client, &token, contact).await?;
    eprintln!(
        "Erased: {} conversation(s), {} message(s), {} media file(s) here; {} event(s) purged from the relay. Every other device erases them at its next sync.",
        receipt.conversations, receipt.messages, receipt.media_files, receipt.relay_events_purged
    );
    println!("sha256:{}", receipt.hash);
    Ok(())
}

/// Asks on the terminal whether to erase what `preview` counts; only the typed word `erase`
/// goes ahead, and without a terminal nothing does.
fn confirm_erasure(preview: &zentro_core::rights::ErasurePreview) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            Exit::Usage,
            "refusing to erase without confirmation: pass --yes",
        ));
    }
    eprint!(
        "Erase {} ({} {}) everywhere: {} conversation(s), {} message(s), {} note(s), {} media file(s)? This cannot be undone. Type 'erase' to confirm: ",
        preview.name,
        preview.channel_kind,
        preview.identity,
        preview.conversations,
        preview.messages,
        preview.notes,
        preview.media_files
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "erase" {
        return Err(fail(Exit::Other, "not erased"));
    }
    Ok(())
}
