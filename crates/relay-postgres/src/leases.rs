//! Leases: background work that runs on one relay instance at a time, taken over when its holder
//! dies (ADR 0012 §5). Rows rather than advisory locks: a session lock lives as long as a
//! connection, which a vanished machine holds open until TCP gives up, and rows show who holds
//! what. Timed by the database's clock, so the instances' clocks may disagree.

use sqlx::PgConnection;

/// Takes or renews the lease `name` for `holder` for `ttl_ms`, by the database's clock: `true`
/// when `holder` holds it now (it was free, expired, or already theirs).
pub async fn take_lease(
    conn: &mut PgConnection,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query_scalar!(
        r#"INSERT INTO leases (name, holder, expires_at)
           VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE leases.holder = excluded.holder
              OR leases.expires_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint
           RETURNING holder"#,
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
    conn: &mut PgConnection,
    name: &str,
    holder: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM leases WHERE name = $1 AND holder = $2",
        name,
        holder
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Who holds each lease and until when (UTC ms), for operators (`/metrics`, docs/relay.md).
pub async fn leases(conn: &mut PgConnection) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query!("SELECT name, holder, expires_at FROM leases ORDER BY name")
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.name, r.holder, r.expires_at))
        .collect())
}
