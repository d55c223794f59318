//! Members, invitations, devices, the audit log and the workspace itself.

use sqlx::SqliteConnection;
use zentro_relay_store::team::{AuditEntry, Device, EmailHolder, NewAuditEntry, OpenInvitation};
use zentro_relay_store::{MemberSummary, Workspace};

// ----- members -----

/// One member of a workspace, or `None`.
pub async fn member(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
) -> Result<Option<MemberSummary>, sqlx::Error> {
    sqlx::query_as!(
        MemberSummary,
        r#"SELECT id AS "id!", email, display_name, role, status, created_at, last_sign_in_at
           FROM members WHERE workspace_id = ? AND id = ?"#,
        workspace_id,
        member_id
    )
    .fetch_optional(conn)
    .await
}

/// The member holding `email` (ignoring case), in any workspace, or `None`.
pub async fn email_holder(
    conn: &mut SqliteConnection,
    email: &str,
) -> Result<Option<EmailHolder>, sqlx::Error> {
    sqlx::query_as!(
        EmailHolder,
        r#"SELECT id AS "id!", workspace_id, status FROM members WHERE email = ?"#,
        email
    )
    .fetch_optional(conn)
    .await
}

/// Creates a member with status `invited`; returns `false` (and creates nothing) when the email
/// (ignoring case) or the id is taken.
pub async fn insert_invited(
    conn: &mut SqliteConnection,
    id: &str,
    workspace_id: &str,
    email: &str,
    display_name: &str,
    role: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO members (id, workspace_id, email, display_name, role, status, created_at)
         VALUES (?, ?, ?, ?, ?, 'invited', ?)
         ON CONFLICT DO NOTHING",
        id,
        workspace_id,
        email,
        display_name,
        role,
        now
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the role and display name of a member (an invited one whose invitation is renewed).
pub async fn set_role_and_name(
    conn: &mut SqliteConnection,
    member_id: &str,
    role: &str,
    display_name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members SET role = ?, display_name = ? WHERE id = ?",
        role,
        display_name,
        member_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A member's role and status, or `None` if the workspace has no such member.
pub async fn role_and_status(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT role, status FROM members WHERE workspace_id = ? AND id = ?",
        workspace_id,
        member_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.role, r.status)))
}

/// Locks the workspace's active owners against a concurrent change until the transaction ends.
/// A no-op on SQLite: its write transactions (`BEGIN IMMEDIATE`) already run one at a time.
pub async fn lock_active_owners(
    _conn: &mut SqliteConnection,
    _workspace_id: &str,
) -> Result<(), sqlx::Error> {
    Ok(())
}

/// How many active owners the workspace has besides `member_id`.
pub async fn other_active_owners(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!: i64" FROM members
           WHERE workspace_id = ? AND id <> ? AND role = 'owner' AND status = 'active'"#,
        workspace_id,
        member_id
    )
    .fetch_one(conn)
    .await
}

/// Sets a member's role and status.
pub async fn set_role_and_status(
    conn: &mut SqliteConnection,
    member_id: &str,
    role: &str,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members SET role = ?, status = ? WHERE id = ?",
        role,
        status,
        member_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Activates a member with their password (argon2id PHC string).
pub async fn activate(
    conn: &mut SqliteConnection,
    member_id: &str,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members SET status = 'active', password_hash = ? WHERE id = ?",
        password_hash,
        member_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes every live session of a member at `now`.
pub async fn revoke_sessions(
    conn: &mut SqliteConnection,
    member_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sessions SET revoked_at = ? WHERE member_id = ? AND revoked_at IS NULL",
        now,
        member_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a member of a workspace (their sessions and invitations go with them).
pub async fn delete_member(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM members WHERE workspace_id = ? AND id = ?",
        workspace_id,
        member_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

// ----- invitations -----

/// Adds an invitation code (its hash) for a member.
#[allow(clippy::too_many_arguments)]
pub async fn insert_invitation(
    conn: &mut SqliteConnection,
    id: &str,
    workspace_id: &str,
    member_id: &str,
    code_hash: &[u8],
    created_by: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO invitations (id, workspace_id, member_id, code_hash, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        id,
        workspace_id,
        member_id,
        code_hash,
        created_by,
        created_at,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks every unused invitation of a member used at `now`: their codes stop working.
pub async fn use_invitations_of(
    conn: &mut SqliteConnection,
    member_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE invitations SET used_at = ? WHERE member_id = ? AND used_at IS NULL",
        now,
        member_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The unused invitation with this code hash, with its member, or `None`.
pub async fn open_invitation(
    conn: &mut SqliteConnection,
    code_hash: &[u8],
) -> Result<Option<OpenInvitation>, sqlx::Error> {
    sqlx::query_as!(
        OpenInvitation,
        r#"SELECT i.id AS "id!", i.member_id, i.expires_at, m.email, m.status
           FROM invitations i JOIN members m ON m.id = i.member_id
           WHERE i.code_hash = ? AND i.used_at IS NULL"#,
        code_hash
    )
    .fetch_optional(conn)
    .await
}

/// Marks one unused invitation used at `now`; returns `false` if it was used already.
pub async fn use_invitation(
    conn: &mut SqliteConnection,
    invitation_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE invitations SET used_at = ? WHERE id = ? AND used_at IS NULL",
        now,
        invitation_id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ----- devices -----

/// Live devices of a workspace, or of one member, by email (ignoring case) then sign-in time.
pub async fn devices(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    member_id: Option<&str>,
) -> Result<Vec<Device>, sqlx::Error> {
    sqlx::query_as!(
        Device,
        r#"SELECT s.id AS "id!", s.member_id, m.email AS member_email, s.device_name AS name,
                  s.created_at, s.last_seen_at
           FROM sessions s JOIN members m ON m.id = s.member_id
           WHERE s.workspace_id = ?1 AND s.revoked_at IS NULL AND (?2 IS NULL OR s.member_id = ?2)
           ORDER BY m.email, s.created_at"#,
        workspace_id,
        member_id
    )
    .fetch_all(conn)
    .await
}

// ----- audit log -----

/// Appends an entry to the audit log, dated `at`.
pub async fn record(
    conn: &mut SqliteConnection,
    entry: &NewAuditEntry<'_>,
    at: i64,
) -> Result<(), sqlx::Error> {
    let details = entry.details.to_string();
    sqlx::query!(
        "INSERT INTO audit_log (workspace_id, at, actor_id, actor_email, device, action, subject, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        entry.workspace_id,
        at,
        entry.actor_id,
        entry.actor_email,
        entry.device,
        entry.action,
        entry.subject,
        details
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends many entries to the audit log, all dated `at`: a multi-row statement per bucket of
/// entries, their values bound (not `json_each` over one JSON array, which SQLite turns back
/// into text and parses again for every `->>`).
///
/// Runtime SQL: the `VALUES` list's length follows the entries (split into bucket sizes).
pub async fn record_many(
    conn: &mut SqliteConnection,
    entries: &[NewAuditEntry<'_>],
    at: i64,
) -> Result<(), sqlx::Error> {
    for chunk in crate::log::in_buckets(entries) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO audit_log (workspace_id, at, actor_id, actor_email, device, action, subject,
                details) ",
        );
        query.push_values(chunk, |mut row, e| {
            row.push_bind(e.workspace_id)
                .push_bind(at)
                .push_bind(e.actor_id)
                .push_bind(e.actor_email)
                .push_bind(e.device)
                .push_bind(e.action)
                .push_bind(e.subject)
                .push_bind(e.details.to_string());
        });
        query.build().persistent(true).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Whether the workspace's audit log has an entry `action` whose details name event `seq`.
pub async fn audited_event(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    action: &str,
    seq: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM audit_log WHERE workspace_id = ? AND action = ?
                          AND json_extract(details, '$.seq') = ?) AS "e!: bool""#,
        workspace_id,
        action,
        seq
    )
    .fetch_one(conn)
    .await
}

/// The audit log of a workspace, newest first, before entry `before`, at most `limit` entries.
pub async fn audit(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!: i64", at, actor_id, actor_email, device, action, subject, details
           FROM audit_log
           WHERE workspace_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"#,
        workspace_id,
        before,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at,
            actor_id: r.actor_id,
            actor_email: r.actor_email,
            device: r.device,
            action: r.action,
            subject: r.subject,
            details: AuditEntry::details_from(&r.details),
        })
        .collect())
}

// ----- workspace -----

/// A workspace by id, or `None`.
pub async fn workspace(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query_as!(
        Workspace,
        r#"SELECT id AS "id!", name FROM workspaces WHERE id = ?"#,
        workspace_id
    )
    .fetch_optional(conn)
    .await
}

/// Renames a workspace.
pub async fn rename_workspace(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE workspaces SET name = ? WHERE id = ?",
        name,
        workspace_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps the token hashes of a workspace's live sessions as terminated at `now` (so those devices
/// learn of the termination); hashes kept already stay as they are.
pub async fn keep_terminated_sessions(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT OR IGNORE INTO terminated_sessions (token_hash, terminated_at)
         SELECT token_hash, ? FROM sessions WHERE workspace_id = ? AND revoked_at IS NULL",
        now,
        workspace_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a workspace and everything it owns (by cascade); returns how many rows went (0 or 1).
pub async fn delete_workspace(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("DELETE FROM workspaces WHERE id = ?", workspace_id)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
