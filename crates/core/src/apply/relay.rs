//! The relay's own events: a reply Meta accepted, the workspace's retention periods, a contact's
//! erasure, the workspace's automation setup and a member's presence. Each is taken only when the
//! relay wrote it (checked before these run).

use zentro_meta::webhook::Platform;

use super::messages::{MessageRow, store_messages};
use super::statuses::apply_pending_in;
use super::{RelayEvent, Runs, Tx, channel_id};
use crate::cache::CacheError;
use crate::outbox::MessageSent;
use crate::rights::{ErasureNotice, Retention};

/// A reply Meta accepted (`message.sent`); `false` when the payload does not parse or validate.
pub(super) async fn apply_message_sent(
    tx: &mut Tx,
    runs: &mut Runs,
    event: &RelayEvent,
) -> Result<bool, CacheError> {
    let Ok(mut sent) = serde_json::from_value::<MessageSent>(event.payload.clone()) else {
        return Ok(false);
    };
    if sent.validate().is_err() {
        return Ok(false);
    }
    // Who sent it is who published it, not what the payload claims.
    if let Some(author) = &event.author {
        sent.author_member_id.clone_from(author);
    }
    runs.flush(tx).await?;
    store_message_sent(tx, &sent).await?;
    Ok(true)
}

/// The workspace's retention periods; `false` when the payload does not parse or a period is out
/// of range.
pub(super) async fn apply_retention(
    tx: &mut Tx,
    runs: &mut Runs,
    event: &RelayEvent,
) -> Result<bool, CacheError> {
    let Ok(retention) = serde_json::from_value::<Retention>(event.payload.clone()) else {
        return Ok(false);
    };
    if !retention_in_range(&retention) {
        tracing::warn!(
            seq = event.seq,
            ?retention,
            "ignored: a retention period outside 1 to 3650 days"
        );
        return Ok(false);
    }
    runs.flush(tx).await?;
    crate::rights::apply_retention(tx, &retention, event.at).await?;
    Ok(true)
}

/// A contact erased on a customer's request; `false` when the payload does not parse.
pub(super) async fn apply_erasure(
    tx: &mut Tx,
    runs: &mut Runs,
    event: &RelayEvent,
) -> Result<bool, CacheError> {
    let Ok(notice) = serde_json::from_value::<ErasureNotice>(event.payload.clone()) else {
        return Ok(false);
    };
    runs.flush(tx).await?;
    crate::rights::apply_erasure(tx, &notice).await?;
    Ok(true)
}

/// The workspace's automation setup as an admin saved it (`workspace.automation`); `false` when
/// the payload does not parse (or its setup is not one this version reads) or names a version
/// older than the one kept.
pub(super) async fn apply_automation_setup(
    tx: &mut Tx,
    runs: &mut Runs,
    event: &RelayEvent,
) -> Result<bool, CacheError> {
    let Ok(saved) = serde_json::from_value::<crate::teams::SavedSetup>(event.payload.clone())
    else {
        tracing::warn!(
            seq = event.seq,
            "ignored: an automation setup this desk cannot read"
        );
        return Ok(false);
    };
    runs.flush(tx).await?;
    let setup = serde_json::to_string(&saved.setup).unwrap_or_default();
    let stored = sqlx::query!(
        r#"
        INSERT INTO automation_setup (id, version, setup, saved_at, saved_by) VALUES (1, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET
            version = excluded.version,
            setup = excluded.setup,
            saved_at = excluded.saved_at,
            saved_by = excluded.saved_by
        WHERE excluded.version >= automation_setup.version
        "#,
        saved.version,
        setup,
        event.at,
        saved.saved_by
    )
    .execute(&mut **tx)
    .await?;
    Ok(stored.rows_affected() > 0)
}

/// A member's presence changed (`workspace.presence`); `false` when the payload does not parse
/// or names a presence other than available, away or offline.
pub(super) async fn apply_presence(
    tx: &mut Tx,
    runs: &mut Runs,
    event: &RelayEvent,
) -> Result<bool, CacheError> {
    let Ok(change) = serde_json::from_value::<crate::teams::PresenceChange>(event.payload.clone())
    else {
        return Ok(false);
    };
    if !crate::teams::PRESENCES.contains(&change.presence.as_str()) || change.member_id.is_empty() {
        return Ok(false);
    }
    runs.flush(tx).await?;
    sqlx::query!(
        r#"
        INSERT INTO presence (member_id, presence, changed_at) VALUES (?, ?, ?)
        ON CONFLICT (member_id) DO UPDATE SET
            presence = excluded.presence,
            changed_at = excluded.changed_at
        "#,
        change.member_id,
        change.presence,
        event.at
    )
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// A broadcast campaign created or changed (`workspace.campaign`, issue 24): its latest kept, so
/// its messages name it; `false` when the payload does not parse.
pub(super) async fn apply_campaign(
    tx: &mut Tx,
    runs: &mut Runs,
    event: &RelayEvent,
) -> Result<bool, CacheError> {
    // The relay sends `{change, campaign}`; a bare campaign is read too.
    let payload = event.payload.get("campaign").unwrap_or(&event.payload);
    let Ok(campaign) =
        serde_json::from_value::<zentro_events::campaigns::Campaign>(payload.clone())
    else {
        tracing::warn!(seq = event.seq, "ignored: a campaign this desk cannot read");
        return Ok(false);
    };
    if campaign.id.is_empty() {
        return Ok(false);
    }
    runs.flush(tx).await?;
    let state = serde_json::to_value(campaign.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let kept = event.payload.to_string();
    sqlx::query!(
        r#"
        INSERT INTO campaigns (id, name, template_name, state, paused_reason, campaign, announced_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET
            name = excluded.name,
            template_name = excluded.template_name,
            state = excluded.state,
            paused_reason = excluded.paused_reason,
            campaign = excluded.campaign,
            announced_at = excluded.announced_at
        "#,
        campaign.id,
        campaign.name,
        campaign.template_name,
        state,
        campaign.paused_reason,
        kept,
        event.at
    )
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Whether announced retention periods are ones the relay allows ([`crate::rights::RETENTION_DAYS`],
/// or kept): a desk never deletes on a period below a day, whatever reaches it.
fn retention_in_range(retention: &Retention) -> bool {
    [retention.conversation_days, retention.media_days]
        .into_iter()
        .flatten()
        .all(|days| crate::rights::RETENTION_DAYS.contains(&days))
}

/// A reply Meta accepted, as another device (or this one) announced it.
async fn store_message_sent(tx: &mut Tx, sent: &MessageSent) -> Result<(), CacheError> {
    // This device's own reply: it only needs Meta's id.
    let own = sqlx::query!(
        "UPDATE messages SET external_id = COALESCE(external_id, ?) WHERE client_id = ?",
        sent.external_id,
        sent.client_id
    )
    .execute(&mut **tx)
    .await?;
    if own.rows_affected() == 0 {
        let Some(platform) = Platform::parse(&sent.channel_kind) else {
            return Ok(());
        };
        let mut rows = vec![MessageRow {
            channel_id: channel_id(platform, &sent.channel_external_id),
            account_id: None,
            channel_kind: platform.as_str(),
            channel_external_id: sent.channel_external_id.clone(),
            customer_id: sent.customer_id.clone(),
            name: None,
            phone: None,
            username: None,
            parent_user_id: None,
            external_id: Some(sent.external_id.clone()),
            client_id: Some(sent.client_id.clone()),
            author: Some(sent.author_member_id.clone()),
            direction: "outbound",
            kind: "text".into(),
            body: Some(sent.body.clone()),
            caption: None,
            file_name: None,
            media_id: None,
            media_url: None,
            media_mime: None,
            media_sha256: None,
            raw: None,
            quoted: sent.reply_to.clone(),
            at: sent.sent_at,
            status: Some("sent"),
            download: false,
        }];
        store_messages(tx, &mut rows).await?;
        // Meta's echo may have been first: the message exists; record who wrote it.
        sqlx::query!(
            r#"
            UPDATE messages SET author_member_id = coalesce(author_member_id, ?)
            WHERE external_id = ?
            "#,
            sent.author_member_id,
            sent.external_id
        )
        .execute(&mut **tx)
        .await?;
    }
    apply_pending_in(tx, &sent.external_id).await
}

/// AI assist's settings as an owner saved them (`workspace.assist`); `false` when the payload does
/// not parse or names a version older than the one kept.
pub(super) async fn apply_assist_settings(
    tx: &mut Tx,
    runs: &mut Runs,
    event: &RelayEvent,
) -> Result<bool, CacheError> {
    let Ok(announcement) =
        serde_json::from_value::<crate::assist::AssistAnnouncement>(event.payload.clone())
    else {
        tracing::warn!(
            seq = event.seq,
            "ignored: AI assist settings this desk cannot read"
        );
        return Ok(false);
    };
    runs.flush(tx).await?;
    crate::assist::keep_announcement(tx, &announcement, event.at).await
}
