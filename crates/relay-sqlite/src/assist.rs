//! AI assist: a workspace's settings with its sealed key, and the usage desks record.

use sqlx::SqliteConnection;
use zentro_relay_store::Sealed;
use zentro_relay_store::assist::{AssistRow, AssistUse};

/// A workspace's saved settings, or `None` when never saved.
pub async fn settings(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Option<AssistRow>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT version, enabled AS "enabled: bool", base_url, model, masking AS "masking: bool",
                  auto_labels AS "auto_labels: bool", monthly_budget_tokens, key_id, key_nonce,
                  key_ciphertext, key_version, saved_at, saved_by
           FROM assist_settings WHERE workspace_id = ?"#,
        workspace_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| AssistRow {
        version: r.version,
        enabled: r.enabled,
        base_url: r.base_url,
        model: r.model,
        masking: r.masking,
        auto_labels: r.auto_labels,
        monthly_budget_tokens: r.monthly_budget_tokens,
        key: match (r.key_id, r.key_nonce, r.key_ciphertext) {
            (Some(key_id), Some(nonce), Some(ciphertext)) => Some(Sealed {
                key_id,
                nonce,
                ciphertext,
            }),
            _ => None,
        },
        key_version: r.key_version,
        saved_at: r.saved_at,
        saved_by: r.saved_by,
    }))
}

/// Stores a workspace's settings (inserted, or replacing the saved ones).
pub async fn save_settings(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    row: &AssistRow,
) -> Result<(), sqlx::Error> {
    let (key_id, nonce, ciphertext) = match &row.key {
        Some(s) => (Some(&s.key_id), Some(&s.nonce), Some(&s.ciphertext)),
        None => (None, None, None),
    };
    sqlx::query!(
        "INSERT INTO assist_settings (workspace_id, version, enabled, base_url, model, masking, auto_labels,
                                      monthly_budget_tokens, key_id, key_nonce, key_ciphertext, key_version,
                                      saved_at, saved_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (workspace_id) DO UPDATE SET
             version = excluded.version, enabled = excluded.enabled, base_url = excluded.base_url,
             model = excluded.model, masking = excluded.masking, auto_labels = excluded.auto_labels,
             monthly_budget_tokens = excluded.monthly_budget_tokens, key_id = excluded.key_id,
             key_nonce = excluded.key_nonce, key_ciphertext = excluded.key_ciphertext,
             key_version = excluded.key_version, saved_at = excluded.saved_at, saved_by = excluded.saved_by",
        workspace_id,
        row.version,
        row.enabled,
        row.base_url,
        row.model,
        row.masking,
        row.auto_labels,
        row.monthly_budget_tokens,
        key_id,
        nonce,
        ciphertext,
        row.key_version,
        row.saved_at,
        row.saved_by
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records one request's usage.
pub async fn insert_usage(
    conn: &mut SqliteConnection,
    id: &str,
    usage: &AssistUse<'_>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO assist_usage (id, workspace_id, member_id, conversation, feature, provider,
                                   prompt_tokens, completion_tokens, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        id,
        usage.workspace_id,
        usage.member_id,
        usage.conversation,
        usage.feature,
        usage.provider,
        usage.prompt_tokens,
        usage.completion_tokens,
        at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Tokens a workspace used since `since` (UTC ms), prompt and answer together.
pub async fn tokens_since(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    since: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS "n!: i64"
           FROM assist_usage WHERE workspace_id = ? AND at >= ?"#,
        workspace_id,
        since
    )
    .fetch_one(conn)
    .await
}
