//! Team events: what staff did to conversations, contacts and canned replies, one function per
//! kind of event. Conversation events also leave a line in the conversation's activity.

use serde_json::json;

use super::{RelayEvent, Runs, Tx};
use crate::cache::CacheError;
use zentro_events::team::{ContactChanges, ContactRef, ConversationStatus, TeamEvent};

/// A team event (a kind starting with [`crate::actions::KIND_PREFIX`]); `false` when the payload
/// does not parse, names another kind or is invalid, or when its conversation or contact is not
/// in this cache.
pub(super) async fn apply(
    tx: &mut Tx,
    runs: &mut Runs,
    event: &RelayEvent,
) -> Result<bool, CacheError> {
    let Ok(team) = serde_json::from_value::<TeamEvent>(event.payload.clone()) else {
        return Ok(false);
    };
    if team.kind() != event.kind || team.validate().is_err() {
        return Ok(false);
    }
    runs.flush(tx).await?;
    apply_team(tx, event, &team).await
}

/// Applies a team event; `false` when the conversation or contact is not in this cache.
async fn apply_team(tx: &mut Tx, event: &RelayEvent, team: &TeamEvent) -> Result<bool, CacheError> {
    match team {
        TeamEvent::Assigned {
            conversation,
            assignee,
        } => assigned(tx, event, conversation, assignee.as_deref()).await,
        TeamEvent::StatusChanged {
            conversation,
            status,
            snoozed_until,
        } => status_changed(tx, event, conversation, status, *snoozed_until).await,
        TeamEvent::NoteAdded {
            conversation,
            note_id,
            body,
            mentions,
            at,
        } => note_added(tx, event, conversation, note_id, body, mentions, *at).await,
        TeamEvent::Labeled {
            conversation,
            label,
            added,
        } => labeled(tx, event, conversation, label, *added).await,
        TeamEvent::CannedReplySaved { shortcut, body } => {
            canned_reply_saved(tx, event, shortcut, body).await
        }
        TeamEvent::CannedReplyDeleted { shortcut } => canned_reply_deleted(tx, shortcut).await,
        TeamEvent::ContactEdited { contact, changes } => {
            contact_edited(tx, event, contact, changes).await
        }
        TeamEvent::ContactsLinked { contact, with } => contacts_linked(tx, contact, with).await,
        TeamEvent::ContactUnlinked { contact } => contact_unlinked(tx, contact).await,
        TeamEvent::Routed { conversation, team } => {
            routed(tx, event, conversation, team.as_deref()).await
        }
        TeamEvent::Rated { .. } => rated(tx, event, team).await,
        TeamEvent::ConsentRecorded {
            contact,
            opted_in,
            source,
            at,
            note,
        } => {
            let note = note.as_deref();
            super::consent::recorded(tx, event, contact, *opted_in, *source, *at, note).await
        }
    }
}

/// Who published the event (empty if the relay did not say).
fn actor(event: &RelayEvent) -> String {
    event.author.clone().unwrap_or_default()
}

async fn assigned(
    tx: &mut Tx,
    event: &RelayEvent,
    conversation: &ContactRef,
    assignee: Option<&str>,
) -> Result<bool, CacheError> {
    let Some(id) = conversation_for(tx, conversation).await? else {
        return Ok(false);
    };
    sqlx::query!(
        "UPDATE conversations SET assignee_id = ? WHERE id = ?",
        assignee,
        id
    )
    .execute(&mut **tx)
    .await?;
    record_activity(tx, event, id, "assigned", json!({ "assignee": assignee })).await?;
    Ok(true)
}

/// The customer's answer to the satisfaction survey (`team.rated`, only ever the relay's
/// automation's: a desk ignores one the relay did not write). A later event for the same survey
/// (its conversation and `resolved_at`) carries the comment: it replaces the rating and keeps
/// when it was first given.
async fn rated(tx: &mut Tx, event: &RelayEvent, rating: &TeamEvent) -> Result<bool, CacheError> {
    let TeamEvent::Rated {
        conversation,
        rating,
        comment,
        agent,
        team,
        resolved_at,
        rated_at,
    } = rating
    else {
        return Ok(false);
    };
    let Some(id) = conversation_for(tx, conversation).await? else {
        return Ok(false);
    };
    let rating = i64::from(*rating);
    sqlx::query!(
        r#"
        INSERT INTO ratings (conversation_id, channel_kind, team_id, member_id, rating, comment,
                             resolved_at, at, seq)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (conversation_id, resolved_at) DO UPDATE SET
            rating = excluded.rating,
            comment = coalesce(excluded.comment, ratings.comment),
            seq = excluded.seq
        WHERE excluded.seq > ratings.seq
        "#,
        id,
        conversation.channel_kind,
        team,
        agent,
        rating,
        comment,
        resolved_at,
        rated_at,
        event.seq
    )
    .execute(&mut **tx)
    .await?;
    let detail = json!({ "rating": rating, "commented": comment.is_some() });
    record_activity(tx, event, id, "rated", detail).await?;
    Ok(true)
}

/// The conversation moves to a team (or to none): by a member, or by the automation's menu or a
/// channel's default team.
async fn routed(
    tx: &mut Tx,
    event: &RelayEvent,
    conversation: &ContactRef,
    team: Option<&str>,
) -> Result<bool, CacheError> {
    let Some(id) = conversation_for(tx, conversation).await? else {
        return Ok(false);
    };
    sqlx::query!(
        "UPDATE conversations SET team_id = ? WHERE id = ?",
        team,
        id
    )
    .execute(&mut **tx)
    .await?;
    record_activity(tx, event, id, "routed", json!({ "team": team })).await?;
    Ok(true)
}

async fn status_changed(
    tx: &mut Tx,
    event: &RelayEvent,
    conversation: &ContactRef,
    status: &ConversationStatus,
    snoozed_until: Option<i64>,
) -> Result<bool, CacheError> {
    let Some(id) = conversation_for(tx, conversation).await? else {
        return Ok(false);
    };
    let until = (*status == ConversationStatus::Snoozed)
        .then_some(snoozed_until)
        .flatten();
    let status_name = status.as_str();
    sqlx::query!(
        "UPDATE conversations SET status = ?, snoozed_until = ? WHERE id = ?",
        status_name,
        until,
        id
    )
    .execute(&mut **tx)
    .await?;
    let detail = json!({ "status": status_name, "snoozed_until": until });
    record_activity(tx, event, id, "status", detail).await?;
    Ok(true)
}

async fn note_added(
    tx: &mut Tx,
    event: &RelayEvent,
    conversation: &ContactRef,
    note_id: &str,
    body: &str,
    mentions: &[String],
    at: i64,
) -> Result<bool, CacheError> {
    let Some(id) = conversation_for(tx, conversation).await? else {
        return Ok(false);
    };
    let author = actor(event);
    let mentions_json = json!(mentions).to_string();
    sqlx::query!(
        r#"
        INSERT INTO notes (id, conversation_id, author_member_id, body, mentions, created_at)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO NOTHING
        "#,
        note_id,
        id,
        author,
        body,
        mentions_json,
        at
    )
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

async fn labeled(
    tx: &mut Tx,
    event: &RelayEvent,
    conversation: &ContactRef,
    label: &str,
    added: bool,
) -> Result<bool, CacheError> {
    let Some(id) = conversation_for(tx, conversation).await? else {
        return Ok(false);
    };
    let label = label.trim();
    if added {
        sqlx::query!(
            "INSERT INTO labels (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
            label
        )
        .execute(&mut **tx)
        .await?;
        sqlx::query!(
            r#"
            INSERT INTO conversation_labels (conversation_id, label_id)
            SELECT ?, id FROM labels WHERE name = ?
            ON CONFLICT DO NOTHING
            "#,
            id,
            label
        )
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query!(
            r#"
            DELETE FROM conversation_labels
            WHERE conversation_id = ? AND label_id = (SELECT id FROM labels WHERE name = ?)
            "#,
            id,
            label
        )
        .execute(&mut **tx)
        .await?;
    }
    let kind = if added { "labeled" } else { "unlabeled" };
    record_activity(tx, event, id, kind, json!({ "label": label })).await?;
    Ok(true)
}

async fn canned_reply_saved(
    tx: &mut Tx,
    event: &RelayEvent,
    shortcut: &str,
    body: &str,
) -> Result<bool, CacheError> {
    let author = actor(event);
    sqlx::query!(
        r#"
        INSERT INTO canned_replies (shortcut, body, updated_by, updated_at)
        VALUES (?, ?, ?, ?)
        ON CONFLICT (shortcut) DO UPDATE SET
            body = excluded.body,
            updated_by = excluded.updated_by,
            updated_at = excluded.updated_at
        "#,
        shortcut,
        body,
        author,
        event.at
    )
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

async fn canned_reply_deleted(tx: &mut Tx, shortcut: &str) -> Result<bool, CacheError> {
    sqlx::query!("DELETE FROM canned_replies WHERE shortcut = ?", shortcut)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

async fn contact_edited(
    tx: &mut Tx,
    event: &RelayEvent,
    contact: &ContactRef,
    changes: &ContactChanges,
) -> Result<bool, CacheError> {
    let attributes = serde_json::to_string(&changes.attributes).unwrap_or_else(|_| "{}".into());
    let display_name = changes.display_name.as_deref().map(str::trim);
    // `email`: absent leaves it, `null` clears it.
    let email_changed = changes.email.is_some();
    let email = changes.email.clone().flatten();
    let restricted = changes.restricted;
    let updated = sqlx::query!(
        r#"
        UPDATE contacts SET
            display_name = coalesce(?1, display_name),
            email = CASE WHEN ?2 THEN ?3 ELSE email END,
            attributes = json_patch(attributes, ?4),
            restricted = coalesce(?9, restricted),
            updated_at = ?5
        WHERE channel_id = (SELECT id FROM channels WHERE kind = ?6 AND external_id = ?7)
          AND external_id = ?8
        "#,
        display_name,
        email_changed,
        email,
        attributes,
        event.at,
        contact.channel_kind,
        contact.channel_external_id,
        contact.customer_id,
        restricted
    )
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 && restricted == Some(true) {
        // Restricted before they ever wrote (P14): the contact is kept, restricted, so the
        // restriction holds when their first message arrives.
        return restrict_unknown_contact(tx, event, contact).await;
    }
    Ok(updated.rows_affected() > 0)
}

/// Stores a contact this cache has not seen yet, restricted (with its channel, if that is new too).
async fn restrict_unknown_contact(
    tx: &mut Tx,
    event: &RelayEvent,
    contact: &ContactRef,
) -> Result<bool, CacheError> {
    let channel_id = super::channel_id(
        zentro_meta::webhook::Platform::parse(&contact.channel_kind)
            .unwrap_or(zentro_meta::webhook::Platform::WhatsApp),
        &contact.channel_external_id,
    );
    sqlx::query!(
        "INSERT INTO channels (id, kind, external_id, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO NOTHING",
        channel_id,
        contact.channel_kind,
        contact.channel_external_id,
        event.at
    )
    .execute(&mut **tx)
    .await?;
    let inserted = sqlx::query!(
        "INSERT INTO contacts (channel_id, external_id, display_name, created_at, updated_at, restricted)
         VALUES (?1, ?2, '', ?3, ?3, 1)
         ON CONFLICT (channel_id, external_id) DO UPDATE SET restricted = 1",
        channel_id,
        contact.customer_id,
        event.at
    )
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

async fn contacts_linked(
    tx: &mut Tx,
    contact: &ContactRef,
    with: &ContactRef,
) -> Result<bool, CacheError> {
    let (Some((contact_id, contact_key)), Some((with_id, with_key))) =
        (contact_in(tx, contact).await?, contact_in(tx, with).await?)
    else {
        // A contact this device does not have (a channel it does not see).
        return Ok(false);
    };
    let key = contact_key.unwrap_or_else(|| contact.person_key());
    let joined = with_key.unwrap_or_else(|| with.person_key());
    sqlx::query!(
        "UPDATE contacts SET person_key = ?1 WHERE id IN (?2, ?3) OR person_key = ?4",
        key,
        contact_id,
        with_id,
        joined
    )
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

async fn contact_unlinked(tx: &mut Tx, contact: &ContactRef) -> Result<bool, CacheError> {
    let Some((id, Some(key))) = contact_in(tx, contact).await? else {
        return Ok(false);
    };
    sqlx::query!("UPDATE contacts SET person_key = NULL WHERE id = ?", id)
        .execute(&mut **tx)
        .await?;
    // A person of one identity is just a contact again.
    sqlx::query!(
        r#"
        UPDATE contacts SET person_key = NULL
        WHERE person_key = ?1 AND (SELECT count(*) FROM contacts WHERE person_key = ?1) = 1
        "#,
        key
    )
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// A line in the conversation's activity, keyed by the event's seq (so applying twice adds one).
async fn record_activity(
    tx: &mut Tx,
    event: &RelayEvent,
    conversation_id: i64,
    kind: &str,
    detail: serde_json::Value,
) -> Result<(), CacheError> {
    let actor = actor(event);
    let detail = detail.to_string();
    sqlx::query!(
        r#"
        INSERT INTO conversation_activity (conversation_id, seq, kind, actor_member_id, detail, at)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT DO NOTHING
        "#,
        conversation_id,
        event.seq,
        kind,
        actor,
        detail,
        event.at
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The cache's contact for a reference: its id and person key.
async fn contact_in(
    tx: &mut Tx,
    target: &ContactRef,
) -> Result<Option<(i64, Option<String>)>, CacheError> {
    let row = sqlx::query!(
        r#"
        SELECT k.id AS "id!", k.person_key
        FROM contacts k JOIN channels ch ON ch.id = k.channel_id
        WHERE ch.kind = ? AND ch.external_id = ? AND k.external_id = ?
        "#,
        target.channel_kind,
        target.channel_external_id,
        target.customer_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| (r.id, r.person_key)))
}

/// The cache's conversation for a reference: the contact's active one, else their latest.
async fn conversation_for(tx: &mut Tx, target: &ContactRef) -> Result<Option<i64>, CacheError> {
    Ok(sqlx::query_scalar!(
        r#"
        SELECT c.id AS "id!"
        FROM channels ch
        JOIN contacts k ON k.channel_id = ch.id
        JOIN conversations c ON c.contact_id = k.id
        WHERE ch.kind = ? AND ch.external_id = ? AND k.external_id = ?
        ORDER BY c.status <> 'resolved' DESC, c.last_activity_at DESC, c.id DESC
        LIMIT 1
        "#,
        target.channel_kind,
        target.channel_external_id,
        target.customer_id
    )
    .fetch_optional(&mut **tx)
    .await?)
}
