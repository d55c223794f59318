//! Names for Messenger and Instagram customers.
//!
//! Their webhooks carry only a PSID or IGSID; the name (and Instagram username) comes from Meta's
//! User Profile API, read with the channel's token. A contact without a name is looked up once;
//! a failure (no token, the customer's privacy settings, a network error) waits
//! [`RETRY_AFTER`] before the next try. WhatsApp sends the name in every webhook.

use std::time::Duration;

use zentro_meta::AccessToken;
use zentro_meta::graph::GraphClient;
use zentro_meta::webhook::Platform;

use crate::cache::{Cache, CacheError};

/// How long a failed lookup waits before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Looks up the names of up to `limit` unnamed Messenger and Instagram contacts; returns how many
/// got one.
pub async fn fetch_missing(
    cache: &Cache,
    graph: &GraphClient,
    token_for: &(dyn Fn(&str) -> Option<AccessToken> + Sync),
    now: i64,
    limit: i64,
) -> Result<usize, CacheError> {
    let retry_before = now - RETRY_AFTER.as_millis() as i64;
    let unnamed = sqlx::query!(
        r#"SELECT k.id AS "id!", k.external_id, ch.id AS channel_id, ch.kind
           FROM contacts k JOIN channels ch ON ch.id = k.channel_id
           WHERE k.display_name = '' AND ch.kind IN ('messenger', 'instagram')
             AND (k.profile_checked_at IS NULL OR k.profile_checked_at < ?)
           LIMIT ?"#,
        retry_before,
        limit
    )
    .fetch_all(cache.pool())
    .await?;
    let mut named = 0;
    for contact in unnamed {
        let platform = Platform::parse(&contact.kind).unwrap_or(Platform::Messenger);
        let profile = match token_for(&contact.channel_id) {
            Some(token) => graph
                .user_profile(&contact.external_id, platform, &token)
                .await
                .map_err(|e| e.to_string()),
            None => Err("no token for the channel".to_string()),
        };
        let (name, username) = match profile {
            Ok(profile) => (profile.display_name(), profile.username),
            Err(reason) => {
                tracing::info!(contact = contact.id, %reason, "no profile for the customer yet");
                (None, None)
            }
        };
        named += usize::from(name.is_some());
        sqlx::query!(
            "UPDATE contacts SET display_name = coalesce(?, display_name), username = coalesce(?, username),
                 profile_checked_at = ? WHERE id = ?",
            name,
            username,
            now,
            contact.id
        )
        .execute(cache.pool())
        .await?;
    }
    Ok(named)
}
