//! The event log: appending (the sequencer's batch), reading, acknowledging, pruning; with the
//! rows it hangs off (workspaces, their owners, device sessions, channels) and the quarantine.

use sqlx::PgConnection;
use zentro_relay_store::{
    Channel, Credentials, Member, MemberSummary, NewEvent, QuarantineEntry, SessionContext,
    StoredEvent, Workspace,
};

/// The channel on which a batch's commit announces grown logs to every relay instance
/// (payload: `<workspace_id> <last_seq>`; see [`notify_appended`]).
pub const EVENTS_CHANNEL: &str = "zentro_events";

// ----- workspaces, members, sessions -----

/// Inserts a workspace (its log empty).
pub async fn insert_workspace(
    conn: &mut PgConnection,
    id: &str,
    name: &str,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)",
        id,
        name,
        created_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts a workspace's first member: its owner, active, signing in with `password_hash`.
/// Fails with a unique violation when the email is taken (ignoring case).
pub async fn insert_owner(
    conn: &mut PgConnection,
    id: &str,
    workspace_id: &str,
    email: &str,
    display_name: &str,
    password_hash: &str,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members (id, workspace_id, email, display_name, role, status, password_hash, created_at)
         VALUES ($1, $2, $3, $4, 'owner', 'active', $5, $6)",
        id,
        workspace_id,
        email,
        display_name,
        password_hash,
        created_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a workspace exists.
pub async fn workspace_exists(conn: &mut PgConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(SELECT 1 FROM workspaces WHERE id = $1) AS "e!""#,
        id
    )
    .fetch_one(conn)
    .await
}

/// A member's credentials and workspace, by email (ignoring case).
pub async fn credentials(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT m.id, m.email, m.display_name, m.role, m.status, m.password_hash,
                  w.id AS wid, w.name AS wname
           FROM members m JOIN workspaces w ON w.id = m.workspace_id
           WHERE lower(m.email) = lower($1)"#,
        email
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Credentials {
        member: Member {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            role: r.role,
        },
        workspace: Workspace {
            id: r.wid,
            name: r.wname,
        },
        password_hash: r.password_hash,
        status: r.status,
    }))
}

/// Inserts a device session (its token kept as a hash), seen now.
pub async fn insert_session(
    conn: &mut PgConnection,
    id: &str,
    member_id: &str,
    workspace_id: &str,
    token_hash: &[u8],
    device_name: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sessions (id, member_id, workspace_id, token_hash, device_name, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        id,
        member_id,
        workspace_id,
        token_hash,
        device_name,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a member's sign-in time.
pub async fn record_sign_in(
    conn: &mut PgConnection,
    member_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members SET last_sign_in_at = $1 WHERE id = $2",
        now,
        member_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The live session behind a token hash (not revoked, member active). An unknown stored role
/// reads as an agent's.
pub async fn session(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<SessionContext>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT s.id, s.member_id, s.workspace_id, m.role, m.email, s.device_name
         FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND m.status = 'active'",
        token_hash
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| SessionContext {
        session_id: r.id,
        member_id: r.member_id,
        workspace_id: r.workspace_id,
        role: r.role.parse().unwrap_or(zentro_events::roles::Role::Agent),
        email: r.email,
        device_name: r.device_name,
    }))
}

/// Whether a session is live (not revoked, member active).
pub async fn session_is_live(
    conn: &mut PgConnection,
    session_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(
               SELECT 1 FROM sessions s JOIN members m ON m.id = s.member_id
               WHERE s.id = $1 AND s.revoked_at IS NULL AND m.status = 'active') AS "e!""#,
        session_id
    )
    .fetch_one(conn)
    .await
}

/// Revokes a session (a revoked one keeps its first revocation time).
pub async fn revoke_session(
    conn: &mut PgConnection,
    session_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        now,
        session_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A workspace's members (no secrets), by name, then email (ignoring case).
pub async fn members(
    conn: &mut PgConnection,
    workspace_id: &str,
) -> Result<Vec<MemberSummary>, sqlx::Error> {
    sqlx::query_as!(
        MemberSummary,
        "SELECT id, email, display_name, role, status, created_at, last_sign_in_at
         FROM members WHERE workspace_id = $1 ORDER BY display_name, lower(email)",
        workspace_id
    )
    .fetch_all(conn)
    .await
}

// ----- channels -----

/// Whether another workspace has a channel of this kind on the account (a WhatsApp Business
/// Account).
pub async fn account_in_other_workspace(
    conn: &mut PgConnection,
    kind: &str,
    account_id: &str,
    workspace_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(
               SELECT 1 FROM channels WHERE kind = $1 AND account_id = $2 AND workspace_id <> $3
           ) AS "e!""#,
        kind,
        account_id,
        workspace_id
    )
    .fetch_one(conn)
    .await
}

/// Inserts a channel (health unknown). Fails with a unique violation when the kind and external
/// id are taken.
#[allow(clippy::too_many_arguments)]
pub async fn insert_channel(
    conn: &mut PgConnection,
    id: &str,
    workspace_id: &str,
    kind: &str,
    external_id: &str,
    account_id: Option<&str>,
    display_name: &str,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO channels (id, workspace_id, kind, external_id, account_id, display_name, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        workspace_id,
        kind,
        external_id,
        account_id,
        display_name,
        created_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every channel (`workspace_id` `None`), or a workspace's, oldest first.
pub async fn channels(
    conn: &mut PgConnection,
    workspace_id: Option<&str>,
) -> Result<Vec<Channel>, sqlx::Error> {
    sqlx::query_as!(
        Channel,
        "SELECT id, workspace_id, kind, external_id, account_id, display_name, health,
                health_reason, health_checked_at, phone_number, quality_rating FROM channels
         WHERE $1::text IS NULL OR workspace_id = $1 ORDER BY created_at, id",
        workspace_id
    )
    .fetch_all(conn)
    .await
}

/// The workspace with a channel of this kind on the account (a WhatsApp Business Account), if
/// any.
pub async fn workspace_of_account(
    conn: &mut PgConnection,
    kind: &str,
    account_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT workspace_id FROM channels WHERE kind = $1 AND account_id = $2 LIMIT 1",
        kind,
        account_id
    )
    .fetch_optional(conn)
    .await
}

/// The workspace with the channel of this kind and external id, if any.
pub async fn workspace_of_channel(
    conn: &mut PgConnection,
    kind: &str,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT workspace_id FROM channels WHERE kind = $1 AND external_id = $2",
        kind,
        external_id
    )
    .fetch_optional(conn)
    .await
}

// ----- appending (the sequencer's batch) -----

/// Serializes, until commit, a batch that is about to quarantine webhooks of a route nobody has
/// with a transaction adding the channel for that route (an advisory lock on the route): without
/// it, the batch's quarantined row, not yet committed, is invisible to the channel's release of
/// the quarantine, and stays there although its channel exists.
pub async fn lock_route(
    conn: &mut PgConnection,
    route_kind: &str,
    route_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 0))",
        route_kind,
        route_id
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// Locks the counter rows of workspaces about to be appended to, until commit, in id order (so
/// two instances locking overlapping sets cannot deadlock). Held to commit, the lock makes one
/// workspace's batches commit in seq order across instances, and the dedup checks that follow it
/// see every earlier batch (ADR 0012 §2, §3). `FOR NO KEY UPDATE`, the lock the counter's own
/// `UPDATE` takes anyway: it excludes other appenders, but not the key-share locks with which
/// inserts elsewhere (a session, an audit entry, a channel) check their workspace exists, so those
/// neither wait for a batch nor deadlock with it.
pub async fn lock_workspaces(
    conn: &mut PgConnection,
    workspace_ids: &[&str],
) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM workspaces WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        workspace_ids as &[&str]
    )
    .fetch_all(conn)
    .await?;
    Ok(())
}

/// Tells every relay instance (on [`EVENTS_CHANNEL`]) that a workspace's log grew to
/// `last_seq`; delivered only if the transaction commits, in commit order.
pub async fn notify_appended(
    conn: &mut PgConnection,
    workspace_id: &str,
    last_seq: i64,
) -> Result<(), sqlx::Error> {
    let payload = format!("{workspace_id} {last_seq}");
    sqlx::query!("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, payload)
        .execute(conn)
        .await?;
    Ok(())
}

/// Reserves `n` seqs in a workspace's log; returns the last one reserved.
pub async fn allocate_seqs(
    conn: &mut PgConnection,
    workspace_id: &str,
    n: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE workspaces SET last_seq = last_seq + $1 WHERE id = $2 RETURNING last_seq",
        n,
        workspace_id
    )
    .fetch_one(conn)
    .await
}

/// Which of `keys` a workspace's log already holds.
pub async fn existing_keys(
    conn: &mut PgConnection,
    workspace_id: &str,
    keys: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT dedup_key FROM events WHERE workspace_id = $1 AND dedup_key = ANY($2)",
        workspace_id,
        keys as &[&str]
    )
    .fetch_all(conn)
    .await
}

/// Appends events (whose keys are known to be new, whose seqs are allocated), in one statement.
pub async fn insert_events(
    conn: &mut PgConnection,
    workspace_id: &str,
    rows: &[NewEvent<'_>],
) -> Result<(), sqlx::Error> {
    let seqs: Vec<i64> = rows.iter().map(|e| e.seq).collect();
    let kinds: Vec<&str> = rows.iter().map(|e| e.kind).collect();
    let ats: Vec<i64> = rows.iter().map(|e| e.at).collect();
    let keys: Vec<&str> = rows.iter().map(|e| e.dedup_key).collect();
    let authors: Vec<Option<&str>> = rows.iter().map(|e| e.author).collect();
    let payloads: Vec<&str> = rows.iter().map(|e| e.payload).collect();
    let channels: Vec<Option<&str>> = rows.iter().map(|e| e.channel_id).collect();
    sqlx::query!(
        "INSERT INTO events (workspace_id, seq, kind, at, dedup_key, author, payload, channel_id)
         SELECT $1::text, u.* FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u",
        workspace_id,
        &seqs,
        &kinds as &[&str],
        &ats,
        &keys as &[&str],
        &authors as &[Option<&str>],
        &payloads as &[&str],
        &channels as &[Option<&str>]
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The seq of a workspace's event with this dedup key, if any.
pub async fn seq_of(
    conn: &mut PgConnection,
    workspace_id: &str,
    dedup_key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT seq FROM events WHERE workspace_id = $1 AND dedup_key = $2",
        workspace_id,
        dedup_key
    )
    .fetch_optional(conn)
    .await
}

/// Moves a live session's acknowledged seq up to `seq` (never back, never past the log's end) and
/// marks it seen; returns the acknowledged seq, or `None` when the session is gone.
pub async fn acknowledge(
    conn: &mut PgConnection,
    workspace_id: &str,
    session_id: &str,
    seq: i64,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE sessions
         SET acked_seq = GREATEST(acked_seq, LEAST($1, (SELECT last_seq FROM workspaces WHERE id = $2))),
             last_seen_at = $3
         WHERE id = $4 AND workspace_id = $2 AND revoked_at IS NULL
         RETURNING acked_seq",
        seq,
        workspace_id,
        now,
        session_id
    )
    .fetch_optional(conn)
    .await
}

/// Rewrites the health probe's row (see `/healthz`).
pub async fn probe(conn: &mut PgConnection, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE health_probe SET checked_at = $1 WHERE id = 1", now)
        .execute(conn)
        .await?;
    Ok(())
}

// ----- reading -----

/// The seq of a workspace's newest event (0 when it has none).
pub async fn head(conn: &mut PgConnection, workspace_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(max(seq), 0) AS "head!" FROM events WHERE workspace_id = $1"#,
        workspace_id
    )
    .fetch_one(conn)
    .await
}

/// A workspace's events after `after`, in order, at most `limit`. A payload that is not JSON
/// reads as `null`.
pub async fn events_after(
    conn: &mut PgConnection,
    workspace_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT seq, kind, at, payload, author FROM events
         WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        workspace_id,
        after,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredEvent {
            seq: r.seq,
            kind: r.kind,
            at: r.at,
            author: r.author,
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}

/// The last seq given out in a workspace (`None`: no such workspace).
pub async fn last_seq(
    conn: &mut PgConnection,
    workspace_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT last_seq FROM workspaces WHERE id = $1",
        workspace_id
    )
    .fetch_optional(conn)
    .await
}

/// Per workspace (by id) with events some active device has not acknowledged, when the oldest
/// of them was appended.
pub async fn oldest_unacknowledged(
    conn: &mut PgConnection,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        // The first event after what every device has: events are appended in seq order, so it
        // is the oldest, and finding it is one seek (not a walk over the whole backlog).
        r#"SELECT id AS "id!", at AS "at!" FROM (
               SELECT w.id, (SELECT e.at FROM events e WHERE e.workspace_id = w.id
                               AND e.seq > COALESCE((SELECT MIN(acked_seq) FROM sessions s WHERE s.workspace_id = w.id AND s.revoked_at IS NULL), 0)
                             ORDER BY e.seq LIMIT 1) AS at
               FROM workspaces w) AS oldest
           WHERE at IS NOT NULL ORDER BY id"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.at)).collect())
}

// ----- pruning -----

/// Per workspace: its id, its own retention in days (if shorter than the relay's), and the
/// lowest seq its active devices acknowledged (`None`: no active device).
pub async fn retention_inputs(
    conn: &mut PgConnection,
) -> Result<Vec<(String, Option<i64>, Option<i64>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT w.id, w.conversation_retention_days,
                  (SELECT MIN(s.acked_seq) FROM sessions s
                   WHERE s.workspace_id = w.id AND s.revoked_at IS NULL) AS "acknowledged?"
           FROM workspaces w"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.conversation_retention_days, r.acknowledged))
        .collect())
}

/// Deletes up to `chunk` of a workspace's events at or below `acknowledged` appended before
/// `before`, lowest seqs first; returns how many went. (PostgreSQL has no `DELETE … LIMIT`: the
/// chunk is chosen by primary key in a subquery, as on SQLite.)
pub async fn delete_acknowledged_events(
    conn: &mut PgConnection,
    workspace_id: &str,
    acknowledged: i64,
    before: i64,
    chunk: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM events WHERE workspace_id = $1 AND seq IN (
             SELECT seq FROM events WHERE workspace_id = $1 AND seq <= $2 AND at < $3 ORDER BY seq LIMIT $4)",
        workspace_id,
        acknowledged,
        before,
        chunk
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Deletes up to `chunk` of a workspace's events appended before `before`, delivered or not;
/// returns how many went.
pub async fn delete_expired_events(
    conn: &mut PgConnection,
    workspace_id: &str,
    before: i64,
    chunk: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM events WHERE workspace_id = $1 AND seq IN (
             SELECT seq FROM events WHERE workspace_id = $1 AND at < $2 LIMIT $3)",
        workspace_id,
        before,
        chunk
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Forgets terminated devices' token hashes recorded before `before`; returns how many went.
pub async fn delete_terminated_sessions(
    conn: &mut PgConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM terminated_sessions WHERE terminated_at < $1",
        before
    )
    .execute(conn)
    .await?
    .rows_affected())
}

// ----- quarantine -----

/// Quarantines a webhook item (or an unparseable body); a redelivery (same dedup key) is
/// ignored.
pub async fn insert_quarantined(
    conn: &mut PgConnection,
    received_at: i64,
    route_kind: Option<&str>,
    route_id: Option<&str>,
    reason: &str,
    dedup_key: &str,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO quarantine (received_at, route_kind, route_id, reason, dedup_key, body)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedup_key) DO NOTHING",
        received_at,
        route_kind,
        route_id,
        reason,
        dedup_key,
        body
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The quarantined webhooks (id, dedup key, body) naming a route, oldest first.
pub async fn quarantined_for_route(
    conn: &mut PgConnection,
    route_kind: &str,
    route_id: &str,
) -> Result<Vec<(i64, String, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, dedup_key, body FROM quarantine
         WHERE route_kind = $1 AND route_id = $2 ORDER BY id",
        route_kind,
        route_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.dedup_key, r.body))
        .collect())
}

/// Deletes one quarantined webhook.
pub async fn delete_quarantined(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM quarantine WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the quarantined webhooks received before `before`; returns how many went.
pub async fn delete_quarantined_before(
    conn: &mut PgConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("DELETE FROM quarantine WHERE received_at < $1", before)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Deletes all but the newest `keep` quarantined webhooks; returns how many went.
pub async fn delete_quarantined_beyond(
    conn: &mut PgConnection,
    keep: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM quarantine WHERE id NOT IN (SELECT id FROM quarantine ORDER BY id DESC LIMIT $1)",
        keep
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Every quarantined webhook (without its body), oldest first.
pub async fn quarantined(conn: &mut PgConnection) -> Result<Vec<QuarantineEntry>, sqlx::Error> {
    sqlx::query_as!(
        QuarantineEntry,
        r#"SELECT id, received_at, route_kind, route_id, reason,
                  octet_length(body)::bigint AS "bytes!"
           FROM quarantine ORDER BY id"#
    )
    .fetch_all(conn)
    .await
}
