//! What the app knows about updating itself, without the updater: which update servers are
//! acceptable, when the next check is due, and what Settings → About shows.
//!
//! The download, the signature check (minisign, against the public key built into the app) and
//! the installation are Tauri's updater's; the shell (`src-tauri/src/self_update.rs`) drives it.

use serde::Serialize;
use url::Url;

/// How often the app looks for an update while it runs (and at start, when the last look is
/// older than this).
pub const CHECK_EVERY_SECS: i64 = 6 * 60 * 60;

/// Why an update server address is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a URL at all.
    #[error(
        "“{0}” is not a web address; it should look like https://updates.example.com/desk/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}"
    )]
    NotAUrl(String),
    /// Plain HTTP (or another scheme) where HTTPS is needed.
    #[error(
        "The update server must use https:// (updates are signed, but where they come from should not be readable or changeable on the way)"
    )]
    NotHttps,
    /// A user name or password inside the address, which would end up in logs and files.
    #[error("The update server address must not contain a user name or password")]
    Credentials,
}

/// Checks an update server address typed by an admin: an `https://` URL (plain `http://` only
/// to this computer, and only when `allow_loopback_http`, for development and tests), without
/// credentials. The placeholders `{{target}}`, `{{arch}}`, `{{current_version}}` and
/// `{{bundle_type}}` are filled in by the updater.
pub fn endpoint(input: &str, allow_loopback_http: bool) -> Result<Url, EndpointError> {
    let input = input.trim();
    let url = Url::parse(input).map_err(|_| EndpointError::NotAUrl(input.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(EndpointError::NotAUrl(input.to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Credentials);
    }
    let loopback = matches!(
        url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_loopback_http && loopback => Ok(url),
        _ => Err(EndpointError::NotHttps),
    }
}

/// Whether a check is due at `now` (Unix seconds) when the last one was at `last`.
pub fn check_due(last: Option<i64>, now: i64) -> bool {
    match last {
        None => true,
        // A clock set back makes the last check look like the future: check then too.
        Some(last) => now < last || now - last >= CHECK_EVERY_SECS,
    }
}

/// Where the app stands with updates, as Settings → About shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateState {
    /// Nothing known yet (no check since the app started).
    Unknown,
    /// Asking the update server.
    Checking,
    /// The server offers nothing newer than this version.
    UpToDate,
    /// A newer version is offered.
    Available {
        /// The version offered (semver, as the update server announces it).
        version: String,
        /// Its release notes, if the server gave any.
        notes: Option<String>,
    },
    /// Downloading it.
    Downloading {
        /// The version being downloaded.
        version: String,
        /// Bytes received so far.
        #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
        received: u64,
        /// Its size, when the server said.
        #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
        total: Option<u64>,
    },
    /// Downloaded, its signature verified, being installed (the system may ask for an
    /// administrator's password).
    Installing {
        /// The version being installed.
        version: String,
    },
    /// Installed; the app restarts into it.
    Installed {
        /// The version now installed.
        version: String,
    },
}

/// Settings → About's view of updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UpdateStatus {
    /// The version running.
    pub current_version: String,
    /// Where this installation looks for updates.
    pub endpoint: String,
    /// Whether that is an address chosen for this installation (else the app's own).
    pub custom_endpoint: bool,
    /// When updates were last looked for (Unix seconds), if ever.
    #[cfg_attr(
        feature = "specta",
        specta(type = Option<specta_typescript::Number>)
    )]
    pub last_check: Option<i64>,
    /// What is known.
    pub state: UpdateState,
    /// Why the last check or installation failed, in words for the user; cleared by the next
    /// success. Nothing was replaced when this is set.
    pub problem: Option<String>,
    /// Why this copy cannot install updates itself, when it cannot (a development build, or one
    /// not installed from a package): the user downloads the new version instead.
    pub cannot_install: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_update_servers_without_credentials_are_accepted() {
        let ok = endpoint(
            " https://updates.example.com/desk/{{target}}/{{arch}}/{{current_version}} ",
            false,
        )
        .unwrap();
        assert_eq!(ok.host_str(), Some("updates.example.com"));
        assert!(
            ok.as_str().contains("%7B%7Btarget%7D%7D") || ok.as_str().contains("{{target}}"),
            "the placeholders survive for the updater to fill: {ok}"
        );

        assert_eq!(
            endpoint("http://updates.example.com/x.json", true),
            Err(EndpointError::NotHttps)
        );
        assert_eq!(
            endpoint("ftp://updates.example.com/x.json", false),
            Err(EndpointError::NotHttps)
        );
        assert_eq!(
            endpoint("https://me:secret@updates.example.com/x.json", false),
            Err(EndpointError::Credentials)
        );
        assert!(matches!(
            endpoint("updates.example.com", false),
            Err(EndpointError::NotAUrl(_))
        ));
        assert!(matches!(
            endpoint("", false),
            Err(EndpointError::NotAUrl(_))
        ));

        // Loopback over plain HTTP only where allowed (development builds, tests).
        assert!(endpoint("http://127.0.0.1:8080/latest.json", true).is_ok());
        assert!(endpoint("http://localhost:8080/latest.json", true).is_ok());
        assert_eq!(
            endpoint("http://127.0.0.1:8080/latest.json", false),
            Err(EndpointError::NotHttps)
        );
    }

    #[test]
    fn a_check_is_due_at_first_every_six_hours_and_after_the_clock_went_back() {
        let now = 1_800_000_000;
        assert!(check_due(None, now));
        assert!(!check_due(Some(now - 60), now));
        assert!(!check_due(Some(now - CHECK_EVERY_SECS + 1), now));
        assert!(check_due(Some(now - CHECK_EVERY_SECS), now));
        assert!(check_due(Some(now + 3600), now));
    }
}
