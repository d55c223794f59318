//! `zentro-meta-sim`: a **test double** for Meta, on 127.0.0.1.
//!
//! It plays the parts of Meta that Zentro Desk talks to, enforcing the rules the real platform
//! enforces, so the relay, the desktop core and the sandbox can be exercised end to end without a
//! Meta account:
//! - a Graph API subset ([`graph`]): WhatsApp sends with the 24-hour window, text and caption
//!   limits, template parameter counts and template states, token validity; mark-as-read;
//!   Messenger / Instagram sends with their windows and limits; media lookup with download URLs
//!   that expire after 5 minutes and need the bearer token; uploads; the Embedded Signup calls
//!   (code exchange with 30-second codes, `debug_token` with granular scopes, `subscribed_apps`,
//!   `register`);
//! - a webhook sender ([`webhooks`]) that signs bodies exactly as Meta does (escaped unicode),
//!   retries when the receiver fails, and can duplicate, delay and reorder deliveries;
//! - status webhooks (sent, delivered, read) for every accepted send, and echoes on Messenger;
//! - simulated customers ([`webhooks::Inbound`]) who write every message type and answer menus
//!   (reply buttons, list rows, quick replies), the sends of which it checks against Meta's
//!   limits and records readably ([`SentMessage::kind`], [`SentMessage::options`]);
//! - the Embedded Signup dialog page ([`signup`]);
//! - bulk sending as Meta limits it ([`limits`]): the portfolio's messaging limit, the number's
//!   throughput (130429), the pair rate (131056), numbers that cannot be reached (131026);
//! - message templates ([`templates`]): created and checked as Meta checks them, reviewed as a
//!   test decides, paused or disabled, each change a signed `message_template_status_update`.
//!
//! Production code never depends on this crate.

pub mod graph;
pub mod limits;
pub mod signup;
mod state;
pub mod templates;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use zentro_meta::{AccessToken, AppSecret};

pub use state::{SentMessage, SentOption, SimState, Template, TokenGrant};
pub use webhooks::{Customer, Inbound, WebhookDelivery};

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The Meta app's id.
    pub app_id: String,
    /// The Meta app's secret: signs webhooks, checks code exchanges and `debug_token` calls.
    pub app_secret: AppSecret,
    /// Delay before each status webhook of a send (sent, then delivered, then read).
    pub status_delay: Duration,
    /// Whether accepted sends are followed by `delivered` and `read` statuses (not only `sent`).
    pub customers_read_messages: bool,
    /// Probability that a webhook is delivered twice.
    pub duplicate_rate: f64,
    /// Probability that a webhook is held back by up to [`SimConfig::max_extra_delay`] (so later
    /// ones overtake it).
    pub late_rate: f64,
    /// The longest extra delay of a late webhook.
    pub max_extra_delay: Duration,
    /// Delays between retries when the receiver does not answer 200 (Meta retries for days; the
    /// stand-in retries this many times).
    pub retry_delays: Vec<Duration>,
    /// Seed for the fault dice, so a failing run can be repeated.
    pub seed: u64,
    /// Free-form WhatsApp sends outside the 24-hour window: rejected at once with 131047
    /// (`true`), or accepted and then failed by a status webhook with 131047 (`false`), as the
    /// Cloud API does for some accounts.
    pub reject_outside_window: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            app_id: "1517776481860111".into(),
            app_secret: AppSecret::new("meta-sim-app-secret"),
            status_delay: Duration::from_millis(20),
            customers_read_messages: true,
            duplicate_rate: 0.0,
            late_rate: 0.0,
            max_extra_delay: Duration::from_millis(200),
            retry_delays: vec![
                Duration::from_millis(50),
                Duration::from_millis(200),
                Duration::from_secs(1),
                Duration::from_secs(3),
            ],
            seed: 7,
            reject_outside_window: true,
        }
    }
}

/// A running stand-in. Dropping it stops the server.
pub struct MetaSim {
    addr: SocketAddr,
    state: Arc<Mutex<SimState>>,
    deliveries: webhooks::WebhookSender,
    _shutdown: oneshot::Sender<()>,
}

impl MetaSim {
    /// Starts the stand-in on a free port of 127.0.0.1.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(SimState::new(
            config.clone(),
            format!("http://{addr}"),
        )));
        let deliveries = webhooks::WebhookSender::new(config, state.clone());
        let app =
            graph::router(state.clone(), deliveries.clone()).merge(signup::router(state.clone()));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            state,
            deliveries,
            _shutdown: tx,
        })
    }

    /// The Graph base URL to give a `GraphClient` (e.g. `http://127.0.0.1:41234`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state, for setting up scenarios and inspecting what was sent.
    pub fn state(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where webhooks go (the relay's `/webhooks/meta`).
    pub fn set_webhook_url(&self, url: impl Into<String>) {
        self.state().webhook_url = Some(url.into());
    }

    /// Adds a WhatsApp number in a WABA and returns a token that may use it.
    pub fn add_whatsapp_number(
        &self,
        waba_id: &str,
        phone_number_id: &str,
        display_phone_number: &str,
    ) -> AccessToken {
        let mut state = self.state();
        state.add_number(waba_id, phone_number_id, display_phone_number);
        state.issue_token(TokenGrant::for_waba(waba_id))
    }

    /// Adds a Facebook Page (Messenger) or Instagram account and returns its Page token.
    pub fn add_page(&self, page_id: &str, instagram: bool) -> AccessToken {
        let mut state = self.state();
        state.add_page(page_id, instagram);
        state.issue_token(TokenGrant::for_page(page_id))
    }

    /// A simulated customer writes in: the matching webhook is posted (signed) to the webhook URL,
    /// and the customer-service window opens. Returns the message id.
    pub async fn customer_writes(
        &self,
        channel_id: &str,
        customer: &Customer,
        message: Inbound,
    ) -> String {
        let (id, body) = self.state().inbound(channel_id, customer, message);
        self.deliveries.deliver(body).await;
        id
    }

    /// A simulated customer taps a reply button of a WhatsApp menu: an `interactive`
    /// `button_reply` with the button's id and title, quoting the last menu the channel sent
    /// them. Returns the message id.
    pub async fn customer_taps_button(
        &self,
        phone_number_id: &str,
        customer: &Customer,
        id: &str,
        title: &str,
    ) -> String {
        let answer = Inbound::ButtonReply {
            id: id.into(),
            title: title.into(),
        };
        self.customer_writes(phone_number_id, customer, answer)
            .await
    }

    /// A simulated customer picks a row of a WhatsApp list: an `interactive` `list_reply` with
    /// the row's id and title, quoting the last menu the channel sent them. Returns the message
    /// id.
    pub async fn customer_picks_list_row(
        &self,
        phone_number_id: &str,
        customer: &Customer,
        id: &str,
        title: &str,
    ) -> String {
        let answer = Inbound::ListReply {
            id: id.into(),
            title: title.into(),
            description: None,
        };
        self.customer_writes(phone_number_id, customer, answer)
            .await
    }

    /// A simulated customer taps a quick reply on Messenger or Instagram: a text with the quick
    /// reply's title carrying its `quick_reply.payload`. Returns the message id.
    pub async fn customer_taps_quick_reply(
        &self,
        page_id: &str,
        customer: &Customer,
        title: &str,
        payload: &str,
    ) -> String {
        let answer = Inbound::QuickReply {
            text: title.into(),
            payload: payload.into(),
        };
        self.customer_writes(page_id, customer, answer).await
    }

    /// Meta's review (or quality check) moves template `name` in `language` of account `waba_id`
    /// to `status` (APPROVED, REJECTED, PAUSED, DISABLED…) with `reason` (`NONE`,
    /// `INVALID_FORMAT`, …); the signed `message_template_status_update` webhook goes to the
    /// webhook URL. Returns `false` when there is no such template.
    pub async fn review_template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
        status: &str,
        reason: &str,
    ) -> bool {
        let body = self
            .state()
            .set_template_status(waba_id, name, language, status, reason);
        match body {
            Some(body) => {
                self.deliveries.deliver(body).await;
                true
            }
            None => false,
        }
    }

    /// Posts a raw body, signed as Meta signs it, to the webhook URL (with the configured faults).
    pub async fn post_webhook(&self, body: serde_json::Value) -> WebhookDelivery {
        self.deliveries.deliver(body).await
    }

    /// Waits until every webhook scheduled so far (statuses, retries, late ones) was delivered or
    /// given up, or `timeout` passes.
    pub async fn settle(&self, timeout: Duration) {
        self.deliveries.settle(timeout).await;
    }
}
