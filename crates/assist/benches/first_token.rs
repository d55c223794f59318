//! Time to the first streamed token over the stand-in (`zentro-assist-sim` on loopback, no token
//! delay): our own overhead is building the request (masking a 40-message conversation included)
//! plus the client's work up to the first text piece, compared with a bare HTTP client reading the
//! same stream to its first token event. Run with
//! `cargo bench -p zentro-assist --bench first_token` (figures in docs/benchmarks.md).
#![allow(clippy::unwrap_used)] // a benchmark fails loudly

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use zentro_assist::features::{self, RequestOptions};
use zentro_assist::{
    ApiKey, AssistClient, Author, Conversation, Customer, Message, ProviderSettings, StreamEvent,
    Timeouts,
};
use zentro_assist_sim::{AssistSim, AssistSimConfig};

const RUNS: usize = 300;

fn conversation() -> Conversation {
    let messages = (0..40)
        .map(|i| Message {
            author: if i % 2 == 0 { Author::Customer } else { Author::Agent("Ana".into()) },
            text: format!(
                "Message {i}: my order 8881{i:04} went to maria@example.com, call +34 611 222 {i:03} about the refund of the blue jacket, size medium"
            ),
        })
        .collect();
    Conversation {
        id: 1,
        restricted: false,
        customer: Customer {
            name: "Maria Lopez".into(),
            customer_id: "34611222333".into(),
            phone: Some("+34 611 222 333".into()),
            email: Some("maria@example.com".into()),
            username: None,
        },
        messages,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p95(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() * 95 / 100]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sim = AssistSim::start(AssistSimConfig {
        context_window: 1_000_000,
        ..AssistSimConfig::default()
    })
    .await
    .unwrap();
    let provider = ProviderSettings::new(
        &sim.base_url(),
        "sim-small",
        Some(ApiKey::new(sim.api_key())),
    )
    .unwrap();
    let client = AssistClient::new(provider.clone(), Timeouts::default()).unwrap();
    let http = reqwest::Client::new();
    let conversation = conversation();
    let (mut build, mut ours, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS + 20 {
        let started = Instant::now();
        let request = features::draft(&conversation, &RequestOptions::default()).unwrap();
        let built = started.elapsed();
        let mut stream = client.stream(&request).await.unwrap();
        while let Some(event) = stream.next().await {
            if let StreamEvent::Text(_) = event.unwrap() {
                break;
            }
        }
        let first = started.elapsed();
        drop(stream);

        let body = request.body(&provider.model, true);
        let started = Instant::now();
        let mut response = http
            .post(provider.endpoint())
            .bearer_auth(sim.api_key())
            .json(&body)
            .send()
            .await
            .unwrap();
        let mut seen = Vec::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.extend_from_slice(&chunk);
            if seen.windows(2).filter(|w| w == b"\n\n").count() >= 2 {
                break;
            }
        }
        let raw = started.elapsed();
        if run >= 20 {
            build.push(built);
            ours.push(first);
            bare.push(raw);
        }
    }
    let overhead: Vec<Duration> = ours
        .iter()
        .zip(&bare)
        .map(|(o, b)| o.saturating_sub(*b))
        .collect();
    println!(
        "first token over the stand-in, {RUNS} runs (after 20 warm-up), 40-message conversation"
    );
    println!(
        "  build + mask the request  p50 {:>9.3?}  p95 {:>9.3?}",
        median(build.clone()),
        p95(build)
    );
    println!(
        "  zentro-assist, to 1st text p50 {:>9.3?}  p95 {:>9.3?}",
        median(ours.clone()),
        p95(ours)
    );
    println!(
        "  bare HTTP, to 1st event    p50 {:>9.3?}  p95 {:>9.3?}",
        median(bare.clone()),
        p95(bare)
    );
    println!(
        "  our overhead (paired)      p50 {:>9.3?}  p95 {:>9.3?}",
        median(overhead.clone()),
        p95(overhead)
    );
}
