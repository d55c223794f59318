//! Exports of customers' data (privacy promise P13: access and portability).
//!
//! One ZIP archive per export. For each contact, under `contacts/<id>/` (or at the root for a
//! single contact): `export.json` (the machine-readable document, schema
//! `docs/export-schema-v1.json`, versioned by `version`), `contacts.csv`, `consent.csv`, `conversations.csv`,
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
    /// Where the ZIP archive was written, on this computer.
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
    Relay(#[from] crate::relay_client::SyncError),
    /// Writing the archive failed (a full disk, a folder that is not writable).
    #[error(
        "could not write the export to {path}: {reason}; free some space or choose another folder"
    )]
    Write {
        /// The archive that was being written (removed again).
        path: String,
        /// The operating system's error, as text.
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

/// Why writing the archive shown as `path` failed.
fn write_error(path: &str, reason: impl std::fmt::Display) -> ExportError {
    ExportError::Write {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

impl Archive<std::io::BufWriter<std::fs::File>> {
    /// Creates the archive's file at `file`; errors name it as `shown` (where it will end up).
    fn create(file: &Path, shown: &str) -> Result<Self, ExportError> {
        let file = std::fs::File::create(file).map_err(|e| write_error(shown, e))?;
        Ok(Self {
            zip: zip::ZipWriter::new(std::io::BufWriter::new(file)),
            path: shown.to_string(),
        })
    }

    /// Finishes the ZIP and makes sure every byte of it is on disk.
    fn finish(self) -> Result<(), ExportError> {
        let path = self.path;
        let mut writer = self.zip.finish().map_err(|e| write_error(&path, e))?;
        writer.flush().map_err(|e| write_error(&path, e))?;
        writer
            .get_ref()
            .sync_all()
            .map_err(|e| write_error(&path, e))
    }
}

impl<W: Write + Seek> Archive<W> {
    fn fail(&self, reason: impl std::fmt::Display) -> ExportError {
        write_error(&self.path, reason)
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

/// One CSV field, quoted when it needs to be. Text a spreadsheet would run as a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return: a customer can write that) gets a
/// leading `'`, so opening the export never runs what a customer wrote (CSV injection).
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
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
    /// Consent to marketing messages, newest first (`consent.csv`).
    consent: Vec<crate::consent::ConsentRecord>,
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
    let consent = crate::consent::records_of(conn, contact_id).await?;
    let consent_json: Vec<Value> = consent
        .iter()
        .map(|r| {
            json!({
                "opted_in": r.opted_in,
                "source": r.source,
                "at": iso(r.at),
                "recorded_by": r.recorded_by,
                "note": r.note,
            })
        })
        .collect();
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
            "consent": consent_json,
        }),
        name: c.name,
        channel_kind: c.kind,
        csv,
        consent,
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

/// What was written: messages, and media files copied.
struct Counts {
    messages: i64,
    media: i64,
}

/// The header of `consent.csv`.
const CONSENT_COLUMNS: [&str; 5] = ["consent", "source", "at", "recorded_by", "note"];

/// The header of `contacts.csv`.
const CONTACT_COLUMNS: [&str; 12] = [
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
    "created_at",
];

/// The header of `conversations.csv`.
const CONVERSATION_COLUMNS: [&str; 7] = [
    "id",
    "status",
    "assignee_member_id",
    "created_at",
    "last_activity_at",
    "labels",
    "notes",
];

/// The header of `messages.csv`.
const MESSAGE_COLUMNS: [&str; 12] = [
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
];

/// The media files an export copies: `(path on this computer, name in the archive)`, each once.
type MediaFiles = Vec<(String, String)>;

/// Writes one contact's files under `prefix` (`""` or `contacts/<id>/`): its JSON document, its
/// CSV files, a transcript per conversation and the media files this cache holds.
async fn write_contact<W: Write + Seek>(
    conn: &mut SqliteConnection,
    archive: &mut Archive<W>,
    prefix: &str,
    contact_id: i64,
    exported_at: i64,
    progress: &mut (dyn FnMut(ExportProgress) + Send),
    state: &mut ExportProgress,
) -> Result<Counts, ExportError> {
    let files = ContactFiles {
        prefix,
        exported_at,
        contact: contact_info(conn, contact_id).await?,
        conversations: conversations_of(conn, contact_id).await?,
    };
    let mut media = MediaFiles::new();
    let messages = files
        .write_json(conn, archive, &mut media, progress, state)
        .await?;
    files.write_csv(conn, archive).await?;
    files.write_transcripts(conn, archive).await?;
    let media = write_media(archive, prefix, &media).await?;
    Ok(Counts { messages, media })
}

/// One contact's part of the archive: where its files go and what they hold.
struct ContactFiles<'a> {
    prefix: &'a str,
    exported_at: i64,
    contact: ContactInfo,
    conversations: Vec<ConversationInfo>,
}

impl ContactFiles<'_> {
    /// `export.json`, streamed: the document's head, then each conversation with its messages.
    /// Notes the media files the messages reference; returns how many messages it wrote.
    async fn write_json<W: Write + Seek>(
        &self,
        conn: &mut SqliteConnection,
        archive: &mut Archive<W>,
        media: &mut MediaFiles,
        progress: &mut (dyn FnMut(ExportProgress) + Send),
        state: &mut ExportProgress,
    ) -> Result<i64, ExportError> {
        self.write_json_head(archive)?;
        let mut messages = 0;
        for (i, conversation) in self.conversations.iter().enumerate() {
            let open = conversation_json(conversation).to_string();
            if i > 0 {
                archive.write(b",")?;
            }
            archive.write(b"\n    ")?;
            archive.write(open.trim_end_matches('}').as_bytes())?;
            archive.write(b",\"messages\":[")?;
            messages +=
                write_messages_json(conn, archive, conversation.id, media, progress, state).await?;
            archive.write(b"]}")?;
        }
        archive.write(b"\n  ]\n}\n")?;
        Ok(messages)
    }

    /// Starts `export.json` with the schema, the time and the contact, left open for
    /// its conversations.
    fn write_json_head<W: Write + Seek>(
        &self,
        archive: &mut Archive<W>,
    ) -> Result<(), ExportError> {
        archive.start(&format!("{}export.json", self.prefix))?;
        let head = json!({
            "schema": "zentro-desk-export",
            "version": SCHEMA_VERSION,
            "exported_at": iso(self.exported_at),
            "contact": self.contact.json,
        });
        let head = serde_json::to_string_pretty(&head).map_err(|e| archive.fail(e))?;
        // Reopen the object to append "conversations".
        archive.write(head.trim_end().trim_end_matches('}').as_bytes())?;
        archive.write(b",\n  \"conversations\": [")
    }

    /// `contacts.csv`, `consent.csv`, `conversations.csv` and `messages.csv`.
    async fn write_csv<W: Write + Seek>(
        &self,
        conn: &mut SqliteConnection,
        archive: &mut Archive<W>,
    ) -> Result<(), ExportError> {
        let contacts = format!(
            "{}{}",
            csv_row(&CONTACT_COLUMNS.map(String::from)),
            csv_row(&self.contact.csv)
        );
        archive.file(&format!("{}contacts.csv", self.prefix), contacts.as_bytes())?;
        archive.file(
            &format!("{}conversations.csv", self.prefix),
            self.conversations_csv().as_bytes(),
        )?;
        archive.file(
            &format!("{}consent.csv", self.prefix),
            self.consent_csv().as_bytes(),
        )?;
        archive.start(&format!("{}messages.csv", self.prefix))?;
        archive.write(csv_row(&MESSAGE_COLUMNS.map(String::from)).as_bytes())?;
        for c in &self.conversations {
            for_each_message(&mut *conn, c.id, |m| {
                archive.write(csv_row(&m.csv(c.id)).as_bytes())
            })
            .await?;
        }
        Ok(())
    }

    /// The contact's consent records as CSV (newest first), with its header.
    fn consent_csv(&self) -> String {
        let mut rows = csv_row(&CONSENT_COLUMNS.map(String::from));
        for r in &self.contact.consent {
            rows.push_str(&csv_row(&[
                if r.opted_in { "in" } else { "out" }.to_string(),
                r.source.clone(),
                iso(r.at),
                r.recorded_by.clone().unwrap_or_default(),
                r.note.clone().unwrap_or_default(),
            ]));
        }
        rows
    }

    /// The contact's conversations as CSV, with its header.
    fn conversations_csv(&self) -> String {
        let mut rows = csv_row(&CONVERSATION_COLUMNS.map(String::from));
        for c in &self.conversations {
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
        rows
    }

    /// A readable transcript per conversation.
    async fn write_transcripts<W: Write + Seek>(
        &self,
        conn: &mut SqliteConnection,
        archive: &mut Archive<W>,
    ) -> Result<(), ExportError> {
        let who = if self.contact.name.is_empty() {
            "Customer".to_string()
        } else {
            self.contact.name.clone()
        };
        for c in &self.conversations {
            archive.start(&format!(
                "{}transcripts/conversation-{}.html",
                self.prefix, c.id
            ))?;
            archive.write(self.transcript_head(c, &who).as_bytes())?;
            for_each_message(&mut *conn, c.id, |m| {
                archive.write(transcript_entry(&who, m).as_bytes())
            })
            .await?;
            archive.write(b"</html>\n")?;
        }
        Ok(())
    }

    /// A transcript's page head: the customer, the channel, when it started, its status and
    /// when it was exported.
    fn transcript_head(&self, c: &ConversationInfo, who: &str) -> String {
        format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Conversation with {name}</title><style>{TRANSCRIPT_STYLE}</style>\
             <h1>Conversation with {name}</h1><p class=\"meta\">{channel} · started {started} · status {status} · exported {exported}</p>\n",
            name = html(who),
            channel = html(&self.contact.channel_kind),
            started = iso(c.created_at),
            status = html(&c.status),
            exported = iso(self.exported_at),
        )
    }
}

/// A conversation's object in `export.json`, without its messages.
fn conversation_json(conversation: &ConversationInfo) -> Value {
    json!({
        "id": conversation.id,
        "status": conversation.status,
        "assignee_member_id": conversation.assignee,
        "created_at": iso(conversation.created_at),
        "last_activity_at": iso(conversation.last_activity_at),
        "labels": conversation.labels,
        "notes": conversation.notes,
        "transcript": format!("transcripts/conversation-{}.html", conversation.id),
    })
}

/// Writes a conversation's messages into `export.json`, noting their media files and reporting
/// progress every thousand messages. Returns how many it wrote.
async fn write_messages_json<W: Write + Seek>(
    conn: &mut SqliteConnection,
    archive: &mut Archive<W>,
    conversation_id: i64,
    media: &mut MediaFiles,
    progress: &mut (dyn FnMut(ExportProgress) + Send),
    state: &mut ExportProgress,
) -> Result<i64, ExportError> {
    let mut written = 0;
    let mut buffer = Vec::new();
    for_each_message(&mut *conn, conversation_id, |m| {
        buffer.clear();
        if written > 0 {
            buffer.push(b',');
        }
        buffer.extend_from_slice(b"\n      ");
        serde_json::to_writer(&mut buffer, &m.json()).map_err(|e| archive.fail(e))?;
        archive.write(&buffer)?;
        if let (Some(path), Some(file)) = (&m.media_path, m.media_file())
            && !media.iter().any(|(_, f)| *f == file)
        {
            media.push((path.clone(), file));
        }
        written += 1;
        state.messages_done += 1;
        if state.messages_done % 1000 == 0 {
            progress(*state);
        }
        Ok(())
    })
    .await?;
    Ok(written)
}

/// One message of a transcript: who wrote it, when, and what it holds.
fn transcript_entry(who: &str, m: &ExportedMessage) -> String {
    // The customer sees which messages no person wrote: the automation's, with its rule.
    let speaker = if m.direction == "inbound" {
        who.to_string()
    } else if let Some(rule) = zentro_events::automation_rule(m.author.as_deref()) {
        format!("Support team (automated: {rule})")
    } else {
        "Support team".to_string()
    };
    format!(
        "<div class=\"m {dir}\"><div class=\"who\">{speaker} <span class=\"meta\">{at}</span></div>{text}</div>\n",
        dir = html(&m.direction),
        speaker = html(&speaker),
        at = iso(m.sent_at),
        text = transcript_text(m),
    )
}

/// A message's content in a transcript: a deletion note, its text, its caption and its file
/// (an image shown inline, other files linked), or its kind when it holds nothing shown.
fn transcript_text(m: &ExportedMessage) -> String {
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
    text
}

/// Copies the media files this cache holds under `prefix` (a missing one is skipped); returns
/// how many it copied.
async fn write_media<W: Write + Seek>(
    archive: &mut Archive<W>,
    prefix: &str,
    media: &MediaFiles,
) -> Result<i64, ExportError> {
    let mut copied = 0;
    for (path, file) in media {
        let bytes = match tokio::fs::read(path).await {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, "a media file of the export is missing; skipped");
                continue;
            }
        };
        archive.file(&format!("{prefix}{file}"), &bytes)?;
        copied += 1;
    }
    Ok(copied)
}

/// The archive's `README.txt`.
const README: &[u8] = b"Zentro Desk export (schema version 1).\r\n\
              export.json: everything, machine-readable (see docs/export-schema-v1.json in Zentro Desk's repository).\r\n\
              *.csv: contacts, consent to marketing messages, conversations and messages as spreadsheets.\r\n\
              transcripts/: a readable page per conversation (open in a browser; prints well).\r\n\
              media/: the files this computer kept, named by their SHA-256.\r\n";

/// Writes the export of `scope` to `out` (a `.zip`), reporting progress. A failed export leaves
/// no partial file behind.
pub async fn export(
    cache: &Cache,
    scope: Scope,
    out: &Path,
    exported_at: i64,
    progress: &mut (dyn FnMut(ExportProgress) + Send),
) -> Result<ExportSummary, ExportError> {
    let contacts = contacts_in(cache, scope).await?;
    // One connection in one read transaction: a consistent snapshot, and one page cache.
    let mut snapshot = cache.pool().begin().await.map_err(sql)?;
    if let Scope::Contact(id) = scope {
        contact_info(&mut snapshot, id).await?;
    }
    let messages_total = messages_in(cache, scope).await?;
    let display = out.display().to_string();
    let partial = out.with_extension("zip.partial");
    let mut archive = Archive::create(&partial, &display)?;
    let mut state = ExportProgress {
        contacts_done: 0,
        contacts_total: contacts.len() as i64,
        messages_done: 0,
        messages_total,
    };
    progress(state);
    let written = write_archive(
        &mut snapshot,
        &mut archive,
        scope,
        &contacts,
        exported_at,
        progress,
        &mut state,
    )
    .await;
    let finished = written.and_then(|counts| archive.finish().map(|()| counts));
    let counts = match finished {
        Ok(counts) => counts,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, out).map_err(|e| write_error(&display, e))?;
    let bytes = std::fs::metadata(out).map(|m| m.len() as i64).unwrap_or(0);
    Ok(ExportSummary {
        path: display,
        contacts: contacts.len() as i64,
        messages: counts.messages,
        media_files: counts.media,
        bytes,
    })
}

/// The contacts of `scope`, by id.
async fn contacts_in(cache: &Cache, scope: Scope) -> Result<Vec<i64>, ExportError> {
    Ok(match scope {
        Scope::Contact(id) => vec![id],
        Scope::All => sqlx::query_scalar!(r#"SELECT id AS "id!" FROM contacts ORDER BY id"#)
            .fetch_all(cache.pool())
            .await
            .map_err(sql)?,
    })
}

/// How many messages `scope` holds.
async fn messages_in(cache: &Cache, scope: Scope) -> Result<i64, ExportError> {
    Ok(match scope {
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
    })
}

/// Writes every contact of `scope` (each in its folder, with an index when there are several)
/// and the README; returns what it wrote.
async fn write_archive<W: Write + Seek>(
    conn: &mut SqliteConnection,
    archive: &mut Archive<W>,
    scope: Scope,
    contacts: &[i64],
    exported_at: i64,
    progress: &mut (dyn FnMut(ExportProgress) + Send),
    state: &mut ExportProgress,
) -> Result<Counts, ExportError> {
    let mut total = Counts {
        messages: 0,
        media: 0,
    };
    let mut index = Vec::new();
    for id in contacts {
        let prefix = match scope {
            Scope::Contact(_) => String::new(),
            Scope::All => format!("contacts/{id}/"),
        };
        let counts =
            write_contact(conn, archive, &prefix, *id, exported_at, progress, state).await?;
        total.messages += counts.messages;
        total.media += counts.media;
        index.push(json!({ "contact_id": id, "folder": prefix, "messages": counts.messages }));
        state.contacts_done += 1;
        progress(*state);
    }
    if scope == Scope::All {
        write_index(archive, exported_at, index)?;
    }
    archive.file("README.txt", README)?;
    Ok(total)
}

/// `index.json`: each contact's folder and message count.
fn write_index<W: Write + Seek>(
    archive: &mut Archive<W>,
    exported_at: i64,
    index: Vec<Value>,
) -> Result<(), ExportError> {
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
    )
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
    let salt = hex::encode(zentro_events::clock::random_bytes::<16>());
    let hash = crate::rights::erasure_hash(&salt, &c.channel_id, &c.external_id);
    Ok((format!("sha256:{hash}"), salt))
}

/// Records the export in the relay's audit log (admins only; whose data by salted hash, never
/// content), then writes it. Nothing is written when the relay refuses or cannot be reached.
pub async fn export_recorded(
    cache: &Cache,
    relay: &crate::relay_client::RelayClient,
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

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv_field("+1 555 0100"), "'+1 555 0100");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tcmd"), "'\tcmd");
        assert_eq!(csv_field("1760000000000"), "1760000000000");
    }
}
