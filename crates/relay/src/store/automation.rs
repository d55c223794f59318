//! The workspace's automation as the relay keeps it: the setup admins save (versioned, announced
//! in the log), the automation worker's progress, conversation states and outbox of automated
//! replies, and members' presence (what they chose, and what the log last announced).

use std::collections::HashSet;
use std::time::Duration;

use zentro_events::clock::now_ms;
use zentro_relay_store::automation::PresenceInput;
pub use zentro_relay_store::automation::{
    AutomatedMessage, MessageStateChange, PresenceRow, SavedSetup,
};
use zentro_relay_store::team::NewAuditEntry;

use super::{Result, Store, StoreError, WriteTx, append_in, lock_workspaces, notify_appended};
use crate::{read, sql};

/// The most automated replies [`Store::automated_messages_of`] returns.
const MESSAGES_OF_LIMIT: i64 = 1000;

/// How long since a member's last live session was seen before they count as offline, unless the
/// relay's configuration says otherwise (`Config::presence_window`).
pub const PRESENCE_WINDOW: Duration = Duration::from_secs(90);

/// What saving a setup did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Saved as this version.
    Saved {
        /// The new version.
        version: i64,
    },
    /// Someone saved meanwhile: the expected version is not the current one; nothing changed.
    Conflict {
        /// The version saved now (0: never saved).
        current: i64,
    },
}

impl Store {
    // ----- the setup -----

    /// A workspace's saved automation setup, or `None` when it was never saved.
    pub async fn automation_setup(&self, workspace_id: &str) -> Result<Option<SavedSetup>> {
        let Some((version, setup, saved_at, saved_by)) =
            read!(self, automation::setup(workspace_id))?
        else {
            return Ok(None);
        };
        let setup = serde_json::from_str(&setup).map_err(|e| {
            StoreError::Sql(sqlx::Error::Decode(
                format!("the saved automation setup is not JSON: {e}").into(),
            ))
        })?;
        Ok(Some(SavedSetup {
            version,
            setup,
            saved_at,
            saved_by,
        }))
    }

    /// Saves a workspace's setup, in one transaction: compares the version saved now with
    /// `expected_version` (0: never saved) and, when they match, stores `setup` as the next
    /// version, appends a `workspace.automation` event (author `relay`, payload `{version, setup,
    /// saved_by}`) and records an audit entry (`automation.saved`, with `summary`: counts and
    /// switches, never a text of the setup). Other instances hear of the grown log at commit;
    /// this instance's streams are woken by the caller.
    pub async fn save_automation_setup(
        &self,
        workspace_id: &str,
        expected_version: i64,
        setup: &serde_json::Value,
        saved_by: &str,
        summary: &str,
    ) -> Result<SaveOutcome> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        // Every save of the workspace waits here for the one before (the log's counter row).
        lock_workspaces(&mut tx, &[workspace_id]).await?;
        let current = sql!(tx.conn(), automation::setup_version(workspace_id))?;
        if current != expected_version {
            return Ok(SaveOutcome::Conflict { current });
        }
        let version = current + 1;
        let text = setup.to_string();
        sql!(
            tx.conn(),
            automation::store_setup(workspace_id, version, &text, now, saved_by)
        )?;
        let payload =
            serde_json::json!({ "version": version, "setup": setup, "saved_by": saved_by });
        let key = format!("relay:{}:{version}", zentro_events::WORKSPACE_AUTOMATION);
        let seq = append_in(
            &mut tx,
            workspace_id,
            zentro_events::WORKSPACE_AUTOMATION,
            &key,
            Some(zentro_events::RELAY_AUTHOR),
            &payload,
        )
        .await?;
        let email = sql!(tx.conn(), team::member(workspace_id, saved_by))?.map(|m| m.email);
        let subject = format!("version {version}");
        let entry = NewAuditEntry {
            workspace_id,
            actor_id: Some(saved_by),
            actor_email: email.as_deref(),
            device: None,
            action: "automation.saved",
            subject: Some(&subject),
            details: serde_json::json!({ "version": version, "summary": summary }),
        };
        sql!(tx.conn(), team::record(&entry, now))?;
        if let Some(seq) = seq {
            notify_appended(&mut tx, workspace_id, seq).await?;
        }
        tx.commit().await?;
        Ok(SaveOutcome::Saved { version })
    }

    /// The workspaces with a saved setup, by id.
    pub async fn automated_workspaces(&self) -> Result<Vec<String>> {
        Ok(read!(self, automation::automated_workspaces())?)
    }

    // ----- the worker's state -----

    /// Where the automation worker is in a workspace's log and the engine's state (JSON), or
    /// `None` when it never ran there.
    pub async fn automation_progress(&self, workspace_id: &str) -> Result<Option<(i64, String)>> {
        Ok(read!(self, automation::progress(workspace_id))?)
    }

    /// Every conversation state the automation keeps for a workspace: (contact key, state JSON).
    pub async fn automation_conversations(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(read!(self, automation::conversations(workspace_id))?)
    }

    // ----- the outbox -----

    /// Queued automated replies due at `now` (`next_attempt_at <= now`), earliest due first (then
    /// oldest decided), at most `limit`: a round reads about `limit` rows however long the queue.
    pub async fn due_automated_messages(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<AutomatedMessage>> {
        Ok(read!(self, automation::due_messages(now, limit))?)
    }

    /// One automated reply, or `None`.
    pub async fn automated_message(&self, id: &str) -> Result<Option<AutomatedMessage>> {
        Ok(read!(self, automation::message(id))?)
    }

    /// A workspace's automated replies, newest decided first, at most 1000 (tests, the CLI).
    pub async fn automated_messages_of(&self, workspace_id: &str) -> Result<Vec<AutomatedMessage>> {
        Ok(read!(
            self,
            automation::messages_of(workspace_id, MESSAGES_OF_LIMIT)
        )?)
    }

    /// Sets an automated reply's state, attempts, next attempt and last error.
    pub async fn set_automated_message_state(
        &self,
        id: &str,
        state: &str,
        attempts: i64,
        next_attempt_at: i64,
        error: Option<&str>,
    ) -> Result<()> {
        Ok(read!(
            self,
            automation::set_message_state(id, state, attempts, next_attempt_at, error, now_ms())
        )?)
    }

    // ----- presence -----

    /// How long since a member's last live session was seen before they count as offline.
    pub fn presence_window(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.presence_window_ms).unwrap_or(0))
    }

    /// The same store, counting members offline after `window` without a live session seen
    /// (the relay sets its configured one; [`PRESENCE_WINDOW`] otherwise).
    pub fn with_presence_window(mut self, window: Duration) -> Self {
        self.presence_window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Sets what a member chose, `available` or `away`, at `now`. What the log announces follows
    /// with [`Store::refresh_presence`].
    pub async fn set_presence_status(
        &self,
        workspace_id: &str,
        member_id: &str,
        status: &str,
        now: i64,
    ) -> Result<()> {
        Ok(read!(
            self,
            automation::set_presence_status(workspace_id, member_id, status, now)
        )?)
    }

    /// The presence of a workspace's active members, by member id: what each chose, their
    /// effective presence (`offline` when none of their live sessions was seen within the
    /// presence window), and when a live session of theirs was last seen.
    pub async fn presence(&self, workspace_id: &str) -> Result<Vec<PresenceRow>> {
        let now = now_ms();
        Ok(read!(self, automation::presence_inputs(workspace_id))?
            .iter()
            .map(|input| input.row(now, self.presence_window_ms))
            .collect())
    }

    /// Records that a session is in use at `now` (presence counts from it).
    pub async fn session_seen(&self, session_id: &str, now: i64) -> Result<()> {
        Ok(read!(self, gaps::touch_session(session_id, now))?)
    }

    /// Computes a member's effective presence at `now` and, when it differs from what the log
    /// last announced, appends `workspace.presence {member_id, presence}` (author `relay`) and
    /// records it as announced, in one transaction (serialised per workspace with every other
    /// append, so two instances never announce the same change twice). Returns the effective
    /// presence and the seq appended, if any; `None` when the workspace has no such member.
    pub async fn refresh_presence(
        &self,
        workspace_id: &str,
        member_id: &str,
        now: i64,
    ) -> Result<Option<(String, Option<i64>)>> {
        let mut tx = self.begin().await?;
        lock_workspaces(&mut tx, &[workspace_id]).await?;
        let Some(input) = sql!(
            tx.conn(),
            automation::presence_input(workspace_id, member_id)
        )?
        else {
            return Ok(None);
        };
        let presence = input.effective(now, self.presence_window_ms).to_string();
        if presence == input.announced {
            return Ok(Some((presence, None)));
        }
        let seq = announce_in(&mut tx, &input, &presence, now).await?;
        tx.commit().await?;
        Ok(Some((presence, seq)))
    }

    /// Announces every member whose effective presence at `now` differs from what the log last
    /// said (sessions gone silent, members back); returns the (workspace, seq) of each event
    /// appended. Run by the presence sweep under its lease.
    pub async fn sweep_presence(&self, now: i64) -> Result<Vec<(String, i64)>> {
        let seen_since = now.saturating_sub(self.presence_window_ms);
        let candidates = read!(self, automation::presence_candidates(seen_since))?;
        let mut appended = Vec::new();
        // Read first, so that only a change takes the writer (and is checked again under it).
        for input in candidates {
            if input.effective(now, self.presence_window_ms) == input.announced {
                continue;
            }
            if let Some((_, Some(seq))) = self
                .refresh_presence(&input.workspace_id, &input.member_id, now)
                .await?
            {
                appended.push((input.workspace_id, seq));
            }
        }
        Ok(appended)
    }
}

/// Inside `tx` (whose workspace counter is locked): records `presence` as announced for the
/// member of `input` and appends its `workspace.presence` event; the seq, or `None` when another
/// writer announced it first.
async fn announce_in(
    tx: &mut WriteTx,
    input: &PresenceInput,
    presence: &str,
    now: i64,
) -> Result<Option<i64>> {
    let (workspace_id, member_id) = (input.workspace_id.as_str(), input.member_id.as_str());
    if !sql!(
        tx.conn(),
        automation::announce_presence(workspace_id, member_id, presence, now)
    )? {
        return Ok(None);
    }
    let payload = serde_json::json!({ "member_id": member_id, "presence": presence });
    let key = format!(
        "relay:{}:{member_id}:{now}:{presence}",
        zentro_events::WORKSPACE_PRESENCE
    );
    let seq = append_in(
        tx,
        workspace_id,
        zentro_events::WORKSPACE_PRESENCE,
        &key,
        Some(zentro_events::RELAY_AUTHOR),
        &payload,
    )
    .await?;
    if let Some(seq) = seq {
        notify_appended(tx, workspace_id, seq).await?;
    }
    Ok(seq)
}

/// Records, inside the worker's transaction, where it is in a workspace's log and the engine's
/// state (JSON), at `now`.
#[allow(dead_code, reason = "the automation worker's")]
pub(crate) async fn save_automation_progress_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    cursor: i64,
    engine: &str,
    now: i64,
) -> Result<()> {
    Ok(sql!(
        tx.conn(),
        automation::save_progress(workspace_id, cursor, engine, now)
    )?)
}

/// Stores, inside the worker's transaction, changed conversation states: (contact key, state
/// JSON), `None` deleting the conversation's row. The stored ones go in one statement.
pub(crate) async fn save_automation_conversations_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    changes: &[(String, Option<String>)],
) -> Result<()> {
    let mut stored: Vec<(&str, &str)> = Vec::with_capacity(changes.len());
    for (contact_key, state) in changes {
        match state {
            Some(state) => stored.push((contact_key, state)),
            None => sql!(
                tx.conn(),
                automation::delete_conversation(workspace_id, contact_key)
            )?,
        }
    }
    Ok(sql!(
        tx.conn(),
        automation::save_conversations(workspace_id, &stored)
    )?)
}

/// Queues automated replies inside the worker's transaction, in one statement; an id already
/// queued is left as it is (a replayed decision).
pub(crate) async fn queue_automated_messages_in(
    tx: &mut WriteTx,
    messages: &[AutomatedMessage],
) -> Result<()> {
    Ok(sql!(tx.conn(), automation::queue_messages(messages))?)
}

/// Sets many automated replies' state inside `tx` at `now`, in one statement.
pub(crate) async fn set_automated_messages_state_in(
    tx: &mut WriteTx,
    changes: &[MessageStateChange],
    now: i64,
) -> Result<()> {
    Ok(sql!(
        tx.conn(),
        automation::set_messages_state(changes, now)
    )?)
}

/// Marks automated replies sent with Meta's ids (`(id, Meta's id)`) at `now`, inside `tx`;
/// returns those it marked — not the ones already sent (or gone: erased), so each one's
/// `message.sent` event is appended once.
pub(crate) async fn finish_automated_messages_in(
    tx: &mut WriteTx,
    sent: &[(String, String)],
    now: i64,
) -> Result<HashSet<String>> {
    Ok(sql!(tx.conn(), automation::finish_messages(sent, now))?
        .into_iter()
        .collect())
}

/// Marks an automated reply sent with Meta's id at `now`, inside `tx`; `false` when it was
/// already sent (or is gone: erased).
#[cfg(test)]
pub(crate) async fn finish_automated_message_in(
    tx: &mut WriteTx,
    id: &str,
    external_id: &str,
    now: i64,
) -> Result<bool> {
    let sent = [(id.to_string(), external_id.to_string())];
    Ok(finish_automated_messages_in(tx, &sent, now)
        .await?
        .contains(id))
}

/// Deletes, inside an erasure's transaction, what the automation keeps of a customer named by
/// `identifier` (a customer id): its conversation states on every channel and its automated
/// replies. Returns how many rows went.
pub(crate) async fn erase_automation_of_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    identifier: &str,
) -> Result<u64> {
    let conversations = sql!(
        tx.conn(),
        automation::delete_conversations_of_customer(workspace_id, identifier)
    )?;
    let messages = sql!(
        tx.conn(),
        automation::delete_messages_of_customer(workspace_id, identifier)
    )?;
    Ok(conversations + messages)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn reply(id: &str, workspace_id: &str, customer_id: &str, decided_at: i64) -> AutomatedMessage {
        AutomatedMessage {
            id: id.into(),
            workspace_id: workspace_id.into(),
            channel_kind: "whatsapp".into(),
            channel_external_id: "1065".into(),
            customer_id: customer_id.into(),
            rule: "greeting".into(),
            message: r#"{"text":"Hi"}"#.into(),
            body: "Hi".into(),
            window_opened_at: decided_at - 10,
            state: "queued".into(),
            attempts: 0,
            next_attempt_at: decided_at,
            decided_at,
            external_id: None,
            error: None,
        }
    }

    /// A store in a new folder (kept while the returned dir lives) with the workspace "Acme";
    /// returns its id.
    async fn acme() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let ws = store
            .create_workspace("Acme", "owner@acme.test", "Owner", "x")
            .await
            .unwrap()
            .id;
        (dir, store, ws)
    }

    /// The outbox is read earliest due first: a message waiting for a retry comes after one
    /// decided later but due sooner, so that the read follows the due index (a round reads about
    /// its limit, however long the queue).
    #[tokio::test]
    async fn due_messages_come_earliest_due_first() {
        let (_dir, store, ws) = acme().await;
        let mut retried = reply("r", &ws, "351911", 10);
        retried.next_attempt_at = 30;
        let fresh = reply("f", &ws, "351922", 20);
        let mut tx = store.begin().await.unwrap();
        queue_automated_messages_in(&mut tx, &[retried, fresh])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let due = store.due_automated_messages(40, 1).await.unwrap();
        assert_eq!(due.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["f"]);
        let due = store.due_automated_messages(40, 10).await.unwrap();
        assert_eq!(
            due.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["f", "r"]
        );
    }

    /// The worker's writes, inside its transactions: progress, conversation states (changed and
    /// deleted), the outbox (a replayed decision left as it is, sent once), and what an erasure
    /// removes of a customer.
    #[tokio::test]
    async fn the_workers_state_round_trips_and_an_erasure_removes_the_customers_part() {
        let (_dir, store, ws) = acme().await;
        let mut tx = store.begin().await.unwrap();
        save_automation_progress_in(&mut tx, &ws, 7, r#"{"rr":1}"#, 100)
            .await
            .unwrap();
        let changes = [
            (
                "whatsapp|1065|351911".to_string(),
                Some(r#"{"menu":1}"#.to_string()),
            ),
            (
                "whatsapp|1065|351922".to_string(),
                Some(r#"{"menu":2}"#.to_string()),
            ),
        ];
        save_automation_conversations_in(&mut tx, &ws, &changes)
            .await
            .unwrap();
        let queued = [
            reply("a1", &ws, "351911", 50),
            reply("a2", &ws, "351922", 40),
        ];
        queue_automated_messages_in(&mut tx, &queued).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(
            store.automation_progress(&ws).await.unwrap(),
            Some((7, r#"{"rr":1}"#.to_string()))
        );
        assert_eq!(store.automation_conversations(&ws).await.unwrap().len(), 2);
        let due = store.due_automated_messages(45, 10).await.unwrap();
        assert_eq!(
            due.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["a2"]
        );
        let due = store.due_automated_messages(60, 10).await.unwrap();
        assert_eq!(
            due.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["a2", "a1"]
        );

        let mut tx = store.begin().await.unwrap();
        let mut replayed = reply("a1", &ws, "351911", 50);
        replayed.body = "changed".into();
        queue_automated_messages_in(&mut tx, &[replayed])
            .await
            .unwrap();
        let deleted = [("whatsapp|1065|351922".to_string(), None)];
        save_automation_conversations_in(&mut tx, &ws, &deleted)
            .await
            .unwrap();
        assert!(
            finish_automated_message_in(&mut tx, "a2", "wamid.X", 70)
                .await
                .unwrap()
        );
        assert!(
            !finish_automated_message_in(&mut tx, "a2", "wamid.Y", 71)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        assert_eq!(
            store.automated_message("a1").await.unwrap().unwrap().body,
            "Hi"
        );
        let sent = store.automated_message("a2").await.unwrap().unwrap();
        assert_eq!(
            (sent.state.as_str(), sent.external_id.as_deref()),
            ("sent", Some("wamid.X"))
        );
        assert_eq!(store.automation_conversations(&ws).await.unwrap().len(), 1);

        store
            .set_automated_message_state("a1", "failed", 3, 999, Some("Meta said no"))
            .await
            .unwrap();
        let failed = store.automated_message("a1").await.unwrap().unwrap();
        assert_eq!(
            (failed.attempts, failed.error.as_deref()),
            (3, Some("Meta said no"))
        );
        assert!(
            store
                .due_automated_messages(i64::MAX, 10)
                .await
                .unwrap()
                .is_empty()
        );

        store
            .purge_mentions(&ws, &["351911".to_string()])
            .await
            .unwrap();
        assert!(
            store
                .automation_conversations(&ws)
                .await
                .unwrap()
                .is_empty()
        );
        let left: Vec<String> = store
            .automated_messages_of(&ws)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(left, ["a2"]);
    }
}

/// A step of the savepoint under which writes handed to the sequencer run inside its group
/// commit (`Sequencer::write_in_commit`): if they fail, only they are undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Savepoint {
    /// Before the writes.
    Begin,
    /// After writes that succeeded: kept.
    Release,
    /// After writes that failed: undone (the transaction goes on).
    RollBack,
}

/// Takes a savepoint step inside `tx`.
pub(crate) async fn savepoint_in(tx: &mut WriteTx, step: Savepoint) -> Result<()> {
    let statements: &[&'static str] = match step {
        Savepoint::Begin => &["SAVEPOINT in_commit"],
        Savepoint::Release => &["RELEASE SAVEPOINT in_commit"],
        Savepoint::RollBack => &[
            "ROLLBACK TO SAVEPOINT in_commit",
            "RELEASE SAVEPOINT in_commit",
        ],
    };
    for statement in statements {
        sql!(tx.conn(), automation::savepoint(statement))?;
    }
    Ok(())
}
