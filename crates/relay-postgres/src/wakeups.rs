//! Wake-ups between relay instances: `LISTEN`/`NOTIFY` channels and their payloads.

use sqlx::PgConnection;

/// Carries `<workspace id> <last seq>` for each workspace a committed batch grew.
pub const EVENTS_CHANNEL: &str = "zentro_events";

/// Carries nothing: sessions were revoked somewhere; streams check whether they may go on.
pub const REVOCATIONS_CHANNEL: &str = "zentro_revocations";

/// Tells every instance that sessions were revoked (open streams of revoked devices close).
pub async fn notify_revocation(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_notify($1, '')", REVOCATIONS_CHANNEL)
        .fetch_one(conn)
        .await?;
    Ok(())
}
