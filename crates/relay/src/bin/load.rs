//! `zentro-relay-load`: posts realistic, correctly signed WhatsApp webhooks to a relay at a set
//! rate and concurrency, and reports throughput and latency percentiles.
//!
//! Latency is measured from each request's **scheduled** send time (open loop), so a stalled
//! relay shows up as latency instead of silently lowering the offered load. `--rate 0` sends as
//! fast as `--concurrency` connections allow (closed loop) to find the maximum throughput.
//!
//! With `--devices N` (and a member's `--email` and password), N devices sign in, follow the
//! workspace's event stream while the webhooks arrive and acknowledge what they received each
//! second, as desktops do; the report adds, per device, the events received and the delivery lag
//! (from the relay appending an event to the device reading it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::{Mutex, Semaphore};
use zentro_events::clock::now_ms;
use zentro_meta::AppSecret;
use zentro_meta::signature::sign_webhook;

#[derive(Parser, Debug)]
#[command(
    name = "zentro-relay-load",
    about = "Load generator for the relay's webhook endpoint"
)]
struct Args {
    /// The relay's webhook URL; repeat it for several relay instances (webhooks go to each in
    /// turn, as a round-robin load balancer sends them; device `n` follows instance `n`).
    #[arg(long = "url", default_value = "http://127.0.0.1:8787/webhooks/meta")]
    urls: Vec<String>,
    /// The Meta app secret the relay verifies with.
    #[arg(long, env = "ZENTRO_RELAY_META_APP_SECRET", hide_env_values = true)]
    secret: String,
    /// Webhooks per second to offer; 0 = as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Requests in flight at most (connections).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// The WhatsApp phone_number_id the messages are for (a channel of some workspace).
    #[arg(long, default_value = "LOAD-PHONE")]
    phone_number_id: String,
    /// Print one JSON line instead of the table.
    #[arg(long)]
    json: bool,
    /// Devices following the event stream and acknowledging it while the webhooks arrive.
    #[arg(long, default_value_t = 0)]
    devices: usize,
    /// The member the devices sign in as (the workspace the phone number belongs to).
    #[arg(long)]
    email: Option<String>,
    /// That member's password.
    #[arg(long, env = "ZENTRO_RELAY_LOAD_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

fn body(phone_number_id: &str, run: u64, i: u64) -> String {
    // A realistic inbound text webhook (~700 bytes), with escaped non-ASCII as Meta sends it.
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"{phone_number_id}"}},"contacts":[{{"profile":{{"name":"Customer {i}"}},"wa_id":"1650555{i:04}","user_id":"US.{run}{i}"}}],"messages":[{{"from":"1650555{i:04}","from_user_id":"US.{run}{i}","id":"wamid.LOAD.{run}.{i}","timestamp":"1750000000","type":"text","text":{{"body":"Ol\u00e1! Is order #{i} on its way? \ud83d\ude00"}}}}]}}}}]}}]}}"#
    )
}

#[derive(Clone)]
struct Sender {
    client: reqwest::Client,
    secret: AppSecret,
    samples: Arc<Mutex<Vec<Sample>>>,
    permits: Arc<Semaphore>,
    urls: Arc<Vec<String>>,
    phone_number_id: Arc<String>,
    run: u64,
}

impl Sender {
    async fn fire(self, i: u64, scheduled: Instant) {
        let body = body(&self.phone_number_id, self.run, i);
        let _permit = self
            .permits
            .acquire_owned()
            .await
            .expect("the semaphore stays open");
        let signature = sign_webhook(&self.secret, body.as_bytes());
        let response = self
            .client
            .post(self.urls[i as usize % self.urls.len()].as_str())
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await;
        let ok = response.is_ok_and(|r| r.status().as_u16() == 200);
        self.samples.lock().await.push(Sample {
            latency: scheduled.elapsed(),
            ok,
        });
    }
}

struct Sample {
    latency: Duration,
    ok: bool,
}

/// A desktop following the workspace's stream during the run.
struct Device {
    /// Webhook events read from the stream.
    received: Arc<std::sync::atomic::AtomicUsize>,
    /// Milliseconds from each event's append to its arrival here.
    lags: Arc<std::sync::Mutex<Vec<u64>>>,
    stream: tokio::task::JoinHandle<()>,
    acks: tokio::task::JoinHandle<()>,
}

/// The fields of a streamed event the device looks at (its payload is skipped).
#[derive(serde::Deserialize)]
struct StreamedEvent {
    seq: i64,
    kind: String,
    at: i64,
}

impl Device {
    /// Signs in as device `n`, and follows the stream from the log's current end.
    async fn start(login: &Login<'_>, n: usize) -> anyhow::Result<Self> {
        let Login { client, base, .. } = *login;
        let token = sign_in(login, n).await?;
        let page: serde_json::Value = client
            .get(base.join("/v1/events?after=0&limit=1")?)
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let head = page["head"].as_i64().unwrap_or(0);
        let response = client
            .get(base.join(&format!("/v1/events?after={head}"))?)
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .timeout(Duration::from_secs(24 * 3600))
            .send()
            .await?
            .error_for_status()?;
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let lags = Arc::new(std::sync::Mutex::new(Vec::new()));
        let applied = Arc::new(std::sync::atomic::AtomicI64::new(head));
        let stream = tokio::spawn(follow(
            response,
            received.clone(),
            lags.clone(),
            applied.clone(),
        ));
        let cursor = base.join("/v1/cursor")?;
        let acks = tokio::spawn(acknowledge(client.clone(), cursor, token, applied, head));
        Ok(Self {
            received,
            lags,
            stream,
            acks,
        })
    }

    fn received(&self) -> usize {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops following and returns what was measured: events received and lag percentiles.
    fn finish(self) -> serde_json::Value {
        self.stream.abort();
        self.acks.abort();
        let mut lags = std::mem::take(&mut *self.lags.lock().expect("not poisoned"));
        lags.sort_unstable();
        let pct = |p: f64| {
            lags.get(((lags.len() as f64 - 1.0) * p).round() as usize)
                .copied()
        };
        let over_a_second = lags.iter().filter(|&&lag| lag > 1000).count();
        serde_json::json!({ "received": self.received(), "lag_p50_ms": pct(0.5), "lag_p99_ms": pct(0.99), "lag_max_ms": pct(1.0),
            "lag_over_1s": over_a_second })
    }
}

/// Where the `--devices` sign in, and as whom.
#[derive(Clone, Copy)]
struct Login<'a> {
    client: &'a reqwest::Client,
    base: &'a reqwest::Url,
    email: &'a str,
    password: &'a str,
}

/// Signs in as device `n`; its token.
async fn sign_in(login: &Login<'_>, n: usize) -> anyhow::Result<String> {
    let Login {
        client,
        base,
        email,
        password,
    } = *login;
    let signed_in: serde_json::Value = client
        .post(base.join("/v1/sessions")?)
        .json(&serde_json::json!({ "email": email, "password": password, "device_name": format!("load device {n}") }))
        .send()
        .await?
        .error_for_status()
        .map_err(|e| anyhow::anyhow!("device {n} could not sign in: {e}"))?
        .json()
        .await?;
    Ok(signed_in["token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the relay's sign-in answer had no token"))?
        .to_string())
}

/// Acknowledges each second the last seq `applied` (past `head`), as desktops do; runs until
/// aborted.
async fn acknowledge(
    client: reqwest::Client,
    cursor: reqwest::Url,
    token: String,
    applied: Arc<std::sync::atomic::AtomicI64>,
    head: i64,
) {
    let mut acked = head;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let seq = applied.load(std::sync::atomic::Ordering::Relaxed);
        if seq > acked {
            let sent = client
                .post(cursor.clone())
                .bearer_auth(&token)
                .json(&serde_json::json!({ "seq": seq }))
                .send()
                .await;
            if sent.is_ok_and(|r| r.status().is_success()) {
                acked = seq;
            }
        }
    }
}

/// Reads a Server-Sent Events stream, counting webhook events and their lag.
async fn follow(
    response: reqwest::Response,
    received: Arc<std::sync::atomic::AtomicUsize>,
    lags: Arc<std::sync::Mutex<Vec<u64>>>,
    applied: Arc<std::sync::atomic::AtomicI64>,
) {
    use futures_util::StreamExt;
    let mut chunks = response.bytes_stream();
    let mut pending = String::new();
    while let Some(Ok(chunk)) = chunks.next().await {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        // One pass over what arrived (a page of events can come in one chunk), then one drain.
        let mut consumed = 0;
        while let Some(end) = pending[consumed..].find("\n\n") {
            let block = &pending[consumed..consumed + end];
            consumed += end + 2;
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue; // a keep-alive comment
            };
            let Ok(event) = serde_json::from_str::<StreamedEvent>(data.trim_start()) else {
                continue;
            };
            if event.kind == "meta.webhook" {
                received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let lag = u64::try_from(now_ms().saturating_sub(event.at)).unwrap_or(0);
                lags.lock().expect("not poisoned").push(lag);
            }
            applied.store(event.seq, std::sync::atomic::Ordering::Relaxed);
        }
        pending.drain(..consumed);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let devices = start_devices(&args, &client).await?;
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::new(Mutex::new(Vec::new()));
    let sender = Sender {
        client: client.clone(),
        secret: AppSecret::new(args.secret.clone()),
        samples: samples.clone(),
        permits: Arc::new(Semaphore::new(args.concurrency)),
        urls: Arc::new(args.urls.clone()),
        phone_number_id: Arc::new(args.phone_number_id.clone()),
        run: u64::try_from(now_ms()).unwrap_or(0),
    };
    let start = Instant::now();
    let tasks = if args.rate == 0 {
        send_closed_loop(&args, &sender, start)
    } else {
        send_open_loop(&args, &sender, start).await
    };
    for task in tasks {
        task.await?;
    }
    let elapsed = start.elapsed();
    let samples = samples.lock().await;
    let accepted = samples.iter().filter(|s| s.ok).count();
    let devices = finish_devices(devices, accepted).await;
    let missed = devices
        .iter()
        .any(|d| d["received"].as_u64().unwrap_or(0) < accepted as u64);
    let report = Report {
        samples: &samples,
        accepted,
        elapsed,
        devices,
    };
    if args.json {
        report.print_json(&args);
    } else {
        report.print_table(&args);
    }
    if missed {
        eprintln!("a device did not receive every accepted webhook within 30 s");
        std::process::exit(3);
    }
    if accepted < samples.len() {
        std::process::exit(2);
    }
    Ok(())
}

/// Signs in and starts the `--devices` that follow the stream (none by default).
async fn start_devices(args: &Args, client: &reqwest::Client) -> anyhow::Result<Vec<Device>> {
    let mut devices = Vec::new();
    if args.devices == 0 {
        return Ok(devices);
    }
    let (Some(email), Some(password)) = (&args.email, &args.password) else {
        anyhow::bail!(
            "--devices needs the member they sign in as: --email and a password (--password or ZENTRO_RELAY_LOAD_PASSWORD)"
        );
    };
    let bases = args
        .urls
        .iter()
        .map(|url| reqwest::Url::parse(url))
        .collect::<Result<Vec<_>, _>>()?;
    for n in 1..=args.devices {
        let login = Login {
            client,
            base: &bases[(n - 1) % bases.len()],
            email,
            password,
        };
        devices.push(Device::start(&login, n).await?);
    }
    Ok(devices)
}

/// Closed loop: each worker sends the next request when its previous one returned.
fn send_closed_loop(
    args: &Args,
    sender: &Sender,
    start: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    let duration = Duration::from_secs(args.duration);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    (0..args.concurrency)
        .map(|_| {
            let next = next.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                while start.elapsed() < duration {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    sender.clone().fire(i, Instant::now()).await;
                }
            })
        })
        .collect()
}

/// Open loop: request i is due at start + i / rate, whether or not earlier ones returned.
async fn send_open_loop(
    args: &Args,
    sender: &Sender,
    start: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let total = args.rate * args.duration;
    let mut tasks = Vec::new();
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        tasks.push(tokio::spawn(sender.clone().fire(i, due)));
    }
    tasks
}

/// Gives the devices up to 30 s more to receive every accepted webhook, then stops them and
/// returns what each measured.
async fn finish_devices(devices: Vec<Device>, accepted: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while devices.iter().any(|d| d.received() < accepted) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    devices.into_iter().map(Device::finish).collect()
}

/// What a run measured.
struct Report<'a> {
    samples: &'a [Sample],
    accepted: usize,
    elapsed: Duration,
    devices: Vec<serde_json::Value>,
}

impl Report<'_> {
    /// The accepted requests' latency percentile `p`, in milliseconds (NaN when none).
    fn latency_ms(&self, p: f64) -> f64 {
        let mut latencies: Vec<Duration> = self
            .samples
            .iter()
            .filter(|s| s.ok)
            .map(|s| s.latency)
            .collect();
        if latencies.is_empty() {
            return f64::NAN;
        }
        latencies.sort_unstable();
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index].as_secs_f64() * 1000.0
    }

    fn throughput(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64()
    }

    fn print_json(&self, args: &Args) {
        let (sent, accepted) = (self.samples.len(), self.accepted);
        let pct = |p| self.latency_ms(p);
        println!(
            "{}",
            serde_json::json!({ "offered_rate": args.rate, "concurrency": args.concurrency, "sent": sent, "accepted": accepted,
                "failed": sent - accepted, "seconds": self.elapsed.as_secs_f64(), "throughput": self.throughput(),
                "p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99), "p999_ms": pct(0.999), "max_ms": pct(1.0),
                "devices": self.devices })
        );
    }

    fn print_table(&self, args: &Args) {
        let (sent, accepted) = (self.samples.len(), self.accepted);
        let pct = |p| self.latency_ms(p);
        println!(
            "offered rate   {}",
            if args.rate == 0 {
                "max (closed loop)".to_string()
            } else {
                format!("{}/s", args.rate)
            }
        );
        println!("concurrency    {}", args.concurrency);
        println!("sent           {sent}");
        println!("accepted (200) {accepted}");
        println!("failed         {}", sent - accepted);
        println!("elapsed        {:.2} s", self.elapsed.as_secs_f64());
        println!(
            "throughput     {:.0} accepted webhooks/s",
            self.throughput()
        );
        println!(
            "latency (ms from scheduled send)  p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(0.999),
            pct(1.0)
        );
        for (n, device) in self.devices.iter().enumerate() {
            println!(
                "device {}       received {} of {accepted}; lag (ms from append)  p50 {}  p99 {}  max {}  ({} over 1 s)",
                n + 1,
                device["received"],
                device["lag_p50_ms"],
                device["lag_p99_ms"],
                device["lag_max_ms"],
                device["lag_over_1s"]
            );
        }
    }
}
