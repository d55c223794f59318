//! Connecting channels from the app and watching their health, as a device does it.
//!
//! An owner's device asks the relay for a signup ([`RelayClient::start_signup`]) and opens the
//! one-time link in a locked-down window; [`SignupWindowPolicy`] decides what that window may
//! show (the relay and Meta's login dialog), what opens in the default browser instead, and when
//! the signup is over (the relay's finished page). The device then reads the outcome
//! ([`RelayClient::signup`]). Health checks and disconnection are relay calls too; all of them are
//! in `relay_client/channels.rs`.
//!
//! [`RelayClient::start_signup`]: crate::relay_client::RelayClient::start_signup
//! [`RelayClient::signup`]: crate::relay_client::RelayClient::signup

use serde::{Deserialize, Serialize};
use url::Url;

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
