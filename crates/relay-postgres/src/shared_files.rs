//! Files shared with Meta by link, in the database, so that every relay instance serves them
//! (ADR 0012, section 7). A workspace's quota is counted under a transaction-scoped advisory lock
//! on the workspace, never its counter row (which a 25 MB upload must not hold).

use sqlx::PgConnection;
use zentro_relay_store::shared_files::{SharedFile, SharedUsage};

/// Serialises the quota checks of one workspace's uploads until the transaction ends
/// (`pg_advisory_xact_lock` on a hash of the workspace id; a collision only serialises two
/// workspaces' uploads).
pub async fn lock_shared_files(
    conn: &mut PgConnection,
    workspace_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext($1)::bigint)",
        workspace_id
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// What a workspace's shared files not expired at `now` (UTC ms) take.
pub async fn shared_usage(
    conn: &mut PgConnection,
    workspace_id: &str,
    now: i64,
) -> Result<SharedUsage, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT COUNT(*) AS "count!", COALESCE(SUM(size), 0)::bigint AS "bytes!",
                  MIN(expires_at) AS first_expiry
           FROM shared_files WHERE workspace_id = $1 AND expires_at > $2"#,
        workspace_id,
        now
    )
    .fetch_one(conn)
    .await?;
    Ok(SharedUsage {
        count: row.count,
        bytes: row.bytes,
        first_expiry: row.first_expiry,
    })
}

/// Keeps a shared file.
pub async fn keep_shared_file(
    conn: &mut PgConnection,
    file: &SharedFile,
) -> Result<(), sqlx::Error> {
    let size = i64::try_from(file.body.len()).unwrap_or(i64::MAX);
    sqlx::query!(
        "INSERT INTO shared_files (token, workspace_id, name, mime, size, body, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        file.token,
        file.workspace_id,
        file.name,
        file.mime,
        size,
        file.body,
        file.created_at,
        file.expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The shared file of `token`, unless it expired at `now` (UTC ms).
pub async fn shared_file(
    conn: &mut PgConnection,
    token: &str,
    now: i64,
) -> Result<Option<SharedFile>, sqlx::Error> {
    sqlx::query_as!(
        SharedFile,
        "SELECT token, workspace_id, name, mime, body, created_at, expires_at
         FROM shared_files WHERE token = $1 AND expires_at > $2",
        token,
        now
    )
    .fetch_optional(conn)
    .await
}

/// Deletes the shared files expired at `now` (UTC ms); returns how many.
pub async fn sweep_shared_files(conn: &mut PgConnection, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM shared_files WHERE expires_at <= $1", now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
