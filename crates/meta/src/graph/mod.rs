//! A Graph API client for what Zentro Desk does with Meta: sends, media, and the onboarding calls
//! of Embedded Signup. Every call is versioned ([`crate::platform::GRAPH_API_VERSION`]) and every
//! failure is a [`GraphError`] saying what to do next.
//!
//! Sends are never retried here: a timeout after the request left is [`GraphError::Ambiguous`],
//! because Meta has no idempotency key and a blind retry could send twice.

mod error;
pub mod media;
pub mod messenger;
pub mod templates;
pub mod whatsapp;

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

pub use error::{GraphError, MediaError};
pub use media::MediaHostPolicy;
pub use messenger::{MessagingType, MessengerOutgoing, MessengerSend, QuickReply};
pub use templates::{
    CreatedTemplate, MessageTemplate, NewTemplate, TemplateCategory, TemplateQuality,
    TemplateReview,
};
pub use whatsapp::{
    Accepted, ListRow, ListSection, MediaSource, Outgoing, Recipient, ReplyButton,
    TemplateComponent, TemplateComponentKind, TemplateParameter, WhatsAppSend,
};

use crate::platform;
use crate::{AccessToken, AppSecret};

/// How long one Graph call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a media download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// A Graph API client.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    version: String,
    media_policy: MediaHostPolicy,
}

/// The download URL and facts of a WhatsApp media file (`GET /{media-id}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MediaInfo {
    /// The media id.
    pub id: String,
    /// A download URL valid for 5 minutes, needing the bearer token.
    pub url: String,
    /// MIME type.
    pub mime_type: Option<String>,
    /// SHA-256 of the file (hex).
    pub sha256: Option<String>,
    /// Size in bytes (Meta sends a string).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub file_size: Option<u64>,
}

/// A Messenger or Instagram customer's public profile (User Profile API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserProfile {
    /// Full name (Instagram; Messenger when given).
    #[serde(default)]
    pub name: Option<String>,
    /// First name (Messenger).
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name (Messenger).
    #[serde(default)]
    pub last_name: Option<String>,
    /// Instagram username.
    #[serde(default)]
    pub username: Option<String>,
}

impl UserProfile {
    /// The name to show: the full name, else first and last name joined.
    pub fn display_name(&self) -> Option<String> {
        self.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                let joined = [self.first_name.as_deref(), self.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                (!joined.trim().is_empty()).then_some(joined)
            })
    }
}

/// A WhatsApp business phone number as Meta describes it (`GET /{phone-number-id}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PhoneNumber {
    /// The phone_number_id (what webhooks and sends name).
    #[serde(deserialize_with = "string_id")]
    pub id: String,
    /// The number as people dial it, e.g. `+1 555-010-0000`.
    #[serde(default)]
    pub display_phone_number: String,
    /// The business name customers see.
    #[serde(default)]
    pub verified_name: String,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    #[serde(default)]
    pub quality_rating: Option<String>,
    /// The business portfolio's messaging limit: unique customers reached with
    /// business-initiated messages per moving 24 hours (`TIER_250`, `TIER_2K`, `TIER_10K`,
    /// `TIER_100K`, `TIER_UNLIMITED`), when asked for.
    #[serde(default)]
    pub whatsapp_business_manager_messaging_limit: Option<String>,
}

impl PhoneNumber {
    /// The messaging limit as a number of customers per moving 24 hours: `None` when unlimited;
    /// 250 (a new portfolio's) when Meta did not say or says something this version does not know.
    pub fn messaging_limit(&self) -> Option<u64> {
        match self.whatsapp_business_manager_messaging_limit.as_deref() {
            Some("TIER_UNLIMITED") | Some("UNLIMITED") => None,
            Some("TIER_1K") => Some(1_000),
            Some("TIER_2K") => Some(2_000),
            Some("TIER_10K") => Some(10_000),
            Some("TIER_100K") => Some(100_000),
            _ => Some(250),
        }
    }
}

fn string_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    id_string(&Value::deserialize(d)?).ok_or_else(|| serde::de::Error::custom("expected an id"))
}

/// A Facebook Page a Facebook Login user token manages (`GET /me/accounts`), with its Page token.
#[derive(Debug, Clone)]
pub struct PageAccount {
    /// The Page id (what Messenger webhooks and sends name).
    pub id: String,
    /// The Page's name.
    pub name: String,
    /// The Page token (a secret).
    pub token: AccessToken,
    /// The linked Instagram professional account: `(id, username)`.
    pub instagram: Option<(String, String)>,
}

/// The fields read of a phone number.
const PHONE_NUMBER_FIELDS: &str = "id,display_phone_number,verified_name,quality_rating,whatsapp_business_manager_messaging_limit";

/// What `debug_token` says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The app the token belongs to.
    pub app_id: String,
    /// Whether it is valid now.
    pub is_valid: bool,
    /// Unix seconds; 0 means never.
    pub expires_at: i64,
    /// Granted permissions.
    pub scopes: Vec<String>,
    /// Per-permission targets: `(scope, target ids)`; WABA ids appear under the WhatsApp scopes.
    pub granular_scopes: Vec<(String, Vec<String>)>,
    /// The Facebook user (app-scoped id) who granted it: what Meta's data-deletion and
    /// deauthorize callbacks name.
    pub user_id: Option<String>,
}

impl TokenInfo {
    /// Every permission granted: `scopes` and those named in `granular_scopes`.
    pub fn granted_permissions(&self) -> impl Iterator<Item = &str> {
        self.scopes
            .iter()
            .chain(self.granular_scopes.iter().map(|(scope, _)| scope))
            .map(String::as_str)
    }

    /// How the grant differs from what `flow` asked for (privacy promise P4).
    pub fn check_permissions(
        &self,
        flow: crate::permissions::LoginFlow,
    ) -> crate::permissions::PermissionCheck {
        crate::permissions::PermissionCheck::compare(flow, self.granted_permissions())
    }

    /// Whether the token grants `scope` on `target` (e.g. a WABA id).
    pub fn grants(&self, scope: &str, target: &str) -> bool {
        self.granular_scopes
            .iter()
            .any(|(s, targets)| s == scope && targets.iter().any(|t| t == target))
    }
}

fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl GraphClient {
    /// A client for Meta's real Graph API.
    pub fn meta() -> Result<Self, GraphError> {
        Self::new(platform::GRAPH_BASE_URL)
    }

    /// A client for the Graph API at `base_url` (Meta's, or a stand-in for tests).
    pub fn new(base_url: &str) -> Result<Self, GraphError> {
        let base = Url::parse(base_url)
            .map_err(|e| GraphError::InvalidInput(format!("bad Graph base URL: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ZentroDesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Unreachable(e.to_string()))?;
        Ok(Self {
            http,
            base,
            version: platform::GRAPH_API_VERSION.to_string(),
            media_policy: MediaHostPolicy::meta(),
        })
    }

    /// Changes how long one call may take before it counts as [`GraphError::Ambiguous`].
    pub fn with_call_timeout(mut self, timeout: Duration) -> Result<Self, GraphError> {
        self.http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ZentroDesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Unreachable(e.to_string()))?;
        Ok(self)
    }

    /// Replaces the media download allow-list.
    pub fn with_media_policy(mut self, policy: MediaHostPolicy) -> Self {
        self.media_policy = policy;
        self
    }

    /// The Graph base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!(
            "{}/{}",
            self.version,
            path.trim_start_matches('/')
        ));
        url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&AccessToken>,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, GraphError> {
        let mut request = self.http.request(method, self.url(path)).query(query);
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport_error)?;
        read_response(response).await
    }

    /// A GET of `path` with the customer's `token`.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        token: &AccessToken,
        query: &[(&str, &str)],
    ) -> Result<T, GraphError> {
        self.call(Method::GET, path, Some(token), query, None).await
    }

    /// A POST of the JSON `body` to `path` with the customer's `token`.
    async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        token: &AccessToken,
        body: &Value,
    ) -> Result<T, GraphError> {
        self.call(Method::POST, path, Some(token), &[], Some(body))
            .await
    }

    /// `method` on `{object_id}/subscribed_apps` (subscribe, unsubscribe), expecting
    /// `{"success": true}`.
    async fn change_subscription(
        &self,
        method: Method,
        object_id: &str,
        token: &AccessToken,
        query: &[(&str, &str)],
    ) -> Result<(), GraphError> {
        let body: Value = self
            .call(
                method,
                &format!("{object_id}/subscribed_apps"),
                Some(token),
                query,
                None,
            )
            .await?;
        success(&body)
    }

    /// Sends a WhatsApp message from `phone_number_id`.
    pub async fn send_whatsapp(
        &self,
        phone_number_id: &str,
        token: &AccessToken,
        send: &WhatsAppSend,
    ) -> Result<Accepted, GraphError> {
        send.validate()?;
        let response: whatsapp::SendResponse = self
            .post_json(
                &format!("{phone_number_id}/messages"),
                token,
                &send.to_json(),
            )
            .await?;
        let first = response
            .messages
            .into_iter()
            .next()
            .ok_or_else(|| GraphError::InvalidResponse("no message id in the answer".into()))?;
        Ok(Accepted {
            message_id: first.id,
            status: first.message_status,
        })
    }

    /// Marks a received WhatsApp message (and those before it) read, optionally showing a typing
    /// indicator to the customer.
    pub async fn mark_read(
        &self,
        phone_number_id: &str,
        token: &AccessToken,
        message_id: &str,
        typing: bool,
    ) -> Result<(), GraphError> {
        let mut body = serde_json::json!({ "messaging_product": "whatsapp", "status": "read", "message_id": message_id });
        if typing {
            body["typing_indicator"] = serde_json::json!({ "type": "text" });
        }
        let _: Value = self
            .post_json(&format!("{phone_number_id}/messages"), token, &body)
            .await?;
        Ok(())
    }

    /// Sends a Messenger or Instagram message from `page_id`.
    pub async fn send_messenger(
        &self,
        page_id: &str,
        token: &AccessToken,
        send: &MessengerSend,
    ) -> Result<Accepted, GraphError> {
        send.validate()?;
        let response: Value = self
            .post_json(&format!("{page_id}/messages"), token, &send.to_json())
            .await?;
        let message_id = response
            .get("message_id")
            .and_then(Value::as_str)
            .ok_or_else(|| GraphError::InvalidResponse("no message_id in the answer".into()))?;
        Ok(Accepted {
            message_id: message_id.to_string(),
            status: None,
        })
    }

    /// Posts a multipart form (an upload) and returns the id Meta answers with under `key`;
    /// `missing` is the error's text when the answer has none.
    async fn upload_for_id(
        &self,
        path: &str,
        token: &AccessToken,
        form: reqwest::multipart::Form,
        key: &str,
        missing: &str,
    ) -> Result<String, GraphError> {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token.expose())
            .multipart(form)
            .send()
            .await
            .map_err(transport_error)?;
        let body: Value = read_response(response).await?;
        body.get(key)
            .and_then(id_string)
            .ok_or_else(|| GraphError::InvalidResponse(missing.into()))
    }

    /// Uploads a file for Messenger (Attachment Upload API); returns the attachment id to send.
    /// `kind` is `image`, `audio`, `video` or `file`.
    pub async fn upload_messenger_attachment(
        &self,
        page_id: &str,
        token: &AccessToken,
        kind: &str,
        mime_type: &str,
        file_name: &str,
        data: Bytes,
    ) -> Result<String, GraphError> {
        let part = file_part(data, file_name, mime_type)?;
        let message = serde_json::json!({ "attachment": { "type": kind, "payload": { "is_reusable": true } } });
        let form = reqwest::multipart::Form::new()
            .text("message", message.to_string())
            .part("filedata", part);
        self.upload_for_id(
            &format!("{page_id}/message_attachments"),
            token,
            form,
            "attachment_id",
            "no attachment_id in the answer",
        )
        .await
    }

    /// Looks up a WhatsApp media file's download URL (valid 5 minutes; look it up each time).
    pub async fn media_info(
        &self,
        media_id: &str,
        token: &AccessToken,
    ) -> Result<MediaInfo, GraphError> {
        self.get(media_id, token, &[]).await
    }

    /// Downloads a media file: only from allowed hosts, at most `max_bytes`, checked against
    /// its SHA-256.
    pub async fn download_media(
        &self,
        info: &MediaInfo,
        token: &AccessToken,
        max_bytes: u64,
    ) -> Result<Bytes, GraphError> {
        if let Some(size) = info.file_size
            && size > max_bytes
        {
            return Err(MediaError::TooLarge { limit: max_bytes }.into());
        }
        let url =
            Url::parse(&info.url).map_err(|_| MediaError::HostNotAllowed(info.url.clone()))?;
        let request = self.media_request(url, token).await?;
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(MediaError::HostNotAllowed(format!("a redirect from {}", info.url)).into());
        }
        if matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::NOT_FOUND
                | StatusCode::GONE
        ) {
            return Err(MediaError::UrlExpired(status.as_u16()).into());
        }
        if !status.is_success() {
            return Err(GraphError::Transient {
                code: None,
                status: status.as_u16(),
                message: format!("HTTP {status}"),
            });
        }
        let mut data = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if (data.len() + chunk.len()) as u64 > max_bytes {
                return Err(MediaError::TooLarge { limit: max_bytes }.into());
            }
            data.extend_from_slice(&chunk);
        }
        if let Some(expected) = &info.sha256
            && !sha256_matches(&data, expected)
        {
            return Err(MediaError::ChecksumMismatch.into());
        }
        Ok(Bytes::from(data))
    }

    /// The request fetching a media file at `url`: once the media policy has checked the host,
    /// through a client pinned to the checked addresses (DNS cannot change between the check and
    /// the fetch) that follows no redirect.
    async fn media_request(
        &self,
        url: Url,
        token: &AccessToken,
    ) -> Result<reqwest::RequestBuilder, GraphError> {
        if !self.media_policy.check_url(&url)? {
            return Ok(self
                .http
                .get(url)
                .bearer_auth(token.expose())
                .timeout(DOWNLOAD_TIMEOUT));
        }
        let addrs = self.media_policy.check_addresses(&url).await?;
        let host = url.host_str().unwrap_or_default().to_string();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| GraphError::Unreachable(e.to_string()))?;
        Ok(client
            .get(url)
            .bearer_auth(token.expose())
            .timeout(DOWNLOAD_TIMEOUT))
    }

    /// Uploads a media file for sending from `phone_number_id`; returns its media id (valid 30 days).
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        token: &AccessToken,
        mime_type: &str,
        file_name: &str,
        data: Bytes,
    ) -> Result<String, GraphError> {
        let part = file_part(data, file_name, mime_type)?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_string())
            .part("file", part);
        self.upload_for_id(
            &format!("{phone_number_id}/media"),
            token,
            form,
            "id",
            "no media id in the answer",
        )
        .await
    }

    /// Exchanges an Embedded Signup / Facebook Login code for the customer's token (relay only: it
    /// needs the app secret). `redirect_uri` only for the redirect flow; omit it for the JS SDK flow.
    pub async fn exchange_code(
        &self,
        app_id: &str,
        app_secret: &AppSecret,
        code: &str,
        redirect_uri: Option<&str>,
    ) -> Result<AccessToken, GraphError> {
        let mut query = vec![
            ("client_id", app_id),
            ("client_secret", app_secret.expose()),
            ("code", code),
        ];
        if let Some(uri) = redirect_uri {
            query.push(("redirect_uri", uri));
        }
        let body: Value = self
            .call(Method::GET, "oauth/access_token", None, &query, None)
            .await?;
        body.get("access_token")
            .and_then(Value::as_str)
            .map(AccessToken::new)
            .ok_or_else(|| GraphError::InvalidResponse("no access_token in the answer".into()))
    }

    /// A customer's profile from a PSID (Messenger) or IGSID (Instagram), read with the Page's
    /// token. Webhooks carry only the id, so this is how a conversation gets a name.
    pub async fn user_profile(
        &self,
        user_id: &str,
        platform: crate::webhook::Platform,
        token: &AccessToken,
    ) -> Result<UserProfile, GraphError> {
        let fields = match platform {
            crate::webhook::Platform::Instagram => "name,username",
            _ => "first_name,last_name",
        };
        self.get(user_id, token, &[("fields", fields)]).await
    }

    /// Inspects a token with the app's credentials (`debug_token`).
    pub async fn debug_token(
        &self,
        app_id: &str,
        app_secret: &AppSecret,
        input: &AccessToken,
    ) -> Result<TokenInfo, GraphError> {
        let app_token = format!("{app_id}|{}", app_secret.expose());
        let body: Value = self
            .call(
                Method::GET,
                "debug_token",
                None,
                &[
                    ("input_token", input.expose()),
                    ("access_token", &app_token),
                ],
                None,
            )
            .await?;
        let data = body
            .get("data")
            .ok_or_else(|| GraphError::InvalidResponse("no data in debug_token".into()))?;
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| a.iter().filter_map(id_string).collect())
                .unwrap_or_default()
        };
        Ok(TokenInfo {
            app_id: data.get("app_id").and_then(id_string).unwrap_or_default(),
            is_valid: data
                .get("is_valid")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            expires_at: data.get("expires_at").and_then(Value::as_i64).unwrap_or(0),
            user_id: data.get("user_id").and_then(id_string),
            scopes: strings(data.get("scopes")),
            granular_scopes: data
                .get("granular_scopes")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|g| {
                            (
                                g.get("scope").and_then(id_string).unwrap_or_default(),
                                strings(g.get("target_ids")),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Subscribes our app to a WABA's webhooks (without it, no webhooks arrive).
    pub async fn subscribe_app(
        &self,
        waba_id: &str,
        token: &AccessToken,
    ) -> Result<(), GraphError> {
        self.change_subscription(Method::POST, waba_id, token, &[])
            .await
    }

    /// The app ids subscribed to a WABA's (or Page's) webhooks.
    pub async fn subscribed_apps(
        &self,
        object_id: &str,
        token: &AccessToken,
    ) -> Result<Vec<String>, GraphError> {
        let body: Value = self
            .get(&format!("{object_id}/subscribed_apps"), token, &[])
            .await?;
        Ok(body
            .get("data")
            .and_then(Value::as_array)
            .map(|apps| {
                apps.iter()
                    .filter_map(|a| {
                        a.get("whatsapp_business_api_data")
                            .and_then(|d| d.get("id"))
                            .or_else(|| a.get("id"))
                            .and_then(id_string)
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Subscribes our app to a Page's (or Instagram account's) messaging webhooks with `fields`
    /// (comma-separated, e.g. [`platform::MESSAGING_FIELDS`]), with the Page token.
    pub async fn subscribe_page(
        &self,
        page_id: &str,
        token: &AccessToken,
        fields: &str,
    ) -> Result<(), GraphError> {
        self.change_subscription(
            Method::POST,
            page_id,
            token,
            &[("subscribed_fields", fields)],
        )
        .await
    }

    /// The Pages a Facebook Login user token manages, with their Page tokens and linked
    /// Instagram accounts (first 100).
    pub async fn page_accounts(
        &self,
        user_token: &AccessToken,
    ) -> Result<Vec<PageAccount>, GraphError> {
        let body: Value = self
            .get(
                "me/accounts",
                user_token,
                &[
                    (
                        "fields",
                        "id,name,access_token,instagram_business_account{id,username}",
                    ),
                    ("limit", "100"),
                ],
            )
            .await?;
        let pages = body
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(pages
            .iter()
            .filter_map(|p| {
                Some(PageAccount {
                    id: p.get("id").and_then(id_string)?,
                    name: p
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    token: AccessToken::new(p.get("access_token").and_then(Value::as_str)?),
                    instagram: p.get("instagram_business_account").and_then(|ig| {
                        Some((
                            ig.get("id").and_then(id_string)?,
                            ig.get("username")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                        ))
                    }),
                })
            })
            .collect())
    }

    /// Unsubscribes our app from a WABA's (or Page's) webhooks (when a channel is disconnected).
    pub async fn unsubscribe_app(
        &self,
        object_id: &str,
        token: &AccessToken,
    ) -> Result<(), GraphError> {
        self.change_subscription(Method::DELETE, object_id, token, &[])
            .await
    }

    /// A phone number's display number, verified name and quality rating.
    pub async fn phone_number(
        &self,
        phone_number_id: &str,
        token: &AccessToken,
    ) -> Result<PhoneNumber, GraphError> {
        self.get(phone_number_id, token, &[("fields", PHONE_NUMBER_FIELDS)])
            .await
    }

    /// The phone numbers of a WhatsApp Business Account (first 100): how a coexistence signup,
    /// whose event may lack `phone_number_id`, finds its number.
    pub async fn phone_numbers(
        &self,
        waba_id: &str,
        token: &AccessToken,
    ) -> Result<Vec<PhoneNumber>, GraphError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<PhoneNumber>,
        }
        let page: Page = self
            .get(
                &format!("{waba_id}/phone_numbers"),
                token,
                &[("fields", PHONE_NUMBER_FIELDS), ("limit", "100")],
            )
            .await?;
        Ok(page.data)
    }

    /// Registers a phone number for the Cloud API with its two-step verification PIN (6 digits).
    pub async fn register_phone(
        &self,
        phone_number_id: &str,
        token: &AccessToken,
        pin: &str,
    ) -> Result<(), GraphError> {
        if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GraphError::InvalidInput("the PIN must be 6 digits".into()));
        }
        let body = serde_json::json!({ "messaging_product": "whatsapp", "pin": pin });
        let body: Value = self
            .post_json(&format!("{phone_number_id}/register"), token, &body)
            .await?;
        success(&body)
    }
}

/// A multipart part carrying an upload's bytes, named `file_name`, of type `mime_type`.
fn file_part(
    data: Bytes,
    file_name: &str,
    mime_type: &str,
) -> Result<reqwest::multipart::Part, GraphError> {
    reqwest::multipart::Part::stream(data)
        .file_name(file_name.to_string())
        .mime_str(mime_type)
        .map_err(|e| GraphError::InvalidInput(format!("bad MIME type: {e}")))
}

fn success(body: &Value) -> Result<(), GraphError> {
    if body.get("success").and_then(Value::as_bool) == Some(true) {
        Ok(())
    } else {
        Err(GraphError::InvalidResponse(format!(
            "expected success, got {body}"
        )))
    }
}

fn sha256_matches(data: &[u8], expected: &str) -> bool {
    let digest = Sha256::digest(data);
    let expected = expected.trim();
    hex::encode(digest).eq_ignore_ascii_case(expected)
        || base64::engine::general_purpose::STANDARD.encode(digest) == expected
}

fn transport_error(error: reqwest::Error) -> GraphError {
    // Never include the URL: it can carry an access token in its query.
    let error = error.without_url();
    if error.is_connect() {
        GraphError::Unreachable(error.to_string())
    } else if error.is_builder() {
        GraphError::InvalidInput(error.to_string())
    } else {
        // A timeout or a broken connection after the request may have left: outcome unknown.
        GraphError::Ambiguous(error.to_string())
    }
}

/// Reads `X-Business-Use-Case-Usage` and returns the longest `estimated_time_to_regain_access`.
pub fn regain_access_estimate(header: &str) -> Option<Duration> {
    let usage: Value = serde_json::from_str(header).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|u| {
            u.get("estimated_time_to_regain_access")
                .and_then(Value::as_u64)
        })
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

async fn read_response<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, GraphError> {
    let status = response.status();
    let regain = response
        .headers()
        .get("x-business-use-case-usage")
        .and_then(|h| h.to_str().ok())
        .and_then(regain_access_estimate);
    let text = response.text().await.map_err(transport_error)?;
    if status.is_success() {
        return serde_json::from_str(&text)
            .map_err(|e| GraphError::InvalidResponse(format!("{e}")));
    }
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let error = body.get("error").unwrap_or(&Value::Null);
    let code = error.get("code").and_then(Value::as_i64);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_string();
    let details = error
        .get("error_data")
        .and_then(|d| d.get("details"))
        .or_else(|| error.get("error_user_msg"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let subcode = error.get("error_subcode").and_then(Value::as_i64);
    if code == Some(platform::codes::INVALID_PARAMETER)
        && let Some(sub @ (platform::codes::CODE_EXPIRED | platform::codes::CODE_INVALID)) = subcode
    {
        return Err(GraphError::CodeRefused {
            expired: sub == platform::codes::CODE_EXPIRED,
        });
    }
    Err(GraphError::from_response(
        status.as_u16(),
        code,
        message,
        details,
        regain,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_regain_estimate_is_the_longest_one_in_minutes() {
        let header = r#"{"1234":[{"type":"whatsapp","call_count":100,"total_cputime":10,"total_time":20,"estimated_time_to_regain_access":7},
                                {"type":"pages","call_count":5,"estimated_time_to_regain_access":0}]}"#;
        assert_eq!(
            regain_access_estimate(header),
            Some(Duration::from_secs(420))
        );
        assert_eq!(
            regain_access_estimate(r#"{"1":[{"estimated_time_to_regain_access":0}]}"#),
            None
        );
        assert_eq!(regain_access_estimate("garbage"), None);
    }

    #[test]
    fn sha256_accepts_hex_and_base64() {
        let data = b"hello";
        let hex = hex::encode(Sha256::digest(data));
        let b64 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data));
        assert!(sha256_matches(data, &hex));
        assert!(sha256_matches(data, &hex.to_uppercase()));
        assert!(sha256_matches(data, &b64));
        assert!(!sha256_matches(b"other", &hex));
    }

    #[test]
    fn urls_carry_the_version() {
        let client = GraphClient::new("http://127.0.0.1:9/").unwrap();
        assert_eq!(
            client.url("123/messages").as_str(),
            "http://127.0.0.1:9/v26.0/123/messages"
        );
    }
}
