//! Exports of customers' data (privacy promise P13: access and portability).
//!
//! One ZIP archive per export. For each contact, under `contacts/<id>/` (or at the root for a
//! single contact): `export.json` (the machine-readable document, schema
//! `docs/export-schema-v1.json`, versioned by `version`), `contacts.csv`, `conversations.csv`,
//! `messages.csv`, `transcripts/conversation-<id>.html` (readable, prints well), and
//! `media/<sha256>` for every file this cache holds, referenced from the JSON and the transcripts.
//! Messages are read in keyset pages and written as they are read, so a contact with a hundred
//! thousand messages exports in bounded memory. An export never contains tokens: only the cache is
//! read, and the cache holds none.

use std::io::{Seek, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};
use zip::write::SimpleFileOptions;

use sqlx::SqliteConnection;

use crate::cache::{Cache, CacheError};

/// The export document's schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// Messages read per page.
const PAGE: i64 = 500;

/// How far an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ExportProgress {
    /// Contacts finished.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub contacts_done: i64,
    /// Contacts in the export.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub contacts_total: i64,
    /// Messages written so far.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub messages_done: i64,
    /// Messages in the export.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub messages_total: i64,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ExportSummary {
    /// The archive.
    pub path: String,
    /// Contacts in it.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub contacts: i64,
    /// Messages in it.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub messages: i64,
    /// Media files in it.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub media_files: i64,
    /// Its size in bytes.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub bytes: i64,
}

/// Why an export failed (a partial archive is removed).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No such contact.
    #[error("that customer is not in this cache")]
    NoContact,
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// Every export is recorded in the team's audit log first; the relay refused (an agent) or
    /// could not be reached. Nothing was written.
    #[error(
        "exports are recorded in the team's audit log, and the relay did not accept it ({0}); nothing was exported"
    )]
    Relay(#[from] crate::sync::SyncError),
    /// Writing the archive failed (a full disk, a folder that is not writable).
    #[error(
        "could not write the export to {path}: {reason}; free some space or choose another folder"
    )]
    Write {
        /// The archive.
        path: String,
        /// Why.
        reason: String,
    },
}

fn sql(error: sqlx::Error) -> CacheError {
    CacheError::Query(error)
}

/// Which contacts: one, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One contact, at the archive's root.
    Contact(i64),
    /// Every contact, each under `contacts/<id>/`.
    All,
}

struct Archive<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
    path: String,
}

impl<W: Write + Seek> Archive<W> {
    fn fail(&self, reason: impl std::fmt::Display) -> ExportError {
        ExportError::Write {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    fn start(&mut self, name: &str) -> Result<(), ExportError> {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        self.zip.start_file(name, options).map_err(|e| self.fail(e))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.zip.write_all(bytes).map_err(|e| self.fail(e))
    }

    fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), ExportError> {
        self.start(name)?;
        self.write(bytes)
    }
}

/// One CSV field, quoted when it needs to be.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn csv_row(fields: &[String]) -> String {
    let mut row = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    row.push_str("\r\n");
    row
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn iso(ms: i64) -> String {
    crate::utc::UtcTime::from_ms(ms).iso()
}

struct ContactInfo {
    json: Value,
    name: String,
    channel_kind: String,
    csv: Vec<String>,
}

async fn contact_info(
    conn: &mut SqliteConnection,
    contact_id: i64,
) -> Result<ContactInfo, ExportError> {
    let c = sqlx::query!(
        r#"SELECT k.id AS "id!", k.display_name AS "name!", ch.kind AS "kind!", ch.external_id AS "channel_external_id!",
                  k.external_id AS "customer_id!", k.phone, k.username, k.email, k.attributes AS "attributes!",
                  k.restricted AS "restricted!: bool", k.created_at AS "created_at!"
           FROM contacts k JOIN channels ch ON ch.id = k.channel_id WHERE k.id = ?"#,
        contact_id
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(sql)?
    .ok_or(ExportError::NoContact)?;
    let labels: Vec<String> = sqlx::query_scalar!(
        r#"SELECT l.name AS "name!" FROM contact_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.contact_id = ? ORDER BY l.name"#,
        contact_id
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(sql)?;
    let attributes: Value = serde_json::from_str(&c.attributes).unwrap_or_else(|_| json!({}));
    let csv = vec![
        c.id.to_string(),
        c.name.clone(),
        c.kind.clone(),
        c.channel_external_id.clone(),
        c.customer_id.clone(),
        c.phone.clone().unwrap_or_default(),
        c.username.clone().unwrap_or_default(),
        c.email.clone().unwrap_or_default(),
        labels.join(";"),
        attributes.to_string(),
        c.restricted.to_string(),
        iso(c.created_at),
    ];
    Ok(ContactInfo {
        json: json!({
            "id": c.id,
            "name": c.name,
            "channel": { "kind": c.kind, "id": c.channel_external_id },
            "customer_id": c.customer_id,
            "phone": c.phone,
            "username": c.username,
            "email": c.email,
            "attributes": attributes,
            "labels": labels,
            "restricted": c.restricted,
            "created_at": iso(c.created_at),
        }),
        name: c.name,
        channel_kind: c.kind,
        csv,
    })
}

struct ConversationInfo {
    id: i64,
    status: String,
    assignee: Option<String>,
    created_at: i64,
    last_activity_at: i64,
    labels: Vec<String>,
    notes: Vec<Value>,
}

async fn conversations_of(
    conn: &mut SqliteConnection,
    contact_id: i64,
) -> Result<Vec<ConversationInfo>, ExportError> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", status AS "status!", assignee_id, created_at AS "created_at!", last_activity_at AS "last_activity_at!"
           FROM conversations WHERE contact_id = ? ORDER BY created_at, id"#,
        contact_id
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(sql)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let labels: Vec<String> = sqlx::query_scalar!(
            r#"SELECT l.name AS "name!" FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = ? ORDER BY l.name"#,
            r.id
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(sql)?;
        let notes = sqlx::query!(
            r#"SELECT author_member_id AS "author!", body AS "body!", created_at AS "created_at!" FROM notes WHERE conversation_id = ? ORDER BY created_at"#,
            r.id
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(sql)?
        .into_iter()
        .map(|n| json!({ "author_member_id": n.author, "body": n.body, "created_at": iso(n.created_at) }))
        .collect();
        out.push(ConversationInfo {
            id: r.id,
            status: r.status,
            assignee: r.assignee_id,
            created_at: r.created_at,
            last_activity_at: r.last_activity_at,
            labels,
            notes,
        });
    }
    Ok(out)
}

/// One message as exported.
struct ExportedMessage {
    id: i64,
    external_id: Option<String>,
    direction: String,
    kind: String,
    body: Option<String>,
    caption: Option<String>,
    file_name: Option<String>,
    sent_at: i64,
    status: Option<String>,
    error: Option<String>,
    quoted: Option<String>,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    author: Option<String>,
    media_mime: Option<String>,
    media_path: Option<String>,
    media_sha256: Option<String>,
    media_url: Option<String>,
}

impl ExportedMessage {
    /// Where its file is in the archive (relative to the contact's folder).
    fn media_file(&self) -> Option<String> {
        let path = self.media_path.as_deref()?;
        let name = Path::new(path).file_name()?.to_string_lossy();
        Some(format!("media/{name}"))
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "external_id": self.external_id,
            "direction": self.direction,
            "kind": self.kind,
            "text": self.body,
            "caption": self.caption,
            "file_name": self.file_name,
            "sent_at": iso(self.sent_at),
            "status": self.status,
            "error": self.error,
            "quoted_external_id": self.quoted,
            "edited_at": self.edited_at.map(iso),
            "deleted_at": self.deleted_at.map(iso),
            "author_member_id": self.author,
            "media": if self.media_mime.is_some() || self.media_path.is_some() || self.media_url.is_some() {
                json!({ "mime": self.media_mime, "file": self.media_file(), "sha256": self.media_sha256, "url": self.media_url })
            } else {
                Value::Null
            },
        })
    }

    fn csv(&self, conversation_id: i64) -> Vec<String> {
        vec![
            self.id.to_string(),
            conversation_id.to_string(),
            iso(self.sent_at),
            self.direction.clone(),
            self.kind.clone(),
            self.body.clone().unwrap_or_default(),
            self.caption.clone().unwrap_or_default(),
            self.file_name.clone().unwrap_or_default(),
            self.media_file().unwrap_or_default(),
            self.status.clone().unwrap_or_default(),
            self.external_id.clone().unwrap_or_default(),
            self.author.clone().unwrap_or_default(),
        ]
    }
}

async fn message_page(
    conn: &mut SqliteConnection,
    conversation_id: i64,
    after: (i64, i64),
) -> Result<Vec<ExportedMessage>, ExportError> {
    let (t, id) = after;
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", external_id, direction AS "direction!", kind AS "kind!", body, caption, file_name,
                  sent_at AS "sent_at!", delivery_status, error_message, quoted_external_id, edited_at, deleted_at,
                  author_member_id, media_mime, media_path, media_sha256, media_url
           FROM messages WHERE conversation_id = ?1 AND (sent_at, id) > (?2, ?3)
           ORDER BY sent_at, id LIMIT ?4"#,
        conversation_id,
        t,
        id,
        PAGE
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(sql)?;
    Ok(rows
        .into_iter()
        .map(|r| ExportedMessage {
            id: r.id,
            external_id: r.external_id,
            direction: r.direction,
            kind: r.kind,
            body: r.body,
            caption: r.caption,
            file_name: r.file_name,
            sent_at: r.sent_at,
            status: r.delivery_status,
            error: r.error_message,
            quoted: r.quoted_external_id,
            edited_at: r.edited_at,
            deleted_at: r.deleted_at,
            author: r.author_member_id,
            media_mime: r.media_mime,
            media_path: r.media_path,
            media_sha256: r.media_sha256,
            media_url: r.media_url,
        })
        .collect())
}

/// Calls `each` with every message of a conversation, oldest first, a page at a time.
async fn for_each_message(
    conn: &mut SqliteConnection,
    conversation_id: i64,
    mut each: impl FnMut(&ExportedMessage) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let mut after = (i64::MIN, i64::MIN);
    loop {
        let page = message_page(conn, conversation_id, after).await?;
        for m in &page {
            each(m)?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = (last.sent_at, last.id),
            _ => return Ok(()),
        }
    }
}

const TRANSCRIPT_STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;max-width:760px;margin:24px auto;color:#111}
h1{font-size:20px}.meta{color:#555;font-size:12px}.m{margin:8px 0;padding:8px 10px;border-radius:8px;break-inside:avoid}
.inbound{background:#f1f3f5}.outbound{background:#e7f0ff;margin-left:15%}.who{font-weight:600;font-size:12px}
.deleted{color:#777;font-style:italic}img{max-width:320px;display:block;margin-top:4px}
@media print{.m{border:1px solid #ccc}body{margin:0}}";

struct Counts {
    messages: i64,
    media: i64,
}

/// Writes one contact's files under `prefix` (`""` or `contacts/<id>/`).
async fn write_contact<W: Write + Seek>(
    conn: &mut SqliteConnection,
    archive: &mut Archive<W>,
    prefix: &str,
    contact_id: i64,
    exported_at: i64,
    progress: &mut (dyn FnMut(ExportProgress) + Send),
    state: &mut ExportProgress,
) -> Result<Counts, ExportError> {
    let contact = contact_info(conn, contact_id).await?;
    let conversations = conversations_of(conn, contact_id).await?;
    let mut counts = Counts {
        messages: 0,
        media: 0,
    };

    // export.json, streamed: the document's head, then each conversation with its messages.
    archive.start(&format!("{prefix}export.json"))?;
    let head = json!({
        "schema": "zentro-desk-export",
        "version": SCHEMA_VERSION,
        "exported_at": iso(exported_at),
        "contact": contact.json,
    });
    let head = serde_json::to_string_pretty(&head).map_err(|e| archive.fail(e))?;
    // Reopen the object to append "conversations".
    archive.write(head.trim_end().trim_end_matches('}').as_bytes())?;
    archive.write(b",\n  \"conversations\": [")?;
    let mut media: Vec<(String, String)> = Vec::new();
    for (i, conversation) in conversations.iter().enumerate() {
        let open = json!({
            "id": conversation.id,
            "status": conversation.status,
            "assignee_member_id": conversation.assignee,
            "created_at": iso(conversation.created_at),
            "last_activity_at": iso(conversation.last_activity_at),
            "labels": conversation.labels,
            "notes": conversation.notes,
            "transcript": format!("transcripts/conversation-{}.html", conversation.id),
        })
        .to_string();
        if i > 0 {
            archive.write(b",")?;
        }
        archive.write(b"\n    ")?;
        archive.write(open.trim_end_matches('}').as_bytes())?;
        archive.write(b",\"messages\":[")?;
        let mut first = true;
        let mut buffer = Vec::new();
        for_each_message(&mut *conn, conversation.id, |m| {
            buffer.clear();
            if !first {
                buffer.push(b',');
            }
            first = false;
            buffer.extend_from_slice(b"\n      ");
            serde_json::to_writer(&mut buffer, &m.json()).map_err(|e| archive.fail(e))?;
            archive.write(&buffer)?;
            if let (Some(path), Some(file)) = (&m.media_path, m.media_file())
                && !media.iter().any(|(_, f)| *f == file)
            {
                media.push((path.clone(), file));
            }
            counts.messages += 1;
            state.messages_done += 1;
            if state.messages_done % 1000 == 0 {
                progress(*state);
            }
            Ok(())
        })
        .await?;
        archive.write(b"]}")?;
    }
    archive.write(b"\n  ]\n}\n")?;

    // CSV files.
    archive.file(
        &format!("{prefix}contacts.csv"),
        format!(
            "{}{}",
            csv_row(
                &[
                    "id",
                    "name",
                    "channel",
                    "channel_id",
                    "customer_id",
                    "phone",
                    "username",
                    "email",
                    "labels",
                    "attributes",
                    "restricted",
                    "created_at"
                ]
                .map(String::from)
            ),
            csv_row(&contact.csv)
        )
        .as_bytes(),
    )?;
    let mut rows = csv_row(
        &[
            "id",
            "status",
            "assignee_member_id",
            "created_at",
            "last_activity_at",
            "labels",
            "notes",
        ]
        .map(String::from),
    );
    for c in &conversations {
        rows.push_str(&csv_row(&[
            c.id.to_string(),
            c.status.clone(),
            c.assignee.clone().unwrap_or_default(),
            iso(c.created_at),
            iso(c.last_activity_at),
            c.labels.join(";"),
            c.notes.len().to_string(),
        ]));
    }
    archive.file(&format!("{prefix}conversations.csv"), rows.as_bytes())?;
    archive.start(&format!("{prefix}messages.csv"))?;
    archive.write(
        csv_row(
            &[
                "id",
                "conversation_id",
                "sent_at",
                "direction",
                "kind",
                "text",
                "caption",
                "file_name",
                "media_file",
                "status",
                "external_id",
                "author_member_id",
            ]
            .map(String::from),
        )
        .as_bytes(),
    )?;
    for c in &conversations {
        for_each_message(&mut *conn, c.id, |m| {
            archive.write(csv_row(&m.csv(c.id)).as_bytes())
        })
        .await?;
    }

    // A readable transcript per conversation.
    let who = if contact.name.is_empty() {
        "Customer".to_string()
    } else {
        contact.name.clone()
    };
    for c in &conversations {
        archive.start(&format!("{prefix}transcripts/conversation-{}.html", c.id))?;
        archive.write(
            format!(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Conversation with {name}</title><style>{TRANSCRIPT_STYLE}</style>\
                 <h1>Conversation with {name}</h1><p class=\"meta\">{channel} · started {started} · status {status} · exported {exported}</p>\n",
                name = html(&who),
                channel = html(&contact.channel_kind),
                started = iso(c.created_at),
                status = html(&c.status),
                exported = iso(exported_at),
            )
            .as_bytes(),
        )?;
        for_each_message(&mut *conn, c.id, |m| {
            let speaker = if m.direction == "inbound" {
                who.clone()
            } else {
                "Support team".to_string()
            };
            let mut text = String::new();
            if m.deleted_at.is_some() {
                text.push_str("<p class=\"deleted\">(deleted by the customer)</p>");
            }
            if let Some(body) = &m.body {
                text.push_str(&format!("<p>{}</p>", html(body).replace('\n', "<br>")));
            }
            if let Some(caption) = &m.caption {
                text.push_str(&format!("<p>{}</p>", html(caption)));
            }
            match (m.media_file(), m.media_mime.as_deref()) {
                (Some(file), Some(mime)) if mime.starts_with("image/") => {
                    text.push_str(&format!("<img src=\"../{}\" alt=\"image\">", html(&file)))
                }
                (Some(file), _) => {
                    // Shown as the desk shows it (no bidi or invisible characters); the JSON and
                    // CSV keep the name as the customer sent it.
                    let shown = m
                        .file_name
                        .as_deref()
                        .map(crate::customer_files::display_name)
                        .filter(|name| !name.is_empty());
                    text.push_str(&format!(
                        "<p><a href=\"../{}\">{}</a></p>",
                        html(&file),
                        html(shown.as_deref().unwrap_or("attachment"))
                    ))
                }
                (None, _) if m.body.is_none() && m.caption.is_none() => {
                    text.push_str(&format!("<p class=\"deleted\">[{}]</p>", html(&m.kind)))
                }
                _ => {}
            }
            archive.write(
                format!(
                    "<div class=\"m {dir}\"><div class=\"who\">{speaker} <span class=\"meta\">{at}</span></div>{text}</div>\n",
                    dir = html(&m.direction),
                    speaker = html(&speaker),
                    at = iso(m.sent_at),
                )
                .as_bytes(),
            )
        })
        .await?;
        archive.write(b"</html>\n")?;
    }

    // The media files this cache holds.
    for (path, file) in &media {
        let bytes = match tokio::fs::read(path).await {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, "a media file of the export is missing; skipped");
                continue;
            }
        };
        archive.file(&format!("{prefix}{file}"), &bytes)?;
        counts.media += 1;
    }
    Ok(counts)
}

/// Writes the export of `scope` to `out` (a `.zip`), reporting progress. A failed export leaves
/// no partial file behind.
pub async fn export(
    cache: &Cache,
    scope: Scope,
    out: &Path,
    exported_at: i64,
    progress: &mut (dyn FnMut(ExportProgress) + Send),
) -> Result<ExportSummary, ExportError> {
    let contacts: Vec<i64> = match scope {
        Scope::Contact(id) => vec![id],
        Scope::All => sqlx::query_scalar!(r#"SELECT id AS "id!" FROM contacts ORDER BY id"#)
            .fetch_all(cache.pool())
            .await
            .map_err(sql)?,
    };
    // One connection in one read transaction: a consistent snapshot, and one page cache.
    let mut snapshot = cache.pool().begin().await.map_err(sql)?;
    if let Scope::Contact(id) = scope {
        contact_info(&mut snapshot, id).await?;
    }
    let messages_total: i64 = match scope {
        Scope::Contact(id) => sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!: i64" FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = ?"#,
            id
        )
        .fetch_one(cache.pool())
        .await
        .map_err(sql)?,
        Scope::All => sqlx::query_scalar!(r#"SELECT count(*) AS "n!: i64" FROM messages"#)
            .fetch_one(cache.pool())
            .await
            .map_err(sql)?,
    };
    let display = out.display().to_string();
    let partial = out.with_extension("zip.partial");
    let file = std::fs::File::create(&partial).map_err(|e| ExportError::Write {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let mut archive = Archive {
        zip: zip::ZipWriter::new(std::io::BufWriter::new(file)),
        path: display.clone(),
    };
    let mut state = ExportProgress {
        contacts_done: 0,
        contacts_total: contacts.len() as i64,
        messages_done: 0,
        messages_total,
    };
    progress(state);
    let result = async {
        let (mut messages, mut media) = (0, 0);
        let mut index = Vec::new();
        for id in &contacts {
            let prefix = match scope {
                Scope::Contact(_) => String::new(),
                Scope::All => format!("contacts/{id}/"),
            };
            let counts = write_contact(
                &mut snapshot,
                &mut archive,
                &prefix,
                *id,
                exported_at,
                progress,
                &mut state,
            )
            .await?;
            messages += counts.messages;
            media += counts.media;
            index.push(json!({ "contact_id": id, "folder": prefix, "messages": counts.messages }));
            state.contacts_done += 1;
            progress(state);
        }
        if scope == Scope::All {
            let doc = json!({
                "schema": "zentro-desk-export-index",
                "version": SCHEMA_VERSION,
                "exported_at": iso(exported_at),
                "contacts": index,
            });
            archive.file(
                "index.json",
                serde_json::to_string_pretty(&doc)
                    .map_err(|e| archive.fail(e))?
                    .as_bytes(),
            )?;
        }
        archive.file(
            "README.txt",
            b"Zentro Desk export (schema version 1).\r\n\
              export.json: everything, machine-readable (see docs/export-schema-v1.json in Zentro Desk's repository).\r\n\
              *.csv: contacts, conversations and messages as spreadsheets.\r\n\
              transcripts/: a readable page per conversation (open in a browser; prints well).\r\n\
              media/: the files this computer kept, named by their SHA-256.\r\n",
        )?;
        Ok::<_, ExportError>((messages, media))
    }
    .await;
    let finished = result.and_then(|counts| {
        let mut writer = archive.zip.finish().map_err(|e| ExportError::Write {
            path: display.clone(),
            reason: e.to_string(),
        })?;
        writer.flush().map_err(|e| ExportError::Write {
            path: display.clone(),
            reason: e.to_string(),
        })?;
        writer
            .get_ref()
            .sync_all()
            .map_err(|e| ExportError::Write {
                path: display.clone(),
                reason: e.to_string(),
            })?;
        Ok(counts)
    });
    let (messages, media) = match finished {
        Ok(counts) => counts,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, out).map_err(|e| ExportError::Write {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let bytes = std::fs::metadata(out).map(|m| m.len() as i64).unwrap_or(0);
    Ok(ExportSummary {
        path: display,
        contacts: contacts.len() as i64,
        messages,
        media_files: media,
        bytes,
    })
}

/// How an export names a contact in the audit log: a salted hash (with its salt), never the
/// identifiers in clear, so the log keeps no identifier of a customer erased later.
pub async fn audit_subject(
    cache: &Cache,
    contact_id: i64,
) -> Result<(String, String), ExportError> {
    let c = sqlx::query!(
        r#"SELECT channel_id AS "channel_id!", external_id AS "external_id!" FROM contacts WHERE id = ?"#,
        contact_id
    )
    .fetch_optional(cache.pool())
    .await
    .map_err(sql)?
    .ok_or(ExportError::NoContact)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source works");
    let salt = hex::encode(salt);
    let hash = crate::rights::erasure_hash(&salt, &c.channel_id, &c.external_id);
    Ok((format!("sha256:{hash}"), salt))
}

/// Records the export in the relay's audit log (admins only; whose data by salted hash, never
/// content), then writes it. Nothing is written when the relay refuses or cannot be reached.
pub async fn export_recorded(
    cache: &Cache,
    relay: &crate::sync::RelayClient,
    token: &crate::vault::Secret,
    scope: Scope,
    out: &Path,
    exported_at: i64,
    progress: &mut (dyn FnMut(ExportProgress) + Send),
) -> Result<ExportSummary, ExportError> {
    match scope {
        Scope::Contact(id) => {
            let (subject, salt) = audit_subject(cache, id).await?;
            relay
                .report(token, "data.export", &subject, json!({ "salt": salt }))
                .await?;
        }
        Scope::All => {
            let contacts: i64 =
                sqlx::query_scalar!(r#"SELECT count(*) AS "n!: i64" FROM contacts"#)
                    .fetch_one(cache.pool())
                    .await
                    .map_err(sql)?;
            relay
                .report(
                    token,
                    "data.export_all",
                    "every contact",
                    json!({ "contacts": contacts }),
                )
                .await?;
        }
    }
    export(cache, scope, out, exported_at, progress).await
}
