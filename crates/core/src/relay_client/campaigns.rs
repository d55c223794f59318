//! Broadcast campaigns on the relay (issue 24, ADR 0021): creating one with its recipients,
//! starting, pausing, resuming and cancelling it (admins), and reading campaigns, their
//! recipients' outcomes and what one customer received (members).

use serde::Deserialize;
use serde_json::{Value, json};
use zentro_events::campaigns::{
    Campaign, CampaignStart, MAX_RECIPIENTS_PER_CALL, NewCampaign, NewRecipient, ReceivedCampaign,
    RecipientPage,
};

use super::{RelayClient, SyncError, network, send};
use crate::vault::Secret;

/// How long the relay may take to write a campaign's CSV (every recipient, paged on its side).
const CSV_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Deserialize)]
struct CampaignList {
    campaigns: Vec<Campaign>,
}

#[derive(Deserialize)]
struct ReceivedList {
    campaigns: Vec<ReceivedCampaign>,
}

/// Encodes one path segment or query value (ids are URL-safe already; names may not be).
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl RelayClient {
    /// The workspace's campaigns, newest first.
    pub async fn campaigns(&self, token: &Secret) -> Result<Vec<Campaign>, SyncError> {
        let list: CampaignList = self.get("/v1/campaigns", token).await?;
        Ok(list.campaigns)
    }

    /// One campaign with its counts.
    pub async fn campaign(&self, token: &Secret, id: &str) -> Result<Campaign, SyncError> {
        self.get(&format!("/v1/campaigns/{}", encode(id)), token)
            .await
    }

    /// Creates a draft campaign (admins); answers it as kept.
    pub async fn create_campaign(
        &self,
        token: &Secret,
        campaign: &NewCampaign,
    ) -> Result<Campaign, SyncError> {
        let body = serde_json::to_value(campaign).map_err(|e| SyncError::Relay(e.to_string()))?;
        self.send_json(reqwest::Method::POST, "/v1/campaigns", token, body)
            .await
    }

    /// Adds recipients to a draft (admins), in calls of at most
    /// [`MAX_RECIPIENTS_PER_CALL`]; a customer already on it is left as is. Answers the campaign
    /// after the last call.
    pub async fn add_campaign_recipients(
        &self,
        token: &Secret,
        id: &str,
        recipients: &[NewRecipient],
    ) -> Result<Campaign, SyncError> {
        let path = format!("/v1/campaigns/{}/recipients", encode(id));
        let mut campaign = None;
        for chunk in recipients.chunks(MAX_RECIPIENTS_PER_CALL) {
            let body = json!({ "recipients": chunk });
            campaign = Some(
                self.send_json(reqwest::Method::POST, &path, token, body)
                    .await?,
            );
        }
        match campaign {
            Some(campaign) => Ok(campaign),
            None => self.campaign(token, id).await,
        }
    }

    /// Starts a draft now or at `start.send_at` (admins).
    pub async fn start_campaign(
        &self,
        token: &Secret,
        id: &str,
        start: &CampaignStart,
    ) -> Result<Campaign, SyncError> {
        let body = serde_json::to_value(start).map_err(|e| SyncError::Relay(e.to_string()))?;
        self.campaign_action(token, id, "start", body).await
    }

    /// Pauses a scheduled or running campaign (admins).
    pub async fn pause_campaign(&self, token: &Secret, id: &str) -> Result<Campaign, SyncError> {
        self.campaign_action(token, id, "pause", Value::Null).await
    }

    /// Resumes a paused campaign (admins); one Meta paused resumes only once its cause is gone
    /// (the relay answers why not otherwise).
    pub async fn resume_campaign(&self, token: &Secret, id: &str) -> Result<Campaign, SyncError> {
        self.campaign_action(token, id, "resume", Value::Null).await
    }

    /// Cancels a campaign for good (admins): recipients not reached stay `cancelled`.
    pub async fn cancel_campaign(&self, token: &Secret, id: &str) -> Result<Campaign, SyncError> {
        self.campaign_action(token, id, "cancel", Value::Null).await
    }

    /// One page of a campaign's recipients with their outcomes, after the cursor `after`.
    pub async fn campaign_recipients(
        &self,
        token: &Secret,
        id: &str,
        after: Option<&str>,
    ) -> Result<RecipientPage, SyncError> {
        let mut path = format!("/v1/campaigns/{}/recipients", encode(id));
        if let Some(after) = after {
            path.push_str(&format!("?after={}", encode(after)));
        }
        self.get(&path, token).await
    }

    /// Every recipient of a campaign with their outcome, as the relay writes it
    /// (`GET /v1/campaigns/{id}/recipients.csv`): one row each in the order they were added,
    /// `customer_id,name,status,skip_reason,error,message_id,updated_at` (UTC ISO 8601), cells a
    /// spreadsheet would run as a formula neutralised with a leading `'`.
    pub async fn campaign_recipients_csv(
        &self,
        token: &Secret,
        id: &str,
    ) -> Result<String, SyncError> {
        let path = format!("/v1/campaigns/{}/recipients.csv", encode(id));
        let request = self
            .request(reqwest::Method::GET, &path, Some(token))
            .timeout(CSV_TIMEOUT);
        send(request).await?.text().await.map_err(network)
    }

    /// The campaigns a customer received on a channel, newest first (the contact panel).
    pub async fn campaigns_received(
        &self,
        token: &Secret,
        channel_id: &str,
        customer_id: &str,
    ) -> Result<Vec<ReceivedCampaign>, SyncError> {
        let path = format!(
            "/v1/campaigns/received?channel_id={}&customer_id={}",
            encode(channel_id),
            encode(customer_id)
        );
        let list: ReceivedList = self.get(&path, token).await?;
        Ok(list.campaigns)
    }

    /// `POST /v1/campaigns/{id}/{action}`.
    async fn campaign_action(
        &self,
        token: &Secret,
        id: &str,
        action: &str,
        body: Value,
    ) -> Result<Campaign, SyncError> {
        let path = format!("/v1/campaigns/{}/{action}", encode(id));
        self.send_json(reqwest::Method::POST, &path, token, body)
            .await
    }
}
