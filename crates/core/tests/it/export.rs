//! Exports (privacy promise P13): the archive holds exactly what the cache holds about the
//! customer — and nobody else — as JSON valid against the documented schema, CSV, transcripts and
//! media; a customer with 100,000 messages exports in bounded memory.

use std::io::Read;

use serde_json::Value;
use zentro_core::Cache;
use zentro_core::apply::RelayEvent;
use zentro_core::export::{Scope, export};

const TRICKY: &str = "He said \"hi\", then <b>left</b>\nsecond line";

fn text(seq: i64, customer: &str, name: &str, wamid: &str, body: &str, at: i64) -> RelayEvent {
    crate::support::wa_text(seq, customer, name, wamid, body, at)
}

async fn contact_id(cache: &Cache, customer: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM contacts WHERE external_id = ?")
        .bind(customer)
        .fetch_one(cache.pool())
        .await
        .unwrap()
}

/// What a message becomes when a media file is attached to it.
struct Attached<'a> {
    kind: &'a str,
    mime: &'a str,
    caption: Option<&'a str>,
    file_name: Option<&'a str>,
}

/// Stores `bytes` as the media file of message `wamid` (kept under `dir`, as a download would
/// be) and makes the message `attached`.
async fn attach(
    cache: &Cache,
    dir: &std::path::Path,
    wamid: &str,
    bytes: &[u8],
    attached: Attached<'_>,
) {
    let (sha, path) = zentro_core::media::store(dir, bytes).await.unwrap();
    sqlx::query("UPDATE messages SET kind = ?, media_mime = ?, media_path = ?, media_sha256 = ?, caption = COALESCE(?, caption), file_name = COALESCE(?, file_name) WHERE external_id = ?")
        .bind(attached.kind)
        .bind(attached.mime)
        .bind(path.to_string_lossy().into_owned())
        .bind(&sha)
        .bind(attached.caption)
        .bind(attached.file_name)
        .bind(wamid)
        .execute(cache.pool())
        .await
        .unwrap();
}

fn read(archive: &mut zip::ZipArchive<std::fs::File>, name: &str) -> Vec<u8> {
    let mut file = archive
        .by_name(name)
        .unwrap_or_else(|_| panic!("{name} is in the archive"));
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/export-schema-v1.json"),
    )
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[tokio::test]
async fn a_contacts_archive_matches_the_cache_and_the_schema_and_holds_no_one_else() {
    let (dir, cache) = crate::support::cache_with(&[
        text(
            1,
            "US.100",
            "Dee Export",
            "wamid.1",
            "Where is my order?",
            1_760_000_000,
        ),
        text(2, "US.100", "Dee Export", "wamid.2", TRICKY, 1_760_000_060),
        text(
            3,
            "US.200",
            "Someone Else",
            "wamid.3",
            "unrelated secret",
            1_760_000_100,
        ),
    ])
    .await;
    let dee = contact_id(&cache, "US.100").await;
    // A photo Dee sent, kept on this computer.
    attach(
        &cache,
        dir.path(),
        "wamid.1",
        b"\xff\xd8 dee's photo",
        Attached {
            kind: "image",
            mime: "image/jpeg",
            caption: Some("broken mug"),
            file_name: None,
        },
    )
    .await;

    let out = dir.path().join("dee.zip");
    let mut reports = Vec::new();
    let summary = export(
        &cache,
        Scope::Contact(dee),
        &out,
        1_763_800_000_000,
        &mut |p| reports.push(p),
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.contacts, summary.messages, summary.media_files),
        (1, 2, 1)
    );
    assert_eq!(reports.last().unwrap().contacts_done, 1);
    assert!(crate::support::absent(&dir.path().join("dee.zip.partial")));

    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let doc: Value = serde_json::from_slice(&read(&mut archive, "export.json")).unwrap();
    let errors: Vec<String> = schema().iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "export.json breaks its schema: {errors:?}"
    );
    assert_eq!(doc["contact"]["name"], "Dee Export");
    assert_eq!(doc["contact"]["customer_id"], "US.100");
    let messages = doc["conversations"][0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["caption"], "broken mug");
    assert_eq!(messages[1]["text"], TRICKY);
    let file = messages[0]["media"]["file"].as_str().unwrap();
    assert_eq!(read(&mut archive, file), b"\xff\xd8 dee's photo");

    // CSV: quotes doubled, the field quoted, the newline kept.
    let csv = String::from_utf8(read(&mut archive, "messages.csv")).unwrap();
    assert!(csv.starts_with("id,conversation_id,sent_at,direction,kind,text,"));
    assert!(
        csv.contains("\"He said \"\"hi\"\", then <b>left</b>\nsecond line\""),
        "{csv}"
    );
    assert_eq!(csv.matches("\r\n").count(), 3, "a header and two rows");
    let contacts = String::from_utf8(read(&mut archive, "contacts.csv")).unwrap();
    assert!(contacts.contains("Dee Export"));

    // The transcript is escaped HTML that shows the photo.
    let transcript_name = doc["conversations"][0]["transcript"]
        .as_str()
        .unwrap()
        .to_string();
    let transcript = String::from_utf8(read(&mut archive, &transcript_name)).unwrap();
    assert!(
        transcript.contains("He said &quot;hi&quot;, then &lt;b&gt;left&lt;/b&gt;<br>second line")
    );
    assert!(!transcript.contains("<b>left"));
    assert!(transcript.contains(&format!("<img src=\"../{file}\"")));

    // Nobody else's data, and no secret-looking thing.
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("unrelated secret") && !text.contains("Someone Else"),
            "{}",
            entry.name()
        );
    }
}

#[tokio::test]
async fn exporting_everyone_gives_each_contact_the_same_layout_and_an_index() {
    let (dir, cache) = crate::support::cache_with(&[
        text(1, "US.100", "Dee", "wamid.1", "one", 1_760_000_000),
        text(2, "US.200", "Eve", "wamid.2", "two", 1_760_000_060),
    ])
    .await;
    let out = dir.path().join("all.zip");
    let summary = export(&cache, Scope::All, &out, 1_763_800_000_000, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((summary.contacts, summary.messages), (2, 2));
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let index: Value = serde_json::from_slice(&read(&mut archive, "index.json")).unwrap();
    let folders: Vec<&str> = index["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["folder"].as_str().unwrap())
        .collect();
    assert_eq!(folders.len(), 2);
    let validator = schema();
    for folder in folders {
        let doc: Value =
            serde_json::from_slice(&read(&mut archive, &format!("{folder}export.json"))).unwrap();
        assert!(validator.is_valid(&doc));
        read(&mut archive, &format!("{folder}messages.csv"));
    }
}

#[tokio::test]
async fn an_export_into_a_missing_folder_says_so_and_leaves_nothing() {
    let (dir, cache) =
        crate::support::cache_with(&[text(1, "US.100", "Dee", "wamid.1", "one", 1_760_000_000)])
            .await;
    let out = dir.path().join("no/such/folder/x.zip");
    let error = export(&cache, Scope::All, &out, 0, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("could not write the export"),
        "{error}"
    );
    assert!(crate::support::absent(&out));
}

/// A figure from this process's `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes (Linux).
fn memory(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|e| panic!("could not read /proc/self/status: {e}"));
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kb: u64 = kb
        .trim()
        .strip_suffix(" kB")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("unreadable {field} in /proc/self/status: {kb:?}"));
    kb * 1024
}

/// Set in the child process that runs the export alone.
const EXPORT_CHILD: &str = "ZENTRO_EXPORT_CHILD";

#[tokio::test]
async fn a_hundred_thousand_message_customer_exports_in_bounded_memory() {
    const MESSAGES: i64 = 100_000;
    const BODY: usize = 1_000;
    if let Some(dir) = std::env::var_os(EXPORT_CHILD) {
        // The child: a fresh process that only opens the cache and exports, so its peak is the
        // export's (the parent's peak also holds the 100 MB insert).
        let dir = std::path::Path::new(&dir);
        let cache = Cache::open_in(dir).await.unwrap();
        let dee = contact_id(&cache, "US.100").await;
        let before = memory("VmRSS");
        let summary = export(
            &cache,
            Scope::Contact(dee),
            &dir.join("big.zip"),
            0,
            &mut |_| {},
        )
        .await
        .unwrap();
        let peak = memory("VmHWM");
        println!(
            "exported {} messages, peak grew {} bytes",
            summary.messages,
            peak.saturating_sub(before)
        );
        return;
    }
    let (dir, cache) =
        crate::support::cache_with(&[text(1, "US.100", "Dee", "wamid.1", "first", 1_760_000_000)])
            .await;
    // 100 MB of text, inserted in bulk (the search trigger is dropped in this scratch cache only:
    // indexing is not what this test measures).
    sqlx::query("DROP TRIGGER messages_search_insert")
        .execute(cache.pool())
        .await
        .unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i <= ?)
         INSERT INTO messages (conversation_id, external_id, direction, kind, body, sent_at)
         SELECT (SELECT id FROM conversations), 'wamid.' || i, 'inbound', 'text', printf('%d ', i) || hex(randomblob(?)), 1760000000000 + i FROM n",
    )
    .bind(MESSAGES)
    .bind(BODY as i64 / 2)
    .execute(cache.pool())
    .await
    .unwrap();
    cache.close().await;

    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "export::a_hundred_thousand_message_customer_exports_in_bounded_memory",
            "--exact",
            "--nocapture",
        ])
        .env(EXPORT_CHILD, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "the exporting child failed ({}):\n{stdout}\n{}",
        child.status,
        String::from_utf8_lossy(&child.stderr)
    );
    let (messages, grown) = stdout
        .lines()
        .find_map(|l| {
            let (messages, grown) = l
                .strip_prefix("exported ")?
                .split_once(" messages, peak grew ")?;
            Some((
                messages.parse::<i64>().ok()?,
                grown.strip_suffix(" bytes")?.parse::<u64>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("the child did not report its export: {stdout}"));
    assert_eq!(messages, MESSAGES + 1);
    println!("the export alone raised the peak by {} KiB", grown >> 10);
    let text_bytes = MESSAGES as u64 * BODY as u64;
    // Bounded: SQLite's page cache (32 MiB for the export's one connection) and a page of
    // messages, not the ~95 MB of text (about 43 MiB here; 185 MiB when every message is read
    // at once).
    assert!(
        grown < 48 << 20,
        "the export grew memory by {} MB for {} MB of text",
        grown >> 20,
        text_bytes >> 20
    );
}

/// A file's name in the readable transcript is shown as the desk shows it: a customer's bidi
/// override (U+202E) cannot make `invoice<RLO>fdp.exe` read as `invoiceexe.pdf` there.
#[tokio::test]
async fn the_transcript_shows_a_files_name_without_bidi_controls() {
    let (dir, cache) = crate::support::cache_with(&[text(
        1,
        "US.300",
        "Rae",
        "wamid.9",
        "see file",
        1_760_000_000,
    )])
    .await;
    let rae = contact_id(&cache, "US.300").await;
    attach(
        &cache,
        dir.path(),
        "wamid.9",
        b"%PDF-1.7 rae",
        Attached {
            kind: "document",
            mime: "application/pdf",
            caption: None,
            file_name: Some("invoice\u{202E}fdp.exe"),
        },
    )
    .await;
    let out = dir.path().join("rae.zip");
    export(
        &cache,
        Scope::Contact(rae),
        &out,
        1_763_800_000_000,
        &mut |_| {},
    )
    .await
    .unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let doc: Value = serde_json::from_slice(&read(&mut archive, "export.json")).unwrap();
    let transcript_name = doc["conversations"][0]["transcript"]
        .as_str()
        .unwrap()
        .to_string();
    let transcript = String::from_utf8(read(&mut archive, &transcript_name)).unwrap();
    assert!(transcript.contains(">invoicefdp.exe</a>"), "{transcript}");
    assert!(!transcript.contains('\u{202E}'));
}

/// The readable transcript tells the customer which messages the automation sent, and by which
/// rule; a person's reply stays "Support team".
#[tokio::test]
async fn the_transcript_names_automated_messages_and_their_rule() {
    let sent = |seq: i64, author: &str, id: &str, body: &str| RelayEvent {
        seq,
        kind: "message.sent".into(),
        at: 1_760_000_100_000 + seq,
        author: Some(author.into()),
        payload: serde_json::json!({ "client_id": format!("c-{id}"), "external_id": id,
            "channel_kind": "whatsapp", "channel_external_id": "P", "customer_id": "US.301",
            "body": body, "reply_to": null, "sent_at": 1_760_000_100_000 + seq,
            "author_member_id": author }),
    };
    let (dir, cache) = crate::support::cache_with(&[
        text(1, "US.301", "Sol", "wamid.10", "hello", 1_760_000_000),
        sent(2, "automation:menu", "wamid.11", "Pick a team"),
        sent(3, "m_ana", "wamid.12", "Ana here"),
    ])
    .await;
    let sol = contact_id(&cache, "US.301").await;
    let out = dir.path().join("sol.zip");
    export(
        &cache,
        Scope::Contact(sol),
        &out,
        1_763_800_000_000,
        &mut |_| {},
    )
    .await
    .unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let doc: Value = serde_json::from_slice(&read(&mut archive, "export.json")).unwrap();
    let transcript_name = doc["conversations"][0]["transcript"]
        .as_str()
        .unwrap()
        .to_string();
    let transcript = String::from_utf8(read(&mut archive, &transcript_name)).unwrap();
    let speaker_of = |body: &str| {
        let at = transcript.find(body).unwrap();
        let start = transcript[..at].rfind("<div class=\"who\">").unwrap();
        transcript[start..at].to_string()
    };
    assert!(
        speaker_of("Pick a team").contains("Support team (automated: menu)"),
        "{transcript}"
    );
    assert!(
        speaker_of("Ana here").contains("Support team <span"),
        "{transcript}"
    );
    assert!(!speaker_of("Ana here").contains("automated"));
}
