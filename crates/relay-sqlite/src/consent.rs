//! Customers' consent to marketing messages: the latest record per customer and channel, and
//! where the consent worker is in each workspace's log.

use sqlx::SqliteConnection;
use zentro_relay_store::consent::{ConsentRow, NewConsent};

/// Every workspace's id: the consent worker follows every log (stop keywords are honoured
/// whether or not a workspace's automation is on).
pub async fn workspaces(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT id AS "id!: String" FROM workspaces ORDER BY id"#)
        .fetch_all(conn)
        .await
}

/// A customer's consent on a channel, or `None` when none was ever recorded.
pub async fn consent(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    channel_kind: &str,
    channel_external_id: &str,
    customer_id: &str,
) -> Result<Option<ConsentRow>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT opted_in, source, at, seq FROM consents
         WHERE workspace_id = ?1 AND channel_kind = ?2 AND channel_external_id = ?3
           AND customer_id = ?4",
        workspace_id,
        channel_kind,
        channel_external_id,
        customer_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| ConsentRow {
        opted_in: r.opted_in == 1,
        source: r.source,
        at: r.at,
        seq: r.seq,
    }))
}

/// Keeps consent records, each replacing the customer's kept one only when its event is later
/// in the log (a replayed or older record changes nothing); one statement.
pub async fn save_consents(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    records: &[NewConsent],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let records = serde_json::to_string(records).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(
        "INSERT INTO consents (workspace_id, channel_kind, channel_external_id, customer_id,
            opted_in, source, at, seq)
         SELECT ?1, j.value ->> 'channel_kind', j.value ->> 'channel_external_id',
            j.value ->> 'customer_id', j.value ->> 'opted_in', j.value ->> 'source',
            j.value ->> 'at', j.value ->> 'seq'
         FROM json_each(?2) AS j WHERE true
         ON CONFLICT (workspace_id, channel_kind, channel_external_id, customer_id) DO UPDATE SET
            opted_in = excluded.opted_in, source = excluded.source, at = excluded.at,
            seq = excluded.seq
         WHERE excluded.seq > consents.seq",
    )
    .bind(workspace_id)
    .bind(records)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where the consent worker is in a workspace's log, or `None` when it never read it.
pub async fn cursor(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT cursor FROM consent_progress WHERE workspace_id = ?",
        workspace_id
    )
    .fetch_optional(conn)
    .await
}

/// Records where the consent worker is in a workspace's log.
pub async fn save_cursor(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    cursor: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO consent_progress (workspace_id, cursor) VALUES (?1, ?2)
         ON CONFLICT (workspace_id) DO UPDATE SET cursor = ?2",
        workspace_id,
        cursor
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a customer's consent on every channel (an erasure); how many rows went.
pub async fn delete_consents_of_customer(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    customer_id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM consents WHERE workspace_id = ?1 AND customer_id = ?2",
        workspace_id,
        customer_id
    )
    .execute(conn)
    .await?
    .rows_affected())
}
