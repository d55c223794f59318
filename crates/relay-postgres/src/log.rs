//! The event log: appending (the sequencer's batch), reading, acknowledging, pruning.

use sqlx::PgConnection;

/// Rewrites the health probe's row (see `/healthz`).
pub async fn probe(conn: &mut PgConnection, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE health_probe SET checked_at = $1 WHERE id = 1")
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
