//! What the stand-in knows: numbers, pages, tokens, templates, windows, media and sends.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zentro_meta::AccessToken;

use crate::SimConfig;
use crate::webhooks::{self, Customer, Inbound};

/// The app-scoped id of the Facebook user who signs in to the stand-in's dialogs.
const LOGIN_USER_ID: &str = "10229900000000001";

/// What a token may do.
#[derive(Debug, Clone, Default)]
pub struct TokenGrant {
    /// WABAs (and so their numbers) the token manages and messages.
    pub wabas: HashSet<String>,
    /// Pages and Instagram accounts it messages for.
    pub pages: HashSet<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Revoked tokens answer 190.
    pub revoked: bool,
    /// The Facebook user (app-scoped id) who granted it, for tokens from a login.
    pub user_id: Option<String>,
}

impl TokenGrant {
    /// A business integration token for one WABA.
    pub fn for_waba(waba_id: &str) -> Self {
        Self {
            wabas: HashSet::from([waba_id.to_string()]),
            scopes: vec![
                "whatsapp_business_management".into(),
                "whatsapp_business_messaging".into(),
                "business_management".into(),
            ],
            ..Self::default()
        }
    }

    /// A Page token.
    pub fn for_page(page_id: &str) -> Self {
        Self {
            pages: HashSet::from([page_id.to_string()]),
            scopes: vec![
                "pages_messaging".into(),
                "pages_show_list".into(),
                "instagram_basic".into(),
                "instagram_manage_messages".into(),
            ],
            ..Self::default()
        }
    }
}

/// A WhatsApp message template of an account, with its review state.
#[derive(Debug, Clone)]
pub struct Template {
    /// Meta's id for it (a numeric string).
    pub id: String,
    /// Number of `{{n}}` variables in the body.
    pub body_parameters: usize,
    /// The body text, with `{{1}}`… where the variables go.
    pub body: String,
    /// APPROVED, PAUSED, DISABLED, PENDING, REJECTED.
    pub status: String,
    /// MARKETING, UTILITY or AUTHENTICATION.
    pub category: String,
    /// Its quality score: GREEN, YELLOW, RED or UNKNOWN (not sent enough yet).
    pub quality: String,
    /// Header, body, footer and buttons as they were created (upper-case `type`s).
    pub components: Vec<Value>,
    /// Why it was rejected or paused (`NONE` otherwise).
    pub reason: String,
}

/// A send the stand-in accepted.
#[derive(Debug, Clone)]
pub struct SentMessage {
    /// The id returned (wamid or mid).
    pub id: String,
    /// The channel it was sent from (phone_number_id or page id).
    pub channel_id: String,
    /// The recipient (phone, BSUID, PSID or IGSID).
    pub to: String,
    /// The request body as received.
    pub body: Value,
    /// When the stand-in accepted it, by its clock ([`SimState::now`], which tests can advance).
    pub at: DateTime<Utc>,
}

/// One choice a sent menu offered: a reply button, a list row or a quick reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentOption {
    /// What the customer's answer carries back: the button's or row's id, the quick reply's
    /// payload.
    pub id: String,
    /// What the customer saw.
    pub title: String,
}

impl SentMessage {
    /// What was sent: on WhatsApp its `type` (`text`, `image`, `template`, `reaction`…), with
    /// interactive messages told apart as `buttons` or `list`; on Messenger and Instagram `text`,
    /// `quick_replies` or `attachment`.
    pub fn kind(&self) -> String {
        if let Some(message) = self.body.get("message") {
            return if message.get("quick_replies").is_some() {
                "quick_replies".into()
            } else if message.get("attachment").is_some() {
                "attachment".into()
            } else {
                "text".into()
            };
        }
        match self
            .body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("text")
        {
            "interactive" => match self
                .body
                .pointer("/interactive/type")
                .and_then(Value::as_str)
            {
                Some("button") => "buttons".into(),
                Some(other) => other.into(),
                None => "interactive".into(),
            },
            other => other.into(),
        }
    }

    /// The text the customer reads: a text's body, an interactive message's body, a media
    /// caption, a Messenger text (with or without quick replies).
    pub fn text(&self) -> Option<String> {
        [
            "/text/body",
            "/interactive/body/text",
            "/message/text",
            "/image/caption",
            "/video/caption",
            "/document/caption",
        ]
        .iter()
        .find_map(|pointer| self.body.pointer(pointer).and_then(Value::as_str))
        .map(str::to_string)
    }

    /// The choices a menu offered, in order: reply buttons, list rows (across sections) or quick
    /// replies; empty for anything else.
    pub fn options(&self) -> Vec<SentOption> {
        let option = |id: Option<&Value>, title: Option<&Value>| SentOption {
            id: id.and_then(Value::as_str).unwrap_or_default().to_string(),
            title: title
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        let array = |pointer: &str| {
            self.body
                .pointer(pointer)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let buttons = array("/interactive/action/buttons")
            .iter()
            .map(|b| option(b.pointer("/reply/id"), b.pointer("/reply/title")))
            .collect::<Vec<_>>();
        let rows = array("/interactive/action/sections")
            .iter()
            .filter_map(|s| s.get("rows").and_then(Value::as_array))
            .flatten()
            .map(|r| option(r.get("id"), r.get("title")))
            .collect::<Vec<_>>();
        let quick_replies = array("/message/quick_replies")
            .iter()
            .map(|q| option(q.get("payload"), q.get("title")))
            .collect::<Vec<_>>();
        [buttons, rows, quick_replies].concat()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub waba_id: String,
    pub display: String,
    pub register_calls: u32,
    pub registered: bool,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality: String,
    /// The PIN the last registration set.
    pub pin: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct MediaFile {
    pub bytes: Vec<u8>,
    pub mime_type: String,
}

#[derive(Debug, Clone)]
pub(crate) struct SignupCode {
    /// The WABA an Embedded Signup code grants (empty for a Facebook Login code).
    pub waba_id: String,
    /// The Pages (and their Instagram accounts) a Facebook Login code grants.
    pub pages: Vec<String>,
    /// The permissions the person signing in left ticked, when not all that the configuration
    /// asks for (`None`: all of them).
    pub scopes: Option<Vec<String>>,
    pub issued_at: DateTime<Utc>,
    pub used: bool,
}

/// A Facebook Page the signing-in user manages, as Facebook Login shares it.
#[derive(Debug, Clone)]
pub(crate) struct LoginPage {
    pub page_id: String,
    pub name: String,
    /// The linked Instagram professional account: `(id, username)`.
    pub instagram: Option<(String, String)>,
}

/// Everything the stand-in holds.
pub struct SimState {
    pub(crate) config: SimConfig,
    pub(crate) base_url: String,
    /// Where webhooks are posted.
    pub webhook_url: Option<String>,
    pub(crate) numbers: HashMap<String, Number>,
    pub(crate) pages: HashMap<String, bool>,
    pub(crate) tokens: HashMap<String, TokenGrant>,
    /// Templates by (WABA id, name, language); an empty WABA id: seeded for every account.
    pub(crate) templates: HashMap<(String, String, String), Template>,
    /// Last inbound message per (channel id, customer id).
    pub(crate) windows: HashMap<(String, String), DateTime<Utc>>,
    pub(crate) media: HashMap<String, MediaFile>,
    pub(crate) subscriptions: HashMap<String, HashSet<String>>,
    pub(crate) codes: HashMap<String, SignupCode>,
    /// The next Embedded Signup grants a token for another WABA than the one the dialog names
    /// (what a mismatched or stale session looks like).
    pub(crate) next_signup_grants_other_account: bool,
    /// The permissions the next signup or login grants, when not the configuration's.
    pub(crate) next_grant_scopes: Option<Vec<String>>,
    /// The Pages Facebook Login shares (the signing-in user's).
    pub(crate) login_pages: Vec<LoginPage>,
    /// Errors to answer the next sends with, `(http status, code)`, in order.
    pub(crate) injected: Vec<(u16, i64)>,
    pub(crate) failing_downloads: u32,
    /// Messenger and Instagram customers who wrote in: user id → (page or account id, customer).
    pub(crate) profiles: HashMap<String, (String, Customer)>,
    /// Every accepted send, in order.
    pub sent: Vec<SentMessage>,
    /// Bulk-sending limits per account and number ([`crate::limits`]).
    pub(crate) limits: crate::limits::Limits,
    clock_offset: chrono::Duration,
    counter: u64,
}

impl SimState {
    pub(crate) fn new(config: SimConfig, base_url: String) -> Self {
        Self {
            config,
            base_url,
            webhook_url: None,
            numbers: HashMap::new(),
            pages: HashMap::new(),
            tokens: HashMap::new(),
            templates: HashMap::new(),
            windows: HashMap::new(),
            media: HashMap::new(),
            subscriptions: HashMap::new(),
            codes: HashMap::new(),
            next_signup_grants_other_account: false,
            next_grant_scopes: None,
            login_pages: Vec::new(),
            injected: Vec::new(),
            failing_downloads: 0,
            profiles: HashMap::new(),
            sent: Vec::new(),
            limits: crate::limits::Limits::default(),
            clock_offset: chrono::Duration::zero(),
            counter: 0,
        }
    }

    /// The stand-in's clock (real time plus [`SimState::advance`]s).
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// Moves the stand-in's clock forward (windows close, media URLs and codes expire).
    pub fn advance(&mut self, by: Duration) {
        self.clock_offset += chrono::Duration::from_std(by).unwrap_or_default();
    }

    pub(crate) fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{:016X}{:04}", fastrand::u64(..), self.counter)
    }

    pub(crate) fn add_number(&mut self, waba_id: &str, phone_number_id: &str, display: &str) {
        self.numbers.insert(
            phone_number_id.to_string(),
            Number {
                waba_id: waba_id.to_string(),
                display: display.to_string(),
                register_calls: 0,
                registered: true,
                quality: "GREEN".into(),
                pin: None,
            },
        );
    }

    pub(crate) fn add_page(&mut self, page_id: &str, instagram: bool) {
        self.pages.insert(page_id.to_string(), instagram);
    }

    /// Issues a token with `grant`.
    pub fn issue_token(&mut self, grant: TokenGrant) -> AccessToken {
        let token = format!("EAAG{}", self.next_id("SIM"));
        self.tokens.insert(token.clone(), grant);
        AccessToken::new(token)
    }

    /// Revokes a token: every later call with it answers 190.
    pub fn revoke_token(&mut self, token: &AccessToken) {
        if let Some(grant) = self.tokens.get_mut(token.expose()) {
            grant.revoked = true;
        }
    }

    /// Adds a template with `body_parameters` variables in `status` (e.g. APPROVED), listed in
    /// every account.
    pub fn add_template(
        &mut self,
        name: &str,
        language: &str,
        body_parameters: usize,
        status: &str,
    ) {
        let body = (1..=body_parameters)
            .map(|i| format!("{{{{{i}}}}}"))
            .collect::<Vec<_>>()
            .join(" ");
        self.add_template_text(name, language, &format!("{name}: {body}"), status);
    }

    /// Adds a template with its body text, listed in every account; its variables are counted
    /// from the `{{n}}` in it.
    pub fn add_template_text(&mut self, name: &str, language: &str, body: &str, status: &str) {
        let id = self.next_template_id();
        self.templates.insert(
            (String::new(), name.into(), language.into()),
            Template {
                id,
                body_parameters: crate::templates::body_variables(body),
                body: body.into(),
                status: status.into(),
                category: "UTILITY".into(),
                quality: "GREEN".into(),
                components: vec![serde_json::json!({ "type": "BODY", "text": body })],
                reason: "NONE".into(),
            },
        );
    }

    /// Stores a media file as if a customer had sent it; returns its media id.
    pub fn add_media(&mut self, bytes: Vec<u8>, mime_type: &str) -> String {
        let id = format!(
            "{}",
            1_000_000_000_000_000u64 + self.counter * 7919 + fastrand::u64(..1_000_000)
        );
        self.counter += 1;
        self.media.insert(
            id.clone(),
            MediaFile {
                bytes,
                mime_type: mime_type.into(),
            },
        );
        id
    }

    /// The SHA-256 (hex) of a stored media file.
    pub fn media_sha256(&self, id: &str) -> Option<String> {
        self.media
            .get(id)
            .map(|m| hex::encode(Sha256::digest(&m.bytes)))
    }

    /// A stored media file's bytes (an upload, or a file fetched by link).
    pub fn media_bytes(&self, id: &str) -> Option<Vec<u8>> {
        self.media.get(id).map(|m| m.bytes.clone())
    }

    /// Makes the next `count` media downloads fail with HTTP 500, as Meta's CDN sometimes does.
    pub fn fail_media_downloads(&mut self, count: u32) {
        self.failing_downloads += count;
    }

    /// Makes the next sends fail with these `(HTTP status, Meta code)` pairs, in order.
    pub fn inject_send_errors(&mut self, errors: &[(u16, i64)]) {
        self.injected.extend_from_slice(errors);
    }

    /// How many injected send failures have not been answered yet.
    pub fn injected_send_errors_left(&self) -> usize {
        self.injected.len()
    }

    /// Opens (or refreshes) the window of `customer_id` on `channel_id` at `at`.
    pub fn open_window(&mut self, channel_id: &str, customer_id: &str, at: DateTime<Utc>) {
        self.windows
            .insert((channel_id.to_string(), customer_id.to_string()), at);
    }

    /// When the customer last wrote on the channel.
    pub(crate) fn last_inbound(
        &self,
        channel_id: &str,
        customer_id: &str,
    ) -> Option<DateTime<Utc>> {
        self.windows
            .get(&(channel_id.to_string(), customer_id.to_string()))
            .copied()
    }

    /// Issues an Embedded Signup code for an existing WABA (the owner signs up again with the
    /// same account: a reconnection).
    pub fn issue_signup_code_for(&mut self, waba_id: &str) -> String {
        let code = format!("AQ{}", self.next_id(""));
        let issued_at = self.now();
        self.codes.insert(
            code.clone(),
            SignupCode {
                waba_id: waba_id.to_string(),
                pages: Vec::new(),
                scopes: self.next_grant_scopes.take(),
                issued_at,
                used: false,
            },
        );
        code
    }

    /// The Meta app's id.
    pub fn app_id(&self) -> &str {
        &self.config.app_id
    }

    /// What a token may do, if the stand-in issued it.
    pub fn grant_of(&self, token: &str) -> Option<&TokenGrant> {
        self.tokens.get(token)
    }

    /// Adds a Facebook Page (with its linked Instagram account, `(id, username)`) that the user
    /// signing in with Facebook Login manages and shares.
    pub fn add_login_page(&mut self, page_id: &str, name: &str, instagram: Option<(&str, &str)>) {
        self.add_page(page_id, false);
        if let Some((ig, _)) = instagram {
            self.add_page(ig, true);
        }
        self.login_pages.push(LoginPage {
            page_id: page_id.to_string(),
            name: name.to_string(),
            instagram: instagram.map(|(id, user)| (id.to_string(), user.to_string())),
        });
    }

    /// Issues a Facebook Login code sharing every login Page (what Meta's dialog does when the
    /// user picks their Pages and confirms).
    pub fn issue_login_code(&mut self) -> String {
        let pages = self
            .login_pages
            .iter()
            .flat_map(|p| {
                std::iter::once(p.page_id.clone())
                    .chain(p.instagram.as_ref().map(|(id, _)| id.clone()))
            })
            .collect();
        let code = format!("AQL{}", self.next_id(""));
        let issued_at = self.now();
        self.codes.insert(
            code.clone(),
            SignupCode {
                waba_id: String::new(),
                pages,
                scopes: self.next_grant_scopes.take(),
                issued_at,
                used: false,
            },
        );
        code
    }

    /// The `GET /me/accounts` answer for a user token: each shared Page with a Page token.
    pub(crate) fn accounts(&mut self, grant: &TokenGrant) -> Vec<serde_json::Value> {
        let pages: Vec<LoginPage> = self
            .login_pages
            .iter()
            .filter(|p| grant.pages.contains(&p.page_id))
            .cloned()
            .collect();
        pages
            .into_iter()
            .map(|p| {
                let mut page_grant = TokenGrant::for_page(&p.page_id);
                page_grant.user_id = grant.user_id.clone();
                if let Some((ig, _)) = &p.instagram {
                    page_grant.pages.insert(ig.clone());
                }
                let token = self.issue_token(page_grant);
                let mut account = serde_json::json!({ "id": p.page_id, "name": p.name, "access_token": token.expose(),
                    "category": "Coffee shop", "tasks": ["MESSAGING", "MODERATE", "MANAGE"] });
                if let Some((id, username)) = &p.instagram {
                    account["instagram_business_account"] = serde_json::json!({ "id": id, "username": username });
                }
                account
            })
            .collect()
    }

    /// The app-scoped id of the Facebook user who signs in to the stand-in's dialogs.
    pub fn login_user_id(&self) -> &'static str {
        LOGIN_USER_ID
    }

    /// Makes the next Embedded Signup grant a token for another WABA than the one it reports.
    pub fn grant_other_account_on_next_signup(&mut self) {
        self.next_signup_grants_other_account = true;
    }

    /// Makes the next Embedded Signup or Facebook Login grant exactly `scopes` instead of the
    /// permissions its configuration asks for: what Meta does when the person signing in edits
    /// the permissions in the dialog (fewer), or the configuration asks for others (more).
    /// `debug_token` then reports these.
    pub fn grant_scopes_on_next_login(&mut self, scopes: &[&str]) {
        self.next_grant_scopes = Some(scopes.iter().map(|s| s.to_string()).collect());
    }

    /// Subscribes our app to the webhooks of a WABA or Page (as the signup or a Page connection
    /// did before the stand-in started).
    pub fn subscribe_app_to(&mut self, object_id: &str) {
        let app_id = self.config.app_id.clone();
        self.subscriptions
            .entry(object_id.to_string())
            .or_default()
            .insert(app_id);
    }

    /// Drops our app's webhook subscription of a WABA or Page, as happens silently at Meta.
    pub fn drop_subscription(&mut self, object_id: &str) {
        self.subscriptions.remove(object_id);
    }

    /// Whether our app is subscribed to the webhooks of a WABA or Page.
    pub fn is_subscribed(&self, object_id: &str) -> bool {
        self.subscriptions
            .get(object_id)
            .is_some_and(|apps| apps.contains(&self.config.app_id))
    }

    /// Whether a number is registered on the Cloud API, and the PIN its registration set.
    pub fn registration(&self, phone_number_id: &str) -> Option<(bool, Option<String>)> {
        self.numbers
            .get(phone_number_id)
            .map(|n| (n.registered, n.pin.clone()))
    }

    /// Sets a number's quality rating (`GREEN`, `YELLOW`, `RED`).
    pub fn set_quality(&mut self, phone_number_id: &str, rating: &str) {
        if let Some(n) = self.numbers.get_mut(phone_number_id) {
            n.quality = rating.to_string();
        }
    }

    /// Revokes every token that may use `object_id` (a WABA or Page): the owner removed the app.
    pub fn revoke_tokens_for(&mut self, object_id: &str) {
        for grant in self.tokens.values_mut() {
            if grant.wabas.contains(object_id) || grant.pages.contains(object_id) {
                grant.revoked = true;
            }
        }
    }

    /// Issues an Embedded Signup code for a new WABA with one number (what Meta's dialog does
    /// when the owner finishes). Returns `(code, waba_id, phone_number_id)`.
    pub fn issue_signup_code(&mut self) -> (String, String, String) {
        self.counter += 1;
        let waba_id = format!("1{:014}", 10_000 + self.counter);
        let phone_number_id = format!("2{:014}", 10_000 + self.counter);
        self.add_number(
            &waba_id,
            &phone_number_id,
            &format!("1555{:07}", self.counter),
        );
        if let Some(n) = self.numbers.get_mut(&phone_number_id) {
            n.registered = false;
        }
        let code = format!("AQ{}", self.next_id(""));
        let granted = if std::mem::take(&mut self.next_signup_grants_other_account) {
            format!("9{:014}", 10_000 + self.counter)
        } else {
            waba_id.clone()
        };
        self.codes.insert(
            code.clone(),
            SignupCode {
                waba_id: granted,
                pages: Vec::new(),
                scopes: self.next_grant_scopes.take(),
                issued_at: self.now(),
                used: false,
            },
        );
        (code, waba_id, phone_number_id)
    }

    /// Builds the inbound webhook for a customer's message and opens the window.
    pub(crate) fn inbound(
        &mut self,
        channel_id: &str,
        customer: &Customer,
        message: Inbound,
    ) -> (String, Value) {
        let now = self.now();
        let instagram = self.pages.get(channel_id).copied();
        let waba = self
            .numbers
            .get(channel_id)
            .map(|n| (n.waba_id.clone(), n.display.clone()));
        let media = self.store_inbound_media(&message);
        let sha = media.as_ref().and_then(|id| self.media_sha256(id));
        let counts_for_window = !matches!(message, Inbound::Reaction { .. });
        let (id, body) = match (waba, instagram) {
            (Some((waba_id, display)), _) => {
                let id = self.next_id("wamid.SIM");
                let mut body = webhooks::whatsapp_inbound(
                    &waba_id,
                    channel_id,
                    &display,
                    customer,
                    &id,
                    now,
                    &message,
                    media.as_deref(),
                    sha.as_deref(),
                );
                if matches!(
                    message,
                    Inbound::ButtonReply { .. } | Inbound::ListReply { .. }
                ) {
                    self.quote_answered_menu(&mut body, channel_id, customer, &display);
                }
                (id, body)
            }
            (None, Some(instagram)) => {
                self.profiles.insert(
                    customer.id.clone(),
                    (channel_id.to_string(), customer.clone()),
                );
                let id = self.next_id("m_SIM");
                (
                    id.clone(),
                    webhooks::messaging_inbound(
                        instagram, channel_id, customer, &id, now, &message,
                    ),
                )
            }
            (None, None) => {
                let id = self.next_id("unknown");
                (
                    id,
                    serde_json::json!({ "object": "whatsapp_business_account", "entry": [] }),
                )
            }
        };
        if counts_for_window {
            self.open_window(channel_id, &customer.id, now);
            if let Some(phone) = &customer.phone {
                self.open_window(channel_id, phone, now);
            }
        }
        (id, body)
    }

    /// An answer to a WhatsApp menu quotes the menu, as Meta's does (`context: {from, id}`): the
    /// last buttons or list this channel sent the customer, if any.
    fn quote_answered_menu(
        &self,
        body: &mut Value,
        channel_id: &str,
        customer: &Customer,
        display: &str,
    ) {
        let menu = self.sent.iter().rev().find(|m| {
            m.channel_id == channel_id
                && (m.to == customer.id || Some(&m.to) == customer.phone.as_ref())
                && matches!(m.kind().as_str(), "buttons" | "list")
        });
        if let (Some(menu), Some(message)) = (
            menu,
            body.pointer_mut("/entry/0/changes/0/value/messages/0"),
        ) {
            message["context"] = serde_json::json!({ "from": display, "id": menu.id });
        }
    }

    /// Keeps the photo, voice note or document a customer sends, as Meta's media store would;
    /// its media id.
    fn store_inbound_media(&mut self, message: &Inbound) -> Option<String> {
        match message {
            Inbound::Image { bytes, .. } => Some(self.add_media(bytes.clone(), "image/jpeg")),
            Inbound::Voice { bytes } => {
                Some(self.add_media(bytes.clone(), "audio/ogg; codecs=opus"))
            }
            Inbound::Document { bytes, .. } => {
                Some(self.add_media(bytes.clone(), "application/pdf"))
            }
            _ => None,
        }
    }
}
