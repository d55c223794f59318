//! Broadcast campaigns as the relay keeps them (issue 24, ADR 0021): campaigns, their
//! recipients' outcomes, where the campaign worker is in each log, and what an erasure removes.

use super::{Result, Store, WriteTx};
use crate::{read, sql};
use zentro_relay_store::campaigns::{CampaignRow, ReceivedRow, RecipientRow};

impl Store {
    /// Keeps a new campaign; the campaign worker follows its workspace's log from `head` on (a
    /// cursor already saved stays).
    pub async fn insert_campaign(&self, campaign: &CampaignRow, head: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        sql!(tx.conn(), Campaigns::insert_campaign(campaign))?;
        sql!(
            tx.conn(),
            Campaigns::save_cursor(&campaign.workspace_id, head, true)
        )?;
        tx.commit().await
    }

    /// A workspace's campaign.
    pub async fn campaign(&self, workspace_id: &str, id: &str) -> Result<Option<CampaignRow>> {
        Ok(read!(self, Campaigns::campaign(workspace_id, id))?)
    }

    /// A workspace's campaigns, newest first.
    pub async fn campaigns(&self, workspace_id: &str) -> Result<Vec<CampaignRow>> {
        Ok(read!(self, Campaigns::campaigns(workspace_id))?)
    }

    /// The campaigns the worker looks after: scheduled, running or paused.
    pub async fn live_campaigns(&self) -> Result<Vec<CampaignRow>> {
        Ok(read!(self, Campaigns::live_campaigns())?)
    }

    /// Saves a campaign's state, pause, pace and times if it is still in state `from` (a route
    /// and the worker may change it at once); whether it was.
    pub async fn update_campaign(&self, campaign: &CampaignRow, from: &str) -> Result<bool> {
        Ok(read!(self, Campaigns::update_campaign(campaign, from))?)
    }

    /// A campaign's recipients by status.
    pub async fn campaign_counts(&self, campaign_id: &str) -> Result<Vec<(String, i64)>> {
        Ok(read!(self, Campaigns::counts(campaign_id))?)
    }

    /// Adds recipients (queued, in order) to a campaign in one transaction; customers already on
    /// it are left as they are. How many were added.
    pub async fn add_campaign_recipients(
        &self,
        workspace_id: &str,
        campaign_id: &str,
        recipients: &[(String, Option<String>)],
        now: i64,
    ) -> Result<usize> {
        let mut tx = self.begin().await?;
        let mut ordinal = sql!(tx.conn(), Campaigns::last_ordinal(campaign_id))?;
        let mut added = 0;
        for (customer_id, name) in recipients {
            ordinal += 1;
            let row = RecipientRow {
                campaign_id: campaign_id.into(),
                workspace_id: workspace_id.into(),
                ordinal,
                customer_id: customer_id.clone(),
                name: name.clone(),
                status: "queued".into(),
                skip_reason: None,
                error: None,
                message_id: None,
                sending_at: None,
                sent_at: None,
                next_attempt_at: 0,
                updated_at: now,
                attempts: 0,
            };
            if sql!(tx.conn(), Campaigns::add_recipient(&row))? {
                added += 1;
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    /// One recipient of a campaign.
    pub async fn campaign_recipient(
        &self,
        campaign_id: &str,
        customer_id: &str,
    ) -> Result<Option<RecipientRow>> {
        Ok(read!(self, Campaigns::recipient(campaign_id, customer_id))?)
    }

    /// Recipients of `status`, in order, due by `now`: at most `limit`.
    pub async fn campaign_recipients_in(
        &self,
        campaign_id: &str,
        status: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<RecipientRow>> {
        Ok(read!(
            self,
            Campaigns::recipients_in(campaign_id, status, now, limit)
        )?)
    }

    /// A page of a campaign's recipients after the ordinal `after`.
    pub async fn campaign_recipients_after(
        &self,
        campaign_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RecipientRow>> {
        Ok(read!(
            self,
            Campaigns::recipients_after(campaign_id, after, limit)
        )?)
    }

    /// The campaigns a customer is a recipient of on a channel, newest first.
    pub async fn campaigns_received(
        &self,
        workspace_id: &str,
        channel_id: &str,
        customer_id: &str,
    ) -> Result<Vec<ReceivedRow>> {
        Ok(read!(
            self,
            Campaigns::received(workspace_id, channel_id, customer_id)
        )?)
    }

    /// Customers a number's campaigns reached since `since`, and when the earliest was.
    pub async fn campaign_reach_since(
        &self,
        channel_id: &str,
        since: i64,
    ) -> Result<(i64, Option<i64>)> {
        Ok(read!(self, Campaigns::reached_since(channel_id, since))?)
    }

    /// Workspaces with campaigns, whose logs the campaign worker follows.
    pub async fn campaign_workspaces(&self) -> Result<Vec<String>> {
        Ok(read!(self, Campaigns::followed_workspaces())?)
    }

    /// Where the campaign worker is in a workspace's log.
    pub async fn campaign_cursor(&self, workspace_id: &str) -> Result<Option<i64>> {
        Ok(read!(self, Campaigns::cursor(workspace_id))?)
    }

    /// Customers of a workspace whose processing is restricted (P14).
    pub async fn restricted_customers(&self, workspace_id: &str) -> Result<Vec<String>> {
        Ok(read!(self, Campaigns::restricted_customers(workspace_id))?)
    }

    /// The recipients of a campaign not reached become `cancelled`.
    pub async fn cancel_queued_recipients(&self, campaign_id: &str, now: i64) -> Result<u64> {
        Ok(read!(self, Campaigns::cancel_queued(campaign_id, now))?)
    }
}

/// Saves a recipient's outcome inside `tx`.
pub(crate) async fn update_recipient_in(tx: &mut WriteTx, recipient: &RecipientRow) -> Result<()> {
    Ok(sql!(tx.conn(), Campaigns::update_recipient(recipient))?)
}

/// A recipient inside `tx` (read before changing it).
pub(crate) async fn recipient_in(
    tx: &mut WriteTx,
    campaign_id: &str,
    customer_id: &str,
) -> Result<Option<RecipientRow>> {
    Ok(sql!(
        tx.conn(),
        Campaigns::recipient(campaign_id, customer_id)
    )?)
}

/// A customer wrote at `at`: their campaign messages of that number sent before become
/// `replied`, inside `tx`.
pub(crate) async fn mark_replied_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    channel_id: &str,
    customer_id: &str,
    at: i64,
    now: i64,
) -> Result<u64> {
    Ok(sql!(
        tx.conn(),
        Campaigns::mark_replied(workspace_id, channel_id, customer_id, at, now)
    )?)
}

/// The campaigns of a number saw its statuses up to Meta's time `at`, inside `tx`.
pub(crate) async fn see_statuses_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    channel_id: &str,
    at: i64,
) -> Result<()> {
    Ok(sql!(
        tx.conn(),
        Campaigns::see_statuses(workspace_id, channel_id, at)
    )?)
}

/// Moves the campaign worker's cursor in a workspace's log, inside `tx`.
pub(crate) async fn save_campaign_cursor_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    cursor: i64,
) -> Result<()> {
    Ok(sql!(
        tx.conn(),
        Campaigns::save_cursor(workspace_id, cursor, false)
    )?)
}

/// Deletes, inside an erasure's transaction, a customer's recipient rows in every campaign of
/// the workspace (P14). How many went.
pub(crate) async fn erase_recipients_of_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    identifier: &str,
) -> Result<u64> {
    Ok(sql!(
        tx.conn(),
        Campaigns::delete_recipients_of_customer(workspace_id, identifier)
    )?)
}
