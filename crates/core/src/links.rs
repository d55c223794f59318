//! `zentro://` links: what the operating system hands the app when someone clicks one.
//!
//! - `zentro://conversation?channel=<channel id>&contact=<contact's id at Meta>` opens the
//!   conversation with that contact. It names the conversation by what every device of the
//!   workspace shares (the relay's channel id and Meta's id of the contact), never by a row id of
//!   one computer's cache, so a link copied on one desk opens on another.
//! - `zentro://invite?relay=<relay address>&code=<invitation code>` (as the Team page hands it
//!   out) opens "Join your team" filled in.
//!
//! Anything else is refused with a reason; a link never acts by itself (joining still needs the
//! new member's password, opening a conversation only shows it).

use serde::Serialize;
use url::Url;

/// The link scheme registered with the operating system.
pub const SCHEME: &str = "zentro";

/// What a `zentro://` link asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeepLink {
    /// Open the conversation with a contact.
    Conversation {
        /// The relay's channel id.
        channel_id: String,
        /// The contact's id at Meta (WhatsApp id, page-scoped or Instagram-scoped id).
        contact: String,
    },
    /// Join a workspace with an invitation.
    Invitation {
        /// The relay's address.
        relay: String,
        /// The invitation code.
        code: String,
    },
}

/// Why a link is not followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a `zentro://` link.
    #[error("This is not a Zentro Desk link (they start with zentro://).")]
    NotOurs,
    /// A `zentro://` link this version does not know.
    #[error(
        "This Zentro Desk link is not one this version knows (“{0}”); it may need a newer version."
    )]
    Unknown(String),
    /// A known kind with a missing or unusable part.
    #[error("This Zentro Desk link is incomplete: {0}.")]
    Incomplete(&'static str),
    /// An invitation to a relay reached over plain `http://` away from this computer.
    #[error("This invitation is not safe to follow: {0}.")]
    Insecure(String),
}

const MAX_LEN: usize = 2048;

/// Reads a `zentro://` link.
pub fn parse(link: &str) -> Result<DeepLink, LinkError> {
    let link = link.trim();
    if link.len() > MAX_LEN {
        return Err(LinkError::Incomplete("it is too long"));
    }
    let url = Url::parse(link).map_err(|_| LinkError::NotOurs)?;
    if url.scheme() != SCHEME {
        return Err(LinkError::NotOurs);
    }
    // `zentro://invite?…`: the kind is the host; `zentro:invite?…` (no slashes) is accepted too.
    let kind = url
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| url.path().trim_matches('/'))
        .to_ascii_lowercase();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match kind.as_str() {
        "conversation" => {
            let channel_id = param("channel").ok_or(LinkError::Incomplete("no channel"))?;
            let contact = param("contact").ok_or(LinkError::Incomplete("no contact"))?;
            Ok(DeepLink::Conversation {
                channel_id,
                contact,
            })
        }
        "invite" => {
            let relay = param("relay").ok_or(LinkError::Incomplete("no relay address"))?;
            let code = param("code").ok_or(LinkError::Incomplete("no invitation code"))?;
            let relay_url = Url::parse(&relay)
                .map_err(|_| LinkError::Incomplete("the relay address is not a web address"))?;
            if !matches!(relay_url.scheme(), "https" | "http") {
                return Err(LinkError::Incomplete(
                    "the relay address is not a web address",
                ));
            }
            crate::relay_client::relay_address(&relay)
                .map_err(|e| LinkError::Insecure(e.to_string()))?;
            Ok(DeepLink::Invitation { relay, code })
        }
        other => Err(LinkError::Unknown(other.chars().take(40).collect())),
    }
}

/// Why a link from a message is not opened in the browser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebLinkError {
    /// Not an absolute `http://` or `https://` address with a host (a file, a program, a script),
    /// or one that reads otherwise than where it goes.
    #[error(
        "Only plain web links (http:// or https://) open in the browser; this one was not opened."
    )]
    NotWeb,
}

/// A link from a message that may open in the user's browser: an absolute `http` or `https`
/// address with a host, at most 2,048 bytes. Anything else (`file:`, `javascript:`, `zentro:`, a
/// path, a program) is refused, so a customer's text never reaches another program to run; so is
/// a link that would go elsewhere than it reads: a user name before the host
/// (`https://bank.example@evil.test/`) or characters that are not shown as written (bidi
/// controls, zero-width and other invisible characters).
pub fn web_link(link: &str) -> Result<Url, WebLinkError> {
    if link.len() > MAX_LEN
        || link.trim() != link
        || crate::customer_files::visible_text(link) != link
    {
        return Err(WebLinkError::NotWeb);
    }
    let url = Url::parse(link).map_err(|_| WebLinkError::NotWeb)?;
    let web = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none();
    if web {
        Ok(url)
    } else {
        Err(WebLinkError::NotWeb)
    }
}

/// The link to the conversation with `contact` on `channel_id`.
pub fn conversation_link(channel_id: &str, contact: &str) -> String {
    let mut url = Url::parse("zentro://conversation").expect("a constant URL");
    url.query_pairs_mut()
        .append_pair("channel", channel_id)
        .append_pair("contact", contact);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_addresses_open_in_the_browser() {
        for ok in [
            "https://example.com/a?b=c#d",
            "http://shop.test:8080/x",
            "HTTPS://Example.com",
        ] {
            assert!(web_link(ok).is_ok(), "{ok}");
        }
        for refused in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "zentro://conversation?channel=a&contact=b",
            "/usr/bin/xterm",
            "--help",
            "https:",
            " https://example.com",
            "data:text/html,hi",
            "smb://server/share",
            "https://bank.example@evil.test/",
            "https://user:pass@example.com/",
            "https://example.com/\u{202E}fdp.exe",
            "https://exa\u{200B}mple.com/",
        ] {
            assert_eq!(web_link(refused), Err(WebLinkError::NotWeb), "{refused}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_LEN));
        assert_eq!(web_link(&long), Err(WebLinkError::NotWeb));
    }

    #[test]
    fn conversation_links_round_trip_whatever_the_ids_contain() {
        let link = conversation_link("ch_01J/x", "+1 555&0100");
        assert!(link.starts_with("zentro://conversation?"), "{link}");
        assert_eq!(
            parse(&link),
            Ok(DeepLink::Conversation {
                channel_id: "ch_01J/x".into(),
                contact: "+1 555&0100".into(),
            })
        );
        assert_eq!(
            parse("ZENTRO://Conversation?channel=c1&contact=15550100"),
            Ok(DeepLink::Conversation {
                channel_id: "c1".into(),
                contact: "15550100".into()
            })
        );
    }

    #[test]
    fn invitation_links_as_the_relay_hands_them_out_are_read() {
        assert_eq!(
            parse("zentro://invite?relay=https%3A%2F%2Frelay.acme.test&code=WXYZ-2345-6789"),
            Ok(DeepLink::Invitation {
                relay: "https://relay.acme.test".into(),
                code: "WXYZ-2345-6789".into(),
            })
        );
        // Unencoded, as people paste them.
        assert_eq!(
            parse("zentro://invite?relay=https://relay.acme.test:8443&code=ABCD"),
            Ok(DeepLink::Invitation {
                relay: "https://relay.acme.test:8443".into(),
                code: "ABCD".into(),
            })
        );
    }

    #[test]
    fn other_links_are_refused_with_a_reason() {
        assert_eq!(parse("https://zentro.app/x"), Err(LinkError::NotOurs));
        assert_eq!(parse("not a link"), Err(LinkError::NotOurs));
        assert_eq!(
            parse("zentro://settings?x=1"),
            Err(LinkError::Unknown("settings".into()))
        );
        assert_eq!(
            parse("zentro://conversation?channel=c1"),
            Err(LinkError::Incomplete("no contact"))
        );
        assert_eq!(
            parse("zentro://invite?relay=javascript:alert(1)&code=A"),
            Err(LinkError::Incomplete(
                "the relay address is not a web address"
            ))
        );
        match parse("zentro://invite?relay=http://relay.example.com&code=A") {
            Err(LinkError::Insecure(reason)) => assert!(reason.contains("https://"), "{reason}"),
            other => panic!("a plain-http invitation was followed: {other:?}"),
        }
        assert!(parse("zentro://invite?relay=http://127.0.0.1:8787&code=A").is_ok());
        assert_eq!(
            parse("zentro://invite?code=A"),
            Err(LinkError::Incomplete("no relay address"))
        );
        let long = format!(
            "zentro://conversation?channel=c&contact={}",
            "x".repeat(3000)
        );
        assert!(parse(&long).is_err());
    }
}
