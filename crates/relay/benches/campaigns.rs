//! Broadcast campaigns on the relay against meta-sim, with the pace lifted (issue 24): how fast
//! the relay queues recipients (`POST /v1/campaigns/{id}/recipients`, 2,000 a call) and sends
//! them (from `start` until meta-sim accepted the last one, then until the campaign is
//! `completed`), on SQLite and, with `ZENTRO_BENCH_POSTGRES_URL` (a server; each run gets a
//! fresh database on it), on PostgreSQL too, the backends' runs taking turns so that both see the
//! same load.
//!
//! `cargo bench -p zentro-relay --bench campaigns` (`ZENTRO_BENCH_RECIPIENTS`, default 5,000;
//! `ZENTRO_BENCH_RUNS`, default 3). meta-sim runs in the same process and checks every send as
//! Meta would, on the same cores: the figures are the relay and its stand-in together.

// A benchmark: any failed step ends the run, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zentro_meta::AppSecret;
use zentro_meta_sim::{MetaSim, SimConfig};
use zentro_relay::config::{Config, MetaApp, VerifyToken};
use zentro_relay::credentials::hash_password;
use zentro_relay::sealing::{TokenKey, TokenKeys};
use zentro_relay::store::{ChannelKind, Store};

const SECRET: &str = "bench-app-secret";
const OWNER: &str = "owner@bench.test";
const PASSWORD: &str = "correct horse battery staple";
const WABA: &str = "102290129340311";
const NUMBER: &str = "106540352242911";

/// One run's figures.
struct Figures {
    queued_per_second: f64,
    sent_per_second: f64,
    completed_after: Duration,
}

async fn call(base: &str, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn run(recipients: usize, database_url: Option<String>) -> Figures {
    let sim = MetaSim::start(SimConfig {
        app_secret: AppSecret::new(SECRET),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let token = sim.add_whatsapp_number(WABA, NUMBER, "+1 555 0111");
    {
        let mut state = sim.state();
        state.add_template_text("restock", "en_US", "Hi {{1}}, it is back!", "APPROVED");
        state.set_template_category("restock", "en_US", "UTILITY");
        state.set_messaging_limit(WABA, "TIER_UNLIMITED");
    }
    let dir = tempfile::tempdir().unwrap();
    let key = TokenKey::parse(&TokenKey::generate()).unwrap();
    let mut config = Config::new(
        dir.path().to_path_buf(),
        AppSecret::new(SECRET),
        VerifyToken::new("bench-verify"),
    );
    config.database_url = database_url;
    config.token_keys = Some(TokenKeys {
        current: key.clone(),
        previous: None,
    });
    let base_url = sim.base_url();
    config.meta_app = Some(MetaApp {
        app_id: sim.state().app_id().to_string(),
        signup_config_id: "778899001122".into(),
        login_config_id: None,
        graph_url: base_url.clone(),
        sdk_url: format!("{base_url}/sim/sdk.js"),
    });
    config.automation_interval = Duration::from_millis(100);
    let store = Store::open_at(&config.database()).await.unwrap();
    let ws = store
        .create_workspace("Bench", OWNER, "Owner", &hash_password(PASSWORD))
        .await
        .unwrap();
    let (channel, _) = store
        .add_channel(&ws.id, ChannelKind::Whatsapp, NUMBER, Some(WABA), "")
        .await
        .unwrap();
    store
        .set_channel_token(&channel.id, &key.seal(&channel.id, token.expose()), None)
        .await
        .unwrap();
    store.close().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zentro_relay::run(config, listener, async {
        let _ = stopped.await;
    }));
    sim.set_webhook_url(format!("{base}/webhooks/meta"));
    let session: Value = reqwest::Client::new()
        .post(format!("{base}/v1/sessions"))
        .json(&json!({ "email": OWNER, "password": PASSWORD, "device_name": "bench" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner = session["token"].as_str().unwrap().to_string();
    let (status, _) = call(&base, &owner, "POST", "/v1/templates/refresh", Value::Null).await;
    assert_eq!(status, 200);
    let (status, created) = call(
        &base,
        &owner,
        "POST",
        "/v1/campaigns",
        json!({ "name": "Bench", "channel_id": NUMBER, "template_name": "restock",
            "template_language": "en_US", "audience": "everyone", "per_second": 1000 }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let all: Vec<Value> = (0..recipients)
        .map(|n| json!({ "customer_id": format!("{}", 15_550_000_000u64 + n as u64), "name": format!("Customer {n}") }))
        .collect();
    let queued_at = Instant::now();
    for chunk in all.chunks(2_000) {
        let (status, body) = call(
            &base,
            &owner,
            "POST",
            &format!("/v1/campaigns/{id}/recipients"),
            json!({ "recipients": chunk }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let queued = queued_at.elapsed();
    let started_at = Instant::now();
    let (status, body) = call(
        &base,
        &owner,
        "POST",
        &format!("/v1/campaigns/{id}/start"),
        json!({ "send_at": null }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    while sim.state().sent.len() < recipients {
        assert!(
            started_at.elapsed() < Duration::from_secs(600),
            "sent in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = started_at.elapsed();
    loop {
        let (_, c) = call(
            &base,
            &owner,
            "GET",
            &format!("/v1/campaigns/{id}"),
            Value::Null,
        )
        .await;
        if c["state"] == "completed" {
            break;
        }
        assert!(
            started_at.elapsed() < Duration::from_secs(600),
            "completed in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let completed_after = started_at.elapsed();
    let _ = stop.send(());
    let _ = server.await;
    Figures {
        queued_per_second: recipients as f64 / queued.as_secs_f64(),
        sent_per_second: recipients as f64 / sent.as_secs_f64(),
        completed_after,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let recipients: usize = std::env::var("ZENTRO_BENCH_RECIPIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let runs: usize = std::env::var("ZENTRO_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let postgres = std::env::var("ZENTRO_BENCH_POSTGRES_URL").ok();
    let mut backends = vec!["sqlite"];
    if postgres.is_some() {
        backends.push("postgres");
    }
    let mut figures: Vec<Vec<Figures>> = backends.iter().map(|_| Vec::new()).collect();
    for n in 1..=runs {
        for (b, backend) in backends.iter().enumerate() {
            let database_url = match (*backend, &postgres) {
                ("postgres", Some(server)) => Some(fresh_database(server).await),
                _ => None,
            };
            let f = run(recipients, database_url).await;
            println!(
                "run {n} ({backend}, {recipients} recipients): queued {:.0}/s, sent {:.0}/s, completed after {:.2} s",
                f.queued_per_second,
                f.sent_per_second,
                f.completed_after.as_secs_f64()
            );
            figures[b].push(f);
        }
    }
    for (backend, figures) in backends.iter().zip(figures) {
        println!(
            "median ({backend}): queued {:.0}/s, sent {:.0}/s, completed after {:.2} s",
            median(figures.iter().map(|f| f.queued_per_second).collect()),
            median(figures.iter().map(|f| f.sent_per_second).collect()),
            median(
                figures
                    .iter()
                    .map(|f| f.completed_after.as_secs_f64())
                    .collect()
            )
        );
    }
}

/// A new empty database on the PostgreSQL server at `server`; its URL.
async fn fresh_database(server: &str) -> String {
    use sqlx::Connection;
    let name = format!("bench_{}", zentro_events::clock::random_id().to_lowercase());
    let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}
