//! Files shared with Meta by link, in the database. On SQLite the relay keeps them in its data
//! directory's folder instead (a 25 MB body must not hold the one writer's lock) and does not call
//! these; they exist, with the table, so that both backends have the same schema and statements.

use sqlx::SqliteConnection;
use zentro_relay_store::shared_files::{SharedFile, SharedUsage};

/// Serialises the quota checks of one workspace's uploads until the transaction ends: nothing to
/// do on SQLite, where a write transaction (`BEGIN IMMEDIATE`) already admits one writer.
pub async fn lock_shared_files(
    _conn: &mut SqliteConnection,
    _workspace_id: &str,
) -> Result<(), sqlx::Error> {
    Ok(())
}

/// What a workspace's shared files not expired at `now` (UTC ms) take.
pub async fn shared_usage(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    now: i64,
) -> Result<SharedUsage, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT COUNT(*) AS "count!: i64", COALESCE(SUM(size), 0) AS "bytes!: i64",
                  MIN(expires_at) AS "first_expiry?: i64"
           FROM shared_files WHERE workspace_id = ?1 AND expires_at > ?2"#,
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
    conn: &mut SqliteConnection,
    file: &SharedFile,
) -> Result<(), sqlx::Error> {
    let size = i64::try_from(file.body.len()).unwrap_or(i64::MAX);
    sqlx::query!(
        "INSERT INTO shared_files (token, workspace_id, name, mime, size, body, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
    conn: &mut SqliteConnection,
    token: &str,
    now: i64,
) -> Result<Option<SharedFile>, sqlx::Error> {
    sqlx::query_as!(
        SharedFile,
        r#"SELECT token AS "token!: String", workspace_id, name, mime, body, created_at, expires_at
           FROM shared_files WHERE token = ?1 AND expires_at > ?2"#,
        token,
        now
    )
    .fetch_optional(conn)
    .await
}

/// Deletes the shared files expired at `now` (UTC ms); returns how many.
pub async fn sweep_shared_files(conn: &mut SqliteConnection, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM shared_files WHERE expires_at <= ?1", now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
