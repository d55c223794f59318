//! Consent to marketing messages (issue 24) as this desk knows it from the log: per contact
//! (one customer on one channel) the records `team.consent_recorded` carried, the latest in the
//! log's order being the contact's consent, and recording what a customer told a member.
//!
//! The relay keeps the same records and is the one that decides whether a campaign may reach a
//! customer (it also records the customers' stop and start keywords, at once, with every desk
//! closed); this module is what the contact panel, the export (P13) and the CLI show.

use serde::Serialize;
use sqlx::SqliteConnection;

use crate::actions::{ContactRef, TeamError};
use crate::cache::{Cache, CacheError};
use crate::desk::Desk;
use zentro_events::team::{ConsentSource, TeamEvent};

/// One consent record: opted in or out, when, how and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConsentRecord {
    /// Opted in (may receive marketing messages) or out.
    pub opted_in: bool,
    /// How: `form`, `agent`, `keyword` (the customer wrote STOP or START) or `import`.
    pub source: String,
    /// When it was given or withdrawn (UTC ms).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub at: i64,
    /// Who recorded it: a member id, or `automation:consent` for a keyword.
    pub recorded_by: Option<String>,
    /// What the member noted.
    pub note: Option<String>,
}

/// A contact's consent on its channel: the current state and its history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ChannelConsent {
    /// The contact (the customer on this channel) in this cache.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub contact_id: i64,
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// The channel's id at Meta.
    pub channel_external_id: String,
    /// The customer's id on the channel.
    pub customer_id: String,
    /// Opted in (`true`), out (`false`), or never recorded (`None`: no marketing messages).
    pub opted_in: Option<bool>,
    /// Every record, newest first (the first one is the current consent).
    pub history: Vec<ConsentRecord>,
}

/// The consent of the customer in conversation `conversation_id` on each channel: their contact
/// in that conversation first, then the identities a member linked to it.
pub async fn consent_of_conversation(
    cache: &Cache,
    conversation_id: i64,
) -> Result<Vec<ChannelConsent>, CacheError> {
    let mut conn = cache.pool().acquire().await?;
    let contacts = sqlx::query!(
        r#"
        SELECT o.id AS "id!", ch.kind AS "kind!", ch.external_id AS "channel_external_id!",
               o.external_id AS "customer_id!"
        FROM conversations c
        JOIN contacts k ON k.id = c.contact_id
        JOIN contacts o ON o.id = k.id OR (k.person_key IS NOT NULL AND o.person_key = k.person_key)
        JOIN channels ch ON ch.id = o.channel_id
        WHERE c.id = ?
        ORDER BY o.id <> k.id, ch.kind, o.id
        "#,
        conversation_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut consents = Vec::with_capacity(contacts.len());
    for contact in contacts {
        let history = records_of(&mut conn, contact.id).await?;
        consents.push(ChannelConsent {
            contact_id: contact.id,
            channel_kind: contact.kind,
            channel_external_id: contact.channel_external_id,
            customer_id: contact.customer_id,
            opted_in: history.first().map(|r| r.opted_in),
            history,
        });
    }
    Ok(consents)
}

/// The consent of contact `contact_id` on its channel, with its history; `None` when the contact
/// is not in this cache.
pub async fn consent_of_contact(
    cache: &Cache,
    contact_id: i64,
) -> Result<Option<ChannelConsent>, CacheError> {
    let contact = match contact_ref(cache, contact_id).await {
        Ok(contact) => contact,
        Err(TeamError::Cache(error)) => return Err(error),
        Err(_) => return Ok(None),
    };
    let mut conn = cache.pool().acquire().await?;
    let history = records_of(&mut conn, contact_id).await?;
    Ok(Some(ChannelConsent {
        contact_id,
        channel_kind: contact.channel_kind,
        channel_external_id: contact.channel_external_id,
        customer_id: contact.customer_id,
        opted_in: history.first().map(|r| r.opted_in),
        history,
    }))
}

/// Every consent record of contact `contact_id`, newest first (in the log's order).
pub async fn records_of(
    conn: &mut SqliteConnection,
    contact_id: i64,
) -> Result<Vec<ConsentRecord>, CacheError> {
    let rows = sqlx::query!(
        r#"SELECT opted_in AS "opted_in!: bool", source AS "source!", at AS "at!", recorded_by, note
           FROM consent_records WHERE contact_id = ? ORDER BY seq DESC"#,
        contact_id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ConsentRecord {
            opted_in: r.opted_in,
            source: r.source,
            at: r.at,
            recorded_by: r.recorded_by,
            note: r.note,
        })
        .collect())
}

/// How every device names contact `contact_id`.
async fn contact_ref(cache: &Cache, contact_id: i64) -> Result<ContactRef, TeamError> {
    sqlx::query_as!(
        ContactRef,
        r#"SELECT ch.kind AS channel_kind, ch.external_id AS channel_external_id, k.external_id AS customer_id
           FROM contacts k JOIN channels ch ON ch.id = k.channel_id WHERE k.id = ?"#,
        contact_id
    )
    .fetch_optional(cache.pool())
    .await?
    .ok_or_else(|| TeamError::Invalid(format!("contact {contact_id} is not in this cache")))
}

/// The consent record a member makes of what the customer (contact `contact_id`) told them, as
/// the team event every device applies; `source` is `agent` from the contact panel, `form` or
/// `import` for what an admin brings in (the relay refuses those from agents).
pub async fn record_event(
    cache: &Cache,
    contact_id: i64,
    opted_in: bool,
    source: ConsentSource,
    note: Option<String>,
    now: i64,
) -> Result<TeamEvent, TeamError> {
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    let event = TeamEvent::ConsentRecorded {
        contact: contact_ref(cache, contact_id).await?,
        opted_in,
        source,
        at: now,
        note,
    };
    event.validate()?;
    if event.relay_only() {
        return Err(TeamError::Invalid(
            "only the customer records a keyword, by writing it".into(),
        ));
    }
    Ok(event)
}

/// Records the consent a customer gave or withdrew, told to a member (source `agent`): queued
/// on the running desk, published to the relay, applied by every device. Returns the event's
/// idempotency key.
pub async fn record(
    desk: &Desk,
    contact_id: i64,
    opted_in: bool,
    note: Option<String>,
    now: i64,
) -> Result<String, TeamError> {
    let event = record_event(
        desk.cache(),
        contact_id,
        opted_in,
        ConsentSource::Agent,
        note,
        now,
    )
    .await?;
    desk.act(&event).await
}
