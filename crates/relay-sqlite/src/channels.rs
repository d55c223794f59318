//! Channels as members manage them: sealed tokens, who may use them, removal and purges, connectors, deletion requests, retention.

use sqlx::SqliteConnection;
use zentro_relay_store::Sealed;
use zentro_relay_store::channels::SealedToken;

// ----- tokens and access -----

/// The version of each stored token of a workspace's channels: `(channel_id, version)`.
pub async fn token_versions(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT t.channel_id, t.version FROM channel_tokens t JOIN channels c ON c.id = t.channel_id
         WHERE c.workspace_id = ?",
        workspace_id
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.channel_id, r.version))
    .collect())
}

/// The access lists of a workspace's channels: `(channel_id, member_id)`, by member id.
pub async fn access_lists(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT a.channel_id, a.member_id FROM channel_access a JOIN channels c ON c.id = a.channel_id
         WHERE c.workspace_id = ? ORDER BY a.member_id",
        workspace_id
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.channel_id, r.member_id))
    .collect())
}

/// Stores a channel's sealed token (version 1) or rotates it (next version); returns its version.
pub async fn store_token(
    conn: &mut SqliteConnection,
    channel_id: &str,
    sealed: &Sealed,
    now: i64,
    by: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO channel_tokens (channel_id, key_id, nonce, ciphertext, version, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
         ON CONFLICT (channel_id) DO UPDATE SET key_id = ?2, nonce = ?3, ciphertext = ?4,
            version = channel_tokens.version + 1, updated_at = ?5, updated_by = ?6
         RETURNING version AS "version!: i64""#,
        channel_id,
        sealed.key_id,
        sealed.nonce,
        sealed.ciphertext,
        now,
        by
    )
    .fetch_one(conn)
    .await
}

/// A channel's sealed token, if one is stored.
pub async fn token(
    conn: &mut SqliteConnection,
    channel_id: &str,
) -> Result<Option<SealedToken>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT channel_id, key_id, nonce, ciphertext, version FROM channel_tokens WHERE channel_id = ?",
        channel_id
    )
    .fetch_optional(conn)
    .await?
    .map(|r| SealedToken {
        channel_id: r.channel_id,
        sealed: Sealed {
            key_id: r.key_id,
            nonce: r.nonce,
            ciphertext: r.ciphertext,
        },
        version: r.version,
    }))
}

/// Every sealed token, by channel id.
pub async fn all_tokens(conn: &mut SqliteConnection) -> Result<Vec<SealedToken>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT channel_id, key_id, nonce, ciphertext, version FROM channel_tokens ORDER BY channel_id"
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| SealedToken {
        channel_id: r.channel_id,
        sealed: Sealed {
            key_id: r.key_id,
            nonce: r.nonce,
            ciphertext: r.ciphertext,
        },
        version: r.version,
    })
    .collect())
}

/// Replaces a sealed token's key, nonce and ciphertext, keeping its version.
pub async fn reseal_token(
    conn: &mut SqliteConnection,
    channel_id: &str,
    sealed: &Sealed,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE channel_tokens SET key_id = ?, nonce = ?, ciphertext = ? WHERE channel_id = ?",
        sealed.key_id,
        sealed.nonce,
        sealed.ciphertext,
        channel_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a channel's token; whether there was one.
pub async fn delete_token(
    conn: &mut SqliteConnection,
    channel_id: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM channel_tokens WHERE channel_id = ?",
        channel_id
    )
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

/// Empties a channel's access list (every member may use it).
pub async fn clear_access(
    conn: &mut SqliteConnection,
    channel_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM channel_access WHERE channel_id = ?",
        channel_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `member_id` is a member of the workspace.
pub async fn member_in_workspace(
    conn: &mut SqliteConnection,
    member_id: &str,
    workspace_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(SELECT 1 FROM members WHERE id = ? AND workspace_id = ?) AS "e!: bool""#,
        member_id,
        workspace_id
    )
    .fetch_one(conn)
    .await
}

/// Adds a member to a channel's access list (nothing if already on it).
pub async fn grant_access(
    conn: &mut SqliteConnection,
    channel_id: &str,
    member_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT OR IGNORE INTO channel_access (channel_id, member_id) VALUES (?, ?)",
        channel_id,
        member_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

// ----- removal and purges -----

/// Deletes a workspace's channel (its token and access list cascade).
pub async fn delete_channel(
    conn: &mut SqliteConnection,
    channel_id: &str,
    workspace_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM channels WHERE id = ? AND workspace_id = ?",
        channel_id,
        workspace_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the quarantined webhooks addressed to one route; returns how many.
pub async fn delete_quarantined_for_route(
    conn: &mut SqliteConnection,
    route_kind: &str,
    route_id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM quarantine WHERE route_kind = ? AND route_id = ?",
        route_kind,
        route_id
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// The id of the last quarantined webhook (0 if none).
pub async fn last_quarantine_id(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT coalesce(max(id), 0) AS "n!: i64" FROM quarantine"#)
        .fetch_one(conn)
        .await
}

/// The seqs of a workspace's events up to `head` whose payload contains `needle` (case-sensitive,
/// byte for byte).
pub async fn events_mentioning(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    head: i64,
    needle: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT seq FROM events WHERE workspace_id = ? AND seq <= ? AND instr(payload, ?) > 0",
        workspace_id,
        head,
        needle
    )
    .fetch_all(conn)
    .await
}

/// The ids of quarantined webhooks up to `last_quarantined` whose body contains `needle` and that
/// are addressed to one of the workspace's channels.
pub async fn quarantined_mentioning(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    last_quarantined: i64,
    needle: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    // The workspace's own quarantine: addressed to one of its channels (as in
    // `delete_recent_quarantined_mentioning`).
    sqlx::query_scalar!(
        r#"SELECT id AS "id!: i64" FROM quarantine q WHERE id <= ?1 AND instr(CAST(body AS TEXT), ?2) > 0
         AND EXISTS (SELECT 1 FROM channels c WHERE c.workspace_id = ?3 AND (
            (q.route_kind = 'whatsapp_phone_number' AND c.kind = 'whatsapp' AND c.external_id = q.route_id)
            OR (q.route_kind = 'whatsapp_account' AND c.kind = 'whatsapp' AND c.account_id = q.route_id)
            OR (q.route_kind = 'page' AND c.kind = 'messenger' AND c.external_id = q.route_id)
            OR (q.route_kind = 'instagram_account' AND c.kind = 'instagram' AND c.external_id = q.route_id)))"#,
        last_quarantined,
        needle,
        workspace_id
    )
    .fetch_all(conn)
    .await
}

/// Deletes a workspace's events by seq; returns how many went.
pub async fn delete_events(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    seqs: &[i64],
) -> Result<u64, sqlx::Error> {
    let seqs = serde_json::to_string(seqs).unwrap_or_else(|_| "[]".into());
    Ok(sqlx::query!(
        "DELETE FROM events WHERE workspace_id = ?1 AND seq IN (SELECT value FROM json_each(?2))",
        workspace_id,
        seqs
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Deletes quarantined webhooks by id; returns how many went.
pub async fn delete_quarantined(
    conn: &mut SqliteConnection,
    ids: &[i64],
) -> Result<u64, sqlx::Error> {
    let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    Ok(sqlx::query!(
        "DELETE FROM quarantine WHERE id IN (SELECT value FROM json_each(?1))",
        ids
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Deletes a workspace's events after `head` whose payload contains `needle`; returns how many.
pub async fn delete_recent_events_mentioning(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    head: i64,
    needle: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM events WHERE workspace_id = ? AND seq > ? AND instr(payload, ?) > 0",
        workspace_id,
        head,
        needle
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Deletes the quarantined webhooks after `last_quarantined` whose body contains `needle` and that
/// are addressed to one of the workspace's channels; returns how many.
pub async fn delete_recent_quarantined_mentioning(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    last_quarantined: i64,
    needle: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM quarantine AS q WHERE id > ?1 AND instr(CAST(body AS TEXT), ?2) > 0
         AND EXISTS (SELECT 1 FROM channels c WHERE c.workspace_id = ?3 AND (
            (q.route_kind = 'whatsapp_phone_number' AND c.kind = 'whatsapp' AND c.external_id = q.route_id)
            OR (q.route_kind = 'whatsapp_account' AND c.kind = 'whatsapp' AND c.account_id = q.route_id)
            OR (q.route_kind = 'page' AND c.kind = 'messenger' AND c.external_id = q.route_id)
            OR (q.route_kind = 'instagram_account' AND c.kind = 'instagram' AND c.external_id = q.route_id)))",
        last_quarantined,
        needle,
        workspace_id
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Moves the WAL into the database file and truncates it (`PRAGMA wal_checkpoint(TRUNCATE)`), so
/// no purged row's bytes stay in the WAL; returns 0 when done, non-zero when readers kept it busy.
pub async fn checkpoint(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    // Not a checked macro: a PRAGMA's result columns have no declared type for sqlx to map (and
    // this PRAGMA has no table-valued form to select from); the first column is `busy`.
    sqlx::query_scalar::<_, i64>("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(conn)
        .await
}

// ----- sessions, connectors, deletion requests, retention -----

/// Whether a token hash is recorded as a session of a workspace terminated since.
pub async fn was_terminated(
    conn: &mut SqliteConnection,
    token_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(SELECT 1 FROM terminated_sessions WHERE token_hash = ?) AS "e!: bool""#,
        token_hash
    )
    .fetch_one(conn)
    .await
}

/// Records who (Meta's app-scoped user id) connected a channel.
pub async fn set_connector(
    conn: &mut SqliteConnection,
    channel_id: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE channels SET connected_by = ? WHERE id = ?",
        user_id,
        channel_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The ids of the channels a user (by app-scoped id) connected, in order.
pub async fn channel_ids_connected_by(
    conn: &mut SqliteConnection,
    user_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM channels WHERE connected_by = ? ORDER BY id",
        user_id
    )
    .fetch_all(conn)
    .await
}

/// Marks a channel disconnected at `now`, unless it already is.
pub async fn mark_disconnected(
    conn: &mut SqliteConnection,
    channel_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE channels SET disconnected_at = coalesce(disconnected_at, ?) WHERE id = ?",
        now,
        channel_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a completed deletion request (received and completed at `now`).
pub async fn insert_deletion_request(
    conn: &mut SqliteConnection,
    code: &str,
    user_hash: &str,
    now: i64,
    channels_removed: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO deletion_requests (code, user_hash, received_at, completed_at, channels_removed)
         VALUES (?, ?, ?, ?, ?)",
        code,
        user_hash,
        now,
        now,
        channels_removed
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A deletion request by code: `(received_at, completed_at, channels_removed)`.
pub async fn deletion_request(
    conn: &mut SqliteConnection,
    code: &str,
) -> Result<Option<(i64, Option<i64>, i64)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT received_at, completed_at, channels_removed FROM deletion_requests WHERE code = ?",
        code
    )
    .fetch_optional(conn)
    .await?
    .map(|r| (r.received_at, r.completed_at, r.channels_removed)))
}

/// How many deletion requests are recorded.
pub async fn deletion_request_count(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!: i64" FROM deletion_requests"#)
        .fetch_one(conn)
        .await
}

/// A workspace's retention periods in days, `(conversations, media)`; `None` if no such workspace.
pub async fn retention(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Option<(Option<i64>, Option<i64>)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT conversation_retention_days, media_retention_days FROM workspaces WHERE id = ?",
        workspace_id
    )
    .fetch_optional(conn)
    .await?
    .map(|r| (r.conversation_retention_days, r.media_retention_days)))
}

/// Sets a workspace's retention periods in days (`None` keeps).
pub async fn set_retention(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    conversation_days: Option<i64>,
    media_days: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE workspaces SET conversation_retention_days = ?, media_retention_days = ? WHERE id = ?",
        conversation_days,
        media_days,
        workspace_id
    )
    .execute(conn)
    .await?;
    Ok(())
}
