//! `POST /v1/chat/completions`, answered as OpenAI's chat completions API answers: one JSON body,
//! or server-sent events ending with `data: [DONE]`, and its error bodies
//! (`{"error": {message, type, param, code}}`).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{Fault, RecordedRequest, SimState, lock};

/// The chat completions route.
pub fn router(state: Arc<Mutex<SimState>>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .with_state(state)
}

/// An OpenAI error response.
fn api_error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, axum::Json(body)).into_response()
}

/// The request as the stand-in understood it.
struct Completion {
    model: String,
    stream: bool,
    include_usage: bool,
    prompt_tokens: u64,
    max_tokens: Option<u64>,
    last_user: String,
}

/// Tokens a prompt counts as: 4 per message for its framing plus one per 4 characters of content
/// (the rule of thumb OpenAI gives for English).
pub fn prompt_tokens(messages: &[Value]) -> u64 {
    messages
        .iter()
        .map(|m| {
            let chars = m["content"].as_str().map_or(0, |c| c.chars().count()) as u64;
            4 + chars.div_ceil(4)
        })
        .sum()
}

/// Splits an answer into the tokens it streams as: pieces of at most 3 characters, so a word
/// (or a bracketed placeholder) arrives in several deltas, as with real tokenizers.
pub fn tokens_of(answer: &str) -> Vec<String> {
    let chars: Vec<char> = answer.chars().collect();
    chars.chunks(3).map(|c| c.iter().collect()).collect()
}

// A refusal is a whole `Response`, returned early; boxing it would only add noise.
#[allow(clippy::result_large_err)]
fn parse(body: &Value) -> Result<Completion, Response> {
    let invalid = |message: &str| {
        api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            message,
        )
    };
    let Some(model) = body["model"].as_str().filter(|m| !m.is_empty()) else {
        return Err(invalid("you must provide a model parameter"));
    };
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err(invalid("[] is too short - 'messages'"));
    };
    if messages
        .iter()
        .any(|m| m["role"].as_str().is_none() || m["content"].as_str().is_none())
    {
        return Err(invalid(
            "Invalid value for 'messages': each message needs a role and a content.",
        ));
    }
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string();
    Ok(Completion {
        model: model.to_string(),
        stream: body["stream"].as_bool().unwrap_or(false),
        include_usage: body["stream_options"]["include_usage"]
            .as_bool()
            .unwrap_or(false),
        prompt_tokens: prompt_tokens(messages),
        max_tokens: body["max_tokens"]
            .as_u64()
            .or_else(|| body["max_completion_tokens"].as_u64()),
        last_user,
    })
}

/// The bearer key of a request, if it carries one.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_string)
}

/// Checks the key, the body and the model, in OpenAI's order.
#[allow(clippy::result_large_err)]
fn admit(state: &SimState, bearer: Option<&str>, body: &Value) -> Result<Completion, Response> {
    match bearer {
        None => {
            return Err(api_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                None,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            ));
        }
        Some(key) if key != state.config.api_key => {
            return Err(api_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("invalid_api_key"),
                "Incorrect API key provided. You can find your API key in your account settings.",
            ));
        }
        Some(_) => {}
    }
    if body.is_null() {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            "We could not parse the JSON body of your request.",
        ));
    }
    let completion = parse(body)?;
    if !state.config.models.contains(&completion.model) {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            &format!(
                "The model `{}` does not exist or you do not have access to it.",
                completion.model
            ),
        ));
    }
    Ok(completion)
}

/// The answer to a scripted fault, or `None` for a stall that is the stream's own business.
async fn fault_response(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = api_error(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for requests. Please try again later.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, (*retry_after_secs).into());
            Some(response)
        }
        Fault::ServerError => Some(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            "The server had an error while processing your request. Sorry about that!",
        )),
        Fault::StallBeforeAnswer => std::future::pending().await,
        Fault::StallAfterTokens(_) => None,
    }
}

async fn chat_completions(
    State(state): State<Arc<Mutex<SimState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = bearer(&headers);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (admitted, fault, answer, config) = {
        let mut state = lock(&state);
        state.requests.push(RecordedRequest {
            bearer: bearer.clone(),
            body: body.clone(),
        });
        let admitted = admit(&state, bearer.as_deref(), &body);
        let fault = if admitted.is_ok() {
            state.faults.pop_front()
        } else {
            None
        };
        let answer = if admitted.is_ok() && fault.is_none() {
            state.answers.pop_front()
        } else {
            None
        };
        (admitted, fault, answer, state.config.clone())
    };
    let completion = match admitted {
        Ok(completion) => completion,
        Err(response) => return response,
    };
    if let Some(fault) = &fault
        && let Some(response) = fault_response(fault).await
    {
        return response;
    }
    let asked = completion.prompt_tokens + completion.max_tokens.unwrap_or(0);
    if asked > config.context_window {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("context_length_exceeded"),
            &format!(
                "This model's maximum context length is {} tokens. However, you requested {asked} tokens ({} in the messages, {} in the completion). Please reduce the length of the messages or completion.",
                config.context_window,
                completion.prompt_tokens,
                completion.max_tokens.unwrap_or(0)
            ),
        );
    }
    let answer = answer.unwrap_or_else(|| format!("Reply to: {}", completion.last_user));
    let mut tokens = tokens_of(&answer);
    let mut finish = "stop";
    if let Some(max) = completion.max_tokens
        && tokens.len() as u64 > max
    {
        tokens.truncate(max as usize);
        finish = "length";
    }
    let stall = match fault {
        Some(Fault::StallAfterTokens(n)) => Some(n),
        _ => None,
    };
    let answer = Answer {
        tokens,
        finish,
        delay: config.token_delay,
        stall,
    };
    if completion.stream {
        stream_answer(completion, answer)
    } else {
        whole_answer(completion, answer).await
    }
}

/// What the model answers, and how it is delivered.
struct Answer {
    tokens: Vec<String>,
    finish: &'static str,
    delay: Duration,
    stall: Option<usize>,
}

fn created() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn usage(completion: &Completion, answer: &Answer) -> Value {
    let completion_tokens = answer.tokens.len() as u64;
    json!({
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": completion.prompt_tokens + completion_tokens,
    })
}

async fn whole_answer(completion: Completion, answer: Answer) -> Response {
    if answer.stall.is_some() {
        return std::future::pending().await;
    }
    tokio::time::sleep(answer.delay * answer.tokens.len() as u32).await;
    let body = json!({
        "id": "chatcmpl-sim",
        "object": "chat.completion",
        "created": created(),
        "model": completion.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer.tokens.concat()},
            "finish_reason": answer.finish,
        }],
        "usage": usage(&completion, &answer),
    });
    axum::Json(body).into_response()
}

fn chunk(model: &str, choices: Value, usage: Option<Value>) -> Bytes {
    let mut body = json!({
        "id": "chatcmpl-sim",
        "object": "chat.completion.chunk",
        "created": created(),
        "model": model,
        "choices": choices,
    });
    if let Some(usage) = usage {
        body["usage"] = usage;
    }
    Bytes::from(format!("data: {body}\n\n"))
}

/// The events of a streamed answer, sent as they are ready; a stall holds the stream open until
/// the client gives up.
async fn produce(completion: Completion, answer: Answer, tx: mpsc::Sender<Bytes>) {
    let model = completion.model.clone();
    let role =
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]);
    if tx.send(chunk(&model, role, None)).await.is_err() {
        return;
    }
    for (i, token) in answer.tokens.iter().enumerate() {
        if answer.stall == Some(i) {
            tx.closed().await;
            return;
        }
        tokio::time::sleep(answer.delay).await;
        let delta = json!([{"index": 0, "delta": {"content": token}, "finish_reason": null}]);
        if tx.send(chunk(&model, delta, None)).await.is_err() {
            return;
        }
    }
    if answer.stall.is_some() {
        tx.closed().await;
        return;
    }
    let end = json!([{"index": 0, "delta": {}, "finish_reason": answer.finish}]);
    let _ = tx.send(chunk(&model, end, None)).await;
    if completion.include_usage {
        let usage = usage(&completion, &answer);
        let _ = tx.send(chunk(&model, json!([]), Some(usage))).await;
    }
    let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
}

fn stream_answer(completion: Completion, answer: Answer) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(produce(completion, answer, tx));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
