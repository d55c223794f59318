//! Attempt counters in fixed windows. On SQLite the relay counts in memory (one process owns the
//! database) and does not call these; they exist, with the table, so that both backends have the
//! same schema and statements.

use sqlx::SqliteConnection;

/// Counts one attempt of `key` in the window starting at `window_start` (UTC ms): the window's
/// count including this attempt.
pub async fn count_attempt(
    conn: &mut SqliteConnection,
    key: &str,
    window_start: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
           ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
           RETURNING count AS "count!: i64""#,
        key,
        window_start
    )
    .fetch_one(conn)
    .await
}

/// Forgets every window of `key` (a successful sign-in).
pub async fn forget_attempts(conn: &mut SqliteConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM rate_limits WHERE key = ?1", key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the windows that started before `before` (UTC ms); returns how many.
pub async fn prune_rate_limits(
    conn: &mut SqliteConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM rate_limits WHERE window_start < ?1", before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
