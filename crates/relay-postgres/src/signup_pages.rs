//! The Pages a Facebook Login shared, between listing them and connecting the chosen ones (any
//! instance may serve either step), their Page tokens sealed.

use sqlx::PgConnection;
use zentro_relay_store::Sealed;
use zentro_relay_store::signup_pages::SignupPage;

/// Keeps one Page a signup's login shared (replacing a Page of the same id).
pub async fn keep_signup_page(
    conn: &mut PgConnection,
    signup_id: &str,
    page: &SignupPage,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO signup_pages (signup_id, position, page_id, name, key_id, nonce, ciphertext,
             instagram_id, instagram_username, user_id, permissions, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (signup_id, page_id) DO UPDATE SET position = excluded.position,
             name = excluded.name, key_id = excluded.key_id, nonce = excluded.nonce,
             ciphertext = excluded.ciphertext, instagram_id = excluded.instagram_id,
             instagram_username = excluded.instagram_username, user_id = excluded.user_id,
             permissions = excluded.permissions, expires_at = excluded.expires_at",
        signup_id,
        page.position,
        page.page_id,
        page.name,
        page.token.key_id,
        page.token.nonce,
        page.token.ciphertext,
        page.instagram_id,
        page.instagram_username,
        page.user_id,
        page.permissions,
        page.expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes (deletes and returns) the Pages a signup's login shared, expired ones included, in no
/// particular order: only one request can take them.
pub async fn take_signup_pages(
    conn: &mut PgConnection,
    signup_id: &str,
) -> Result<Vec<SignupPage>, sqlx::Error> {
    let rows = sqlx::query!(
        "DELETE FROM signup_pages WHERE signup_id = $1
         RETURNING position, page_id, name, key_id, nonce, ciphertext, instagram_id,
                   instagram_username, user_id, permissions, expires_at",
        signup_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SignupPage {
            position: r.position,
            page_id: r.page_id,
            name: r.name,
            token: Sealed {
                key_id: r.key_id,
                nonce: r.nonce,
                ciphertext: r.ciphertext,
            },
            instagram_id: r.instagram_id,
            instagram_username: r.instagram_username,
            user_id: r.user_id,
            permissions: r.permissions,
            expires_at: r.expires_at,
        })
        .collect())
}

/// Forgets the Pages a signup's login shared (it ended).
pub async fn forget_signup_pages(
    conn: &mut PgConnection,
    signup_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM signup_pages WHERE signup_id = $1", signup_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the Pages whose choice expired at `now` (UTC ms); returns how many.
pub async fn prune_signup_pages(conn: &mut PgConnection, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM signup_pages WHERE expires_at <= $1", now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
