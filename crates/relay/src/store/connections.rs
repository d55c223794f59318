//! Connecting channels from the app (Embedded Signup) and what the relay knows of their health.
//!
//! A signup starts on an owner's device, which receives a one-time link to the relay's signup
//! page. The page's token is stored only as a hash, is claimed exactly once (pending → working),
//! and expires. A finished signup names its outcome for the device that watches it.

use std::time::Duration;

use serde_json::Value;
use zentro_events::clock::{now_ms, random_id};
pub use zentro_relay_store::connections::{ChannelHealth, Signup, SignupRefusal, SignupState};

use super::{Channel, ChannelKind, Result, Store, StoreError, WriteTx, insert_channel_in};
use crate::sealing::Sealed;
use crate::{read, sql};

impl Store {
    /// Starts a signup for `member_id`; the page token (hashed) is valid for `ttl`.
    pub async fn create_signup(
        &self,
        workspace_id: &str,
        member_id: &str,
        kind: &str,
        token_hash: &[u8],
        ttl: Duration,
    ) -> Result<Signup> {
        let now = now_ms();
        let id = random_id();
        let expires_at = now + ttl.as_millis() as i64;
        Ok(read!(
            self,
            connections::insert_signup(
                &id,
                workspace_id,
                member_id,
                kind,
                token_hash,
                now,
                expires_at
            )
        )?)
    }

    /// A workspace's signup.
    pub async fn signup(&self, workspace_id: &str, id: &str) -> Result<Signup> {
        read!(self, connections::signup(workspace_id, id))?
            .ok_or_else(|| StoreError::NotFound("the signup".into()))
    }

    /// The signup a page token opens when it is in one of `states` and not expired, or why not.
    pub async fn open_signup(
        &self,
        token_hash: &[u8],
        states: &[SignupState],
    ) -> Result<std::result::Result<Signup, SignupRefusal>> {
        let signup = read!(self, connections::signup_by_token(token_hash))?;
        Ok(match signup {
            None => Err(SignupRefusal::Invalid),
            Some(s) if !states.contains(&s.state) => Err(SignupRefusal::Invalid),
            Some(s) if s.expires_at < now_ms() => Err(SignupRefusal::Expired),
            Some(s) => Ok(s),
        })
    }

    /// The pending signup a page token opens (to serve the page), or why not.
    pub async fn pending_signup(
        &self,
        token_hash: &[u8],
    ) -> Result<std::result::Result<Signup, SignupRefusal>> {
        self.open_signup(token_hash, &[SignupState::Pending]).await
    }

    /// Moves a signup, by its page token, from one of `from` to `to` exactly once (two requests
    /// racing: one wins); `outcome` is recorded when `to` ends it.
    pub async fn claim_signup(
        &self,
        token_hash: &[u8],
        from: &[SignupState],
        to: SignupState,
        outcome: Option<&Value>,
    ) -> Result<std::result::Result<Signup, SignupRefusal>> {
        let open = match self.open_signup(token_hash, from).await? {
            Ok(s) => s,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let finished = to.is_finished().then(now_ms);
        let outcome = outcome.map(Value::to_string);
        let claimed = read!(
            self,
            connections::claim_signup(
                &open.id,
                open.state.as_str(),
                to.as_str(),
                outcome.as_deref(),
                finished
            )
        )?;
        Ok(claimed.ok_or(SignupRefusal::Invalid))
    }

    /// Records how a working signup ended.
    pub async fn finish_signup(
        &self,
        id: &str,
        state: SignupState,
        channel_id: Option<&str>,
        outcome: &Value,
    ) -> Result<()> {
        let outcome = outcome.to_string();
        Ok(read!(
            self,
            connections::finish_signup(id, state.as_str(), channel_id, &outcome, now_ms())
        )?)
    }

    /// The channel of `kind` with Meta's `external_id`, in any workspace.
    pub async fn channel_by_external_id(
        &self,
        kind: ChannelKind,
        external_id: &str,
    ) -> Result<Option<Channel>> {
        let found = read!(
            self,
            connections::channel_by_external_id(kind.as_str(), external_id)
        )?;
        let Some((id, _)) = found else {
            return Ok(None);
        };
        Ok(self.channels(None).await?.into_iter().find(|c| c.id == id))
    }

    /// Connects a channel in one transaction: adds it (releasing quarantined webhooks) or, when
    /// the workspace already has it, reconnects it; stores its sealed token (`seal` is given the
    /// channel's id) and its health. A channel of another workspace is a conflict. Returns the
    /// channel, its token version and whether it was a reconnection.
    #[allow(clippy::too_many_arguments)]
    pub async fn connect_channel(
        &self,
        workspace_id: &str,
        kind: ChannelKind,
        external_id: &str,
        account_id: Option<&str>,
        display_name: &str,
        seal: impl FnOnce(&str) -> Sealed,
        by: &str,
        health: &ChannelHealth,
    ) -> Result<(Channel, i64, bool)> {
        let mut tx = self.begin().await?;
        let existing = sql!(
            tx.conn(),
            connections::channel_by_external_id(kind.as_str(), external_id)
        )?;
        let (id, reconnected) = match existing {
            Some((_, other)) if other != workspace_id => {
                return Err(StoreError::Conflict(format!(
                    "the {} channel {external_id} (in another workspace)",
                    kind.as_str()
                )));
            }
            Some((id, _)) => {
                sql!(
                    tx.conn(),
                    connections::reconnect_channel(&id, account_id, display_name)
                )?;
                (id, true)
            }
            None => {
                let id = random_id();
                insert_channel_in(
                    &mut tx,
                    &id,
                    workspace_id,
                    kind,
                    external_id,
                    account_id,
                    display_name,
                )
                .await?;
                (id, false)
            }
        };
        let sealed = seal(&id);
        let version = super::channels::store_token_in(&mut tx, &id, &sealed, Some(by)).await?;
        set_health_in(&mut tx, &id, health).await?;
        tx.commit().await?;
        let channel = self.channel(workspace_id, &id).await?;
        Ok((channel, version, reconnected))
    }

    /// Records what a check found; returns whether the state or reason changed (worth telling
    /// the devices).
    pub async fn set_channel_health(
        &self,
        channel_id: &str,
        health: &ChannelHealth,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let changed = set_health_in(&mut tx, channel_id, health).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Channels that have a stored token (what the health check looks at).
    pub async fn channels_with_tokens(&self) -> Result<Vec<Channel>> {
        let ids = read!(self, connections::channels_with_tokens())?;
        Ok(self
            .channels(None)
            .await?
            .into_iter()
            .filter(|c| ids.contains(&c.id))
            .collect())
    }
}

/// Records a channel's health inside `tx`; returns whether the state, the reason or (when Meta
/// gave one) the quality rating changed.
async fn set_health_in(tx: &mut WriteTx, channel_id: &str, health: &ChannelHealth) -> Result<bool> {
    let before = sql!(tx.conn(), connections::channel_health(channel_id))?;
    let Some((state, reason, quality)) = before else {
        return Err(StoreError::NotFound("the channel".into()));
    };
    sql!(
        tx.conn(),
        connections::set_channel_health(channel_id, health, now_ms())
    )?;
    Ok(state != health.state
        || reason != health.reason
        || (health.quality_rating.is_some() && quality != health.quality_rating))
}
