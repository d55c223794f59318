//! Attempt counters in windows that start at a key's first attempt. On SQLite the relay counts in memory (one process owns the
//! database) and does not call these; they exist, with the table, so that both backends have the
//! same schema and statements.

use sqlx::SqliteConnection;

/// Counts one attempt of `key` at `now` (UTC ms) in its window of `window_ms`, which starts at
/// the key's first attempt (a new one once the last has ended): the window's count, this
/// attempt included, and when the window started.
pub async fn count_attempt(
    conn: &mut SqliteConnection,
    key: &str,
    now: i64,
    window_ms: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query!(
        r#"INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
           ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN rate_limits.window_start <= ?2 - ?3 THEN 1
                          ELSE rate_limits.count + 1 END,
             window_start = CASE WHEN rate_limits.window_start <= ?2 - ?3 THEN ?2
                                 ELSE rate_limits.window_start END
           RETURNING count AS "count!: i64", window_start AS "window_start!: i64""#,
        key,
        now,
        window_ms
    )
    .fetch_one(conn)
    .await?;
    Ok((row.count, row.window_start))
}

/// Forgets every window of `key` (a successful sign-in).
pub async fn forget_attempts(conn: &mut SqliteConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM rate_limits WHERE key = ?1", key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the counters whose window started before `before` (UTC ms); returns how many.
pub async fn prune_rate_limits(
    conn: &mut SqliteConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM rate_limits WHERE window_start < ?1", before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
