//! Connecting channels from the app (Embedded Signup) and what the relay knows of their health.
//!
//! A signup starts on an owner's device, which receives a one-time link to the relay's signup
//! page. The page's token is stored only as a hash, is claimed exactly once (pending → working),
//! and expires. A finished signup names its outcome for the device that watches it.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use zentro_events::clock::{now_ms, random_id};

use super::{Channel, ChannelKind, Result, Store, StoreError, insert_channel_in};
use crate::sealing::Sealed;

/// Where a signup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupState {
    /// The window is open; Meta's dialog has not finished.
    Pending,
    /// The page sent Meta's code; the relay is completing it.
    Working,
    /// The channel is connected.
    Connected,
    /// The owner closed Meta's dialog.
    Cancelled,
    /// Meta or a check failed; nothing was created.
    Failed,
}

impl SignupState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Working => "working",
            Self::Connected => "connected",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Self {
        match value {
            "working" => Self::Working,
            "connected" => Self::Connected,
            "cancelled" => Self::Cancelled,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }

    /// Whether the signup is over (connected, cancelled or failed).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Connected | Self::Cancelled | Self::Failed)
    }
}

/// One signup: an owner's attempt at connecting a channel through Meta's dialog, from the page
/// link to its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Signup {
    /// A random id the relay gives the signup when the owner starts it (`/v1/signups/{id}`).
    pub id: String,
    /// The workspace the channel goes to.
    pub workspace_id: String,
    /// The owner who started it.
    pub member_id: String,
    /// The channel kind (`whatsapp`).
    pub kind: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// After this the page refuses it.
    pub expires_at: i64,
    /// Where it is; connected, cancelled and failed are final ([`SignupState::is_finished`]).
    pub state: SignupState,
    /// The channel the signup connected (`None` until its state is connected).
    pub channel_id: Option<String>,
    /// What happened, for people: `{message, step?, error_id?, code?}` (never a secret).
    pub outcome: Option<Value>,
}

/// What a check at Meta found about a channel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelHealth {
    /// `connected`, `attention` or `disconnected`.
    pub state: String,
    /// Why, for people (`None` when connected).
    pub reason: Option<String>,
    /// The number as customers dial it (WhatsApp), when Meta said.
    pub phone_number: Option<String>,
    /// The quality rating, when Meta said.
    pub quality_rating: Option<String>,
}

impl ChannelHealth {
    /// Connected, with what Meta said of the number.
    pub fn connected(phone_number: Option<String>, quality_rating: Option<String>) -> Self {
        Self {
            state: "connected".into(),
            reason: None,
            phone_number,
            quality_rating,
        }
    }

    /// Needs attention (it works, but something is off), with why.
    pub fn attention(reason: impl Into<String>) -> Self {
        Self {
            state: "attention".into(),
            reason: Some(reason.into()),
            ..Self::default()
        }
    }

    /// Disconnected (it cannot send or receive), with why.
    pub fn disconnected(reason: impl Into<String>) -> Self {
        Self {
            state: "disconnected".into(),
            reason: Some(reason.into()),
            ..Self::default()
        }
    }
}

fn signup_of(r: &sqlx::sqlite::SqliteRow) -> Signup {
    let outcome: Option<String> = r.get(8);
    Signup {
        id: r.get(0),
        workspace_id: r.get(1),
        member_id: r.get(2),
        kind: r.get(3),
        created_at: r.get(4),
        expires_at: r.get(5),
        state: SignupState::parse(r.get::<&str, _>(6)),
        channel_id: r.get(7),
        outcome: outcome.and_then(|o| serde_json::from_str(&o).ok()),
    }
}

const SIGNUP_COLUMNS: &str =
    "id, workspace_id, member_id, kind, created_at, expires_at, state, channel_id, outcome";

/// Why a signup page token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupRefusal {
    /// Unknown, or already used.
    Invalid,
    /// Past its `expires_at`: the page link no longer works.
    Expired,
}

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
        let row = sqlx::query(&format!(
            "INSERT INTO signups (id, workspace_id, member_id, kind, token_hash, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {SIGNUP_COLUMNS}"
        ))
        .bind(&id)
        .bind(workspace_id)
        .bind(member_id)
        .bind(kind)
        .bind(token_hash)
        .bind(now)
        .bind(now + ttl.as_millis() as i64)
        .fetch_one(self.sqlite_pool())
        .await?;
        Ok(signup_of(&row))
    }

    /// A workspace's signup.
    pub async fn signup(&self, workspace_id: &str, id: &str) -> Result<Signup> {
        sqlx::query(&format!(
            "SELECT {SIGNUP_COLUMNS} FROM signups WHERE id = ? AND workspace_id = ?"
        ))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(self.sqlite_pool())
        .await?
        .map(|r| signup_of(&r))
        .ok_or_else(|| StoreError::NotFound("the signup".into()))
    }

    /// The signup a page token opens when it is in one of `states` and not expired, or why not.
    pub async fn open_signup(
        &self,
        token_hash: &[u8],
        states: &[SignupState],
    ) -> Result<std::result::Result<Signup, SignupRefusal>> {
        let row = sqlx::query(&format!(
            "SELECT {SIGNUP_COLUMNS} FROM signups WHERE token_hash = ?"
        ))
        .bind(token_hash)
        .fetch_optional(self.sqlite_pool())
        .await?;
        Ok(match row.map(|r| signup_of(&r)) {
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
        let row = sqlx::query(&format!(
            "UPDATE signups SET state = ?, outcome = ?, finished_at = ?
             WHERE id = ? AND state = ? RETURNING {SIGNUP_COLUMNS}"
        ))
        .bind(to.as_str())
        .bind(outcome.map(Value::to_string))
        .bind(finished)
        .bind(&open.id)
        .bind(open.state.as_str())
        .fetch_optional(self.sqlite_pool())
        .await?;
        Ok(row.map(|r| signup_of(&r)).ok_or(SignupRefusal::Invalid))
    }

    /// Records how a working signup ended.
    pub async fn finish_signup(
        &self,
        id: &str,
        state: SignupState,
        channel_id: Option<&str>,
        outcome: &Value,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE signups SET state = ?, channel_id = ?, outcome = ?, finished_at = ? WHERE id = ?",
        )
        .bind(state.as_str())
        .bind(channel_id)
        .bind(outcome.to_string())
        .bind(now_ms())
        .bind(id)
        .execute(self.sqlite_pool())
        .await?;
        Ok(())
    }

    /// The channel of `kind` with Meta's `external_id`, in any workspace.
    pub async fn channel_by_external_id(
        &self,
        kind: ChannelKind,
        external_id: &str,
    ) -> Result<Option<Channel>> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM channels WHERE kind = ? AND external_id = ?")
                .bind(kind.as_str())
                .bind(external_id)
                .fetch_optional(self.sqlite_pool())
                .await?;
        let Some(id) = id else { return Ok(None) };
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
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        let existing: Option<(String, String)> = sqlx::query_as(
            "SELECT id, workspace_id FROM channels WHERE kind = ? AND external_id = ?",
        )
        .bind(kind.as_str())
        .bind(external_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (id, reconnected) = match existing {
            Some((_, other)) if other != workspace_id => {
                return Err(StoreError::Conflict(format!(
                    "the {} channel {external_id} (in another workspace)",
                    kind.as_str()
                )));
            }
            Some((id, _)) => {
                sqlx::query(
                    "UPDATE channels SET account_id = coalesce(?, account_id), display_name = ?,
                        disconnected_at = NULL WHERE id = ?",
                )
                .bind(account_id)
                .bind(display_name)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                (id, true)
            }
            None => {
                let id = random_id();
                // TODO(issue 21): transitional until this file is ported (insert_channel_in takes
                // a WriteTx now).
                let mut write = super::WriteTx::Sqlite(tx);
                insert_channel_in(
                    &mut write,
                    &id,
                    workspace_id,
                    kind,
                    external_id,
                    account_id,
                    display_name,
                )
                .await?;
                let super::WriteTx::Sqlite(back) = write else {
                    unreachable!()
                };
                tx = back;
                (id, false)
            }
        };
        let sealed = seal(&id);
        // TODO(issue 21): transitional until this file is ported (then `store_token_in(&mut tx, …)`
        // on its `WriteTx`).
        let version =
            zentro_relay_sqlite::channels::store_token(&mut tx, &id, &sealed, now_ms(), Some(by))
                .await?;
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
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        let changed = set_health_in(&mut tx, channel_id, health).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Channels that have a stored token (what the health check looks at).
    pub async fn channels_with_tokens(&self) -> Result<Vec<Channel>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT channel_id FROM channel_tokens")
            .fetch_all(self.sqlite_pool())
            .await?;
        Ok(self
            .channels(None)
            .await?
            .into_iter()
            .filter(|c| ids.contains(&c.id))
            .collect())
    }
}

async fn set_health_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    channel_id: &str,
    health: &ChannelHealth,
) -> Result<bool> {
    let before: Option<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT health, health_reason, quality_rating FROM channels WHERE id = ?")
            .bind(channel_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((state, reason, quality)) = before else {
        return Err(StoreError::NotFound("the channel".into()));
    };
    sqlx::query(
        "UPDATE channels SET health = ?, health_reason = ?, health_checked_at = ?,
            phone_number = coalesce(?, phone_number), quality_rating = coalesce(?, quality_rating)
         WHERE id = ?",
    )
    .bind(&health.state)
    .bind(&health.reason)
    .bind(now_ms())
    .bind(&health.phone_number)
    .bind(&health.quality_rating)
    .bind(channel_id)
    .execute(&mut **tx)
    .await?;
    Ok(state != health.state
        || reason != health.reason
        || (health.quality_rating.is_some() && quality != health.quality_rating))
}
