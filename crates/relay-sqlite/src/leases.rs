//! Leases: background work that runs on one relay instance at a time, taken over when its holder
//! dies. On SQLite one process owns the database, so a lease is always its own; the table and the
//! statements are the same as on PostgreSQL so that both backends behave alike.

use sqlx::SqliteConnection;

/// Takes or renews the lease `name` for `holder` for `ttl_ms`, by the database's clock: `true`
/// when `holder` holds it now (it was free, expired, or already theirs).
pub async fn take_lease(
    conn: &mut SqliteConnection,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query_scalar!(
        r#"INSERT INTO leases (name, holder, expires_at)
           VALUES (?1, ?2, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ?3)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE leases.holder = excluded.holder
              OR leases.expires_at < CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
           RETURNING holder AS "holder!: String""#,
        name,
        holder,
        ttl_ms
    )
    .fetch_optional(conn)
    .await?;
    Ok(taken.is_some())
}

/// Gives the lease `name` up if `holder` holds it (a stopping instance), so another takes over at
/// once instead of when it expires.
pub async fn release_lease(
    conn: &mut SqliteConnection,
    name: &str,
    holder: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
        name,
        holder
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Who holds each lease and until when (UTC ms), for operators (`/metrics`, docs/relay.md).
pub async fn leases(
    conn: &mut SqliteConnection,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT name AS "name!: String", holder, expires_at FROM leases ORDER BY name"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.name, r.holder, r.expires_at))
        .collect())
}
