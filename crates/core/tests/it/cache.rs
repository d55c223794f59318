use zentro_core::{Cache, CacheCounts, LazyCache};

#[tokio::test]
async fn a_new_cache_is_created_migrated_and_empty() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let status = cache.status().await.unwrap();

    assert!(dir.path().join("cache.sqlite").exists());
    assert!(status.path.ends_with("cache.sqlite"));
    assert_eq!(status.schema_version, migrations());
    assert_eq!(
        status.latest_migration,
        zentro_core::cache::migrator()
            .iter()
            .last()
            .unwrap()
            .description
    );
    assert!(!status.written_by_newer_app);
    assert_eq!(status.counts, counts(0, 0, 0, 0));
}

#[tokio::test]
async fn the_cache_uses_wal_and_enforces_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let mode = crate::support::pragma(&cache, "journal_mode").await;
    assert_eq!(mode, "wal");
    let orphan = sqlx::query(
        "INSERT INTO contacts (channel_id, external_id, created_at) VALUES ('no-such-channel', 'x', 0)",
    )
    .execute(cache.pool())
    .await;
    assert!(
        orphan.is_err(),
        "a contact without its channel must be refused"
    );
}

#[tokio::test]
async fn reopening_keeps_data_and_counts_rows() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = Cache::open_in(dir.path()).await.unwrap();
        sqlx::query(
            "INSERT INTO channels (id, kind, external_id, created_at) VALUES ('ch1', 'whatsapp', '1065', 0);
             INSERT INTO contacts (id, channel_id, external_id, created_at) VALUES (1, 'ch1', 'US.1', 0);
             INSERT INTO conversations (id, contact_id, last_activity_at, created_at) VALUES (1, 1, 0, 0);
             INSERT INTO messages (conversation_id, external_id, direction, kind, body, sent_at)
                 VALUES (1, 'wamid.1', 'inbound', 'text', 'hello', 0),
                        (1, 'wamid.2', 'inbound', 'text', 'again', 1);",
        )
        .execute(cache.pool())
        .await
        .unwrap();
        cache.close().await;
    }
    let status = reopened(dir.path()).await;
    assert_eq!(
        status.schema_version,
        migrations(),
        "reopening must not re-apply migrations"
    );
    assert_eq!(status.counts, counts(1, 1, 1, 2));
}

#[tokio::test]
async fn a_cache_migrated_by_a_newer_app_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99991231000000, 'from the future', 1, x'00', 0)",
    )
    .execute(cache.pool())
    .await
    .unwrap();
    cache.close().await;

    let status = reopened(dir.path()).await;
    assert!(status.written_by_newer_app);
    assert_eq!(status.schema_version, migrations() + 1);
}

#[tokio::test]
async fn an_unwritable_location_is_a_clear_error_and_a_later_attempt_can_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("data");
    std::fs::write(&blocker, b"a file where the data folder should be").unwrap();
    let lazy = LazyCache::in_dir(&blocker.join("nested"));

    let err = lazy.get().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("could not create the cache folder"),
        "{err}"
    );

    std::fs::remove_file(&blocker).unwrap();
    let cache = lazy
        .get()
        .await
        .expect("the second attempt opens the cache");
    assert_eq!(cache.status().await.unwrap().schema_version, migrations());
}

/// The status of the cache in `dir`, opened again.
async fn reopened(dir: &std::path::Path) -> zentro_core::CacheStatus {
    Cache::open_in(dir).await.unwrap().status().await.unwrap()
}

/// Row counts: channels, contacts, conversations, messages.
fn counts(channels: u32, contacts: u32, conversations: u32, messages: u32) -> CacheCounts {
    CacheCounts {
        channels,
        contacts,
        conversations,
        messages,
    }
}

/// How many migrations this build embeds.
fn migrations() -> u32 {
    zentro_core::cache::migrator().iter().count() as u32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_messages_reach_the_database_file_without_a_restart_and_commits_leave_the_wal_to_the_background()
 {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let events: Vec<_> = (1..=300)
        .map(|i| {
            crate::support::wa_text(
                i,
                &format!("US.{i}"),
                "Ana",
                &format!("wamid.{i}"),
                "hello",
                1_760_000_000,
            )
        })
        .collect();
    for chunk in events.chunks(100) {
        crate::support::apply(&cache, chunk).await;
    }
    // The database file alone (read as immutable, so SQLite ignores the WAL) holds every message
    // once the background checkpoint has run: nobody has to close the cache for that.
    let file = dir.path().join("cache.sqlite");
    let in_file = || async {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true)
            .immutable(true);
        let mut connection = sqlx::ConnectOptions::connect(&options).await?;
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM messages")
            .fetch_one(&mut connection)
            .await
    };
    // Until the checkpoint has run, or while it is half-way, the file alone is not a consistent
    // database yet, so a failed read is retried; the last one is reported if it never succeeds.
    let mut found = in_file().await;
    for _ in 0..100 {
        if matches!(found, Ok(300)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        found = in_file().await;
    }
    assert!(
        matches!(found, Ok(300)),
        "the WAL was never copied into the database file (last read: {found:?})"
    );
    // Writers never checkpoint on their own: that would put the copy back on their path.
    let every: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(cache.pool())
        .await
        .unwrap();
    assert_eq!(every, 0);
}
