//! WhatsApp message templates: each workspace's copy of its accounts' templates as Meta last
//! described them, with the workspace's own choices (variables, what each stands in for).

use sqlx::SqliteConnection;
use zentro_relay_store::templates::TemplateRow;

/// A workspace's templates, by account, name and language.
pub async fn templates(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Vec<TemplateRow>, sqlx::Error> {
    sqlx::query_as!(
        TemplateRow,
        r#"SELECT account_id AS "account_id!", name AS "name!", language AS "language!",
              meta_id AS "meta_id!", category AS "category!", status AS "status!",
              quality AS "quality!", reason, components AS "components!",
              variables AS "variables!", stands_in_for, updated_at AS "updated_at!"
           FROM message_templates WHERE workspace_id = ?1
           ORDER BY account_id, name, language"#,
        workspace_id
    )
    .fetch_all(conn)
    .await
}

/// Keeps what Meta says of a template (inserted with `row`'s variables and use when new; a kept
/// one keeps them).
pub async fn save_from_meta(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    row: &TemplateRow,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO message_templates (workspace_id, account_id, name, language, meta_id, category,
            status, quality, reason, components, variables, stands_in_for, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (workspace_id, account_id, name, language) DO UPDATE SET
            meta_id = excluded.meta_id, category = excluded.category, status = excluded.status,
            quality = excluded.quality, reason = excluded.reason, components = excluded.components,
            updated_at = excluded.updated_at",
        workspace_id,
        row.account_id,
        row.name,
        row.language,
        row.meta_id,
        row.category,
        row.status,
        row.quality,
        row.reason,
        row.components,
        row.variables,
        row.stands_in_for,
        row.updated_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets a template Meta no longer lists.
pub async fn remove(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    account_id: &str,
    name: &str,
    language: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM message_templates
         WHERE workspace_id = ?1 AND account_id = ?2 AND name = ?3 AND language = ?4",
        workspace_id,
        account_id,
        name,
        language
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets which contact fields fill a template's variables and what it stands in for; whether the
/// workspace has that template.
pub async fn set_uses(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    row: &TemplateRow,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query!(
        "UPDATE message_templates SET variables = ?5, stands_in_for = ?6, updated_at = ?7
         WHERE workspace_id = ?1 AND account_id = ?2 AND name = ?3 AND language = ?4",
        workspace_id,
        row.account_id,
        row.name,
        row.language,
        row.variables,
        row.stands_in_for,
        row.updated_at
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// A status Meta announced for a template of an account, in every workspace that keeps it; the
/// workspaces it changed.
pub async fn set_status(
    conn: &mut SqliteConnection,
    account_id: &str,
    row: &TemplateRow,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE message_templates SET status = ?4, reason = ?5, updated_at = ?6,
              quality = CASE WHEN ?4 = 'PAUSED' THEN 'RED' ELSE quality END
           WHERE account_id = ?1 AND name = ?2 AND language = ?3 AND status <> ?4
           RETURNING workspace_id AS "workspace_id!""#,
        account_id,
        row.name,
        row.language,
        row.status,
        row.reason,
        row.updated_at
    )
    .fetch_all(conn)
    .await
}
