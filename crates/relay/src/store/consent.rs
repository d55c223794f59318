//! Customers' consent to marketing messages as the relay keeps it (issue 24): the latest record
//! per customer and channel (what a campaign asks before it sends a marketing template), where
//! the consent worker is in each workspace's log, and what an erasure removes.

use std::collections::BTreeMap;

use zentro_events::ContactRef;
use zentro_relay_store::consent::{ConsentRow, NewConsent};

use super::{Result, Store, WriteTx};
use crate::{read, sql};

impl Store {
    /// Every workspace's id: the consent worker follows every log, automated or not.
    pub async fn all_workspaces(&self) -> Result<Vec<String>> {
        Ok(read!(self, consent::workspaces())?)
    }

    /// A customer's consent on a channel now (the latest record of the log), or `None` when
    /// none was ever recorded.
    pub async fn consent(
        &self,
        workspace_id: &str,
        contact: &ContactRef,
    ) -> Result<Option<ConsentRow>> {
        Ok(read!(
            self,
            consent::consent(
                workspace_id,
                &contact.channel_kind,
                &contact.channel_external_id,
                &contact.customer_id
            )
        )?)
    }

    /// Whether a marketing message may go to `contact` now: only when their latest record says
    /// they opted in (never recorded counts as not). What a campaign asks for every recipient.
    pub async fn may_receive_marketing(
        &self,
        workspace_id: &str,
        contact: &ContactRef,
    ) -> Result<bool> {
        Ok(self
            .consent(workspace_id, contact)
            .await?
            .is_some_and(|c| c.opted_in))
    }

    /// Where the consent worker is in a workspace's log, or `None` when it never read it.
    pub async fn consent_cursor(&self, workspace_id: &str) -> Result<Option<i64>> {
        Ok(read!(self, consent::cursor(workspace_id))?)
    }
}

/// Keeps consent records inside `tx`; each replaces the customer's kept one only when its event
/// is later in the log. Of several records of one customer only the latest goes to the
/// database (one statement may not change a row twice).
pub(crate) async fn save_consents_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    records: &[NewConsent],
) -> Result<()> {
    let latest = latest_per_customer(records);
    Ok(sql!(
        tx.conn(),
        consent::save_consents(workspace_id, &latest)
    )?)
}

/// The latest record (highest seq) of each customer on each channel.
fn latest_per_customer(records: &[NewConsent]) -> Vec<NewConsent> {
    let mut latest: BTreeMap<(&str, &str, &str), &NewConsent> = BTreeMap::new();
    for record in records {
        let key = (
            record.channel_kind.as_str(),
            record.channel_external_id.as_str(),
            record.customer_id.as_str(),
        );
        match latest.get(&key) {
            Some(kept) if kept.seq >= record.seq => {}
            _ => {
                latest.insert(key, record);
            }
        }
    }
    latest.into_values().cloned().collect()
}

/// Moves the consent worker's cursor in a workspace's log, inside `tx`.
pub(crate) async fn save_consent_cursor_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    cursor: i64,
) -> Result<()> {
    Ok(sql!(tx.conn(), consent::save_cursor(workspace_id, cursor))?)
}

/// Deletes, inside an erasure's transaction, the consent the relay keeps of a customer named by
/// `identifier` (a customer id) on every channel (P14). Returns how many rows went.
pub(crate) async fn erase_consent_of_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    identifier: &str,
) -> Result<u64> {
    Ok(sql!(
        tx.conn(),
        consent::delete_consents_of_customer(workspace_id, identifier)
    )?)
}
