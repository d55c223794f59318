//! What staff do to conversations and contacts (assign, change status, write a private note,
//! label, edit or link a contact, canned replies): each is a team event, shared with every device
//! of the workspace through the relay's log. [`ConversationAction`] is what the UI asks for;
//! [`event`] turns it into the team event and [`act`] queues it on the running desk.
//!
//! A device never changes its cache directly for these: it queues the event (so it survives being
//! offline), publishes it with an idempotency key, and applies it when the event comes back in the
//! relay's order — like every other device — so all caches converge on the same state.
//!
//! Conversations and contacts are named by what every device knows the same way: the channel
//! (kind and Meta id) and the customer's id on it. A conversation reference means the contact's
//! current conversation (the active one, else the latest).

use serde::{Deserialize, Serialize};
use zentro_events::clock::random_id;

use crate::cache::{Cache, CacheError};
use crate::desk::Desk;
use crate::relay_client::{RelayClient, SyncError};
use crate::vault::Secret;

pub use zentro_events::team::{
    ContactChanges, ContactRef, ConversationStatus, Invalid, KIND_PREFIX, TeamEvent,
};

/// What went wrong with a team event.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The change is not allowed as given; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The conversation or contact is not in this cache.
    #[error("conversation {0} is not in this cache")]
    NoConversation(i64),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl From<Invalid> for TeamError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e.0)
    }
}

impl From<sqlx::Error> for TeamError {
    fn from(e: sqlx::Error) -> Self {
        Self::Cache(CacheError::Query(e))
    }
}

/// How every device names the cache's conversation `conversation_id`.
pub async fn conversation_ref(
    cache: &Cache,
    conversation_id: i64,
) -> Result<ContactRef, TeamError> {
    sqlx::query_as!(
        ContactRef,
        r#"SELECT ch.kind AS channel_kind, ch.external_id AS channel_external_id, k.external_id AS customer_id
           FROM conversations c JOIN contacts k ON k.id = c.contact_id JOIN channels ch ON ch.id = k.channel_id WHERE c.id = ?"#,
        conversation_id
    )
    .fetch_optional(cache.pool())
    .await?
    .ok_or(TeamError::NoConversation(conversation_id))
}

/// Something the agent does to a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConversationAction {
    /// Assign to a member (`None`: unassign).
    Assign {
        /// The member's relay id.
        assignee: Option<String>,
    },
    /// Change the status; snoozing needs `snooze_hours`.
    SetStatus {
        /// The new status.
        status: ConversationStatus,
        /// For how long to snooze.
        snooze_hours: Option<u32>,
    },
    /// A private note for the team.
    AddNote {
        /// What the note says (Markdown is not rendered); never sent to the customer.
        body: String,
        /// Relay ids of the members mentioned with @, who are notified.
        mentions: Vec<String>,
    },
    /// Correct the customer's details (absent fields stay; an empty email clears it).
    EditContact {
        /// A new name.
        display_name: Option<String>,
        /// A new email (`""` clears it).
        email: Option<String>,
        /// Restrict processing (admins), or lift it.
        #[serde(default)]
        restricted: Option<bool>,
    },
    /// Put a label on or take it off.
    Label {
        /// The label's name, as typed (labels are free text shared by the team).
        label: String,
        /// `true` puts the label on, `false` takes it off.
        added: bool,
    },
    /// The customer is the same person as the one in another conversation (another channel,
    /// another number): show them as one customer's identities.
    LinkContact {
        /// The other customer's conversation.
        other_conversation_id: u32,
    },
    /// The customer is not the person they were linked to.
    UnlinkContact,
}

const HOUR_MS: i64 = 3_600_000;

/// The team event that does `action` to the cache's conversation `conversation_id` at `now`
/// (UTC ms): conversations named as every device knows them, a snooze's end, a new note's id.
pub async fn event(
    cache: &Cache,
    conversation_id: i64,
    action: ConversationAction,
    now: i64,
) -> Result<TeamEvent, TeamError> {
    let conversation = conversation_ref(cache, conversation_id).await?;
    Ok(match action {
        ConversationAction::Assign { assignee } => TeamEvent::Assigned {
            conversation,
            assignee,
        },
        ConversationAction::SetStatus {
            status,
            snooze_hours,
        } => TeamEvent::StatusChanged {
            conversation,
            status,
            snoozed_until: snooze_hours.map(|h| now + i64::from(h) * HOUR_MS),
        },
        ConversationAction::AddNote { body, mentions } => TeamEvent::NoteAdded {
            conversation,
            note_id: format!("note-{now}-{}", random_id()),
            body,
            mentions,
            at: now,
        },
        ConversationAction::EditContact {
            display_name,
            email,
            restricted,
        } => TeamEvent::ContactEdited {
            contact: conversation,
            changes: ContactChanges {
                display_name,
                email: email.map(|e| Some(e.trim().to_string()).filter(|e| !e.is_empty())),
                attributes: Default::default(),
                restricted,
            },
        },
        ConversationAction::Label { label, added } => TeamEvent::Labeled {
            conversation,
            label,
            added,
        },
        ConversationAction::LinkContact {
            other_conversation_id,
        } => TeamEvent::ContactsLinked {
            contact: conversation,
            with: conversation_ref(cache, other_conversation_id.into()).await?,
        },
        ConversationAction::UnlinkContact => TeamEvent::ContactUnlinked {
            contact: conversation,
        },
    })
}

/// Does `action` to conversation `conversation_id` for every device of the team: queued on the
/// running desk, which publishes it. Returns the event's idempotency key.
pub async fn act(
    desk: &Desk,
    conversation_id: i64,
    action: ConversationAction,
    now: i64,
) -> Result<String, TeamError> {
    let event = event(desk.cache(), conversation_id, action, now).await?;
    desk.act(&event).await
}

/// Writes `event` to this device's team outbox; [`flush`] publishes it. Returns its idempotency key.
pub async fn queue(cache: &Cache, event: &TeamEvent, now: i64) -> Result<String, TeamError> {
    event.validate()?;
    let key = format!("{now}-{}", random_id());
    let payload = serde_json::to_string(event).map_err(|e| TeamError::Invalid(e.to_string()))?;
    let kind = event.kind();
    sqlx::query!(
        "INSERT INTO team_outbox (idempotency_key, kind, payload, created_at) VALUES (?, ?, ?, ?)",
        key,
        kind,
        payload,
        now
    )
    .execute(cache.pool())
    .await?;
    Ok(key)
}

/// Queues an announcement to publish as is (e.g. `message.sent` after Meta accepted a reply), with
/// the caller's idempotency key, so it goes out once even if the relay is unreachable now.
pub async fn queue_announcement(
    cache: &Cache,
    kind: &str,
    payload: &serde_json::Value,
    idempotency_key: &str,
    now: i64,
) -> Result<(), CacheError> {
    let payload = payload.to_string();
    sqlx::query!(
        "INSERT INTO team_outbox (idempotency_key, kind, payload, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        idempotency_key,
        kind,
        payload,
        now
    )
    .execute(cache.pool())
    .await?;
    Ok(())
}

/// Team events waiting to be published.
pub async fn waiting(cache: &Cache) -> Result<i64, CacheError> {
    Ok(sqlx::query_scalar!("SELECT count(*) FROM team_outbox")
        .fetch_one(cache.pool())
        .await?)
}

/// Publishes queued team events in the order they were written. Each leaves the queue once the
/// relay accepted it; a failure stops the pass (order matters) and leaves the rest queued.
/// Returns how many were published.
pub async fn flush(
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
) -> Result<usize, SyncError> {
    let queued: Vec<(String, String, String)> = sqlx::query!(
        "SELECT idempotency_key, kind, payload FROM team_outbox ORDER BY created_at, rowid"
    )
    .fetch_all(cache.pool())
    .await
    .map_err(CacheError::Query)?
    .into_iter()
    .map(|r| (r.idempotency_key, r.kind, r.payload))
    .collect();
    let mut published = 0;
    for (key, kind, payload) in queued {
        let value: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
        match client.publish(token, &kind, value, &key).await {
            Ok(_) => {
                sqlx::query!("DELETE FROM team_outbox WHERE idempotency_key = ?", key)
                    .execute(cache.pool())
                    .await
                    .map_err(CacheError::Query)?;
                published += 1;
            }
            Err(error) => {
                let reason = error.to_string();
                sqlx::query!("UPDATE team_outbox SET attempts = attempts + 1, last_error = ? WHERE idempotency_key = ?", reason, key)
                    .execute(cache.pool())
                    .await
                    .map_err(CacheError::Query)?;
                return Err(error);
            }
        }
    }
    Ok(published)
}

/// A note in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NoteView {
    /// The note's id, the same on every device (`note-<ms>-<random>`).
    pub id: String,
    /// Who wrote it.
    pub author_member_id: String,
    /// What the note says.
    pub body: String,
    /// Relay ids of the members mentioned with @.
    pub mentions: Vec<String>,
    /// When (UTC ms).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub created_at: i64,
}

/// The notes of a conversation, oldest first.
pub async fn notes(cache: &Cache, conversation_id: i64) -> Result<Vec<NoteView>, CacheError> {
    let rows = sqlx::query!("SELECT id, author_member_id, body, mentions, created_at FROM notes WHERE conversation_id = ? ORDER BY created_at, id", conversation_id)
    .fetch_all(cache.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| NoteView {
            id: r.id,
            author_member_id: r.author_member_id,
            body: r.body,
            mentions: serde_json::from_str(&r.mentions).unwrap_or_default(),
            created_at: r.created_at,
        })
        .collect())
}

/// A conversation's assignment, status and labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationState {
    /// open, pending, snoozed, resolved.
    pub status: String,
    /// Until when it is snoozed.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub snoozed_until: Option<i64>,
    /// The member responsible.
    pub assignee: Option<String>,
    /// Label names, alphabetical.
    pub labels: Vec<String>,
}

/// The workflow state of a conversation.
pub async fn conversation_state(
    cache: &Cache,
    conversation_id: i64,
) -> Result<Option<ConversationState>, CacheError> {
    let Some(row) = sqlx::query!(
        "SELECT status, snoozed_until, assignee_id FROM conversations WHERE id = ?",
        conversation_id
    )
    .fetch_optional(cache.pool())
    .await?
    else {
        return Ok(None);
    };
    let labels: Vec<String> = sqlx::query_scalar!("SELECT l.name FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = ? ORDER BY l.name", conversation_id)
    .fetch_all(cache.pool())
    .await?;
    Ok(Some(ConversationState {
        status: row.status,
        snoozed_until: row.snoozed_until,
        assignee: row.assignee_id,
        labels,
    }))
}

/// A canned reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CannedReply {
    /// Typed as `/shortcut`.
    pub shortcut: String,
    /// The text it inserts.
    pub body: String,
}

/// The team's canned replies, by shortcut.
pub async fn canned_replies(cache: &Cache) -> Result<Vec<CannedReply>, CacheError> {
    Ok(sqlx::query_as!(
        CannedReply,
        "SELECT shortcut, body FROM canned_replies ORDER BY shortcut"
    )
    .fetch_all(cache.pool())
    .await?)
}

/// Reopens snoozed conversations whose time has come; returns how many woke. Every device does
/// this for itself at the same moment, so caches agree without a team event.
pub async fn wake_snoozed(cache: &Cache, now: i64) -> Result<u64, CacheError> {
    Ok(sqlx::query!(
        "UPDATE conversations SET status = 'open', snoozed_until = NULL
         WHERE status = 'snoozed' AND snoozed_until IS NOT NULL AND snoozed_until <= ?",
        now
    )
    .execute(cache.pool())
    .await?
    .rows_affected())
}
