//! The client of an OpenAI-compatible chat completions endpoint: a request goes out as
//! [`PreparedRequest::body`] built it, streamed answers come back as an async stream of text
//! pieces (each passed on as soon as its server-sent event is complete, so the first token is
//! shown as soon as it arrives), and every failure becomes an [`AssistError`].

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::AssistError;
use crate::features::PreparedRequest;
use crate::masking::{MaskMap, StreamUnmask};
use crate::settings::ProviderSettings;

/// How long the client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To connect to the provider.
    pub connect: Duration,
    /// From sending the request to the answer's headers (a model loading, a long prompt).
    pub first_answer: Duration,
    /// Between two pieces of a streamed answer (a stalled stream).
    pub between_pieces: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_answer: Duration::from_secs(60),
            between_pieces: Duration::from_secs(30),
        }
    }
}

/// Tokens a request used, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
}

impl Usage {
    /// Both together: what counts toward the budget.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    fn from_json(value: &Value) -> Option<Self> {
        Some(Self {
            prompt_tokens: value["prompt_tokens"].as_u64()?,
            completion_tokens: value["completion_tokens"].as_u64()?,
        })
    }
}

/// One item of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// More of the answer's text (unmasked for drafts and rewrites).
    Text(String),
    /// The answer is complete.
    Done {
        /// Why it ended (`stop`; `length` when it hit the request's limit).
        finish_reason: Option<String>,
        /// Tokens used, when the provider reported them.
        usage: Option<Usage>,
    },
}

/// A streamed answer: text pieces, then [`StreamEvent::Done`], or an error.
pub type AnswerStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, AssistError>> + Send>>;

/// A whole answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Its text (unmasked for drafts and rewrites).
    pub text: String,
    /// Why it ended.
    pub finish_reason: Option<String>,
    /// Tokens used, when the provider reported them.
    pub usage: Option<Usage>,
}

/// A client of one provider.
#[derive(Debug, Clone)]
pub struct AssistClient {
    http: reqwest::Client,
    provider: ProviderSettings,
    timeouts: Timeouts,
}

impl AssistClient {
    /// A client of `provider`.
    pub fn new(provider: ProviderSettings, timeouts: Timeouts) -> Result<Self, AssistError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| AssistError::BadSettings("the HTTP client could not start".into()))?;
        Ok(Self {
            http,
            provider,
            timeouts,
        })
    }

    /// The provider it sends to.
    pub fn provider(&self) -> &ProviderSettings {
        &self.provider
    }

    async fn send(
        &self,
        request: &PreparedRequest,
        stream: bool,
    ) -> Result<reqwest::Response, AssistError> {
        let mut builder = self
            .http
            .post(self.provider.endpoint())
            .json(&request.body(&self.provider.model, stream));
        if let Some(key) = &self.provider.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        let response = tokio::time::timeout(self.timeouts.first_answer, builder.send())
            .await
            .map_err(|_| AssistError::Timeout)?
            .map_err(|e| self.transport_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = tokio::time::timeout(self.timeouts.between_pieces, response.bytes())
            .await
            .map_err(|_| AssistError::Timeout)?
            .unwrap_or_default();
        Err(self.status_error(status, &headers, &body))
    }

    fn transport_error(&self, error: &reqwest::Error) -> AssistError {
        if error.is_timeout() {
            AssistError::Timeout
        } else {
            AssistError::Unreachable {
                provider: self.provider.provider_name(),
            }
        }
    }

    /// A provider's error answer, classified; its message shortened and cleared of the key.
    fn status_error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> AssistError {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let error = &json["error"];
        let code = error["code"].as_str().unwrap_or_default();
        let message = error["message"]
            .as_str()
            .map(str::to_string)
            .or_else(|| error.as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
        match status.as_u16() {
            401 | 403 => return AssistError::KeyRejected,
            429 if code != "insufficient_quota" => {
                let retry_after = headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64);
                return AssistError::RateLimited { retry_after };
            }
            _ => {}
        }
        if code == "context_length_exceeded" || message.contains("context length") {
            return AssistError::ContextTooLong;
        }
        AssistError::Provider {
            status: status.as_u16(),
            message: self.safe_message(&message),
        }
    }

    fn safe_message(&self, message: &str) -> String {
        let mut message: String = message
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        if let Some(key) = &self.provider.api_key
            && !key.expose().is_empty()
        {
            message = message.replace(key.expose(), "[redacted]");
        }
        if message.trim().is_empty() {
            "no details given".into()
        } else {
            message
        }
    }

    /// Sends `request` and waits for the whole answer (labels; or a caller that does not stream).
    pub async fn complete(&self, request: &PreparedRequest) -> Result<Answer, AssistError> {
        let response = self.send(request, false).await?;
        let body = tokio::time::timeout(self.timeouts.between_pieces, response.bytes())
            .await
            .map_err(|_| AssistError::Timeout)?
            .map_err(|e| self.transport_error(&e))?;
        whole_answer(&body, &unmask_map(request))
    }

    /// Sends `request` and streams its answer. A provider that answers with one JSON body instead
    /// of events (some ignore `stream`) is read whole and passed on as one piece.
    pub async fn stream(&self, request: &PreparedRequest) -> Result<AnswerStream, AssistError> {
        let response = self.send(request, true).await?;
        let is_events = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let map = unmask_map(request);
        if !is_events {
            let body = response
                .bytes()
                .await
                .map_err(|e| self.transport_error(&e))?;
            let answer = whole_answer(&body, &map)?;
            let events = vec![
                Ok(StreamEvent::Text(answer.text)),
                Ok(StreamEvent::Done {
                    finish_reason: answer.finish_reason,
                    usage: answer.usage,
                }),
            ];
            return Ok(Box::pin(futures_util::stream::iter(events)));
        }
        let reader = EventReader {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
            ready: VecDeque::new(),
            unmask: StreamUnmask::new(map),
            finish_reason: None,
            usage: None,
            ended: false,
            between_pieces: self.timeouts.between_pieces,
            provider: self.provider.clone(),
        };
        Ok(Box::pin(futures_util::stream::unfold(
            reader,
            |mut reader| async move { reader.next().await.map(|item| (item, reader)) },
        )))
    }
}

fn unmask_map(request: &PreparedRequest) -> MaskMap {
    if request.feature.unmasks_answer() {
        request.mask.clone()
    } else {
        MaskMap::default()
    }
}

fn whole_answer(body: &[u8], map: &MaskMap) -> Result<Answer, AssistError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| AssistError::UnreadableAnswer("the answer is not JSON".into()))?;
    let choice = &json["choices"][0];
    let text = choice["message"]["content"]
        .as_str()
        .ok_or_else(|| AssistError::UnreadableAnswer("the answer has no message".into()))?;
    Ok(Answer {
        text: map.unmask(text),
        finish_reason: choice["finish_reason"].as_str().map(str::to_string),
        usage: Usage::from_json(&json["usage"]),
    })
}

/// Reads server-sent events off a response body.
struct EventReader {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buffer: Vec<u8>,
    ready: VecDeque<Result<StreamEvent, AssistError>>,
    unmask: StreamUnmask,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    ended: bool,
    between_pieces: Duration,
    provider: ProviderSettings,
}

/// The end of the first complete event in `buffer` (after its blank line), if there is one.
fn event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

impl EventReader {
    async fn next(&mut self) -> Option<Result<StreamEvent, AssistError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            if let Some((end, next)) = event_end(&self.buffer) {
                let event: Vec<u8> = self.buffer.drain(..next).take(end).collect();
                self.on_event(&String::from_utf8_lossy(&event));
                continue;
            }
            match tokio::time::timeout(self.between_pieces, self.body.next()).await {
                Err(_) => self.fail(AssistError::Timeout),
                Ok(Some(Ok(bytes))) => self.buffer.extend_from_slice(&bytes),
                Ok(Some(Err(e))) => self.fail(if e.is_timeout() {
                    AssistError::Timeout
                } else {
                    AssistError::Unreachable {
                        provider: self.provider.provider_name(),
                    }
                }),
                Ok(None) if self.finish_reason.is_some() => self.finish(),
                Ok(None) => self.fail(AssistError::UnreadableAnswer(
                    "the answer stopped before its end".into(),
                )),
            }
        }
    }

    fn fail(&mut self, error: AssistError) {
        self.ready.push_back(Err(error));
        self.ended = true;
    }

    fn finish(&mut self) {
        let rest = self.unmask.finish();
        if !rest.is_empty() {
            self.ready.push_back(Ok(StreamEvent::Text(rest)));
        }
        self.ready.push_back(Ok(StreamEvent::Done {
            finish_reason: self.finish_reason.take(),
            usage: self.usage.take(),
        }));
        self.ended = true;
    }

    /// One event: its `data:` lines joined; comments and other fields ignored.
    fn on_event(&mut self, event: &str) {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            return;
        }
        let data = data.join("\n");
        if data.trim() == "[DONE]" {
            return self.finish();
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&data) else {
            return self.fail(AssistError::UnreadableAnswer(
                "an event of the answer is not JSON".into(),
            ));
        };
        if let Some(message) = chunk["error"]["message"].as_str() {
            let message: String = message.chars().take(300).collect();
            return self.fail(AssistError::Provider {
                status: 200,
                message,
            });
        }
        if let Some(usage) = Usage::from_json(&chunk["usage"]) {
            self.usage = Some(usage);
        }
        let choice = &chunk["choices"][0];
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_string());
        }
        if let Some(piece) = choice["delta"]["content"].as_str() {
            let shown = self.unmask.push(piece);
            if !shown.is_empty() {
                self.ready.push_back(Ok(StreamEvent::Text(shown)));
            }
        }
    }
}
