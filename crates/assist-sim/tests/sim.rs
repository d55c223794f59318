//! The stand-in answers as an OpenAI-compatible server does: streamed chunks then usage then
//! `[DONE]`, whole answers, the bearer check, and its scripted failures.

use serde_json::{Value, json};
use zentro_assist_sim::{AssistSim, AssistSimConfig, Fault};

async fn post(sim: &AssistSim, key: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/chat/completions", sim.base_url()))
        .json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("the stand-in answers")
}

fn hello(stream: bool) -> Value {
    json!({
        "model": "sim-small",
        "stream": stream,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
    })
}

#[tokio::test]
async fn streams_chunks_then_usage_then_done() -> anyhow::Result<()> {
    let sim = AssistSim::start(AssistSimConfig::default()).await?;
    let response = post(&sim, Some(&sim.api_key()), hello(true)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()?
            .starts_with("text/event-stream")
    );
    let text = response.text().await?;
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").expect("data line")).expect("json"))
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Reply to: Hello there");
    let usage = &chunks.last().expect("usage")["usage"];
    assert_eq!(usage["completion_tokens"], 7);
    assert_eq!(
        usage["total_tokens"],
        usage["prompt_tokens"].as_u64().expect("n") + 7
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop")
    );
    assert_eq!(sim.requests()[0].text(), "Be brief.\nHello there");
    Ok(())
}

#[tokio::test]
async fn answers_whole_and_scripted() -> anyhow::Result<()> {
    let sim = AssistSim::start(AssistSimConfig::default()).await?;
    sim.answer_next("intent: refund");
    let body: Value = post(&sim, Some(&sim.api_key()), hello(false))
        .await
        .json()
        .await?;
    assert_eq!(body["choices"][0]["message"]["content"], "intent: refund");
    assert_eq!(body["usage"]["completion_tokens"], 5);
    Ok(())
}

#[tokio::test]
async fn refuses_wrong_keys_and_models() -> anyhow::Result<()> {
    let sim = AssistSim::start(AssistSimConfig::default()).await?;
    let response = post(&sim, Some("sk-wrong"), hello(true)).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(post(&sim, None, hello(true)).await.status(), 401);
    let mut other = hello(false);
    other["model"] = json!("gpt-9");
    let response = post(&sim, Some(&sim.api_key()), other).await;
    assert_eq!(response.status(), 404);
    assert_eq!(sim.requests().len(), 3, "refused requests are recorded too");
    Ok(())
}

#[tokio::test]
async fn fails_as_scripted() -> anyhow::Result<()> {
    let sim = AssistSim::start(AssistSimConfig {
        context_window: 20,
        ..AssistSimConfig::default()
    })
    .await?;
    sim.fail_next(Fault::RateLimited {
        retry_after_secs: 7,
    });
    sim.fail_next(Fault::ServerError);
    let key = sim.api_key();
    let limited = post(&sim, Some(&key), hello(true)).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(post(&sim, Some(&key), hello(true)).await.status(), 500);
    let mut long = hello(false);
    long["messages"][1]["content"] = json!("word ".repeat(40));
    let response = post(&sim, Some(&key), long).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    assert_eq!(post(&sim, Some(&key), hello(false)).await.status(), 200);
    Ok(())
}
