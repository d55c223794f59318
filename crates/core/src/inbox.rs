//! Reading the inbox: conversation and message pages by key (never OFFSET, so page 1 and page
//! 1000 cost the same), and full-text search as the user types.

use serde::Serialize;

use crate::cache::{Cache, CacheError};

/// A conversation in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationSummary {
    /// The conversation's id in this cache (not shared with other devices).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub id: i64,
    /// The customer's name (or id, when Meta sent no name).
    pub contact_name: String,
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// open, pending, snoozed, resolved.
    pub status: String,
    /// The member responsible, if any.
    pub assignee_id: Option<String>,
    /// Unread messages.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub unread_count: i64,
    /// The last message, shortened.
    pub preview: String,
    /// Last activity (UTC ms); with `id`, the key of the next page.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub last_activity_at: i64,
    /// The team it is routed to (an id of the automation setup's teams), if any.
    pub team_id: Option<String>,
    /// When a person's first response is due (UTC ms): the customer's first message not yet
    /// answered by a person, plus the team's first-response target. `None` when the team has no
    /// target, nothing waits for an answer, or the conversation is not open.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub first_response_due_at: Option<i64>,
    /// `due_soon` (within a fifth of the target or ten minutes, whichever is smaller) or
    /// `breached`; `None` while there is time, or when [`Self::first_response_due_at`] is `None`.
    pub sla: Option<String>,
}

/// A row of the list as the query reads it, before its SLA is worked out.
struct SummaryRow {
    id: i64,
    contact_name: String,
    channel_kind: String,
    status: String,
    assignee_id: Option<String>,
    unread_count: i64,
    preview: String,
    last_activity_at: i64,
    team_id: Option<String>,
    awaiting_since: Option<i64>,
}

/// A message in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessageView {
    /// The message's id in this cache (not shared with other devices).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub id: i64,
    /// Meta's id.
    pub external_id: Option<String>,
    /// inbound or outbound.
    pub direction: String,
    /// text, image, voice, …
    pub kind: String,
    /// What the message says (`None` for media without text, or deleted).
    pub body: Option<String>,
    /// The text sent with a photo, video or document (WhatsApp).
    pub caption: Option<String>,
    /// When it was sent (UTC ms); with `id`, the key of the next page.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub sent_at: i64,
    /// sent, delivered, read, played, failed (outbound).
    pub delivery_status: Option<String>,
    /// The customer's reaction.
    pub reaction: Option<String>,
    /// Whether the customer unsent it.
    pub deleted: bool,
    /// A document's file name, as the desk names the file
    /// ([`crate::customer_files::shown_name`]).
    pub file_name: Option<String>,
    /// The media's MIME type.
    pub media_mime: Option<String>,
    /// Meta's URL of the media (Instagram and Messenger keep only this).
    pub media_url: Option<String>,
    /// Whether the media file is on this machine (see [`media_file`]).
    pub media_stored: bool,
    /// The quoted message's Meta id.
    pub quoted_external_id: Option<String>,
    /// When the customer edited it.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub edited_at: Option<i64>,
    /// Why it failed (outbound).
    pub error_message: Option<String>,
    /// The member who wrote it (outbound from this app); `None` when the automation or a
    /// campaign did (see [`Self::author_label`]).
    pub author_member_id: Option<String>,
    /// Who wrote it when that was the workspace's automation: `Automation (<rule>)`, e.g.
    /// `Automation (greeting)` ([`crate::teams::automation_label`]); or a broadcast campaign:
    /// `Campaign (<its name>)`; `None` for a member's.
    pub author_label: Option<String>,
    /// The id a device gave it (outbound from this app): what a retry names.
    pub client_id: Option<String>,
}

/// A page key: `(time, id)` of the last row of the previous page.
pub type PageKey = (i64, i64);

/// Which conversations a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationFilter {
    /// Only this status (open, pending, snoozed, resolved).
    #[serde(default)]
    pub status: Option<String>,
    /// Only those assigned to this member; `Some("")` for unassigned ones.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Only this channel kind (whatsapp, messenger, instagram).
    #[serde(default)]
    pub channel_kind: Option<String>,
    /// Only those with this label.
    #[serde(default)]
    pub label: Option<String>,
    /// Only those routed to this team; `Some("")` for those of no team.
    #[serde(default)]
    pub team: Option<String>,
}

/// Conversations by last activity, newest first, after `before` (exclusive).
pub async fn conversations(
    cache: &Cache,
    before: Option<PageKey>,
    limit: i64,
) -> Result<Vec<ConversationSummary>, CacheError> {
    conversations_where(cache, &ConversationFilter::default(), before, limit).await
}

/// The conversations `filter` lets through, by last activity, newest first, after `before`
/// (exclusive). Walks the activity index and filters as it goes, so a page costs the same at
/// any depth. Where each stands against its first-response target is worked out for now.
pub async fn conversations_where(
    cache: &Cache,
    filter: &ConversationFilter,
    before: Option<PageKey>,
    limit: i64,
) -> Result<Vec<ConversationSummary>, CacheError> {
    conversations_at(cache, filter, before, limit, zentro_events::clock::now_ms()).await
}

/// [`conversations_where`] with the SLA worked out for `now` (UTC ms). The targets are read
/// once per page; each row's SLA comes from its own columns (team, status, and when the
/// customer's unanswered message came), so the cost stays that of the index walk.
pub async fn conversations_at(
    cache: &Cache,
    filter: &ConversationFilter,
    before: Option<PageKey>,
    limit: i64,
    now: i64,
) -> Result<Vec<ConversationSummary>, CacheError> {
    let (t, id) = before.unwrap_or((i64::MAX, i64::MAX));
    let (status, assignee, kind, label, team) = (
        filter.status.as_deref(),
        filter.assignee.as_deref(),
        filter.channel_kind.as_deref(),
        filter.label.as_deref(),
        filter.team.as_deref(),
    );
    let rows = sqlx::query_as!(
        SummaryRow,
        r#"SELECT c.id AS "id!", COALESCE(NULLIF(k.display_name, ''), k.external_id) AS "contact_name!: String",
                  ch.kind AS channel_kind, c.status, c.assignee_id, c.unread_count, c.last_message_preview AS preview,
                  c.last_activity_at, c.team_id, c.awaiting_since
           FROM conversations c CROSS JOIN contacts k CROSS JOIN channels ch
           WHERE k.id = c.contact_id AND ch.id = k.channel_id AND c.last_activity_at <= ?1 AND (c.last_activity_at < ?1 OR c.id < ?2)
             AND (?4 IS NULL OR c.status = ?4)
             AND (?5 IS NULL OR (?5 = '' AND c.assignee_id IS NULL) OR c.assignee_id = ?5)
             AND (?6 IS NULL OR ch.kind = ?6)
             AND (?7 IS NULL OR EXISTS (SELECT 1 FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
                                        WHERE cl.conversation_id = c.id AND l.name = ?7))
             AND (?8 IS NULL OR (?8 = '' AND c.team_id IS NULL) OR c.team_id = ?8)
           ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?3"#,
        t,
        id,
        limit,
        status,
        assignee,
        kind,
        label,
        team
    )
    .fetch_all(cache.pool())
    .await?;
    let targets = crate::teams::FirstResponseTargets::of(cache).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let standing = targets.standing(&r.status, r.team_id.as_deref(), r.awaiting_since, now);
            ConversationSummary {
                id: r.id,
                // Names and previews (a document's file name, often) as shown: nothing reorders
                // them.
                contact_name: crate::customer_files::visible_text(&r.contact_name),
                preview: crate::customer_files::visible_text(&r.preview),
                channel_kind: r.channel_kind,
                status: r.status,
                assignee_id: r.assignee_id,
                unread_count: r.unread_count,
                last_activity_at: r.last_activity_at,
                team_id: r.team_id,
                first_response_due_at: standing.map(|(due, _)| due),
                sla: standing.and_then(|(_, sla)| sla).map(|s| s.as_str().into()),
            }
        })
        .collect())
}

/// A message as it is shown: its file name is the one the desk gives the file
/// ([`crate::customer_files::shown_name`]: no invisible or reordering characters, the extension
/// of its MIME type), never the customer's as sent; one the automation wrote names its rule,
/// and one a broadcast campaign sent names the campaign, not a member.
fn as_shown(mut message: MessageView) -> MessageView {
    message.file_name = crate::customer_files::shown_name(
        message.file_name.as_deref(),
        message.media_mime.as_deref(),
        message.id,
    );
    if let Some(automation) = crate::teams::automation_label(message.author_member_id.as_deref()) {
        message.author_label = Some(automation);
    } else if zentro_events::campaigns::campaign_of(message.author_member_id.as_deref()).is_some()
        && message.author_label.is_none()
    {
        // A campaign this desk has not heard of yet (its announcement is on the way).
        message.author_label = Some("Campaign".to_string());
    }
    if message.author_label.is_some() {
        message.author_member_id = None;
    }
    message
}

/// A page of a conversation's messages as shown ([`MessageView`], [`as_shown`]): the
/// columns are the same for every page, `$page` is the rest of the query (the key condition, the
/// order and the limit), with `?1` the conversation, `?2` and `?3` the page key's time and id, and
/// `?4` the limit. A macro, as `sqlx::query_as!` checks only literal SQL.
macro_rules! message_page {
    ($cache:expr, $conversation_id:expr, $key:expr, $limit:expr, $page:literal) => {{
        let (t, id): PageKey = $key;
        sqlx::query_as!(
            MessageView,
            r#"SELECT m.id AS "id!", m.external_id, m.direction, m.kind, m.body, m.caption, m.sent_at, m.delivery_status,
                  (SELECT emoji FROM reactions r WHERE r.message_external_id = m.external_id AND r.reactor = 'customer') AS "reaction?: String",
                  m.deleted_at IS NOT NULL AS "deleted!: bool", m.file_name, m.media_mime, m.media_url,
                  m.media_path IS NOT NULL AS "media_stored!: bool", m.quoted_external_id, m.edited_at, m.error_message,
                  m.author_member_id,
                  (SELECT 'Campaign (' || c.name || ')' FROM campaigns c
                   WHERE m.author_member_id = 'campaign:' || c.id) AS "author_label?: String",
                  m.client_id
           FROM messages m WHERE m.conversation_id = ?1 AND "#
                + $page,
            $conversation_id,
            t,
            id,
            $limit
        )
        .fetch_all($cache.pool())
        .await?
        .into_iter()
        .map(as_shown)
        .collect()
    }};
}

/// A conversation's messages, newest first, before `before` (exclusive). The UI reverses a page
/// to show it and asks for the next one with the oldest row's key as the user scrolls up.
pub async fn messages(
    cache: &Cache,
    conversation_id: i64,
    before: Option<PageKey>,
    limit: i64,
) -> Result<Vec<MessageView>, CacheError> {
    let key = before.unwrap_or((i64::MAX, i64::MAX));
    Ok(message_page!(
        cache,
        conversation_id,
        key,
        limit,
        r#"m.sent_at <= ?2 AND (m.sent_at < ?2 OR m.id < ?3)
           ORDER BY m.sent_at DESC, m.id DESC LIMIT ?4"#
    ))
}

/// A conversation's messages, oldest first, after `after` (exclusive): the page below the ones
/// shown, when the reader scrolls back down after paging far up.
pub async fn messages_after(
    cache: &Cache,
    conversation_id: i64,
    after: PageKey,
    limit: i64,
) -> Result<Vec<MessageView>, CacheError> {
    Ok(message_page!(
        cache,
        conversation_id,
        after,
        limit,
        r#"m.sent_at >= ?2 AND (m.sent_at > ?2 OR m.id > ?3)
           ORDER BY m.sent_at ASC, m.id ASC LIMIT ?4"#
    ))
}

/// A search result: the best match in one conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchHit {
    /// The conversation the hit is in (open it with this id).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub conversation_id: i64,
    /// The matching message, when the match is a message (not the contact).
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub message_id: Option<i64>,
    /// The matched text with the match marked by `[` and `]`.
    pub snippet: String,
    /// Relevance tier (lower is better): 0 the customer matched, 1 a whole word, 2 a prefix.
    pub rank: f64,
}

/// Turns what the user typed into an FTS5 query: every word must match, the last one as a prefix
/// (search as you type); quotes and operators are neutralised.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '@' && c != '.' && c != '+')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect();
    if words.is_empty() {
        return None;
    }
    let last = words.len() - 1;
    Some(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == last {
                    format!("{w}*")
                } else {
                    w.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// How many of the newest matching messages one search looks at. Ranking every match of a short
/// prefix (a third of a million-message cache for three letters) would take far longer than a
/// keystroke; each further letter narrows the matches, so older ones come into reach as the
/// user types.
pub const SEARCH_CANDIDATES: i64 = 500;

/// Searches all history, best conversation first, one hit per conversation.
///
/// Ranking: a match on the customer (name, phone, username, email) first; then messages where
/// the last word typed matches a whole word over those where it is only a prefix; then the newest.
pub async fn search(cache: &Cache, input: &str, limit: i64) -> Result<Vec<SearchHit>, CacheError> {
    let Some(query) = fts_query(input) else {
        return Ok(Vec::new());
    };
    let last_word = input
        .split(|c: char| !c.is_alphanumeric())
        .rfind(|w| !w.is_empty())
        .unwrap_or_default()
        .to_lowercase();
    let rows = sqlx::query!(r#"WITH hits AS (
             SELECT * FROM (SELECT s.rowid AS rid, s.ref_id, s.conversation_id, snippet(search_index, 0, '[', ']', '…', 12) AS snip
                            FROM search_index s WHERE search_index MATCH ?1 AND s.rowid < 0 LIMIT 50)
             UNION ALL
             SELECT * FROM (SELECT s.rowid AS rid, s.ref_id, s.conversation_id, snippet(search_index, 0, '[', ']', '…', 12) AS snip
                            FROM search_index s WHERE search_index MATCH ?1 AND s.rowid > 0 ORDER BY s.rowid DESC LIMIT ?2)
         )
         SELECT COALESCE(h.conversation_id,
                         (SELECT c.id FROM conversations c WHERE c.contact_id = h.ref_id ORDER BY c.last_activity_at DESC LIMIT 1)) AS "conversation_id?: i64",
                h.rid AS "rowid!: i64", h.snip AS "snippet!: String"
         FROM hits h"#, query, SEARCH_CANDIDATES)
    .fetch_all(cache.pool())
    .await?;
    let mut best: std::collections::HashMap<i64, (u8, i64, String)> =
        std::collections::HashMap::new();
    for row in rows {
        let Some(conversation_id) = row.conversation_id else {
            continue;
        };
        let (rowid, snippet) = (row.rowid, row.snippet);
        let tier = if rowid < 0 {
            0
        } else if marked_words(&snippet).any(|w| w.to_lowercase() == last_word) {
            1
        } else {
            2
        };
        let candidate = (tier, rowid, snippet);
        match best.get(&conversation_id) {
            Some(current) if (current.0, -current.1) <= (candidate.0, -candidate.1) => {}
            _ => {
                best.insert(conversation_id, candidate);
            }
        }
    }
    let mut hits: Vec<SearchHit> = best
        .into_iter()
        .map(|(conversation_id, (tier, rowid, snippet))| SearchHit {
            conversation_id,
            message_id: (rowid > 0).then_some(rowid),
            snippet: crate::customer_files::visible_text(&snippet),
            rank: f64::from(tier),
        })
        .collect();
    // Within a tier, the newest message first (message ids grow with arrival).
    hits.sort_by(|a, b| {
        a.rank.total_cmp(&b.rank).then(
            b.message_id
                .unwrap_or(i64::MAX)
                .cmp(&a.message_id.unwrap_or(i64::MAX)),
        )
    });
    hits.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(hits)
}

/// The words FTS marked in a snippet (`[word]`).
fn marked_words(snippet: &str) -> impl Iterator<Item = &str> {
    snippet
        .split('[')
        .skip(1)
        .filter_map(|part| part.split(']').next())
}

/// The stored media file of a message and its MIME type, once downloaded.
pub async fn media_file(
    cache: &Cache,
    message_id: i64,
) -> Result<Option<(std::path::PathBuf, String)>, CacheError> {
    let row = sqlx::query!(
        r#"SELECT media_path AS "path!", coalesce(media_mime, 'application/octet-stream') AS "mime!: String"
           FROM messages WHERE id = ? AND media_path IS NOT NULL"#,
        message_id
    )
    .fetch_optional(cache.pool())
    .await?;
    Ok(row.map(|r| (std::path::PathBuf::from(r.path), r.mime)))
}

/// The customer a conversation is with, and what the composer needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationDetails {
    /// The conversation's id in this cache.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub id: i64,
    /// The customer's name (or id).
    pub contact_name: String,
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// Whether a file sent here carries the typed text as its caption (WhatsApp); elsewhere the
    /// text goes as its own reply after the file.
    pub files_carry_captions: bool,
    /// The customer's id on the channel.
    pub customer_id: String,
    /// Phone (WhatsApp), when known.
    pub phone: Option<String>,
    /// Username, when known.
    pub username: Option<String>,
    /// Email, when someone added it.
    pub email: Option<String>,
    /// Custom attributes (JSON object).
    pub attributes: String,
    /// Restricted (privacy promise P14): kept, but no processing beyond storage — no automation,
    /// no AI features.
    pub restricted: bool,
    /// When the customer last wrote (UTC ms): the 24-hour window runs from here.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub last_inbound_at: Option<i64>,
    /// When the reply window closes (UTC ms); `None` before the customer ever wrote.
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub window_closes_at: Option<i64>,
    /// The `zentro://` link to this conversation, which opens it on any desk of the workspace.
    pub link: String,
}

/// Details of one conversation, or `None` when it is not in the cache.
pub async fn conversation_details(
    cache: &Cache,
    conversation_id: i64,
) -> Result<Option<ConversationDetails>, CacheError> {
    let row = sqlx::query!(
        r#"SELECT c.id AS "id!", COALESCE(NULLIF(k.display_name, ''), k.external_id) AS "contact_name!: String",
                  ch.kind AS channel_kind, k.external_id AS customer_id, k.phone, k.username, k.email, k.attributes,
                  k.restricted AS "restricted!: bool", c.last_inbound_at, k.channel_id
           FROM conversations c JOIN contacts k ON k.id = c.contact_id JOIN channels ch ON ch.id = k.channel_id
           WHERE c.id = ?"#,
        conversation_id
    )
    .fetch_optional(cache.pool())
    .await?;
    Ok(row.map(|r| {
        let window = if r.channel_kind == "whatsapp" {
            zentro_meta::platform::WHATSAPP_SERVICE_WINDOW
        } else {
            zentro_meta::platform::MESSENGER_STANDARD_WINDOW
        };
        ConversationDetails {
            link: crate::links::conversation_link(&r.channel_id, &r.customer_id),
            id: r.id,
            contact_name: crate::customer_files::visible_text(&r.contact_name),
            customer_id: r.customer_id,
            phone: r.phone,
            username: r.username,
            email: r.email,
            attributes: r.attributes,
            restricted: r.restricted,
            last_inbound_at: r.last_inbound_at,
            window_closes_at: r.last_inbound_at.map(|at| at + window.as_millis() as i64),
            files_carry_captions: zentro_meta::platform::files_carry_captions(&r.channel_kind),
            channel_kind: r.channel_kind,
        }
    }))
}

/// One identity of a customer: a contact on one channel, with its conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Identity {
    /// The contact's conversation in this cache (the one to open).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub conversation_id: i64,
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// The channel's name (the business's number or Page).
    pub channel_name: String,
    /// The name the customer goes by there (their id when unknown).
    pub name: String,
    /// The customer's id on that channel.
    pub customer_id: String,
    /// Phone, if known.
    pub phone: Option<String>,
    /// Username, if known.
    pub username: Option<String>,
}

/// Identities ([`Identity`]) the rest of a query picks: the columns are the same, `$rest`
/// continues `FROM conversations c` (with `o` the contact, `ch` its channel, `c2` its
/// conversation), `$arg`s are its parameters. A macro, as `sqlx::query_as!` checks only
/// literal SQL.
macro_rules! identity_rows {
    ($cache:expr, $rest:literal, $($arg:expr),+) => {
        sqlx::query_as!(
            Identity,
            r#"SELECT c2.id AS "conversation_id!", ch.kind AS channel_kind, ch.display_name AS channel_name,
                  COALESCE(NULLIF(o.display_name, ''), o.external_id) AS "name!: String",
                  o.external_id AS customer_id, o.phone, o.username
           FROM conversations c"#
                + $rest,
            $($arg),+
        )
        .fetch_all($cache.pool())
        .await?
    };
}

/// The other identities of the customer in conversation `conversation_id` (contacts a team
/// member linked to theirs), by channel; empty when they have none.
pub async fn identities(cache: &Cache, conversation_id: i64) -> Result<Vec<Identity>, CacheError> {
    Ok(identity_rows!(
        cache,
        r#" JOIN contacts k ON k.id = c.contact_id
           JOIN contacts o ON o.person_key = k.person_key AND o.id <> k.id
           JOIN channels ch ON ch.id = o.channel_id
           JOIN conversations c2 ON c2.id = (SELECT c3.id FROM conversations c3 WHERE c3.contact_id = o.id
                                            ORDER BY c3.last_activity_at DESC, c3.id DESC LIMIT 1)
           WHERE c.id = ? AND k.person_key IS NOT NULL
           ORDER BY ch.kind, o.id"#,
        conversation_id
    ))
}

/// Customers a team member may link to the one in conversation `conversation_id`: contacts
/// whose name, phone, username or id contains `query`, not already the same person, most
/// recently active first.
pub async fn link_candidates(
    cache: &Cache,
    conversation_id: i64,
    query: &str,
    limit: i64,
) -> Result<Vec<Identity>, CacheError> {
    let query = query.trim();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let pattern = format!(
        "%{}%",
        query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    Ok(identity_rows!(
        cache,
        r#"2 JOIN contacts o ON o.id = c2.contact_id
           JOIN channels ch ON ch.id = o.channel_id,
                (SELECT k.id AS contact_id, k.person_key FROM conversations c JOIN contacts k ON k.id = c.contact_id
                 WHERE c.id = ?1) AS me
           WHERE o.id <> me.contact_id
             AND (me.person_key IS NULL OR o.person_key IS NULL OR o.person_key <> me.person_key)
             AND (o.display_name LIKE ?2 ESCAPE '\' OR o.phone LIKE ?2 ESCAPE '\'
                  OR o.username LIKE ?2 ESCAPE '\' OR o.external_id LIKE ?2 ESCAPE '\')
             AND c2.id = (SELECT c3.id FROM conversations c3 WHERE c3.contact_id = o.id
                          ORDER BY c3.last_activity_at DESC, c3.id DESC LIMIT 1)
           ORDER BY c2.last_activity_at DESC, c2.id DESC
           LIMIT ?3"#,
        conversation_id,
        pattern,
        limit
    ))
}

/// The conversation a `zentro://conversation` link names (see [`crate::links`]): the contact's
/// most recently active one in this cache, or `None` when this cache has no such contact.
pub async fn conversation_for_contact(
    cache: &Cache,
    channel_id: &str,
    contact: &str,
) -> Result<Option<i64>, CacheError> {
    let id = sqlx::query_scalar!(
        r#"SELECT c.id AS "id!" FROM conversations c JOIN contacts k ON k.id = c.contact_id
           WHERE k.channel_id = ? AND k.external_id = ?
           ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 1"#,
        channel_id,
        contact
    )
    .fetch_optional(cache.pool())
    .await?;
    Ok(id)
}

/// Marks a conversation read on this device (unread counts are per device).
pub async fn mark_read(cache: &Cache, conversation_id: i64) -> Result<(), CacheError> {
    sqlx::query!(
        "UPDATE conversations SET unread_count = 0 WHERE id = ? AND unread_count <> 0",
        conversation_id
    )
    .execute(cache.pool())
    .await?;
    Ok(())
}

/// A customer as `zentro contacts` lists them (for exports and erasure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactSummary {
    /// The contact's id in this cache.
    pub id: i64,
    /// Name (may be empty).
    pub name: String,
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// The customer's id on the channel.
    pub customer_id: String,
    /// Phone, if known.
    pub phone: Option<String>,
    /// Username, if known.
    pub username: Option<String>,
    /// Whether they are restricted (kept, not processed).
    pub restricted: bool,
    /// Their conversations in this cache.
    pub conversations: i64,
}

/// Every contact of the cache, by name.
pub async fn contacts(cache: &Cache) -> Result<Vec<ContactSummary>, CacheError> {
    Ok(sqlx::query_as!(
        ContactSummary,
        r#"SELECT k.id AS "id!", k.display_name AS "name!", ch.kind AS "channel_kind!", k.external_id AS "customer_id!",
                  k.phone, k.username, k.restricted AS "restricted!: bool",
                  (SELECT count(*) FROM conversations c WHERE c.contact_id = k.id) AS "conversations!: i64"
           FROM contacts k JOIN channels ch ON ch.id = k.channel_id
           ORDER BY k.display_name COLLATE NOCASE, k.id"#
    )
    .fetch_all(cache.pool())
    .await?)
}
