//! Data rights the businesses promise their customers: erasing a customer everywhere (privacy
//! promise P14).
//!
//! Erasure, from an admin's device: the relay purges every event of the workspace's log (and the
//! quarantine) that names the customer and appends a `contact.erased` event that names them only
//! by a salted hash; then this device deletes the contact, their conversations, messages, notes,
//! labels links, activity, queued sends and search entries in one transaction (`secure_delete` and
//! FTS5 secure-delete overwrite the bytes), overwrites and deletes their media files, and
//! truncates the WAL. Every other device matches the hash against its own contacts when the event
//! reaches it — also one that was offline for weeks — and does the same. The relay's audit log
//! keeps the receipt: who, when, the salted hash and counts; never an identifier in clear.

use serde::{Deserialize, Serialize};
use sqlx::{Sqlite, Transaction};

use zentro_events::clock::random_bytes;

use crate::cache::{Cache, CacheError};
use crate::relay_client::{RelayClient, SyncError};
use crate::vault::Secret;

/// The log event of an erasure.
pub const CONTACT_ERASED: &str = "contact.erased";

/// The shortest identifier the relay will purge events by (shorter ones would match too much).
pub const MIN_IDENTIFIER_CHARS: usize = 5;

/// What the `contact.erased` event carries: a salt and the salted hash of the customer's
/// channel and id, so devices recognise them and nobody else can read who it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureNotice {
    /// Random, hex.
    pub salt: String,
    /// [`erasure_hash`] of the customer under `salt`.
    pub hash: String,
}

pub use zentro_events::erasure_hash;

/// What erasing a customer will delete, for the confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErasurePreview {
    /// The customer to erase, as the cache numbers contacts.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub contact_id: i64,
    /// Their name (or id).
    pub name: String,
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// Their phone, username or id on the channel.
    pub identity: String,
    /// Conversations that go.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub conversations: i64,
    /// Messages that go.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub messages: i64,
    /// Private notes that go.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub notes: i64,
    /// Media files kept on this device that go.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub media_files: i64,
}

/// What an erasure did, and its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErasureReceipt {
    /// The salted hash the audit log keeps.
    pub hash: String,
    /// Conversations deleted here.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub conversations: i64,
    /// Messages deleted here.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub messages: i64,
    /// Media files overwritten and deleted here.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub media_files: i64,
    /// Events the relay purged from the log.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub relay_events_purged: i64,
}

/// Why an erasure did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    /// No such contact in this cache.
    #[error("that customer is not in this cache (any more)")]
    NoContact,
    /// The relay must purge the customer and tell every device; it refused or was unreachable.
    /// Nothing was deleted.
    #[error("the erasure needs the relay, which did not accept it ({0}); nothing was deleted")]
    Relay(#[from] SyncError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

fn sql(error: sqlx::Error) -> CacheError {
    CacheError::Query(error)
}

struct ContactRow {
    channel_id: String,
    channel_kind: String,
    external_id: String,
    name: String,
    phone: Option<String>,
    username: Option<String>,
}

async fn contact(cache: &Cache, contact_id: i64) -> Result<ContactRow, ErasureError> {
    let row = sqlx::query!(
        r#"SELECT k.channel_id AS "channel_id!", ch.kind AS "kind!", k.external_id AS "external_id!",
                  k.display_name AS "name!", k.phone, k.username
           FROM contacts k JOIN channels ch ON ch.id = k.channel_id WHERE k.id = ?"#,
        contact_id
    )
    .fetch_optional(cache.pool())
    .await
    .map_err(sql)?
    .ok_or(ErasureError::NoContact)?;
    Ok(ContactRow {
        channel_id: row.channel_id,
        channel_kind: row.kind,
        external_id: row.external_id,
        name: row.name,
        phone: row.phone,
        username: row.username,
    })
}

/// The contact a conversation is with.
pub async fn contact_of(cache: &Cache, conversation_id: i64) -> Result<i64, ErasureError> {
    sqlx::query_scalar!(
        r#"SELECT contact_id AS "contact_id!" FROM conversations WHERE id = ?"#,
        conversation_id
    )
    .fetch_optional(cache.pool())
    .await
    .map_err(sql)?
    .ok_or(ErasureError::NoContact)
}

/// What erasing `contact_id` will delete on this device.
pub async fn preview(cache: &Cache, contact_id: i64) -> Result<ErasurePreview, ErasureError> {
    let who = contact(cache, contact_id).await?;
    let counts = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM conversations WHERE contact_id = ?1) AS "conversations!: i64",
             (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = ?1) AS "messages!: i64",
             (SELECT count(*) FROM notes n JOIN conversations c ON c.id = n.conversation_id WHERE c.contact_id = ?1) AS "notes!: i64",
             (SELECT count(DISTINCT m.media_path) FROM messages m JOIN conversations c ON c.id = m.conversation_id
               WHERE c.contact_id = ?1 AND m.media_path IS NOT NULL) AS "media!: i64""#,
        contact_id
    )
    .fetch_one(cache.pool())
    .await
    .map_err(sql)?;
    let identity = who
        .phone
        .clone()
        .or_else(|| who.username.clone())
        .unwrap_or_else(|| who.external_id.clone());
    Ok(ErasurePreview {
        contact_id,
        name: if who.name.is_empty() {
            identity.clone()
        } else {
            who.name
        },
        channel_kind: who.channel_kind,
        identity,
        conversations: counts.conversations,
        messages: counts.messages,
        notes: counts.notes,
        media_files: counts.media,
    })
}

/// Counts of what one contact's erasure deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Conversations deleted (with their notes, labels and activity).
    pub conversations: i64,
    /// Messages deleted across those conversations.
    pub messages: i64,
    /// Media files queued for overwriting and deletion.
    pub media_files: i64,
}

/// Deletes a contact and everything of theirs inside `tx`; their media files (unless another
/// message uses the same content) are queued in `erasure_cleanup` for [`cleanup`] after commit.
pub(crate) async fn erase_in(
    tx: &mut Transaction<'static, Sqlite>,
    contact_id: i64,
) -> Result<Erased, CacheError> {
    let who = sqlx::query!(
        r#"SELECT external_id AS "external_id!" FROM contacts WHERE id = ?"#,
        contact_id
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(sql)?;
    let Some(who) = who else {
        return Ok(Erased::default());
    };
    let mut erased = count_conversations_and_messages(tx, contact_id).await?;
    erased.media_files = queue_media_of(tx, contact_id).await?;
    delete_rows_naming_messages(tx, contact_id).await?;
    // Reports keep no trace of them either (their openings and counts).
    crate::reports::rollups::forget_contact(tx, contact_id).await?;
    delete_contact_rows(tx, contact_id, &who.external_id).await?;
    queue_checkpoint(tx).await?;
    Ok(erased)
}

/// How many conversations and messages a contact has (what their erasure deletes).
async fn count_conversations_and_messages(
    tx: &mut Transaction<'static, Sqlite>,
    contact_id: i64,
) -> Result<Erased, CacheError> {
    let counts = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM conversations WHERE contact_id = ?1) AS "conversations!: i64",
                  (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = ?1) AS "messages!: i64""#,
        contact_id
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(sql)?;
    Ok(Erased {
        conversations: counts.conversations,
        messages: counts.messages,
        media_files: 0,
    })
}

/// Queues for [`cleanup`] the contact's media whose content no other customer's message shares;
/// returns how many files.
async fn queue_media_of(
    tx: &mut Transaction<'static, Sqlite>,
    contact_id: i64,
) -> Result<i64, CacheError> {
    let media = sqlx::query!(
        r#"INSERT OR IGNORE INTO erasure_cleanup (path)
           SELECT DISTINCT m.media_path FROM messages m JOIN conversations c ON c.id = m.conversation_id
           WHERE c.contact_id = ?1 AND m.media_path IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM messages o JOIN conversations oc ON oc.id = o.conversation_id
                             WHERE o.media_path = m.media_path AND oc.contact_id <> ?1)"#,
        contact_id
    )
    .execute(&mut **tx)
    .await
    .map_err(sql)?
    .rows_affected();
    Ok(media as i64)
}

/// Deletes the rows that name the contact's messages by Meta's ids (reactions, statuses waiting
/// for their message): no foreign key cascades along those.
async fn delete_rows_naming_messages(
    tx: &mut Transaction<'static, Sqlite>,
    contact_id: i64,
) -> Result<(), CacheError> {
    sqlx::query!(
        "DELETE FROM reactions WHERE message_external_id IN (
            SELECT m.external_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
            WHERE c.contact_id = ? AND m.external_id IS NOT NULL)",
        contact_id
    )
    .execute(&mut **tx)
    .await
    .map_err(sql)?;
    sqlx::query!(
        "DELETE FROM pending_statuses WHERE external_id IN (
            SELECT m.external_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
            WHERE c.contact_id = ? AND m.external_id IS NOT NULL)",
        contact_id
    )
    .execute(&mut **tx)
    .await
    .map_err(sql)?;
    Ok(())
}

/// Deletes the contact (`external_id` on their channel), the team events not yet published that
/// name them, their search rows, and by cascade their conversations, messages (and those
/// messages' search rows, by trigger), notes, labels links, activity, outbox entries and
/// media downloads.
async fn delete_contact_rows(
    tx: &mut Transaction<'static, Sqlite>,
    contact_id: i64,
    external_id: &str,
) -> Result<(), CacheError> {
    let quoted = format!("%\"{external_id}\"%");
    sqlx::query!("DELETE FROM team_outbox WHERE payload LIKE ?", quoted)
        .execute(&mut **tx)
        .await
        .map_err(sql)?;
    sqlx::query!(
        "DELETE FROM search_index WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?)",
        contact_id
    )
    .execute(&mut **tx)
    .await
    .map_err(sql)?;
    sqlx::query!("DELETE FROM contacts WHERE id = ?", contact_id)
        .execute(&mut **tx)
        .await
        .map_err(sql)?;
    Ok(())
}

/// Queues the empty path in `erasure_cleanup`: [`cleanup`] then runs even with no file to shred,
/// and checkpoints the WAL that still holds the deleted rows.
async fn queue_checkpoint(tx: &mut Transaction<'static, Sqlite>) -> Result<(), CacheError> {
    sqlx::query!("INSERT OR IGNORE INTO erasure_cleanup (path) VALUES ('')")
        .execute(&mut **tx)
        .await
        .map_err(sql)?;
    Ok(())
}

/// Applies a `contact.erased` event inside the apply transaction: erases every contact of this
/// cache whose salted hash matches. Returns how many.
pub(crate) async fn apply_erasure(
    tx: &mut Transaction<'static, Sqlite>,
    notice: &ErasureNotice,
) -> Result<usize, CacheError> {
    let contacts = sqlx::query!(
        r#"SELECT id AS "id!", channel_id AS "channel_id!", external_id AS "external_id!" FROM contacts"#
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(sql)?;
    let mut erased = 0;
    for c in contacts {
        if erasure_hash(&notice.salt, &c.channel_id, &c.external_id) == notice.hash {
            erase_in(tx, c.id).await?;
            erased += 1;
        }
    }
    Ok(erased)
}

/// Finishes erasures after their transaction committed: overwrites and deletes the queued media
/// files and the opened copies of files now gone ([`crate::customer_files::shred_stale_copies`]),
/// and checkpoints and truncates the WAL (which still holds the erased rows' old pages).
/// Returns how many files were deleted. Safe to call often: it does nothing when nothing waits.
pub async fn cleanup(cache: &Cache) -> Result<usize, CacheError> {
    let waiting = sqlx::query_scalar!(r#"SELECT path AS "path!" FROM erasure_cleanup"#)
        .fetch_all(cache.pool())
        .await
        .map_err(sql)?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut deleted = 0;
    for path in &waiting {
        if !path.is_empty() && shred(std::path::Path::new(path)).await {
            deleted += 1;
        }
    }
    for path in &waiting {
        sqlx::query!("DELETE FROM erasure_cleanup WHERE path = ?", path)
            .execute(cache.pool())
            .await
            .map_err(sql)?;
    }
    // Copies handed to the system's opener go with their messages and files.
    crate::customer_files::shred_stale_copies(cache).await?;
    checkpoint(cache).await?;
    Ok(deleted)
}

/// Overwrites a file with zeros, then deletes it. Whether it existed.
pub(crate) async fn shred(path: &std::path::Path) -> bool {
    let Ok(meta) = tokio::fs::metadata(path).await else {
        return false;
    };
    let zeros = vec![0u8; usize::try_from(meta.len()).unwrap_or(0).min(64 << 20)];
    if let Err(error) = tokio::fs::write(path, &zeros).await {
        tracing::warn!(%error, "could not overwrite an erased media file; deleting it");
    }
    match tokio::fs::remove_file(path).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "could not delete an erased media file");
            false
        }
    }
}

/// Moves the WAL into the database file and truncates it, retrying while readers hold it.
async fn checkpoint(cache: &Cache) -> Result<(), CacheError> {
    for attempt in 0..20 {
        let busy: i64 = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(cache.pool())
            .await
            .map_err(sql)?;
        if busy == 0 {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
    }
    tracing::warn!(
        "the WAL could not be truncated after an erasure (readers kept it busy); it will be when the cache is next closed"
    );
    Ok(())
}

/// Erases a customer from this device only (the relay's `contact.erased` event does this on
/// every other device).
pub async fn erase_locally(cache: &Cache, contact_id: i64) -> Result<Erased, ErasureError> {
    let mut tx = cache.pool().begin().await.map_err(sql)?;
    let erased = erase_in(&mut tx, contact_id).await?;
    tx.commit().await.map_err(sql)?;
    cleanup(cache).await?;
    Ok(erased)
}

/// Erases a customer everywhere: the relay purges its log and tells every device, then this
/// device erases them at once. Nothing is deleted when the relay refuses (an agent's role) or
/// cannot be reached.
pub async fn erase_everywhere(
    cache: &Cache,
    relay: &RelayClient,
    token: &Secret,
    contact_id: i64,
) -> Result<ErasureReceipt, ErasureError> {
    let who = contact(cache, contact_id).await?;
    let preview = preview(cache, contact_id).await?;
    let salt = hex::encode(random_bytes::<16>());
    let hash = erasure_hash(&salt, &who.channel_id, &who.external_id);
    let mut identifiers = vec![who.external_id.clone()];
    identifiers.extend(who.phone.clone());
    identifiers.extend(who.username.clone());
    identifiers.retain(|i| i.chars().count() >= MIN_IDENTIFIER_CHARS);
    identifiers.sort();
    identifiers.dedup();
    let purged = relay
        .erase(
            token,
            &identifiers,
            &ErasureNotice {
                salt,
                hash: hash.clone(),
            },
            serde_json::json!({
                "channel": who.channel_kind,
                "conversations": preview.conversations,
                "messages": preview.messages,
            }),
        )
        .await?;
    let erased = erase_locally(cache, contact_id).await?;
    Ok(ErasureReceipt {
        hash,
        conversations: erased.conversations,
        messages: erased.messages,
        media_files: erased.media_files,
        relay_events_purged: purged,
    })
}

/// The log event of the workspace's retention periods.
pub const RETENTION_EVENT: &str = "workspace.retention";

/// The retention periods the relay lets admins set, in days (one day to ten years): a desk applies
/// and enforces no other.
pub const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

/// Retention periods as the relay announces them (privacy promise P12); `None` keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Retention {
    /// Conversations with no activity for this many days are deleted.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub conversation_days: Option<i64>,
    /// Media files older than this many days are deleted (the message stays, marked expired).
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub media_days: Option<i64>,
}

/// Stores the announced retention periods (inside the apply transaction).
pub(crate) async fn apply_retention(
    tx: &mut Transaction<'static, Sqlite>,
    retention: &Retention,
    at: i64,
) -> Result<(), CacheError> {
    sqlx::query!(
        "INSERT INTO retention (id, conversation_days, media_days, updated_at) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET conversation_days = ?1, media_days = ?2, updated_at = ?3",
        retention.conversation_days,
        retention.media_days,
        at
    )
    .execute(&mut **tx)
    .await
    .map_err(sql)?;
    Ok(())
}

/// The retention periods this device knows.
pub async fn retention(cache: &Cache) -> Result<Retention, CacheError> {
    Ok(
        sqlx::query!("SELECT conversation_days, media_days FROM retention WHERE id = 1")
            .fetch_optional(cache.pool())
            .await
            .map_err(sql)?
            .map(|r| Retention {
                conversation_days: r.conversation_days,
                media_days: r.media_days,
            })
            .unwrap_or_default(),
    )
}

/// What enforcing retention deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Conversations deleted (with their messages, notes and search entries).
    pub conversations: i64,
    /// Customers deleted because no conversation of theirs was left.
    pub contacts: i64,
    /// Media files deleted.
    pub media_files: i64,
}

/// Deletes what the retention periods no longer allow at `now`: conversations with no activity
/// for the conversation period (and customers left without conversations), and media files older
/// than the media period (the messages stay, without their file). Secure-deleted like erasures.
pub async fn enforce_retention(cache: &Cache, now: i64) -> Result<RetentionReport, CacheError> {
    let periods = periods_in_force(retention(cache).await?);
    let mut report = RetentionReport::default();
    if periods.conversation_days.is_none() && periods.media_days.is_none() {
        return Ok(report);
    }
    let mut tx = cache.pool().begin().await.map_err(sql)?;
    if let Some(days) = periods.conversation_days {
        let cut = now - days * DAY_MS;
        (report.conversations, report.contacts) = expire_conversations(&mut tx, cut).await?;
    }
    if let Some(days) = periods.media_days {
        report.media_files = expire_media(&mut tx, now - days * DAY_MS).await?;
    }
    if report != RetentionReport::default() {
        queue_checkpoint(&mut tx).await?;
    }
    tx.commit().await.map_err(sql)?;
    cleanup(cache).await?;
    Ok(report)
}

/// Runs one statement of a retention pass in `tx`; returns how many rows it changed.
async fn run<'q>(
    tx: &mut Transaction<'static, Sqlite>,
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<u64, CacheError> {
    Ok(query.execute(&mut **tx).await.map_err(sql)?.rows_affected())
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The periods of `known` the relay could have set: one it would never set (one a cache kept
/// before desks checked them) deletes nothing.
fn periods_in_force(known: Retention) -> Retention {
    Retention {
        conversation_days: known
            .conversation_days
            .filter(|d| RETENTION_DAYS.contains(d)),
        media_days: known.media_days.filter(|d| RETENTION_DAYS.contains(d)),
    }
}

/// Deletes the conversations with no activity since `cut` (their media queued for [`cleanup`]
/// unless a kept conversation shares it, their ratings kept as numbers only) and the customers
/// left without conversations; returns how many of each.
async fn expire_conversations(
    tx: &mut Transaction<'static, Sqlite>,
    cut: i64,
) -> Result<(i64, i64), CacheError> {
    run(tx, sqlx::query!(
        r#"INSERT OR IGNORE INTO erasure_cleanup (path)
               SELECT DISTINCT m.media_path FROM messages m JOIN conversations c ON c.id = m.conversation_id
               WHERE c.last_activity_at < ?1 AND m.media_path IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM messages o JOIN conversations oc ON oc.id = o.conversation_id
                                 WHERE o.media_path = m.media_path AND oc.last_activity_at >= ?1)"#,
        cut
    )).await?;
    run(tx, sqlx::query!(
        "DELETE FROM search_index WHERE conversation_id IN (SELECT id FROM conversations WHERE last_activity_at < ?)",
        cut
    )).await?;
    // Their satisfaction ratings stay as numbers, without the comment or the conversation.
    run(tx, sqlx::query!(
        "UPDATE ratings SET conversation_id = NULL, comment = NULL WHERE conversation_id IN (SELECT id FROM conversations WHERE last_activity_at < ?)",
        cut
    )).await?;
    let conversations = run(
        tx,
        sqlx::query!("DELETE FROM conversations WHERE last_activity_at < ?", cut),
    )
    .await? as i64;
    let contacts = run(tx, sqlx::query!(
        "DELETE FROM contacts WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = contacts.id)"
    )).await? as i64;
    Ok((conversations, contacts))
}

/// Takes their file from the messages sent before `cut` (the messages stay) and queues the files
/// no later message shares for [`cleanup`]; returns how many files.
async fn expire_media(tx: &mut Transaction<'static, Sqlite>, cut: i64) -> Result<i64, CacheError> {
    let expired = run(tx, sqlx::query!(
        r#"INSERT OR IGNORE INTO erasure_cleanup (path)
               SELECT DISTINCT media_path FROM messages m WHERE m.media_path IS NOT NULL AND m.sent_at < ?1
                 AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.media_path = m.media_path AND o.sent_at >= ?1)"#,
        cut
    )).await?;
    run(
        tx,
        sqlx::query!(
            "UPDATE messages SET media_path = NULL WHERE media_path IS NOT NULL AND sent_at < ?",
            cut
        ),
    )
    .await?;
    run(tx, sqlx::query!(
        "DELETE FROM media_downloads WHERE message_id IN (SELECT id FROM messages WHERE sent_at < ?)",
        cut
    )).await?;
    Ok(expired as i64)
}
