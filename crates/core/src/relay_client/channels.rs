//! The workspace's channels: their list, their Meta tokens and who may use them, their history,
//! health checks and disconnection, and connecting new ones (signups).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::{RelayClient, SyncError};
use crate::apply::RelayEvent;
use crate::channel_tokens::ChannelInfo;
use crate::connections::{SignupOutcome, SignupStart, SignupWindowPolicy};
use crate::vault::Secret;

/// The relay's answer to a change of one channel: the channel as it now is.
#[derive(Deserialize)]
struct ChannelAnswer {
    channel: ChannelInfo,
}

impl RelayClient {
    /// The workspace's channels as this member sees them.
    pub async fn channels(&self, token: &Secret) -> Result<Vec<ChannelInfo>, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            channels: Vec<ChannelInfo>,
        }
        let body: Body = self.get("/v1/channels", token).await?;
        Ok(body.channels)
    }

    /// A channel's Meta token and its version (members allowed on the channel).
    pub async fn channel_token(
        &self,
        token: &Secret,
        channel_id: &str,
    ) -> Result<(Secret, i64), SyncError> {
        let body: Value = self
            .get(&format!("/v1/channels/{channel_id}/token"), token)
            .await?;
        let secret = body
            .get("token")
            .and_then(Value::as_str)
            .map(Secret::new)
            .ok_or_else(|| SyncError::Relay("no token in the answer".into()))?;
        let version = body.get("version").and_then(Value::as_i64).unwrap_or(0);
        Ok((secret, version))
    }

    /// Stores or rotates a channel's Meta token on the relay (admins); returns the channel.
    pub async fn set_channel_token(
        &self,
        token: &Secret,
        channel_id: &str,
        meta_token: &Secret,
    ) -> Result<ChannelInfo, SyncError> {
        let body: ChannelAnswer = self
            .send_json(
                Method::PUT,
                &format!("/v1/channels/{channel_id}/token"),
                token,
                json!({ "token": meta_token.expose() }),
            )
            .await?;
        Ok(body.channel)
    }

    /// Revokes a channel's token on the relay (admins).
    pub async fn revoke_channel_token(
        &self,
        token: &Secret,
        channel_id: &str,
    ) -> Result<(), SyncError> {
        self.act(
            Method::DELETE,
            &format!("/v1/channels/{channel_id}/token"),
            token,
            None,
        )
        .await
    }

    /// Sets the agents allowed on a channel (empty: everyone) (admins).
    pub async fn set_channel_access(
        &self,
        token: &Secret,
        channel_id: &str,
        agents: &[String],
    ) -> Result<(), SyncError> {
        self.act(
            Method::PUT,
            &format!("/v1/channels/{channel_id}/access"),
            token,
            Some(json!({ "agents": agents })),
        )
        .await
    }

    /// A channel's events the relay still holds with `after < seq <= before` (members allowed on
    /// the channel), one page → `(events, next_after)`.
    pub async fn channel_history(
        &self,
        token: &Secret,
        channel_id: &str,
        after: i64,
        before: i64,
    ) -> Result<(Vec<RelayEvent>, i64), SyncError> {
        #[derive(Deserialize)]
        struct Body {
            events: Vec<RelayEvent>,
            next_after: i64,
        }
        let page: Body = self
            .get(
                &format!("/v1/channels/{channel_id}/events?after={after}&before={before}"),
                token,
            )
            .await?;
        Ok((page.events, page.next_after))
    }

    /// Asks the relay to check a channel at Meta now (after a send was refused with 190, or
    /// from the Channels tab); returns the channel as the relay then sees it.
    pub async fn check_channel(
        &self,
        token: &Secret,
        channel_id: &str,
    ) -> Result<ChannelInfo, SyncError> {
        self.channel_action(token, channel_id, "check").await
    }

    /// Disconnects a channel (admins): unsubscribed at Meta, its token deleted everywhere; its
    /// conversations stay.
    pub async fn disconnect_channel(
        &self,
        token: &Secret,
        channel_id: &str,
    ) -> Result<ChannelInfo, SyncError> {
        self.channel_action(token, channel_id, "disconnect").await
    }

    /// `POST /v1/channels/{id}/{action}`, answered with the channel.
    async fn channel_action(
        &self,
        token: &Secret,
        channel_id: &str,
        action: &str,
    ) -> Result<ChannelInfo, SyncError> {
        let body: ChannelAnswer = self
            .call(
                Method::POST,
                &format!("/v1/channels/{channel_id}/{action}"),
                Some(token),
                None,
            )
            .await?;
        Ok(body.channel)
    }

    /// Starts connecting channels (owners): `whatsapp` (Embedded Signup) or `pages` (Facebook
    /// Pages and their Instagram accounts); the signup page to open.
    pub async fn start_signup(&self, token: &Secret, kind: &str) -> Result<SignupStart, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            signup: SignupBody,
            path: String,
            finished_path: String,
            #[serde(default)]
            dialog_origins: Vec<String>,
        }
        let body: Body = self
            .send_json(Method::POST, "/v1/signups", token, json!({ "kind": kind }))
            .await?;
        let base = Url::parse(self.base_url()).map_err(|e| SyncError::BadAddress(e.to_string()))?;
        let url = base
            .join(&body.path)
            .map_err(|e| SyncError::Relay(format!("the relay gave a bad signup address: {e}")))?;
        if url.origin() != base.origin() {
            return Err(SyncError::Relay(
                "the relay's signup page must be on the relay itself".into(),
            ));
        }
        Ok(SignupStart {
            id: body.signup.id,
            kind: kind.to_string(),
            policy: SignupWindowPolicy::new(&base, &body.finished_path, body.dialog_origins),
            url,
        })
    }

    /// How a signup ended (or that it has not).
    pub async fn signup(&self, token: &Secret, id: &str) -> Result<SignupOutcome, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            signup: SignupBody,
        }
        let body: Body = self.get(&format!("/v1/signups/{id}"), token).await?;
        Ok(body.signup.outcome())
    }
}

/// A signup as the relay describes it.
#[derive(Deserialize)]
struct SignupBody {
    id: String,
    state: String,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    outcome: Option<Value>,
}

impl SignupBody {
    /// How it ended, for people: the relay's message, or what its state means.
    fn outcome(self) -> SignupOutcome {
        let message = self
            .outcome
            .as_ref()
            .and_then(|o| o.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| match self.state.as_str() {
                "pending" => {
                    "The window was closed before Meta's dialog finished; nothing was connected."
                        .into()
                }
                "working" => {
                    "The relay is still connecting the number; check the Channels tab in a moment."
                        .into()
                }
                _ => format!("The signup ended: {}.", self.state),
            });
        SignupOutcome {
            state: self.state,
            message,
            channel_id: self.channel_id,
        }
    }
}
