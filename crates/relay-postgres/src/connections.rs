//! Connecting channels (Embedded Signup) and their health at Meta.

use sqlx::PgConnection;
use zentro_relay_store::connections::{ChannelHealth, Signup, SignupRow};

/// Starts a signup (state pending) whose page token hashes to `token_hash`; returns it.
#[allow(clippy::too_many_arguments)]
pub async fn insert_signup(
    conn: &mut PgConnection,
    id: &str,
    workspace_id: &str,
    member_id: &str,
    kind: &str,
    token_hash: &[u8],
    created_at: i64,
    expires_at: i64,
) -> Result<Signup, sqlx::Error> {
    let row = sqlx::query_as!(
        SignupRow,
        r#"INSERT INTO signups (id, workspace_id, member_id, kind, token_hash, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id, workspace_id, member_id, kind, created_at, expires_at,
                     state, channel_id, outcome"#,
        id,
        workspace_id,
        member_id,
        kind,
        token_hash,
        created_at,
        expires_at,
    )
    .fetch_one(conn)
    .await?;
    Ok(row.into())
}

/// A workspace's signup by id, if it has it.
pub async fn signup(
    conn: &mut PgConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Signup>, sqlx::Error> {
    let row = sqlx::query_as!(
        SignupRow,
        r#"SELECT id, workspace_id, member_id, kind, created_at, expires_at, state,
                  channel_id, outcome
           FROM signups WHERE id = $1 AND workspace_id = $2"#,
        id,
        workspace_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Signup::from))
}

/// The signup whose page token hashes to `token_hash`, whatever its state.
pub async fn signup_by_token(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<Signup>, sqlx::Error> {
    let row = sqlx::query_as!(
        SignupRow,
        r#"SELECT id, workspace_id, member_id, kind, created_at, expires_at, state,
                  channel_id, outcome
           FROM signups WHERE token_hash = $1"#,
        token_hash,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Signup::from))
}

/// Moves a signup from state `from` to `to` (with its outcome and end), only if it is still in
/// `from` (of two racing requests, one wins); returns it as it now is, or `None` if it was not.
pub async fn claim_signup(
    conn: &mut PgConnection,
    id: &str,
    from: &str,
    to: &str,
    outcome: Option<&str>,
    finished_at: Option<i64>,
) -> Result<Option<Signup>, sqlx::Error> {
    let row = sqlx::query_as!(
        SignupRow,
        r#"UPDATE signups SET state = $1, outcome = $2, finished_at = $3
           WHERE id = $4 AND state = $5
           RETURNING id, workspace_id, member_id, kind, created_at, expires_at,
                     state, channel_id, outcome"#,
        to,
        outcome,
        finished_at,
        id,
        from,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Signup::from))
}

/// Records how a signup ended: its state, the channel it connected, its outcome (JSON) and when.
pub async fn finish_signup(
    conn: &mut PgConnection,
    id: &str,
    state: &str,
    channel_id: Option<&str>,
    outcome: &str,
    finished_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE signups SET state = $1, channel_id = $2, outcome = $3, finished_at = $4 WHERE id = $5",
        state,
        channel_id,
        outcome,
        finished_at,
        id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The channel of `kind` with Meta's `external_id`, in any workspace: its id and workspace.
pub async fn channel_by_external_id(
    conn: &mut PgConnection,
    kind: &str,
    external_id: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, workspace_id FROM channels WHERE kind = $1 AND external_id = $2"#,
        kind,
        external_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.id, r.workspace_id)))
}

/// Marks a channel connected again, with a new display name and (if given) account id.
pub async fn reconnect_channel(
    conn: &mut PgConnection,
    id: &str,
    account_id: Option<&str>,
    display_name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE channels SET account_id = coalesce($1, account_id), display_name = $2,
            disconnected_at = NULL WHERE id = $3",
        account_id,
        display_name,
        id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A channel's health as last recorded: state, reason and quality rating (`None`: no channel).
pub async fn channel_health(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<(String, Option<String>, Option<String>)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT health, health_reason, quality_rating FROM channels WHERE id = $1",
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.health, r.health_reason, r.quality_rating)))
}

/// Records a channel's health checked at `checked_at` (keeping the number and quality rating
/// Meta did not give).
pub async fn set_channel_health(
    conn: &mut PgConnection,
    id: &str,
    health: &ChannelHealth,
    checked_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE channels SET health = $1, health_reason = $2, health_checked_at = $3,
            phone_number = coalesce($4, phone_number), quality_rating = coalesce($5, quality_rating)
         WHERE id = $6",
        health.state,
        health.reason,
        checked_at,
        health.phone_number,
        health.quality_rating,
        id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The ids of the channels that have a stored token.
pub async fn channels_with_tokens(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT channel_id FROM channel_tokens")
        .fetch_all(conn)
        .await
}
