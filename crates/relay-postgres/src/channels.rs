//! Channels as members manage them: sealed tokens, who may use them, removal and purges, connectors, deletion requests, retention.

use sqlx::PgConnection;
use zentro_relay_store::Sealed;
use zentro_relay_store::channels::SealedToken;

// ----- tokens and access -----

/// The version of each stored token of a workspace's channels: `(channel_id, version)`.
pub async fn token_versions(
    conn: &mut PgConnection,
    workspace_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT t.channel_id, t.version FROM channel_tokens t JOIN channels c ON c.id = t.channel_id
         WHERE c.workspace_id = $1",
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
    conn: &mut PgConnection,
    workspace_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT a.channel_id, a.member_id FROM channel_access a JOIN channels c ON c.id = a.channel_id
         WHERE c.workspace_id = $1 ORDER BY a.member_id",
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
    conn: &mut PgConnection,
    channel_id: &str,
    sealed: &Sealed,
    now: i64,
    by: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO channel_tokens (channel_id, key_id, nonce, ciphertext, version, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, 1, $5, $6)
         ON CONFLICT (channel_id) DO UPDATE SET key_id = $2, nonce = $3, ciphertext = $4,
            version = channel_tokens.version + 1, updated_at = $5, updated_by = $6
         RETURNING version"#,
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
    conn: &mut PgConnection,
    channel_id: &str,
) -> Result<Option<SealedToken>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT channel_id, key_id, nonce, ciphertext, version FROM channel_tokens WHERE channel_id = $1",
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
pub async fn all_tokens(conn: &mut PgConnection) -> Result<Vec<SealedToken>, sqlx::Error> {
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
    conn: &mut PgConnection,
    channel_id: &str,
    sealed: &Sealed,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE channel_tokens SET key_id = $1, nonce = $2, ciphertext = $3 WHERE channel_id = $4",
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
pub async fn delete_token(conn: &mut PgConnection, channel_id: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM channel_tokens WHERE channel_id = $1",
        channel_id
    )
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

/// Empties a channel's access list (every member may use it).
pub async fn clear_access(conn: &mut PgConnection, channel_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM channel_access WHERE channel_id = $1",
        channel_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `member_id` is a member of the workspace.
pub async fn member_in_workspace(
    conn: &mut PgConnection,
    member_id: &str,
    workspace_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(SELECT 1 FROM members WHERE id = $1 AND workspace_id = $2) AS "e!""#,
        member_id,
        workspace_id
    )
    .fetch_one(conn)
    .await
}

/// Adds a member to a channel's access list (nothing if already on it).
pub async fn grant_access(
    conn: &mut PgConnection,
    channel_id: &str,
    member_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO channel_access (channel_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
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
    conn: &mut PgConnection,
    channel_id: &str,
    workspace_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM channels WHERE id = $1 AND workspace_id = $2",
        channel_id,
        workspace_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the quarantined webhooks addressed to one route; returns how many.
pub async fn delete_quarantined_for_route(
    conn: &mut PgConnection,
    route_kind: &str,
    route_id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM quarantine WHERE route_kind = $1 AND route_id = $2",
        route_kind,
        route_id
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// The id of the last quarantined webhook (0 if none).
pub async fn last_quarantine_id(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT coalesce(max(id), 0) AS "n!" FROM quarantine"#)
        .fetch_one(conn)
        .await
}

/// The seqs of a workspace's events up to `head` whose payload contains `needle` (case-sensitive,
/// byte for byte).
pub async fn events_mentioning(
    conn: &mut PgConnection,
    workspace_id: &str,
    head: i64,
    needle: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT seq FROM events WHERE workspace_id = $1 AND seq <= $2 AND strpos(payload, $3) > 0",
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
    conn: &mut PgConnection,
    workspace_id: &str,
    last_quarantined: i64,
    needle: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    // The workspace's own quarantine: addressed to one of its channels (as in
    // `delete_recent_quarantined_mentioning`).
    sqlx::query_scalar!(
        r#"SELECT id FROM quarantine q WHERE id <= $1 AND position($2::bytea IN body) > 0
         AND EXISTS (SELECT 1 FROM channels c WHERE c.workspace_id = $3 AND (
            (q.route_kind = 'whatsapp_phone_number' AND c.kind = 'whatsapp' AND c.external_id = q.route_id)
            OR (q.route_kind = 'whatsapp_account' AND c.kind = 'whatsapp' AND c.account_id = q.route_id)
            OR (q.route_kind = 'page' AND c.kind = 'messenger' AND c.external_id = q.route_id)
            OR (q.route_kind = 'instagram_account' AND c.kind = 'instagram' AND c.external_id = q.route_id)))"#,
        last_quarantined,
        needle.as_bytes(),
        workspace_id
    )
    .fetch_all(conn)
    .await
}

/// Deletes a workspace's events by seq; returns how many went.
pub async fn delete_events(
    conn: &mut PgConnection,
    workspace_id: &str,
    seqs: &[i64],
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM events WHERE workspace_id = $1 AND seq = ANY($2)",
        workspace_id,
        seqs
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Deletes quarantined webhooks by id; returns how many went.
pub async fn delete_quarantined(conn: &mut PgConnection, ids: &[i64]) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("DELETE FROM quarantine WHERE id = ANY($1)", ids)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Deletes a workspace's events after `head` whose payload contains `needle`; returns how many.
pub async fn delete_recent_events_mentioning(
    conn: &mut PgConnection,
    workspace_id: &str,
    head: i64,
    needle: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM events WHERE workspace_id = $1 AND seq > $2 AND strpos(payload, $3) > 0",
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
    conn: &mut PgConnection,
    workspace_id: &str,
    last_quarantined: i64,
    needle: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM quarantine AS q WHERE id > $1 AND position($2::bytea IN body) > 0
         AND EXISTS (SELECT 1 FROM channels c WHERE c.workspace_id = $3 AND (
            (q.route_kind = 'whatsapp_phone_number' AND c.kind = 'whatsapp' AND c.external_id = q.route_id)
            OR (q.route_kind = 'whatsapp_account' AND c.kind = 'whatsapp' AND c.account_id = q.route_id)
            OR (q.route_kind = 'page' AND c.kind = 'messenger' AND c.external_id = q.route_id)
            OR (q.route_kind = 'instagram_account' AND c.kind = 'instagram' AND c.external_id = q.route_id)))",
        last_quarantined,
        needle.as_bytes(),
        workspace_id
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Nothing to do on PostgreSQL; returns 0 (done). SQLite's checkpoint empties its WAL so no
/// purged row's bytes stay in a file the relay owns; PostgreSQL keeps deleted rows' bytes in no
/// file the relay owns (its WAL and dead tuples are the server's, and VACUUM reclaims them).
pub async fn checkpoint(_conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    Ok(0)
}

// ----- sessions, connectors, deletion requests, retention -----

/// Whether a token hash is recorded as a session of a workspace terminated since.
pub async fn was_terminated(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS(SELECT 1 FROM terminated_sessions WHERE token_hash = $1) AS "e!""#,
        token_hash
    )
    .fetch_one(conn)
    .await
}

/// Records who (Meta's app-scoped user id) connected a channel.
pub async fn set_connector(
    conn: &mut PgConnection,
    channel_id: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE channels SET connected_by = $1 WHERE id = $2",
        user_id,
        channel_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The ids of the channels a user (by app-scoped id) connected, in order.
pub async fn channel_ids_connected_by(
    conn: &mut PgConnection,
    user_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM channels WHERE connected_by = $1 ORDER BY id",
        user_id
    )
    .fetch_all(conn)
    .await
}

/// Marks a channel disconnected at `now`, unless it already is.
pub async fn mark_disconnected(
    conn: &mut PgConnection,
    channel_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE channels SET disconnected_at = coalesce(disconnected_at, $1) WHERE id = $2",
        now,
        channel_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a completed deletion request (received and completed at `now`).
pub async fn insert_deletion_request(
    conn: &mut PgConnection,
    code: &str,
    user_hash: &str,
    now: i64,
    channels_removed: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO deletion_requests (code, user_hash, received_at, completed_at, channels_removed)
         VALUES ($1, $2, $3, $3, $4)",
        code,
        user_hash,
        now,
        channels_removed
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A deletion request by code: `(received_at, completed_at, channels_removed)`.
pub async fn deletion_request(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<(i64, Option<i64>, i64)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT received_at, completed_at, channels_removed FROM deletion_requests WHERE code = $1",
        code
    )
    .fetch_optional(conn)
    .await?
    .map(|r| (r.received_at, r.completed_at, r.channels_removed)))
}

/// How many deletion requests are recorded.
pub async fn deletion_request_count(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM deletion_requests"#)
        .fetch_one(conn)
        .await
}

/// A workspace's retention periods in days, `(conversations, media)`; `None` if no such workspace.
pub async fn retention(
    conn: &mut PgConnection,
    workspace_id: &str,
) -> Result<Option<(Option<i64>, Option<i64>)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT conversation_retention_days, media_retention_days FROM workspaces WHERE id = $1",
        workspace_id
    )
    .fetch_optional(conn)
    .await?
    .map(|r| (r.conversation_retention_days, r.media_retention_days)))
}

/// Sets a workspace's retention periods in days (`None` keeps).
pub async fn set_retention(
    conn: &mut PgConnection,
    workspace_id: &str,
    conversation_days: Option<i64>,
    media_days: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE workspaces SET conversation_retention_days = $1, media_retention_days = $2 WHERE id = $3",
        conversation_days,
        media_days,
        workspace_id
    )
    .execute(conn)
    .await?;
    Ok(())
}
