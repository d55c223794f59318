//! Connecting channels from the app and watching their health, as a device does it.
//!
//! An owner's device asks the relay for a signup ([`RelayClient::start_signup`]) and opens the
//! one-time link in a locked-down window; [`SignupWindowPolicy`] decides what that window may
//! show (the relay and Meta's login dialog), what opens in the default browser instead, and when
//! the signup is over (the relay's finished page). The device then reads the outcome
//! ([`RelayClient::signup`]). Health checks and disconnection are relay calls too.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::channel_tokens::ChannelInfo;
use crate::sync::{RelayClient, SyncError};
use crate::vault::Secret;

/// The log event of a newly connected (or reconnected) channel; devices fetch its token.
pub const CHANNEL_CONNECTED: &str = "channel.connected";

/// A started signup: the page to open and how to recognise its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupStart {
    /// The signup's id (to read its outcome).
    pub id: String,
    /// `whatsapp` (Embedded Signup) or `pages` (Facebook Pages and Instagram).
    pub kind: String,
    /// The signup page, with its one-time token: a credential, never logged.
    pub url: Url,
    /// What the window may show and when it is done.
    pub policy: SignupWindowPolicy,
}

/// How a signup ended, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SignupOutcome {
    /// `connected`, `cancelled`, `failed`, or `pending`/`working` when the window closed early.
    pub state: String,
    /// What happened and what to do.
    pub message: String,
    /// The connected channel's relay id.
    pub channel_id: Option<String>,
}

/// What the signup window does with an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigation {
    /// Show it (the relay's signup page, Meta's login dialog).
    Load,
    /// The relay's finished page: close the window and read the outcome.
    Finished,
    /// A link out (Meta's help pages are on facebook.com too, but anything else): open it in the
    /// default browser, not here.
    OpenInBrowser,
    /// Not a web page (`file:`, `javascript:`, app schemes): refuse.
    Block,
}

/// What the signup window may load: the relay's origin and Meta's login hosts over HTTPS (and,
/// in tests and the sandbox, the stand-in's origin the relay names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupWindowPolicy {
    relay_origin: String,
    finished_path: String,
    dialog_origins: Vec<String>,
}

impl SignupWindowPolicy {
    /// A policy for a relay at `relay` whose page ends on `finished_path`; `dialog_origins` are
    /// extra origins Meta's dialog is served from (meta-sim's).
    pub fn new(relay: &Url, finished_path: &str, dialog_origins: Vec<String>) -> Self {
        Self {
            relay_origin: relay.origin().ascii_serialization(),
            finished_path: finished_path.to_string(),
            dialog_origins,
        }
    }

    /// What to do with `url`.
    pub fn decide(&self, url: &Url) -> Navigation {
        match url.scheme() {
            "about" if url.as_str() == "about:blank" => return Navigation::Load,
            "http" | "https" => {}
            _ => return Navigation::Block,
        }
        let origin = url.origin().ascii_serialization();
        if origin == self.relay_origin {
            return if url.path() == self.finished_path {
                Navigation::Finished
            } else {
                Navigation::Load
            };
        }
        if self.dialog_origins.contains(&origin) {
            return Navigation::Load;
        }
        if url.scheme() == "https"
            && url
                .host_str()
                .is_some_and(zentro_meta::platform::is_login_host)
        {
            return Navigation::Load;
        }
        Navigation::OpenInBrowser
    }
}

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

impl RelayClient {
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
            .call(
                reqwest::Method::POST,
                "/v1/signups",
                Some(token),
                Some(json!({ "kind": kind })),
            )
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
        let body: Body = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/signups/{id}"),
                Some(token),
                None,
            )
            .await?;
        Ok(body.signup.outcome())
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
        #[derive(Deserialize)]
        struct Body {
            channel: ChannelInfo,
        }
        let body: Body = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/channels/{channel_id}/{action}"),
                Some(token),
                None,
            )
            .await?;
        Ok(body.channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SignupWindowPolicy {
        SignupWindowPolicy::new(
            &Url::parse("https://relay.acme.test/").unwrap(),
            "/signup/finished",
            vec!["http://127.0.0.1:4555".into()],
        )
    }

    fn decide(url: &str) -> Navigation {
        policy().decide(&Url::parse(url).unwrap())
    }

    #[test]
    fn the_window_shows_only_the_relay_and_meta_login() {
        assert_eq!(
            decide("https://relay.acme.test/signup?t=x"),
            Navigation::Load
        );
        assert_eq!(
            decide("https://www.facebook.com/v26.0/dialog/oauth?x"),
            Navigation::Load
        );
        assert_eq!(
            decide("https://connect.facebook.net/en_US/sdk.js"),
            Navigation::Load
        );
        assert_eq!(
            decide("http://127.0.0.1:4555/dialog/oauth"),
            Navigation::Load
        );
        assert_eq!(decide("about:blank"), Navigation::Load);
        assert_eq!(
            decide("https://relay.acme.test/signup/finished?outcome=connected"),
            Navigation::Finished
        );
        // Links out go to the browser; Meta over plain http and look-alikes too.
        assert_eq!(
            decide("https://example.com/help"),
            Navigation::OpenInBrowser
        );
        assert_eq!(
            decide("http://www.facebook.com/"),
            Navigation::OpenInBrowser
        );
        assert_eq!(
            decide("https://facebook.com.evil.test/"),
            Navigation::OpenInBrowser
        );
        assert_eq!(
            decide("http://relay.acme.test/signup"),
            Navigation::OpenInBrowser
        );
        // Not web pages at all.
        assert_eq!(decide("file:///etc/passwd"), Navigation::Block);
        assert_eq!(decide("zentro://invite?code=x"), Navigation::Block);
        assert_eq!(decide("javascript:alert(1)"), Navigation::Block);
    }
}
