//! The event log: appending (the sequencer's batch), reading, acknowledging, pruning; with the
//! rows it hangs off (workspaces, their owners, device sessions, channels) and the quarantine.

use sqlx::{Sqlite, SqliteConnection};
use zentro_relay_store::{
    Channel, Credentials, Member, MemberSummary, NewEvent, QuarantineEntry, SessionContext,
    StoredEvent, Workspace,
};

/// Statement sizes used for multi-value statements. Few distinct sizes keep every shape in the
/// prepared-statement cache instead of preparing a new one for each batch size.
const BUCKETS: [usize; 4] = [1, 8, 64, 256];

/// `rows` in chunks of the [`BUCKETS`] sizes, largest first: for multi-row statements whose
/// shapes stay few.
pub(crate) fn in_buckets<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = BUCKETS
            .iter()
            .rev()
            .copied()
            .find(|b| *b <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

// ----- workspaces, members, sessions -----

/// Inserts a workspace (its log empty).
pub async fn insert_workspace(
    conn: &mut SqliteConnection,
    id: &str,
    name: &str,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)",
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
    conn: &mut SqliteConnection,
    id: &str,
    workspace_id: &str,
    email: &str,
    display_name: &str,
    password_hash: &str,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members (id, workspace_id, email, display_name, role, status, password_hash, created_at)
         VALUES (?, ?, ?, ?, 'owner', 'active', ?, ?)",
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
pub async fn workspace_exists(conn: &mut SqliteConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(SELECT 1 FROM workspaces WHERE id = ?) AS "e!: bool""#,
        id
    )
    .fetch_one(conn)
    .await
}

/// A member's credentials and workspace, by email (ignoring case: the column is `NOCASE`).
pub async fn credentials(
    conn: &mut SqliteConnection,
    email: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT m.id, m.email, m.display_name, m.role, m.status, m.password_hash,
                  w.id AS wid, w.name AS wname
           FROM members m JOIN workspaces w ON w.id = m.workspace_id WHERE m.email = ?"#,
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
    conn: &mut SqliteConnection,
    id: &str,
    member_id: &str,
    workspace_id: &str,
    token_hash: &[u8],
    device_name: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sessions (id, member_id, workspace_id, token_hash, device_name, created_at, last_seen_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        id,
        member_id,
        workspace_id,
        token_hash,
        device_name,
        now,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a member's sign-in time.
pub async fn record_sign_in(
    conn: &mut SqliteConnection,
    member_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members SET last_sign_in_at = ? WHERE id = ?",
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
    conn: &mut SqliteConnection,
    token_hash: &[u8],
) -> Result<Option<SessionContext>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT s.id, s.member_id, s.workspace_id, m.role, m.email, s.device_name
         FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE s.token_hash = ? AND s.revoked_at IS NULL AND m.status = 'active'",
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
    conn: &mut SqliteConnection,
    session_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(
               SELECT 1 FROM sessions s JOIN members m ON m.id = s.member_id
               WHERE s.id = ? AND s.revoked_at IS NULL AND m.status = 'active') AS "e!: bool""#,
        session_id
    )
    .fetch_one(conn)
    .await
}

/// Revokes a session (a revoked one keeps its first revocation time).
pub async fn revoke_session(
    conn: &mut SqliteConnection,
    session_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        now,
        session_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A workspace's members (no secrets), by name, then email (ignoring case).
pub async fn members(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Vec<MemberSummary>, sqlx::Error> {
    sqlx::query_as!(
        MemberSummary,
        "SELECT id, email, display_name, role, status, created_at, last_sign_in_at
         FROM members WHERE workspace_id = ? ORDER BY display_name, email",
        workspace_id
    )
    .fetch_all(conn)
    .await
}

// ----- channels -----

/// Whether another workspace has a channel of this kind on the account (a WhatsApp Business
/// Account).
pub async fn account_in_other_workspace(
    conn: &mut SqliteConnection,
    kind: &str,
    account_id: &str,
    workspace_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(
               SELECT 1 FROM channels WHERE kind = ? AND account_id = ? AND workspace_id <> ?
           ) AS "e!: bool""#,
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
    conn: &mut SqliteConnection,
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
         VALUES (?, ?, ?, ?, ?, ?, ?)",
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
    conn: &mut SqliteConnection,
    workspace_id: Option<&str>,
) -> Result<Vec<Channel>, sqlx::Error> {
    sqlx::query_as!(
        Channel,
        "SELECT id, workspace_id, kind, external_id, account_id, display_name, health,
                health_reason, health_checked_at, phone_number, quality_rating FROM channels
         WHERE ?1 IS NULL OR workspace_id = ?1 ORDER BY created_at, id",
        workspace_id
    )
    .fetch_all(conn)
    .await
}

/// The workspace with a channel of this kind on the account (a WhatsApp Business Account), if
/// any.
pub async fn workspace_of_account(
    conn: &mut SqliteConnection,
    kind: &str,
    account_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT workspace_id FROM channels WHERE kind = ? AND account_id = ? LIMIT 1",
        kind,
        account_id
    )
    .fetch_optional(conn)
    .await
}

/// The workspace with the channel of this kind and external id, if any.
pub async fn workspace_of_channel(
    conn: &mut SqliteConnection,
    kind: &str,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT workspace_id FROM channels WHERE kind = ? AND external_id = ?",
        kind,
        external_id
    )
    .fetch_optional(conn)
    .await
}

// ----- appending (the sequencer's batch) -----

/// Locks the counter rows of workspaces about to be appended to, until commit. A no-op here:
/// `BEGIN IMMEDIATE` already admits one writer at a time, so seqs commit in order (ADR 0012 §2).
pub async fn lock_workspaces(
    _conn: &mut SqliteConnection,
    _workspace_ids: &[&str],
) -> Result<(), sqlx::Error> {
    Ok(())
}

/// Serializes, until commit, whoever routes webhooks of a route nobody has yet with whoever adds
/// the channel for it. A no-op here: `BEGIN IMMEDIATE` already admits one writer at a time.
pub async fn lock_route(
    _conn: &mut SqliteConnection,
    _route_kind: &str,
    _route_id: &str,
) -> Result<(), sqlx::Error> {
    Ok(())
}

/// Tells other relay instances a workspace's log grew. A no-op here: one process serves a SQLite
/// database, and its sequencer wakes its streams itself.
pub async fn notify_appended(
    _conn: &mut SqliteConnection,
    _workspace_id: &str,
    _last_seq: i64,
) -> Result<(), sqlx::Error> {
    Ok(())
}

/// Reserves `n` seqs in a workspace's log; returns the last one reserved.
pub async fn allocate_seqs(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    n: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE workspaces SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq AS "last_seq!: i64""#,
        n,
        workspace_id
    )
    .fetch_one(conn)
    .await
}

/// Which of `keys` a workspace's log already holds.
///
/// Runtime SQL: the `IN` list's length follows the batch (padded to a few bucket sizes).
pub async fn existing_keys(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    keys: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    let mut found = Vec::new();
    for chunk in keys.chunks(BUCKETS[BUCKETS.len() - 1]) {
        // Pad the list to the next bucket size by repeating the last key.
        let size = BUCKETS
            .iter()
            .copied()
            .find(|b| *b >= chunk.len())
            .unwrap_or(chunk.len());
        let mut query =
            sqlx::QueryBuilder::<Sqlite>::new("SELECT dedup_key FROM events WHERE workspace_id = ");
        query.push_bind(workspace_id).push(" AND dedup_key IN (");
        let mut list = query.separated(", ");
        for i in 0..size {
            list.push_bind(chunk[i.min(chunk.len() - 1)]);
        }
        query.push(")");
        let rows: Vec<String> = query
            .build_query_scalar()
            .persistent(true)
            .fetch_all(&mut *conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Appends events (whose keys are known to be new, whose seqs are allocated).
///
/// Runtime SQL: multi-row `INSERT`s whose row count follows the batch (split into bucket sizes).
pub async fn insert_events(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    rows: &[NewEvent<'_>],
) -> Result<(), sqlx::Error> {
    for chunk in in_buckets(rows) {
        let mut query = sqlx::QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (workspace_id, seq, kind, at, dedup_key, author, payload, channel_id) ",
        );
        query.push_values(chunk, |mut row, e| {
            row.push_bind(workspace_id)
                .push_bind(e.seq)
                .push_bind(e.kind)
                .push_bind(e.at)
                .push_bind(e.dedup_key)
                .push_bind(e.author)
                .push_bind(e.payload)
                .push_bind(e.channel_id);
        });
        query.build().persistent(true).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The seq of a workspace's event with this dedup key, if any.
pub async fn seq_of(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    dedup_key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT seq FROM events WHERE workspace_id = ? AND dedup_key = ?",
        workspace_id,
        dedup_key
    )
    .fetch_optional(conn)
    .await
}

/// Moves a live session's acknowledged seq up to `seq` (never back, never past the log's end) and
/// marks it seen; returns the acknowledged seq, or `None` when the session is gone.
pub async fn acknowledge(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    session_id: &str,
    seq: i64,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE sessions
           SET acked_seq = MAX(acked_seq, MIN(?1, (SELECT last_seq FROM workspaces WHERE id = ?2))),
               last_seen_at = ?3
           WHERE id = ?4 AND workspace_id = ?2 AND revoked_at IS NULL
           RETURNING acked_seq AS "acked_seq!: i64""#,
        seq,
        workspace_id,
        now,
        session_id
    )
    .fetch_optional(conn)
    .await
}

/// Rewrites the health probe's row (see `/healthz`).
pub async fn probe(conn: &mut SqliteConnection, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE health_probe SET checked_at = ? WHERE id = 1", now)
        .execute(conn)
        .await?;
    Ok(())
}

// ----- reading -----

/// The seq of a workspace's newest event (0 when it has none).
pub async fn head(conn: &mut SqliteConnection, workspace_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(max(seq), 0) AS "head!: i64" FROM events WHERE workspace_id = ?"#,
        workspace_id
    )
    .fetch_one(conn)
    .await
}

/// A workspace's events after `after`, in order, at most `limit`. A payload that is not JSON
/// reads as `null`.
pub async fn events_after(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT seq, kind, at, payload, author FROM events
         WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?",
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
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!("SELECT last_seq FROM workspaces WHERE id = ?", workspace_id)
        .fetch_optional(conn)
        .await
}

/// Per workspace (by id) with events some active device has not acknowledged, when the oldest
/// of them was appended.
pub async fn oldest_unacknowledged(
    conn: &mut SqliteConnection,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        // The first event after what every device has: events are appended in seq order, so it
        // is the oldest, and finding it is one seek (not a walk over the whole backlog).
        r#"SELECT id AS "id!: String", at AS "at!: i64" FROM (
               SELECT w.id, (SELECT e.at FROM events e WHERE e.workspace_id = w.id
                               AND e.seq > COALESCE((SELECT MIN(acked_seq) FROM sessions s WHERE s.workspace_id = w.id AND s.revoked_at IS NULL), 0)
                             ORDER BY e.seq LIMIT 1) AS at
               FROM workspaces w)
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
    conn: &mut SqliteConnection,
) -> Result<Vec<(String, Option<i64>, Option<i64>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT w.id, w.conversation_retention_days,
                  (SELECT MIN(s.acked_seq) FROM sessions s
                   WHERE s.workspace_id = w.id AND s.revoked_at IS NULL) AS "acknowledged: i64"
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
/// `before`, lowest seqs first; returns how many went.
pub async fn delete_acknowledged_events(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    acknowledged: i64,
    before: i64,
    chunk: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM events WHERE workspace_id = ?1 AND seq IN (
             SELECT seq FROM events WHERE workspace_id = ?1 AND seq <= ?2 AND at < ?3 ORDER BY seq LIMIT ?4)",
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
    conn: &mut SqliteConnection,
    workspace_id: &str,
    before: i64,
    chunk: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM events WHERE workspace_id = ?1 AND seq IN (
             SELECT seq FROM events WHERE workspace_id = ?1 AND at < ?2 LIMIT ?3)",
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
    conn: &mut SqliteConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM terminated_sessions WHERE terminated_at < ?",
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
    conn: &mut SqliteConnection,
    received_at: i64,
    route_kind: Option<&str>,
    route_id: Option<&str>,
    reason: &str,
    dedup_key: &str,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO quarantine (received_at, route_kind, route_id, reason, dedup_key, body)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
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
    conn: &mut SqliteConnection,
    route_kind: &str,
    route_id: &str,
) -> Result<Vec<(i64, String, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!: i64", dedup_key, body FROM quarantine
           WHERE route_kind = ? AND route_id = ? ORDER BY id"#,
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
pub async fn delete_quarantined(conn: &mut SqliteConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM quarantine WHERE id = ?", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the quarantined webhooks received before `before`; returns how many went.
pub async fn delete_quarantined_before(
    conn: &mut SqliteConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("DELETE FROM quarantine WHERE received_at < ?", before)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Deletes all but the newest `keep` quarantined webhooks; returns how many went.
pub async fn delete_quarantined_beyond(
    conn: &mut SqliteConnection,
    keep: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM quarantine WHERE id NOT IN (SELECT id FROM quarantine ORDER BY id DESC LIMIT ?)",
        keep
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Every quarantined webhook (without its body), oldest first.
pub async fn quarantined(conn: &mut SqliteConnection) -> Result<Vec<QuarantineEntry>, sqlx::Error> {
    sqlx::query_as!(
        QuarantineEntry,
        r#"SELECT id AS "id!: i64", received_at, route_kind, route_id, reason,
                  length(body) AS "bytes!: i64"
           FROM quarantine ORDER BY id"#
    )
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows go in the bucket sizes, largest first, every row once and in order: 300 rows are
    /// one statement of 256, five of 8 and four of 1.
    #[test]
    fn rows_go_in_bucket_sizes_in_order() {
        let rows: Vec<usize> = (0..300).collect();
        let chunks: Vec<&[usize]> = in_buckets(&rows).collect();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [256, 8, 8, 8, 8, 8, 1, 1, 1, 1]);
        assert_eq!(chunks.concat(), rows);
        assert_eq!(in_buckets::<usize>(&[]).count(), 0);
    }
}
