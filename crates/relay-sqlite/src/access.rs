//! Per-channel access: what of the log a member may read, and which tokens a member's devices hold.

use sqlx::SqliteConnection;
use zentro_relay_store::StoredEvent;
use zentro_relay_store::access::{EventRow, RotationAdvice};

/// The channels of a workspace a member may not use: for an agent, every channel whose access
/// list is not empty and does not name them; none for admins and owners.
pub async fn channels_denied(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT c.id AS "id!" FROM channels c JOIN members m ON m.id = ?2 AND m.workspace_id = c.workspace_id
           WHERE c.workspace_id = ?1 AND m.role = 'agent'
             AND EXISTS (SELECT 1 FROM channel_access a WHERE a.channel_id = c.id)
             AND NOT EXISTS (SELECT 1 FROM channel_access a WHERE a.channel_id = c.id AND a.member_id = m.id)"#,
        workspace_id,
        member_id,
    )
    .fetch_all(conn)
    .await
}

/// A workspace's events after `after`, in order, at most `limit`, each with its channel (`None`
/// for workspace-wide events).
pub async fn events_after(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(StoredEvent, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT seq, kind, at, payload, author, channel_id FROM events
           WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?"#,
        workspace_id,
        after,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let event = EventRow {
                seq: r.seq,
                kind: r.kind,
                at: r.at,
                author: r.author,
                payload: r.payload,
            };
            (event.into(), r.channel_id)
        })
        .collect())
}

/// The id of a workspace's channel of `kind` with Meta's `external_id`, if it has one.
pub async fn channel_id_of(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    kind: &str,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM channels WHERE workspace_id = ? AND kind = ? AND external_id = ?",
        workspace_id,
        kind,
        external_id,
    )
    .fetch_optional(conn)
    .await
}

/// A channel's events with `after < seq <= before`, in order, at most `limit`.
pub async fn channel_events(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    channel_id: &str,
    after: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query_as!(
        EventRow,
        r#"SELECT seq, kind, at, payload, author FROM events
           WHERE workspace_id = ? AND channel_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?"#,
        workspace_id,
        channel_id,
        after,
        before,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(StoredEvent::from).collect())
}

/// The channels whose current token (the audit log's `channel.token_issued` at the token's
/// present version) a member's devices were handed, by id.
pub async fn tokens_held_by(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT t.channel_id AS "channel_id!" FROM audit_log l
           JOIN channel_tokens t ON t.channel_id = json_extract(l.details, '$.channel_id')
                                AND t.version = json_extract(l.details, '$.version')
           JOIN channels c ON c.id = t.channel_id AND c.workspace_id = l.workspace_id
           WHERE l.workspace_id = ? AND l.actor_id = ? AND l.action = 'channel.token_issued'
           ORDER BY t.channel_id"#,
        workspace_id,
        member_id,
    )
    .fetch_all(conn)
    .await
}

/// Per channel of a workspace, the members whose devices hold its current token but who may no
/// longer use it (removed, deactivated, or an agent off its access list), by channel and email.
pub async fn rotation_advice(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Vec<RotationAdvice>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT t.channel_id AS "channel_id!", l.actor_id AS "actor_id!", l.actor_email
           FROM audit_log l
           JOIN channel_tokens t ON t.channel_id = json_extract(l.details, '$.channel_id')
                                AND t.version = json_extract(l.details, '$.version')
           JOIN channels c ON c.id = t.channel_id AND c.workspace_id = l.workspace_id
           LEFT JOIN members m ON m.id = l.actor_id AND m.workspace_id = l.workspace_id
           WHERE l.workspace_id = ? AND l.action = 'channel.token_issued' AND l.actor_id IS NOT NULL
             AND (m.id IS NULL OR m.status <> 'active'
                  OR (m.role = 'agent'
                      AND EXISTS (SELECT 1 FROM channel_access a WHERE a.channel_id = c.id)
                      AND NOT EXISTS (SELECT 1 FROM channel_access a WHERE a.channel_id = c.id AND a.member_id = m.id)))
           ORDER BY t.channel_id, l.actor_email"#,
        workspace_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RotationAdvice {
            channel_id: r.channel_id,
            member_id: r.actor_id,
            email: r.actor_email.unwrap_or_default(),
        })
        .collect())
}
