//! `zentro-assist-sim`: a **test double** for an OpenAI-compatible chat completions server, on
//! 127.0.0.1.
//!
//! AI assist talks to any server that speaks OpenAI's chat completions (a hosted service, or a
//! model server the business runs itself: llama.cpp, Ollama, vLLM). This stand-in speaks the same
//! wire format so the assist client, the desk and the CLI can be exercised end to end without an
//! account or a GPU ([`completions`]):
//! - `POST /v1/chat/completions` with `stream: false` (one JSON body) and `stream: true`
//!   (server-sent events: `data: {chunk}` with `choices[0].delta.content`, a last chunk with
//!   `finish_reason`, a usage chunk when `stream_options.include_usage` is set, then
//!   `data: [DONE]`);
//! - the bearer key checked (401 `invalid_api_key` as OpenAI answers), unknown models refused
//!   (404 `model_not_found`);
//! - answers derived from the request, deterministically: by default the last user message echoed
//!   back after `Reply to: ` (so a test sees what arrived), or a scripted answer
//!   ([`AssistSim::answer_next`]);
//! - every request recorded ([`AssistSim::requests`]), so a test asserts exactly what was sent;
//! - failures as real providers fail ([`Fault`]): 429 with `retry-after`, 500, a stall before
//!   the answer or in the middle of a stream, and `context_length_exceeded` (400) whenever the
//!   prompt exceeds the configured window;
//! - a configurable delay before each streamed token.
//!
//! Production code never depends on this crate.

pub mod completions;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub struct AssistSimConfig {
    /// The one API key it accepts (`Authorization: Bearer …`).
    pub api_key: String,
    /// The models it serves; any other is answered 404 `model_not_found`.
    pub models: Vec<String>,
    /// The model's context window in tokens: a prompt (plus `max_tokens`) beyond it is answered
    /// 400 `context_length_exceeded`.
    pub context_window: u64,
    /// Delay before each streamed token (and before a non-streamed answer, once per token).
    pub token_delay: Duration,
}

impl Default for AssistSimConfig {
    fn default() -> Self {
        Self {
            api_key: "sk-sim-0123456789abcdef".into(),
            models: vec!["sim-small".into()],
            context_window: 4096,
            token_delay: Duration::ZERO,
        }
    }
}

/// A failure the next request meets, as real providers fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `rate_limit_exceeded` with `retry-after: <seconds>`.
    RateLimited {
        /// The `retry-after` header's value, in seconds.
        retry_after_secs: u64,
    },
    /// 500 `server_error`.
    ServerError,
    /// The connection is accepted and then nothing is answered (a timeout for the client).
    StallBeforeAnswer,
    /// A stream starts, sends this many tokens, then stalls without ending.
    StallAfterTokens(usize),
}

/// One request the stand-in received, whatever it answered.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The bearer key it carried, if any.
    pub bearer: Option<String>,
    /// The JSON body as received (`Value::Null` when it was not JSON).
    pub body: serde_json::Value,
}

impl RecordedRequest {
    /// The `content` of every message, in order (what a model would read).
    pub fn contents(&self) -> Vec<String> {
        self.body["messages"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .filter_map(|m| m["content"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every message's content joined by newlines: a test's haystack for "was X sent?".
    pub fn text(&self) -> String {
        self.contents().join("\n")
    }
}

/// What the stand-in knows: its configuration, scripted faults and answers, and the requests.
#[derive(Debug, Default)]
pub struct SimState {
    config: AssistSimConfig,
    faults: VecDeque<Fault>,
    answers: VecDeque<String>,
    requests: Vec<RecordedRequest>,
}

/// A running stand-in. Dropping it stops the server.
pub struct AssistSim {
    addr: SocketAddr,
    state: Arc<Mutex<SimState>>,
    _shutdown: oneshot::Sender<()>,
}

/// The state, even if a handler panicked while holding it (the stand-in keeps serving).
pub(crate) fn lock(state: &Mutex<SimState>) -> std::sync::MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl AssistSim {
    /// Starts the stand-in on a free port of 127.0.0.1.
    pub async fn start(config: AssistSimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(SimState {
            config,
            ..SimState::default()
        }));
        let app = completions::router(state.clone());
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
            _shutdown: tx,
        })
    }

    /// The base URL to configure as the provider (`http://127.0.0.1:PORT/v1`, as OpenAI's
    /// `https://api.openai.com/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The key it accepts.
    pub fn api_key(&self) -> String {
        lock(&self.state).config.api_key.clone()
    }

    /// The next request meets `fault` (faults queue up, one per request).
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// The next successful request is answered `text` instead of the echo (answers queue up).
    pub fn answer_next(&self, text: impl Into<String>) {
        lock(&self.state).answers.push_back(text.into());
    }

    /// Changes the delay before each streamed token.
    pub fn set_token_delay(&self, delay: Duration) {
        lock(&self.state).config.token_delay = delay;
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }
}
