//! The workspace's automation, run by the relay while every desk may be closed (issue 22): it
//! follows each automated workspace's log through [`zentro_automation::Engine`] and carries out
//! what the engine decides.
//!
//! - **Deciding** ([`decide`]): a batch of the log's events goes through the engine; in **one**
//!   transaction the relay appends the team events it decided (`team.routed`, `team.assigned`,
//!   `team.rated` for a customer's answer to the satisfaction survey, authored
//!   `automation:<rule>`) and queues the automated messages in `automated_messages`.
//!   The engine's state and cursor are saved with them at most every [`SAVE_EVERY`] (saving
//!   rewrites every conversation that changed). A crash before a save loses nothing: the
//!   events since are read again and, the engine being deterministic, decided again the same way,
//!   under the same ids, which the log and the outbox already hold (a replay adds nothing).
//! - **Sending** ([`sender`]): queued messages go to Meta with the channel's sealed token, as a
//!   person's reply does (retries on transient failures, waits on rate limits, the 24-hour window
//!   respected, restricted customers skipped), each announced as `message.sent` once Meta
//!   accepted it.
//!
//! One instance at a time runs it: the holder of [`AUTOMATION_LEASE`].

pub mod feed;
pub mod sender;

use std::collections::HashMap;
use std::time::Duration;

use zentro_automation::{Action, Effect, Engine, Input, Outgoing, Setup, inputs_from_log};
use zentro_events::clock::now_ms;
use zentro_events::{ContactRef, TeamEvent, automation_author};

use self::feed::{Fed, FedEvent};
use crate::http::AppState;
use crate::sequencer::{Lane, SequencerError, in_commit};
use crate::store::{self, AutomatedMessage, StoreError};

/// Name of the automation's lease (see [`crate::Store::take_lease`]).
pub const AUTOMATION_LEASE: &str = "automation";

/// Most events of one workspace decided in one transaction.
const BATCH: i64 = 500;

/// Most events of one workspace decided in one round: under a flood of webhooks the decider
/// stops there to let the sender go out, then comes back at once (see [`run_once`]).
const DECIDED_PER_ROUND: usize = 2_000;

/// How often a followed workspace's engine state and cursor are saved (with the round that
/// passes this). What is decided is committed at once, batch by batch; the state only this
/// often, as saving it rewrites every conversation that changed. After a crash the engine
/// starts again from the saved state and decides the events since once more, the same way and
/// under the same ids, so nothing decided twice is queued or appended twice.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The engines of the workspaces this instance runs, loaded from their saved state on first use
/// and dropped whenever a commit fails (so the next round starts again from what was saved).
#[derive(Default)]
pub struct Engines {
    loaded: HashMap<String, Followed>,
}

/// A workspace's engine as this instance follows its log.
struct Followed {
    /// The last event the engine applied.
    cursor: i64,
    engine: Engine,
    /// When its state and cursor were last saved.
    saved_at: tokio::time::Instant,
}

impl Engines {
    /// A workspace's engine (if loaded): for the sender's last checks.
    pub fn get(&self, workspace_id: &str) -> Option<&Engine> {
        self.loaded.get(workspace_id).map(|f| &f.engine)
    }
}

/// Runs the automation until the relay stops: every `config.automation_interval`, on the lease
/// holder, decides on what the logs gained and sends what is due.
pub async fn run_periodically(state: AppState) {
    let every = state.config.automation_interval;
    let lease = lease_length(&state);
    let mut engines = Engines::default();
    let mut held = false;
    let mut behind = false;
    let mut renewed = tokio::time::Instant::now();
    loop {
        // Behind (a backlog to decide or to send): the next round starts at once, the lease
        // renewed only as often as when idle.
        let pause = if behind { Duration::ZERO } else { every };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = state.shutdown.cancelled() => {
                let _ = state.store.release_lease(AUTOMATION_LEASE, &state.instance_id).await;
                return;
            }
        }
        if held && behind && renewed.elapsed() < every {
            behind = run_once(&state, &mut engines).await;
            continue;
        }
        renewed = tokio::time::Instant::now();
        match state
            .store
            .take_lease(AUTOMATION_LEASE, &state.instance_id, lease)
            .await
        {
            Ok(true) if !held => {
                held = true;
                // Another instance may have run it meanwhile: start from what is saved.
                engines = Engines::default();
                state.sequencer.feed().unfollow_all();
                sender::recover_interrupted(&state).await;
            }
            Ok(true) => {}
            Ok(false) => {
                if held {
                    state.sequencer.feed().unfollow_all();
                }
                held = false;
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "could not take the automation lease");
                continue;
            }
        }
        behind = run_once(&state, &mut engines).await;
    }
}

/// One round: decide for every automated workspace (at most [`DECIDED_PER_ROUND`] events
/// each), then send what is due. Whether it left work behind (events not yet decided, or a
/// full round of messages sent, so more may be due).
pub async fn run_once(state: &AppState, engines: &mut Engines) -> bool {
    let mut behind = false;
    match state.store.automated_workspaces().await {
        Ok(workspaces) => {
            for workspace in workspaces {
                // A setup saved switched off costs nothing: its log is read again (learning, not
                // acting, as the setups in it say) once it is switched on.
                let enabled = state.store.automation_setup(&workspace).await.map(|saved| {
                    saved.is_some_and(|s| {
                        s.setup.get("enabled") == Some(&serde_json::Value::Bool(true))
                    })
                });
                if !matches!(enabled, Ok(true)) {
                    if matches!(enabled, Ok(false)) && engines.loaded.remove(&workspace).is_some() {
                        state.sequencer.feed().unfollow(&workspace);
                    }
                    continue;
                }
                match decide(state, engines, &workspace).await {
                    Ok(caught_up) => behind |= !caught_up,
                    Err(error) => {
                        engines.loaded.remove(&workspace);
                        tracing::error!(%error, workspace = %workspace, "automation could not decide");
                    }
                }
            }
        }
        Err(error) => tracing::error!(%error, "could not list the automated workspaces"),
    }
    // The decider's writes may have waited behind webhooks (ADR 0013 §9): the lease is renewed
    // before anything is sent, so no other instance can take it while this round's `sending`
    // marks (prompt) commit, and a lease lost meanwhile sends nothing.
    match state
        .store
        .take_lease(AUTOMATION_LEASE, &state.instance_id, lease_length(state))
        .await
    {
        Ok(true) => {}
        Ok(false) => return false,
        Err(error) => {
            tracing::error!(%error, "could not renew the automation lease before sending");
            return behind;
        }
    }
    let sent_a_full_round = sender::send_due(state, engines).await;
    behind || sent_a_full_round
}

/// How long the automation's lease lasts: three rounds, at least 10 s.
fn lease_length(state: &AppState) -> Duration {
    (3 * state.config.automation_interval).max(Duration::from_secs(10))
}

/// Why the automation could not decide for a workspace this round (it tries again the next).
#[derive(Debug, thiserror::Error)]
pub enum AutomationError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The saved state could not be read back.
    #[error(transparent)]
    Unreadable(#[from] zentro_automation::engine::Unreadable),
    /// The writer could not commit the decisions.
    #[error(transparent)]
    Writer(#[from] SequencerError),
}

/// Decides on a workspace's new events (in batches, until its log's end or
/// [`DECIDED_PER_ROUND`]), then on the time that passed, and saves the engine's state when
/// [`SAVE_EVERY`] has passed. Whether it reached the log's end.
async fn decide(
    state: &AppState,
    engines: &mut Engines,
    workspace: &str,
) -> Result<bool, AutomationError> {
    if !engines.loaded.contains_key(workspace) {
        // Followed before loading: what commits from now on is kept, what came before is read
        // from the log.
        state.sequencer.feed().follow(workspace);
        let (cursor, engine) = load(state, workspace).await?;
        let saved_at = tokio::time::Instant::now();
        let followed = Followed {
            cursor,
            engine,
            saved_at,
        };
        engines.loaded.insert(workspace.to_string(), followed);
    }
    let followed = engines
        .loaded
        .get_mut(workspace)
        .ok_or_else(|| StoreError::NotFound("the workspace's automation".into()))?;
    let mut decided_events = 0;
    let mut caught_up = false;
    // Decided since the last commit: the actions under their keys, the statuses settling
    // automated messages, and the last event's seq.
    let mut decided = Vec::new();
    let mut settled = Vec::new();
    let (mut pending, feed): (Option<i64>, _) = (None, state.sequencer.feed());
    while decided_events < DECIDED_PER_ROUND {
        let cursor = pending.unwrap_or(followed.cursor);
        let Some(events) = feed::next_events(feed, &state.store, workspace, cursor, BATCH).await?
        else {
            break;
        };
        let Some(last) = events.last().map(|e| e.seq) else {
            caught_up = true;
            break;
        };
        decided_events += events.len();
        for event in events {
            let (seq, at) = (event.seq, event.at);
            let (inputs, statuses) = inputs_of(event);
            settled.extend(statuses);
            let actions = inputs
                .iter()
                .flat_map(|input| followed.engine.apply(input, at));
            for (n, action) in actions.collect::<Vec<_>>().into_iter().enumerate() {
                decided.push((format!("{seq}:{n}"), action));
            }
        }
        pending = Some(last);
        if decided.len() >= BATCH as usize {
            commit(state, workspace, &std::mem::take(&mut decided), None).await?;
            followed.cursor = last;
            pending = None;
            sender::reconcile(state, &std::mem::take(&mut settled)).await?;
        }
    }
    if let Some(last) = pending {
        commit(state, workspace, &decided, None).await?;
        followed.cursor = last;
        sender::reconcile(state, &settled).await?;
    }
    let now = now_ms();
    let ticked: Vec<(String, Action)> = if followed.engine.next_tick().is_some_and(|due| due <= now)
    {
        let actions = followed.engine.apply(&Input::Tick, now);
        let keys = (0..).map(|i| format!("tick{now}:{i}"));
        keys.zip(actions).collect()
    } else {
        Vec::new()
    };
    // A tick's decisions depend on the time they were taken: saved with them, never taken again.
    if !ticked.is_empty() || followed.saved_at.elapsed() >= SAVE_EVERY {
        commit(state, workspace, &ticked, Some(followed)).await?;
        followed.saved_at = tokio::time::Instant::now();
    }
    Ok(caught_up)
}

/// What an event means to the engine, and the statuses in it settling automated messages.
fn inputs_of(event: FedEvent) -> (Vec<Input>, Vec<(String, String)>) {
    match event.fed {
        Fed::Webhook { input, settled } => (input.into_iter().collect(), settled),
        Fed::Other {
            kind,
            author,
            payload,
        } => (
            inputs_from_log(&kind, author.as_deref(), &payload),
            statuses_of_automated(&kind, &payload),
        ),
    }
}

/// A workspace's engine from its saved state, or a new one that learns the log from its start
/// (with automation off until it meets the setup's event, so nothing is decided on the past).
async fn load(state: &AppState, workspace: &str) -> Result<(i64, Engine), AutomationError> {
    let Some((cursor, saved)) = state.store.automation_progress(workspace).await? else {
        return Ok((0, Engine::new(Setup::default())));
    };
    let conversations = state
        .store
        .automation_conversations(workspace)
        .await?
        .into_iter()
        .filter_map(|(key, json)| Some((contact_of_key(&key)?, json)));
    Ok((cursor, Engine::restore(&saved, conversations)?))
}

/// In a group commit of the sequencer ([`crate::sequencer::Sequencer::write_in_commit`], the
/// background lane):
/// the decided team events appended, the messages queued, and with `save`, the engine's state
/// saved and its cursor moved. Nothing to write: nothing handed over.
async fn commit(
    state: &AppState,
    workspace: &str,
    decided: &[(String, Action)],
    save: Option<&mut Followed>,
) -> Result<(), AutomationError> {
    if decided.is_empty() && save.is_none() {
        return Ok(());
    }
    let now = now_ms();
    let mut messages = Vec::new();
    // (kind, dedup key, author, payload) of each team event decided, in order, and the channel
    // of its conversation (kind, external id).
    let mut appended: Vec<(&'static str, String, String, String)> = Vec::new();
    let mut channels: Vec<(String, String)> = Vec::new();
    for (key, action) in decided {
        match team_event(&action.effect) {
            Some(event) => {
                let contact = effect_contact(&action.effect);
                channels.push((
                    contact.channel_kind.clone(),
                    contact.channel_external_id.clone(),
                ));
                appended.push((
                    event.kind(),
                    format!("automation:{key}"),
                    automation_author(&action.rule),
                    serde_json::to_string(&event).unwrap_or_default(),
                ));
            }
            None => messages.extend(queued(workspace, key, action, now)),
        }
    }
    let saved = save.map(|followed| {
        let changes: Vec<(String, Option<String>)> = followed
            .engine
            .take_changes()
            .into_iter()
            .map(|(contact, json)| (contact.person_key(), json))
            .collect();
        (followed.cursor, changes, followed.engine.workspace_json())
    });
    let ws = workspace.to_string();
    let writes = in_commit(move |tx| {
        Box::pin(async move {
            let events: Vec<store::NewAppend<'_>> = appended
                .iter()
                .map(|(kind, key, author, payload)| store::NewAppend {
                    kind,
                    dedup_key: key,
                    author: Some(author),
                    payload: payload.clone(),
                })
                .collect();
            let channels: Vec<(&str, &str)> = channels
                .iter()
                .map(|(kind, id)| (kind.as_str(), id.as_str()))
                .collect();
            let (_, appended) = feed::append_on_channels_in(tx, &ws, &events, &channels).await?;
            store::queue_automated_messages_in(tx, &messages).await?;
            if let Some((cursor, changes, engine)) = &saved {
                store::save_automation_conversations_in(tx, &ws, changes).await?;
                store::save_automation_progress_in(tx, &ws, *cursor, engine, now).await?;
            }
            Ok(appended)
        })
    });
    let workspaces = vec![workspace.to_string()];
    Ok(state
        .sequencer
        .write_in_commit(Lane::Background, workspaces, writes)
        .await?)
}

/// The conversation an action concerns (the channel its team event names).
fn effect_contact(effect: &Effect) -> &ContactRef {
    match effect {
        Effect::Route { contact, .. }
        | Effect::Assign { contact, .. }
        | Effect::Rate { contact, .. }
        | Effect::Send { contact, .. } => contact,
    }
}

/// The team event an action writes to the log, if it writes one.
fn team_event(effect: &Effect) -> Option<TeamEvent> {
    match effect {
        Effect::Route { contact, team } => Some(TeamEvent::Routed {
            conversation: contact.clone(),
            team: team.clone(),
        }),
        Effect::Assign { contact, member } => Some(TeamEvent::Assigned {
            conversation: contact.clone(),
            assignee: member.clone(),
        }),
        Effect::Rate {
            contact,
            rating,
            comment,
            agent,
            team,
            resolved_at,
            rated_at,
        } => Some(TeamEvent::Rated {
            conversation: contact.clone(),
            rating: *rating,
            comment: comment.clone(),
            agent: agent.clone(),
            team: team.clone(),
            resolved_at: *resolved_at,
            rated_at: *rated_at,
        }),
        Effect::Send { .. } => None,
    }
}

/// The outbox row of a decided message; its id (the workspace, the event's seq and the action's
/// place) is the same however often the event is decided.
fn queued(workspace: &str, key: &str, action: &Action, now: i64) -> Option<AutomatedMessage> {
    let Effect::Send {
        contact,
        message,
        window_opened_at,
    } = &action.effect
    else {
        return None;
    };
    Some(AutomatedMessage {
        id: format!("auto:{workspace}:{key}"),
        workspace_id: workspace.to_string(),
        channel_kind: contact.channel_kind.clone(),
        channel_external_id: contact.channel_external_id.clone(),
        customer_id: contact.customer_id.clone(),
        rule: action.rule.clone(),
        message: serde_json::to_string(message).unwrap_or_default(),
        body: Outgoing::thread_text(message),
        window_opened_at: *window_opened_at,
        state: "queued".into(),
        attempts: 0,
        next_attempt_at: now,
        decided_at: now,
        external_id: None,
        error: None,
    })
}

/// `(automated message id, Meta's id)` of the WhatsApp statuses in a webhook that name one of
/// the automation's messages (its id travels as `biz_opaque_callback_data`).
fn statuses_of_automated(kind: &str, payload: &serde_json::Value) -> Vec<(String, String)> {
    if kind != crate::routing::WEBHOOK_EVENT_KIND || !carries_statuses(payload) {
        return Vec::new();
    }
    zentro_meta::webhook::parse_value(payload)
        .unwrap_or_default()
        .iter()
        .filter_map(feed::settled_by)
        .collect()
}

/// Whether a webhook's JSON has statuses at all (`entry[].changes[].value.statuses`), before the
/// cost of parsing it: customers' messages never do.
fn carries_statuses(payload: &serde_json::Value) -> bool {
    let entries = payload.get("entry").and_then(|e| e.as_array());
    entries.into_iter().flatten().any(|entry| {
        let changes = entry.get("changes").and_then(|c| c.as_array());
        changes
            .into_iter()
            .flatten()
            .any(|change| change.pointer("/value/statuses").is_some())
    })
}

/// The contact a saved conversation's key names (`kind|channel id|customer id`).
fn contact_of_key(key: &str) -> Option<ContactRef> {
    let mut parts = key.splitn(3, '|');
    Some(ContactRef {
        channel_kind: parts.next()?.to_string(),
        channel_external_id: parts.next()?.to_string(),
        customer_id: parts.next()?.to_string(),
    })
}
