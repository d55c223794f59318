//! What deserves an OS notification: a new conversation, a customer's message in a conversation
//! assigned to you, a teammate's note that mentions you, a conversation of your team past its
//! first-response target — never the conversation you are reading, never your own actions. The
//! app shows these; the rules live here.

use serde::Serialize;

use crate::cache::{Cache, CacheError};
use crate::members::Member;

/// Why a notice is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A customer wrote for the first time (or after their conversation was resolved).
    NewConversation,
    /// A customer wrote in a conversation assigned to you.
    Message,
    /// A teammate mentioned you in a private note.
    Mention,
    /// A conversation of one of your teams went past its first-response target.
    FirstResponseBreached,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// What happened: a new conversation, a message in one assigned to you, or a mention.
    pub kind: NoticeKind,
    /// The conversation to open when clicked.
    pub conversation_id: i64,
    /// The customer's name (or who mentioned you).
    pub title: String,
    /// The message, shortened.
    pub body: String,
}

/// Where the last look for notices ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoticeCursor {
    /// The last message id looked at.
    pub message_id: i64,
    /// The last note (rowid) looked at.
    pub note_rowid: i64,
}

/// The cursor at the cache's current end: notices start from what arrives next.
pub async fn cursor_now(cache: &Cache) -> Result<NoticeCursor, CacheError> {
    let row = sqlx::query!(
        r#"SELECT (SELECT coalesce(max(id), 0) FROM messages) AS "message_id!: i64",
                  (SELECT coalesce(max(rowid), 0) FROM notes) AS "note_rowid!: i64""#
    )
    .fetch_one(cache.pool())
    .await?;
    Ok(NoticeCursor {
        message_id: row.message_id,
        note_rowid: row.note_rowid,
    })
}

/// Notices for what arrived after `cursor`, for `member`, skipping the conversation `viewing`;
/// and the cursor to start from next time.
pub async fn since(
    cache: &Cache,
    cursor: NoticeCursor,
    member: &Member,
    viewing: Option<i64>,
) -> Result<(Vec<Notice>, NoticeCursor), CacheError> {
    let mut next = cursor;
    let mut notices = Vec::new();
    let messages = sqlx::query!(
        r#"SELECT m.id AS "id!", m.conversation_id, m.kind, coalesce(m.body, m.caption, m.file_name) AS "text?: String",
                  COALESCE(NULLIF(k.display_name, ''), k.external_id) AS "name!: String", c.assignee_id,
                  NOT EXISTS (SELECT 1 FROM messages e WHERE e.conversation_id = m.conversation_id AND e.id < m.id) AS "first!: bool"
           FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN contacts k ON k.id = c.contact_id
           WHERE m.id > ? AND m.direction = 'inbound' ORDER BY m.id LIMIT 200"#,
        cursor.message_id
    )
    .fetch_all(cache.pool())
    .await?;
    for m in messages {
        next.message_id = next.message_id.max(m.id);
        if Some(m.conversation_id) == viewing {
            continue;
        }
        let kind = if m.first {
            NoticeKind::NewConversation
        } else if m.assignee_id.as_deref() == Some(member.id.as_str()) {
            NoticeKind::Message
        } else {
            continue;
        };
        notices.push(Notice {
            kind,
            conversation_id: m.conversation_id,
            // The customer's name and a document's file name stay unreordered
            // (`customer_files::visible_text`).
            title: crate::customer_files::visible_text(&m.name),
            body: shorten(&crate::customer_files::visible_text(
                m.text.as_deref().unwrap_or(&format!("[{}]", m.kind)),
            )),
        });
    }

    let notes = sqlx::query!(
        r#"SELECT rowid AS "rowid!: i64", conversation_id, author_member_id, body, mentions FROM notes
           WHERE rowid > ? ORDER BY rowid LIMIT 200"#,
        cursor.note_rowid
    )
    .fetch_all(cache.pool())
    .await?;
    let handles = handles(member);
    for note in notes {
        next.note_rowid = next.note_rowid.max(note.rowid);
        if note.author_member_id == member.id || Some(note.conversation_id) == viewing {
            continue;
        }
        let mentions: Vec<String> = serde_json::from_str(&note.mentions).unwrap_or_default();
        if mentions
            .iter()
            .any(|m| m == &member.id || handles.contains(&m.to_lowercase()))
        {
            notices.push(Notice {
                kind: NoticeKind::Mention,
                conversation_id: note.conversation_id,
                title: "You were mentioned in a note".into(),
                body: shorten(&note.body),
            });
        }
    }
    Ok((notices, next))
}

/// Conversations of `member`'s teams whose first response fell due in `(after, now]` (UTC ms),
/// skipping the conversation `viewing`. Time alone makes a conversation breach, so the shell
/// calls this every minute with the previous call's `now` as `after`: each breach then falls in
/// exactly one window and is noticed once (and those that breached while the app was closed are
/// not noticed at start, when `after` is the start).
pub async fn breaches(
    cache: &Cache,
    member: &Member,
    after: i64,
    now: i64,
    viewing: Option<i64>,
) -> Result<Vec<Notice>, CacheError> {
    let Some(cached) = crate::teams::cached_setup(cache).await? else {
        return Ok(Vec::new());
    };
    let mut notices = Vec::new();
    for team in &cached.setup.teams {
        let Some(minutes) = team.first_response_minutes else {
            continue;
        };
        if !team.members.contains(&member.id) {
            continue;
        }
        let target = i64::from(minutes) * 60_000;
        let (from, to) = (after.saturating_sub(target), now.saturating_sub(target));
        let due = sqlx::query!(
            r#"SELECT c.id AS "id!", COALESCE(NULLIF(k.display_name, ''), k.external_id) AS "name!: String"
               FROM conversations c JOIN contacts k ON k.id = c.contact_id
               WHERE c.team_id = ?1 AND c.status = 'open' AND c.awaiting_since IS NOT NULL
                 AND c.awaiting_since > ?2 AND c.awaiting_since <= ?3
               ORDER BY c.awaiting_since"#,
            team.id,
            from,
            to
        )
        .fetch_all(cache.pool())
        .await?;
        notices.extend(
            due.into_iter()
                .filter(|c| Some(c.id) != viewing)
                .map(|c| Notice {
                    kind: NoticeKind::FirstResponseBreached,
                    conversation_id: c.id,
                    title: crate::customer_files::visible_text(&c.name),
                    body: format!("{}: no reply within {minutes} min", team.name),
                }),
        );
    }
    Ok(notices)
}

/// How a member can be @mentioned: their id, email name and first name, lowercased.
fn handles(member: &Member) -> Vec<String> {
    let mut out = vec![member.id.to_lowercase()];
    if let Some(local) = member.email.split('@').next() {
        out.push(local.to_lowercase());
    }
    if let Some(first) = member.display_name.split_whitespace().next() {
        out.push(first.to_lowercase());
    }
    out
}

fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        out.push('…');
    }
    out
}

/// Unread messages over all conversations (the tray's count).
pub async fn unread_total(cache: &Cache) -> Result<i64, CacheError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT coalesce(sum(unread_count), 0) AS "n!: i64" FROM conversations"#
    )
    .fetch_one(cache.pool())
    .await?)
}
