//! Wake-ups between relay instances: none on SQLite, where one relay process owns the database.

use sqlx::SqliteConnection;

/// Nothing to tell: one relay process owns a SQLite database, and it wakes its own streams.
pub async fn notify_revocation(_conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    Ok(())
}
