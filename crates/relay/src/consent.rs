//! Customers' consent to marketing messages on the relay (issue 24): a customer who writes a
//! stop keyword (STOP, UNSUBSCRIBE, ABMELDEN… as the workspace's setup says) is opted out at
//! once, with every desk closed and whether or not the workspace's automation is on, and told so
//! once; a start keyword opts them back in.
//!
//! The consent worker follows every workspace's log (its own cursor, `consent_progress`), as the
//! decider does: from the sequencer's [consent feed](crate::sequencer::Sequencer::consent_feed)
//! (the webhooks as the ingest parsed them), reading from the log only what the feed lacks:
//! - a `team.consent_recorded` event (a member's record, or its own) updates the customer's
//!   consent as the relay keeps it (`consents`: the latest in the log's order), which a campaign
//!   asks before sending a marketing template ([`crate::Store::may_receive_marketing`]);
//! - a customer's text in a webhook goes through [`zentro_automation::consent::decide`]; a
//!   keyword that changes their consent becomes, in **one** write inside the sequencer's next
//!   group commit with the cursor, a
//!   `team.consent_recorded` event (source `keyword`, authored `automation:consent`), the
//!   confirmation queued in the automation's outbox (`automated_messages`, rule `consent`: sent
//!   by [`crate::automation::sender`] exactly once, in order, within the 24-hour window) and an
//!   audit row (P2, P8). Decided again after a crash, the same keys make a replay add nothing.
//!
//! A batch that decides nothing writes nothing: the cursor is saved with the next batch that
//! does, or at most every [`SAVE_EVERY`]. After a crash the events since are read again, and a
//! keyword decided again finds its event already in the log (the same key): nothing is doubled.
//!
//! One instance at a time runs it: the holder of [`CONSENT_LEASE`].

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use zentro_automation::consent::{ConsentKeywords, KeywordDecision, decide, is_keyword};
use zentro_automation::{Input, Outgoing, Setup, inputs_from_log};
use zentro_events::clock::now_ms;
use zentro_events::{
    CONSENT_RECORDED, ConsentSource, ContactRef, TeamEvent, automation_author, written_by_relay,
};

use crate::automation::AutomationError;
use crate::automation::feed::{self, Fed, FedEvent};
use crate::http::AppState;
use crate::sequencer::{Lane, in_commit};
use crate::store::{self, AutomatedMessage, NewAuditEntry, NewConsent, StoreError};

/// Name of the consent worker's lease (see [`crate::Store::take_lease`]).
pub const CONSENT_LEASE: &str = "consent";

/// The rule its events and confirmations are written under (`automation:consent`; the outbox's
/// `rule`): the automation's sender sends these even where the automation is switched off.
pub const CONSENT_RULE: &str = "consent";

/// Most events of one workspace read in one transaction.
const BATCH: i64 = 500;

/// Most batches of one workspace in one round, before the other workspaces get their turn.
const BATCHES_PER_ROUND: usize = 4;

/// How often a workspace's cursor is saved when its batches decide nothing.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Where the worker is in each workspace's log, as this instance follows them.
#[derive(Default)]
pub struct Cursors {
    followed: HashMap<String, Cursor>,
}

/// Where the worker is in one workspace's log.
struct Cursor {
    /// The last event read.
    read: i64,
    /// The cursor as saved.
    saved: i64,
    /// When it was last saved.
    saved_at: Instant,
}

/// Runs the consent worker until the relay stops: every `config.automation_interval`, on the
/// lease holder, reads what every log gained.
pub async fn run_periodically(state: AppState) {
    let every = state.config.automation_interval;
    let lease = (3 * every).max(Duration::from_secs(10));
    let mut behind = false;
    let mut cursors = Cursors::default();
    loop {
        let pause = if behind { Duration::ZERO } else { every };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = state.shutdown.cancelled() => {
                let _ = state.store.release_lease(CONSENT_LEASE, &state.instance_id).await;
                return;
            }
        }
        match state
            .store
            .take_lease(CONSENT_LEASE, &state.instance_id, lease)
            .await
        {
            Ok(true) => behind = run_once(&state, &mut cursors).await,
            Ok(false) => {
                // Another instance follows the logs: start again from what is saved if this
                // one takes over later.
                if !cursors.followed.is_empty() {
                    cursors = Cursors::default();
                    state.sequencer.consent_feed().unfollow_all();
                }
                behind = false;
            }
            Err(error) => tracing::error!(%error, "could not take the consent lease"),
        }
    }
}

/// One round over every workspace. Whether one was left with events to read.
pub async fn run_once(state: &AppState, cursors: &mut Cursors) -> bool {
    let workspaces = match state.store.all_workspaces().await {
        Ok(workspaces) => workspaces,
        Err(error) => {
            tracing::error!(%error, "could not list the workspaces for the consent worker");
            return false;
        }
    };
    let mut behind = false;
    for workspace in workspaces {
        match follow(state, cursors, &workspace).await {
            Ok(caught_up) => behind |= !caught_up,
            Err(error) => {
                // Started again from what is saved.
                cursors.followed.remove(&workspace);
                tracing::error!(%error, workspace = %workspace, "the consent worker could not read a log")
            }
        }
    }
    behind
}

/// Reads a workspace's new events (at most [`BATCHES_PER_ROUND`] batches: from the consent
/// feed, or the log for what the feed lacks) and commits what they decide. Whether it reached
/// the log's end.
async fn follow(
    state: &AppState,
    cursors: &mut Cursors,
    workspace: &str,
) -> Result<bool, AutomationError> {
    let feed = state.sequencer.consent_feed();
    if !cursors.followed.contains_key(workspace) {
        // Followed before reading the cursor: what commits from now on is kept, what came
        // before is read from the log.
        feed.follow(workspace);
        let saved = state.store.consent_cursor(workspace).await?.unwrap_or(0);
        let cursor = Cursor {
            read: saved,
            saved,
            saved_at: Instant::now(),
        };
        cursors.followed.insert(workspace.to_string(), cursor);
    }
    let Some(cursor) = cursors.followed.get_mut(workspace) else {
        return Ok(true);
    };
    let mut keywords = None;
    let mut caught_up = false;
    for _ in 0..BATCHES_PER_ROUND {
        let Some(events) =
            feed::next_events(feed, &state.store, workspace, cursor.read, BATCH).await?
        else {
            // Being committed: the next round takes them.
            caught_up = true;
            break;
        };
        let Some(last) = events.last().map(|e| e.seq) else {
            caught_up = true;
            break;
        };
        let full = events.len() as i64 >= BATCH;
        let mut batch = Batch::default();
        for event in events {
            batch.read(state, workspace, &mut keywords, event).await?;
        }
        cursor.read = last;
        if !batch.records.is_empty() || !batch.keywords.is_empty() {
            commit(state, workspace, batch, last).await?;
            cursor.saved = last;
            cursor.saved_at = Instant::now();
        }
        if !full {
            caught_up = true;
            break;
        }
    }
    if cursor.saved != cursor.read && cursor.saved_at.elapsed() >= SAVE_EVERY {
        commit(state, workspace, Batch::default(), cursor.read).await?;
        cursor.saved = cursor.read;
        cursor.saved_at = Instant::now();
    }
    Ok(caught_up)
}

/// The workspace's keywords and confirmations: its saved setup's, or the defaults (a workspace
/// that never saved a setup still honours STOP). A setup that does not parse keeps the defaults.
async fn keywords_of(state: &AppState, workspace: &str) -> Result<ConsentKeywords, StoreError> {
    let Some(saved) = state.store.automation_setup(workspace).await? else {
        return Ok(ConsentKeywords::default());
    };
    Ok(serde_json::from_value::<Setup>(saved.setup)
        .map(|s| s.consent)
        .unwrap_or_else(|error| {
            tracing::error!(%error, workspace, "an unreadable automation setup; default keywords");
            ConsentKeywords::default()
        }))
}

/// A keyword that changed a customer's consent.
struct Keyword {
    contact: ContactRef,
    opted_in: bool,
    /// When the customer wrote it (Meta's time): the record's time and the window's start.
    at: i64,
    /// The confirmation, in the customer's language when the channel tells it.
    reply: String,
    /// Names the event and the message the same way however often it is decided.
    key: String,
}

/// What one batch of the log decides.
#[derive(Default)]
struct Batch {
    /// Records the log carried (members' and the worker's own), in the log's order.
    records: Vec<NewConsent>,
    /// Keywords that change a customer's consent, in the log's order.
    keywords: Vec<Keyword>,
    /// Each customer's consent as of the event being read (this batch on top of the store).
    known: HashMap<ContactRef, Option<bool>>,
}

impl Batch {
    /// Reads one event: a consent record to keep, or customers' texts to decide on (the
    /// workspace's keywords read once, when the first text comes).
    async fn read(
        &mut self,
        state: &AppState,
        workspace: &str,
        keywords: &mut Option<ConsentKeywords>,
        event: FedEvent,
    ) -> Result<(), StoreError> {
        let seq = event.seq;
        let inputs = match event.fed {
            Fed::Webhook { input, .. } => input.into_iter().collect(),
            Fed::Other {
                kind,
                author,
                payload,
            } => {
                if kind == CONSENT_RECORDED {
                    if let Some((contact, record)) = record_of(author.as_deref(), payload, seq) {
                        self.known.insert(contact, Some(record.opted_in == 1));
                        self.records.push(record);
                    }
                    return Ok(());
                }
                if kind != crate::routing::WEBHOOK_EVENT_KIND {
                    return Ok(());
                }
                inputs_from_log(&kind, author.as_deref(), &payload)
            }
        };
        for (n, input) in inputs.into_iter().enumerate() {
            let Input::CustomerMessage {
                contact,
                at,
                text: Some(text),
                language,
                ..
            } = input
            else {
                continue;
            };
            let keywords = match keywords {
                Some(keywords) => &*keywords,
                None => keywords.insert(keywords_of(state, workspace).await?),
            };
            // Most messages are no keyword: they cost no look-up of the customer's consent.
            if !is_keyword(keywords, &text) {
                continue;
            }
            let current = match self.known.get(&contact) {
                Some(known) => *known,
                None => state
                    .store
                    .consent(workspace, &contact)
                    .await?
                    .map(|c| c.opted_in),
            };
            let opted_in = match decide(keywords, &text, current) {
                KeywordDecision::Nothing => continue,
                KeywordDecision::OptOut => false,
                KeywordDecision::OptIn => true,
            };
            let texts = if opted_in {
                &keywords.started_reply
            } else {
                &keywords.stopped_reply
            };
            let reply = texts
                .pick(&contact.channel_kind, language.as_deref())
                .to_string();
            self.known.insert(contact.clone(), Some(opted_in));
            self.keywords.push(Keyword {
                contact,
                opted_in,
                at,
                reply,
                key: format!("consent:{seq}:{n}"),
            });
        }
        Ok(())
    }
}

/// The consent record a `team.consent_recorded` event carries, if it is one a desk applies too
/// (valid, and a keyword only when the relay wrote it).
fn record_of(
    author: Option<&str>,
    payload: serde_json::Value,
    seq: i64,
) -> Option<(ContactRef, NewConsent)> {
    let team = serde_json::from_value::<TeamEvent>(payload).ok()?;
    if team.validate().is_err() || (team.relay_only() && !written_by_relay(author)) {
        return None;
    }
    let TeamEvent::ConsentRecorded {
        contact,
        opted_in,
        source,
        at,
        ..
    } = team
    else {
        return None;
    };
    let record = new_consent(&contact, opted_in, source, at, seq);
    Some((contact, record))
}

fn new_consent(
    contact: &ContactRef,
    opted_in: bool,
    source: ConsentSource,
    at: i64,
    seq: i64,
) -> NewConsent {
    NewConsent {
        channel_kind: contact.channel_kind.clone(),
        channel_external_id: contact.channel_external_id.clone(),
        customer_id: contact.customer_id.clone(),
        opted_in: i64::from(opted_in),
        source: source.as_str().to_string(),
        at,
        seq,
    }
}

/// In the sequencer's next group commit ([`crate::sequencer::Sequencer::write_in_commit`]):
/// the keywords' events appended, their confirmations queued and audited, every record kept,
/// and the cursor moved to `last`.
async fn commit(
    state: &AppState,
    workspace: &str,
    batch: Batch,
    last: i64,
) -> Result<(), AutomationError> {
    let now = now_ms();
    let author = automation_author(CONSENT_RULE);
    let payloads: Vec<String> = batch
        .keywords
        .iter()
        .map(|k| serde_json::to_string(&keyword_event(k)).unwrap_or_default())
        .collect();
    let ws = workspace.to_string();
    let writes = in_commit(move |tx| {
        Box::pin(async move {
            let Batch {
                mut records,
                keywords,
                ..
            } = batch;
            let events: Vec<store::NewAppend<'_>> = keywords
                .iter()
                .zip(&payloads)
                .map(|(k, payload)| store::NewAppend {
                    kind: CONSENT_RECORDED,
                    dedup_key: &k.key,
                    author: Some(&author),
                    payload: payload.clone(),
                })
                .collect();
            let (seqs, appended) = feed::append_in(tx, &ws, &events).await?;
            let mut messages = Vec::new();
            let mut entries = Vec::new();
            for (keyword, seq) in keywords.iter().zip(&seqs) {
                // `None`: appended before (a replay), and so were its message and audit row.
                let Some(seq) = *seq else { continue };
                let record = new_consent(
                    &keyword.contact,
                    keyword.opted_in,
                    ConsentSource::Keyword,
                    keyword.at,
                    seq,
                );
                records.push(record);
                messages.push(confirmation(&ws, keyword, now));
                entries.push(audit_entry(&ws, keyword, &author, seq));
            }
            store::save_consents_in(tx, &ws, &records).await?;
            store::queue_automated_messages_in(tx, &messages).await?;
            crate::sql!(tx.conn(), team::record_many(&entries, now))?;
            store::save_consent_cursor_in(tx, &ws, last).await?;
            Ok(appended)
        })
    });
    // The writer notifies the streams of the workspace if it grew.
    let workspaces = vec![workspace.to_string()];
    Ok(state
        .sequencer
        .write_in_commit(Lane::Prompt, workspaces, writes)
        .await?)
}

/// The `team.consent_recorded` event of a customer's keyword.
fn keyword_event(keyword: &Keyword) -> TeamEvent {
    TeamEvent::ConsentRecorded {
        contact: keyword.contact.clone(),
        opted_in: keyword.opted_in,
        source: ConsentSource::Keyword,
        at: keyword.at,
        note: None,
    }
}

/// The confirmation of a keyword, queued in the automation's outbox; its id is the same however
/// often the keyword is decided.
fn confirmation(workspace: &str, keyword: &Keyword, now: i64) -> AutomatedMessage {
    let message = Outgoing::Text {
        text: keyword.reply.clone(),
    };
    AutomatedMessage {
        id: format!("auto:{workspace}:{}", keyword.key),
        workspace_id: workspace.to_string(),
        channel_kind: keyword.contact.channel_kind.clone(),
        channel_external_id: keyword.contact.channel_external_id.clone(),
        customer_id: keyword.contact.customer_id.clone(),
        rule: CONSENT_RULE.to_string(),
        message: serde_json::to_string(&message).unwrap_or_default(),
        body: keyword.reply.clone(),
        window_opened_at: keyword.at,
        state: "queued".into(),
        attempts: 0,
        next_attempt_at: now,
        decided_at: now,
        external_id: None,
        error: None,
    }
}

/// The audit row of a keyword's consent change (P2, P8): who (the customer, through the
/// automation), which channel, in or out; never the text beyond the keyword's effect.
fn audit_entry<'a>(
    workspace: &'a str,
    keyword: &'a Keyword,
    author: &'a str,
    seq: i64,
) -> NewAuditEntry<'a> {
    NewAuditEntry {
        workspace_id: workspace,
        actor_id: None,
        actor_email: Some(author),
        device: Some("relay"),
        action: "contact.consent",
        subject: Some(&keyword.contact.customer_id),
        details: serde_json::json!({
            "seq": seq,
            "channel_kind": keyword.contact.channel_kind,
            "channel_external_id": keyword.contact.channel_external_id,
            "customer_id": keyword.contact.customer_id,
            "opted_in": keyword.opted_in,
            "source": "keyword",
        }),
    }
}
