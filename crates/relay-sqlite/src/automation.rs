//! The workspace's automation: its saved setup, the worker's progress and conversation states,
//! the outbox of automated replies, and members' presence.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use zentro_relay_store::automation::{AutomatedMessage, MessageStateChange, PresenceInput};

// ----- the setup -----

/// A workspace's saved setup: (version, setup JSON, saved at, saved by), or `None`.
pub async fn setup(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Option<(i64, String, i64, Option<String>)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT version, setup, saved_at, saved_by FROM automation_setups WHERE workspace_id = ?"#,
        workspace_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.version, r.setup, r.saved_at, r.saved_by)))
}

/// The version of a workspace's saved setup (0 when never saved).
pub async fn setup_version(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<i64, sqlx::Error> {
    let version = sqlx::query_scalar!(
        r#"SELECT version AS "version!: i64" FROM automation_setups WHERE workspace_id = ?"#,
        workspace_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(version.unwrap_or(0))
}

/// Stores a workspace's setup as `version` (replacing the one saved before).
pub async fn store_setup(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    version: i64,
    setup: &str,
    saved_at: i64,
    saved_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO automation_setups (workspace_id, version, setup, saved_at, saved_by)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workspace_id) DO UPDATE SET version = ?2, setup = ?3, saved_at = ?4,
            saved_by = ?5",
        workspace_id,
        version,
        setup,
        saved_at,
        saved_by
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The workspaces with a saved setup, by id.
pub async fn automated_workspaces(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT workspace_id AS "workspace_id!: String" FROM automation_setups ORDER BY workspace_id"#
    )
    .fetch_all(conn)
    .await
}

// ----- the worker's state -----

/// Where the worker is in a workspace's log and the engine's state (JSON), or `None`.
pub async fn progress(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT cursor, engine FROM automation_progress WHERE workspace_id = ?",
        workspace_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.cursor, r.engine)))
}

/// Records where the worker is in a workspace's log and the engine's state.
pub async fn save_progress(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    cursor: i64,
    engine: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO automation_progress (workspace_id, cursor, engine, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id) DO UPDATE SET cursor = ?2, engine = ?3, updated_at = ?4",
        workspace_id,
        cursor,
        engine,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every conversation state of a workspace: (contact key, state JSON), by contact key.
pub async fn conversations(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT contact_key, state FROM automation_conversations WHERE workspace_id = ?
         ORDER BY contact_key",
        workspace_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.contact_key, r.state)).collect())
}

/// Stores (or replaces) one conversation's state.
pub async fn save_conversation(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    contact_key: &str,
    state: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO automation_conversations (workspace_id, contact_key, state) VALUES (?1, ?2, ?3)
         ON CONFLICT (workspace_id, contact_key) DO UPDATE SET state = ?3",
        workspace_id,
        contact_key,
        state
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes one conversation's state.
pub async fn delete_conversation(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    contact_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM automation_conversations WHERE workspace_id = ? AND contact_key = ?",
        workspace_id,
        contact_key
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the conversation states of a customer (an erasure), on any channel: the contact keys
/// ending in `|<customer_id>`. Returns how many went. `customer_id` holds no `%`, `_` or `\`
/// (the erasure refuses them), so it matches itself only.
pub async fn delete_conversations_of_customer(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    customer_id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM automation_conversations WHERE workspace_id = ?1 AND contact_key LIKE '%|' || ?2",
        workspace_id,
        customer_id
    )
    .execute(conn)
    .await?
    .rows_affected())
}

// ----- many rows in one statement (the worker's rounds: one statement per table, not per row) -----
//
// Each is a multi-row statement whose values are bound, split into the log's bucket sizes (few
// shapes, all kept prepared: [`crate::log::in_buckets`]). Not `json_each` over one JSON array: SQLite turns each row's
// object back into text and parses it again for every `->>`, sixteen times a queued reply.

/// Sets many automated replies' state, attempts, next attempt and error at `now`, a statement
/// per bucket of rows.
///
/// Runtime SQL: the `VALUES` list's length follows the round (split into bucket sizes).
pub async fn set_messages_state(
    conn: &mut SqliteConnection,
    changes: &[MessageStateChange],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in crate::log::in_buckets(changes) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "UPDATE automated_messages SET state = v.column2, attempts = v.column3,
                next_attempt_at = v.column4, error = v.column5, updated_at = ",
        );
        query.push_bind(now).push(" FROM (");
        query.push_values(chunk, |mut row, c| {
            row.push_bind(&c.id)
                .push_bind(&c.state)
                .push_bind(c.attempts)
                .push_bind(c.next_attempt_at)
                .push_bind(&c.error);
        });
        query.push(") AS v WHERE automated_messages.id = v.column1");
        query.build().persistent(true).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks automated replies sent with Meta's ids (`(id, Meta's id)`), unless they already were;
/// returns the ids it marked (the others were sent already, or are gone: erased).
///
/// Runtime SQL: the `VALUES` list's length follows the round (split into bucket sizes).
pub async fn finish_messages(
    conn: &mut SqliteConnection,
    sent: &[(String, String)],
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let mut finished = Vec::with_capacity(sent.len());
    for chunk in crate::log::in_buckets(sent) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "UPDATE automated_messages SET state = 'sent', external_id = v.column2, error = NULL,
                updated_at = ",
        );
        query.push_bind(now).push(" FROM (");
        query.push_values(chunk, |mut row, (id, external_id)| {
            row.push_bind(id).push_bind(external_id);
        });
        query.push(
            ") AS v WHERE automated_messages.id = v.column1 AND automated_messages.state <> 'sent'
             RETURNING automated_messages.id",
        );
        let ids: Vec<String> = query
            .build_query_scalar()
            .persistent(true)
            .fetch_all(&mut *conn)
            .await?;
        finished.extend(ids);
    }
    Ok(finished)
}

/// Queues automated replies, a statement per bucket of rows; an id already there is left as it
/// is.
///
/// Runtime SQL: the `VALUES` list's length follows the batch (split into bucket sizes).
pub async fn queue_messages(
    conn: &mut SqliteConnection,
    messages: &[AutomatedMessage],
) -> Result<(), sqlx::Error> {
    for chunk in crate::log::in_buckets(messages) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO automated_messages (id, workspace_id, channel_kind, channel_external_id,
                customer_id, rule, message, body, window_opened_at, state, attempts,
                next_attempt_at, decided_at, external_id, error, updated_at) ",
        );
        query.push_values(chunk, |mut row, m| {
            row.push_bind(&m.id)
                .push_bind(&m.workspace_id)
                .push_bind(&m.channel_kind)
                .push_bind(&m.channel_external_id)
                .push_bind(&m.customer_id)
                .push_bind(&m.rule)
                .push_bind(&m.message)
                .push_bind(&m.body)
                .push_bind(m.window_opened_at)
                .push_bind(&m.state)
                .push_bind(m.attempts)
                .push_bind(m.next_attempt_at)
                .push_bind(m.decided_at)
                .push_bind(&m.external_id)
                .push_bind(&m.error)
                .push_bind(m.decided_at);
        });
        query.push(" ON CONFLICT (id) DO NOTHING");
        query.build().persistent(true).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Stores (or replaces) many conversations' states (`(contact key, state JSON)`), a statement
/// per bucket of rows.
///
/// Runtime SQL: the `VALUES` list's length follows the batch (split into bucket sizes).
pub async fn save_conversations(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    states: &[(&str, &str)],
) -> Result<(), sqlx::Error> {
    for chunk in crate::log::in_buckets(states) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO automation_conversations (workspace_id, contact_key, state) ",
        );
        query.push_values(chunk, |mut row, (key, state)| {
            row.push_bind(workspace_id)
                .push_bind(*key)
                .push_bind(*state);
        });
        query.push(" ON CONFLICT (workspace_id, contact_key) DO UPDATE SET state = excluded.state");
        query.build().persistent(true).execute(&mut *conn).await?;
    }
    Ok(())
}

// ----- the outbox -----

/// Queues an automated reply, dated `decided_at`; an id already there is left as it is.
pub async fn queue_message(
    conn: &mut SqliteConnection,
    message: &AutomatedMessage,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO automated_messages (id, workspace_id, channel_kind, channel_external_id,
            customer_id, rule, message, body, window_opened_at, state, attempts, next_attempt_at,
            decided_at, external_id, error, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?13)
         ON CONFLICT (id) DO NOTHING",
        message.id,
        message.workspace_id,
        message.channel_kind,
        message.channel_external_id,
        message.customer_id,
        message.rule,
        message.message,
        message.body,
        message.window_opened_at,
        message.state,
        message.attempts,
        message.next_attempt_at,
        message.decided_at,
        message.external_id,
        message.error
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Queued replies whose next attempt is due at `now`, earliest due first (the oldest decided
/// first among those due at the same time), at most `limit`. Read in the due index's order, so a
/// round reads about `limit` rows however long the queue is; ordered by when they were decided,
/// every due row would be read and sorted first, every round.
pub async fn due_messages(
    conn: &mut SqliteConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<AutomatedMessage>, sqlx::Error> {
    sqlx::query_as!(
        AutomatedMessage,
        r#"SELECT id AS "id!", workspace_id, channel_kind, channel_external_id, customer_id, rule,
                  message, body, window_opened_at, state, attempts, next_attempt_at, decided_at,
                  external_id, error
           FROM automated_messages WHERE state = 'queued' AND next_attempt_at <= ?
           ORDER BY next_attempt_at, decided_at, id LIMIT ?"#,
        now,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One automated reply, or `None`.
pub async fn message(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<AutomatedMessage>, sqlx::Error> {
    sqlx::query_as!(
        AutomatedMessage,
        r#"SELECT id AS "id!", workspace_id, channel_kind, channel_external_id, customer_id, rule,
                  message, body, window_opened_at, state, attempts, next_attempt_at, decided_at,
                  external_id, error
           FROM automated_messages WHERE id = ?"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// A workspace's automated replies, newest decided first, at most `limit`.
pub async fn messages_of(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    limit: i64,
) -> Result<Vec<AutomatedMessage>, sqlx::Error> {
    sqlx::query_as!(
        AutomatedMessage,
        r#"SELECT id AS "id!", workspace_id, channel_kind, channel_external_id, customer_id, rule,
                  message, body, window_opened_at, state, attempts, next_attempt_at, decided_at,
                  external_id, error
           FROM automated_messages WHERE workspace_id = ?
           ORDER BY decided_at DESC, id DESC LIMIT ?"#,
        workspace_id,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Sets an automated reply's state, attempts, next attempt and error, at `now`.
pub async fn set_message_state(
    conn: &mut SqliteConnection,
    id: &str,
    state: &str,
    attempts: i64,
    next_attempt_at: i64,
    error: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE automated_messages SET state = ?, attempts = ?, next_attempt_at = ?, error = ?,
            updated_at = ?
         WHERE id = ?",
        state,
        attempts,
        next_attempt_at,
        error,
        now,
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks an automated reply sent with Meta's id, unless it was already; `false` if it was (or
/// there is no such reply).
pub async fn finish_message(
    conn: &mut SqliteConnection,
    id: &str,
    external_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE automated_messages SET state = 'sent', external_id = ?, error = NULL, updated_at = ?
         WHERE id = ? AND state <> 'sent'",
        external_id,
        now,
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a customer's automated replies (an erasure), on any channel; returns how many went.
pub async fn delete_messages_of_customer(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    customer_id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM automated_messages WHERE workspace_id = ? AND customer_id = ?",
        workspace_id,
        customer_id
    )
    .execute(conn)
    .await?
    .rows_affected())
}

// ----- presence -----

/// Sets what a member chose (`available` or `away`) at `now`.
pub async fn set_presence_status(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
    status: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO member_presence (workspace_id, member_id, status, changed_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id, member_id) DO UPDATE SET status = ?3, changed_at = ?4",
        workspace_id,
        member_id,
        status,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What the presence of a workspace's active members is computed from, by member id.
pub async fn presence_inputs(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Vec<PresenceInput>, sqlx::Error> {
    sqlx::query_as!(
        PresenceInput,
        r#"SELECT m.workspace_id AS "workspace_id!: String", m.id AS "member_id!: String",
                  coalesce(p.status, 'available') AS "status!: String",
                  coalesce(p.announced, 'offline') AS "announced!: String",
                  (SELECT max(s.last_seen_at) FROM sessions s
                   WHERE s.member_id = m.id AND s.revoked_at IS NULL) AS "last_seen_at?: i64"
           FROM members m
           LEFT JOIN member_presence p ON p.workspace_id = m.workspace_id AND p.member_id = m.id
           WHERE m.workspace_id = ? AND m.status = 'active'
           ORDER BY m.id"#,
        workspace_id
    )
    .fetch_all(conn)
    .await
}

/// What one member's presence is computed from (whatever the member's status), or `None` when
/// the workspace has no such member.
pub async fn presence_input(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
) -> Result<Option<PresenceInput>, sqlx::Error> {
    sqlx::query_as!(
        PresenceInput,
        r#"SELECT m.workspace_id AS "workspace_id!: String", m.id AS "member_id!: String",
                  coalesce(p.status, 'available') AS "status!: String",
                  coalesce(p.announced, 'offline') AS "announced!: String",
                  (SELECT max(s.last_seen_at) FROM sessions s
                   WHERE s.member_id = m.id AND s.revoked_at IS NULL) AS "last_seen_at?: i64"
           FROM members m
           LEFT JOIN member_presence p ON p.workspace_id = m.workspace_id AND p.member_id = m.id
           WHERE m.workspace_id = ? AND m.id = ?"#,
        workspace_id,
        member_id
    )
    .fetch_optional(conn)
    .await
}

/// What the presence of every member whose effective presence may differ from what the log
/// announced is computed from: those announced other than offline, and those with a live
/// session seen at or after `seen_since`.
pub async fn presence_candidates(
    conn: &mut SqliteConnection,
    seen_since: i64,
) -> Result<Vec<PresenceInput>, sqlx::Error> {
    sqlx::query_as!(
        PresenceInput,
        r#"SELECT m.workspace_id AS "workspace_id!: String", m.id AS "member_id!: String",
                  coalesce(p.status, 'available') AS "status!: String",
                  coalesce(p.announced, 'offline') AS "announced!: String",
                  (SELECT max(s.last_seen_at) FROM sessions s
                   WHERE s.member_id = m.id AND s.revoked_at IS NULL) AS "last_seen_at?: i64"
           FROM members m
           LEFT JOIN member_presence p ON p.workspace_id = m.workspace_id AND p.member_id = m.id
           WHERE (p.announced IS NOT NULL AND p.announced <> 'offline')
              OR EXISTS (SELECT 1 FROM sessions s WHERE s.member_id = m.id
                         AND s.revoked_at IS NULL AND s.last_seen_at >= ?)"#,
        seen_since
    )
    .fetch_all(conn)
    .await
}

/// Records that the log announced `presence` for a member at `now`; `false` (and nothing
/// changes) when that was already the announced one.
pub async fn announce_presence(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
    presence: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query_scalar!(
        r#"INSERT INTO member_presence (workspace_id, member_id, announced, changed_at)
           VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (workspace_id, member_id) DO UPDATE SET announced = excluded.announced,
              changed_at = excluded.changed_at
           WHERE member_presence.announced <> excluded.announced
           RETURNING member_id AS "member_id!: String""#,
        workspace_id,
        member_id,
        presence,
        now
    )
    .fetch_optional(conn)
    .await?;
    Ok(changed.is_some())
}

/// Runs one savepoint statement (`SAVEPOINT`, `RELEASE SAVEPOINT`, `ROLLBACK TO SAVEPOINT`)
/// inside the writer's transaction: the relay's own fixed text, never a caller's.
pub async fn savepoint(
    conn: &mut SqliteConnection,
    statement: &'static str,
) -> Result<(), sqlx::Error> {
    sqlx::query(statement).execute(conn).await.map(|_| ())
}
