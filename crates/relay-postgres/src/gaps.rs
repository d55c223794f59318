//! Gaps in a workspace's log (pruned or erased), erasure receipts, and sessions' last use.

use sqlx::PgConnection;
use zentro_relay_store::gaps::{ErasureReceipt, SessionRow};

/// The oldest seq a workspace's log still holds: its oldest kept event's, or (an empty log) the
/// next seq it will give out; `None` for an unknown workspace.
pub async fn oldest_kept_seq(
    conn: &mut PgConnection,
    workspace_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(
               (SELECT min(seq) FROM events WHERE workspace_id = $1),
               (SELECT last_seq + 1 FROM workspaces WHERE id = $1)) AS "oldest?""#,
        workspace_id,
    )
    .fetch_one(conn)
    .await
}

/// Remembers an erasure (salt and hash) at `at`; nothing when the workspace already has it.
pub async fn insert_erasure(
    conn: &mut PgConnection,
    workspace_id: &str,
    salt: &str,
    hash: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO erasures (workspace_id, hash, salt, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, hash) DO NOTHING",
        workspace_id,
        hash,
        salt,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every erasure of a workspace, oldest first (then by hash).
pub async fn erasures(
    conn: &mut PgConnection,
    workspace_id: &str,
) -> Result<Vec<ErasureReceipt>, sqlx::Error> {
    sqlx::query_as!(
        ErasureReceipt,
        "SELECT salt, hash FROM erasures WHERE workspace_id = $1 ORDER BY at, hash",
        workspace_id,
    )
    .fetch_all(conn)
    .await
}

/// The unrevoked session behind a token hash, when its member is active.
pub async fn active_session(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as!(
        SessionRow,
        r#"SELECT s.id, s.member_id, s.workspace_id, m.role, m.email, s.device_name, s.last_seen_at
           FROM sessions s JOIN members m ON m.id = s.member_id
           WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND m.status = 'active'"#,
        token_hash,
    )
    .fetch_optional(conn)
    .await
}

/// Records a session's use at `now` (never moving its last use back), unless it was revoked.
pub async fn touch_session(
    conn: &mut PgConnection,
    session_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $1) WHERE id = $2 AND revoked_at IS NULL",
        now,
        session_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes at `now` every session last used before `cutoff`; returns how many.
pub async fn expire_sessions_unused_since(
    conn: &mut PgConnection,
    cutoff: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND last_seen_at < $2",
        now,
        cutoff,
    )
    .execute(conn)
    .await?
    .rows_affected())
}
