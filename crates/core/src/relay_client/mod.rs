//! The desk's client of its relay: every HTTP call the desk, the CLI and the sandbox make to the
//! relay is a method of [`RelayClient`], and every one goes through the same request helper and
//! the same error mapping ([`SyncError`]).
//!
//! The routes, by the file their methods are in:
//!
//! | file | routes |
//! | --- | --- |
//! | `sessions.rs` | `POST /v1/sessions` (sign in), `GET`/`DELETE /v1/sessions/current`, `POST /v1/invitations/accept` |
//! | `events.rs` | `GET /v1/events` (pages, and the live stream), `POST /v1/events` (publish), `POST /v1/cursor`, `POST /v1/shared-files` |
//! | `members.rs` | `GET`/`POST /v1/members`, `PATCH`/`DELETE /v1/members/{id}`, `GET /v1/devices`, `DELETE /v1/devices/{id}`, `GET`/`POST /v1/audit` |
//! | `workspace.rs` | `PATCH`/`DELETE /v1/workspace`, `GET`/`PUT /v1/workspace/retention` |
//! | `channels.rs` | `GET /v1/channels`, `GET`/`PUT`/`DELETE /v1/channels/{id}/token`, `PUT …/access`, `GET …/events`, `POST …/check` and `…/disconnect`, `POST /v1/signups`, `GET /v1/signups/{id}` |
//! | `erasures.rs` | `GET`/`POST /v1/erasures` |
//! | `automation.rs` | `GET`/`PUT /v1/automation`, `GET`/`PUT /v1/presence` |
//! | `campaigns.rs` | `GET`/`POST /v1/campaigns`, `GET /v1/campaigns/{id}`, `GET`/`POST …/recipients`, `POST …/start`, `…/pause`, `…/resume`, `…/cancel`, `GET /v1/campaigns/received` |
//!
//! What the answers mean to the desk lives with the code that uses them: syncing in
//! [`crate::sync`], the team's types in [`crate::members`], channel tokens in
//! [`crate::channel_tokens`], signups in [`crate::connections`], erasure and retention in
//! [`crate::rights`].

mod assist;
pub mod automation;
mod campaigns;
pub use assist::{AssistChange, AssistProvider, AssistSettings};
pub use templates::{TemplateSubmission, WorkspaceTemplate};
mod channels;
mod erasures;
mod events;
mod members;
mod sessions;
mod templates;
mod workspace;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cache::CacheError;
use crate::vault::Secret;

pub use events::{PAGE, Page};

/// How long an ordinary call may take, request and answer together.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking to the relay.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The relay refused the credentials or the device token (revoked, expired): sign in again.
    #[error("the relay refused the sign-in or this device's token; sign in again")]
    Unauthorized,
    /// Too many sign-in attempts.
    #[error("too many attempts; try again in {0:?}")]
    RateLimited(Duration),
    /// The relay could not be reached or the connection broke; retried automatically when syncing.
    #[error("the relay could not be reached ({0}); check the address and the network")]
    Network(String),
    /// The workspace was terminated by its owner: this device deletes its data.
    #[error("the workspace was terminated by its owner")]
    WorkspaceTerminated,
    /// The member's role does not allow it; the relay's message names who may.
    #[error("{0}")]
    Forbidden(String),
    /// The relay refused the request for a reason people can act on (an expired invitation, the
    /// last owner, a name taken); `code` is the relay's stable code.
    #[error("{message}")]
    Refused {
        /// The relay's code (`invitation_expired`, `last_owner`, `conflict`, …).
        code: String,
        /// The relay's message, for people.
        message: String,
    },
    /// The relay answered with an error.
    #[error("the relay answered with an error: {0}")]
    Relay(String),
    /// The relay's URL is not valid.
    #[error("the relay address is not valid: {0}")]
    BadAddress(String),
    /// The local cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// A client of one relay.
#[derive(Debug, Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    base: String,
    page_size: i64,
}

impl RelayClient {
    /// A client for the relay at `base_url` (e.g. `https://relay.acme.example`); refused unless
    /// [`relay_address`] accepts it.
    pub fn new(base_url: &str) -> Result<Self, SyncError> {
        relay_address(base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("ZentroDesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Network(e.to_string()))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            page_size: PAGE,
        })
    }

    /// Catches up in pages of `events` (1 to [`PAGE`]): smaller pages mean smaller transactions
    /// and more frequent progress reports.
    pub fn with_page_size(mut self, events: i64) -> Self {
        self.page_size = events.clamp(1, PAGE);
        self
    }

    /// The relay's address.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The request helper: `method` on `path` (a `/v1` route with its query), with the device
    /// token when the route needs one and `body` as JSON when given, sent within 30 s; the answer
    /// checked ([`check`]) and read as `T` (an empty answer reads as JSON `null`). The few routes
    /// that need another timeout, a file body or a stream use its parts: [`Self::request`],
    /// [`send`], [`read`].
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<Value>,
    ) -> Result<T, SyncError> {
        let mut request = self.request(method, path, token).timeout(CALL_TIMEOUT);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(send(request).await?).await
    }

    /// [`Self::call`] for a `GET` as the signed-in device.
    async fn get<T: DeserializeOwned>(&self, path: &str, token: &Secret) -> Result<T, SyncError> {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    /// [`Self::call`] with a JSON `body`, as the signed-in device.
    async fn send_json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &Secret,
        body: Value,
    ) -> Result<T, SyncError> {
        self.call(method, path, Some(token), Some(body)).await
    }

    /// [`Self::call`] as the signed-in device for a change whose answer says nothing more than
    /// that it succeeded.
    async fn act(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &Secret,
        body: Option<Value>,
    ) -> Result<(), SyncError> {
        self.call::<Value>(method, path, Some(token), body)
            .await
            .map(|_| ())
    }

    /// A request for `method` on `path` at this relay, with the device token when given; no
    /// timeout until the caller sets one.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&Secret>,
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }
}

/// Sends a request and checks the answer ([`check`]).
async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, SyncError> {
    check(request.send().await.map_err(network)?).await
}

/// Reads a checked answer as JSON; an empty one (201/204 without a body) reads as `null`.
async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, SyncError> {
    let bytes = response.bytes().await.map_err(network)?;
    if bytes.is_empty() {
        return serde_json::from_value(Value::Null).map_err(|e| SyncError::Relay(e.to_string()));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| SyncError::Relay(format!("unexpected answer from the relay: {e}")))
}

/// The relay's answer as a [`SyncError`] unless it succeeded: 401 → `Unauthorized`, 429 →
/// `RateLimited` (its `retry-after`), 410 `workspace_terminated`, 403 → `Forbidden`, other client
/// errors and 503 with a code → `Refused`, anything else → `Relay`.
async fn check(response: reqwest::Response) -> Result<reqwest::Response, SyncError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(SyncError::Unauthorized);
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|h| h.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        return Err(SyncError::RateLimited(Duration::from_secs(wait)));
    }
    let body: Value = response.json().await.unwrap_or_default();
    let message = body
        .pointer("/error/message")
        .and_then(|m| m.as_str())
        .unwrap_or("no details")
        .to_string();
    let code = body.pointer("/error/code").and_then(|c| c.as_str());
    match (status, code) {
        (reqwest::StatusCode::GONE, Some("workspace_terminated")) => {
            Err(SyncError::WorkspaceTerminated)
        }
        (reqwest::StatusCode::FORBIDDEN, _) => Err(SyncError::Forbidden(message)),
        (s, Some(code)) if s.is_client_error() || s == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
            Err(SyncError::Refused {
                code: code.to_string(),
                message,
            })
        }
        _ => Err(SyncError::Relay(format!("HTTP {status}: {message}"))),
    }
}

/// A transport failure, without the URL (it may carry a one-time token).
fn network(error: reqwest::Error) -> SyncError {
    SyncError::Network(error.without_url().to_string())
}

/// Checks the address of a relay before anything is sent to it, wherever it comes from (sign-in,
/// an invitation code or link, a saved account): `https://`, or plain `http://` only to this
/// computer (127.0.0.0/8, `::1`, `localhost`), since a device token, a password and customers'
/// messages cross that connection. The one check every way in uses.
pub fn relay_address(base_url: &str) -> Result<url::Url, SyncError> {
    let url = url::Url::parse(base_url.trim()).map_err(|e| SyncError::BadAddress(e.to_string()))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(SyncError::BadAddress(format!(
            "{} is plain http://, which anyone on the network can read and change; use the \
             relay's https:// address (plain http:// only reaches a relay on this computer: \
             127.0.0.1, ::1 or localhost)",
            url.origin().ascii_serialization()
        ))),
        _ => Err(SyncError::BadAddress(
            "use the relay's https:// address".into(),
        )),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{SyncError, relay_address};

    #[test]
    fn plain_http_reaches_only_a_relay_on_this_computer() {
        for refused in [
            "http://relay.example.com",
            "http://relay.example.com:8787/",
            "http://10.0.0.5:8787",
            "http://[2001:db8::1]:8787",
            "http://localhost.example.com",
            "ftp://relay.example.com",
        ] {
            match relay_address(refused) {
                Err(SyncError::BadAddress(message)) => {
                    assert!(message.contains("https://"), "{refused}: {message}")
                }
                other => panic!("{refused} was not refused: {other:?}"),
            }
        }
        for accepted in [
            "https://relay.example.com",
            "https://relay.example.com:8443/",
            "http://127.0.0.1:8787",
            "http://127.10.0.1",
            "http://[::1]:8787",
            "http://localhost:8787",
            "http://LOCALHOST",
        ] {
            assert!(relay_address(accepted).is_ok(), "{accepted}");
        }
    }
}
