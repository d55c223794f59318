//! The rollups reports read (`report_episodes`, `report_counts`), kept by the cache's triggers
//! (migration `20261206200000_keep_report_rollups.sql`), and what an erasure takes out of them.

use sqlx::{Sqlite, Transaction};

use crate::cache::CacheError;

/// Deletes a contact's openings and everything counted under them (privacy promise P14), inside
/// the erasure's transaction and before the contact's conversations go: no rollup keeps a trace
/// of the customer. (Retention, by contrast, leaves the rollups as they are.)
pub(crate) async fn forget_contact(
    tx: &mut Transaction<'static, Sqlite>,
    contact_id: i64,
) -> Result<(), CacheError> {
    sqlx::query!(
        r#"DELETE FROM report_counts WHERE episode_id IN (
               SELECT e.id FROM report_episodes e JOIN conversations c ON c.id = e.conversation_id
               WHERE c.contact_id = ?)"#,
        contact_id
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "DELETE FROM report_episodes WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?)",
        contact_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
