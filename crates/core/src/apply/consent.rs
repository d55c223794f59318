//! Consent records (`team.consent_recorded`): a contact opted in or out of marketing messages,
//! kept with its history; the latest record in the log's order is the contact's consent.

use super::{RelayEvent, Tx};
use crate::cache::CacheError;
use zentro_events::team::{ConsentSource, ContactRef};

/// Stores a consent record of `contact`; `false` when the contact is not in this cache, or when
/// the record claims the customer's keyword but the relay did not write it (only the relay's
/// automation records keywords, from Meta's signed webhook; a device's forgery is ignored).
pub(super) async fn recorded(
    tx: &mut Tx,
    event: &RelayEvent,
    contact: &ContactRef,
    opted_in: bool,
    source: ConsentSource,
    at: i64,
    note: Option<&str>,
) -> Result<bool, CacheError> {
    if source == ConsentSource::Keyword && !zentro_events::written_by_relay(event.author.as_deref())
    {
        tracing::warn!(
            seq = event.seq,
            "ignored: a keyword's consent record the relay did not write"
        );
        return Ok(false);
    }
    let source = source.as_str();
    let stored = sqlx::query!(
        r#"
        INSERT INTO consent_records (seq, contact_id, opted_in, source, at, recorded_by, note)
        SELECT ?1, k.id, ?2, ?3, ?4, ?5, ?6
        FROM contacts k JOIN channels ch ON ch.id = k.channel_id
        WHERE ch.kind = ?7 AND ch.external_id = ?8 AND k.external_id = ?9
        ON CONFLICT (seq) DO NOTHING
        "#,
        event.seq,
        opted_in,
        source,
        at,
        event.author,
        note,
        contact.channel_kind,
        contact.channel_external_id,
        contact.customer_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(stored.rows_affected() > 0)
}
