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
//!
//! Customers: each run has its own customers (ids never reused across runs), and each writes
//! `--messages-per-customer` webhooks (a first message, then an answer to the menu bot — two in
//! three tap a button, one in three answers in words — then more text). With `--rules on|off`
//! (and the owner's `--email` and password) the workspace's automation is saved before sending,
//! on or off: business hours always open, a greeting, an away message, a menu of three teams
//! that each assign round robin among three agents, who are invited on first use and kept
//! available during the run. With `--meta-stand-in`, the run then waits for the automation to
//! send what it decided and reports how long that took after the load ended.
//!
//! `--serve-meta ADDR` runs, instead of a load, a stand-in for the Graph API's send endpoint
//! (the relay's `ZENTRO_RELAY_META_GRAPH_URL`): it answers every `POST …/messages` as Meta
//! accepts a send and counts them (`GET /bench/sends`). It is not meta-sim on purpose: meta-sim
//! is a test double the relay's package may only use in tests, and its checks and records would
//! spend the benchmark's two cores on Meta's work instead of the relay's.

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
    /// Webhooks each customer sends (1: every webhook is a new conversation).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    messages_per_customer: u64,
    /// Save the workspace's automation on or off before sending (as the owner: `--email`).
    #[arg(long, value_enum)]
    rules: Option<Rules>,
    /// The `--serve-meta` stand-in the relay sends through: after the load, wait until the
    /// automation has sent what it decided and report it.
    #[arg(long)]
    meta_stand_in: Option<String>,
    /// How long to wait for the automation's sends after the load, at most (seconds).
    #[arg(long, default_value_t = 120)]
    drain_seconds: u64,
    /// Serve the Graph API stand-in on this address instead of sending a load.
    #[arg(long)]
    serve_meta: Option<std::net::SocketAddr>,
}

/// Whether the workspace's automation runs during the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Rules {
    /// Saved with `enabled: true`.
    On,
    /// Saved with `enabled: false`.
    Off,
}

/// Webhooks between two messages of the same customer (so a customer's next message arrives
/// after the relay logged the previous one, even with every connection busy).
const CUSTOMER_SPREAD: u64 = 4096;

/// The menu's options: (id, title); the option a customer taps depends on the customer.
const MENU: [(&str, &str); 3] = [
    ("sales", "Buying"),
    ("support", "An order"),
    ("billing", "Billing"),
];

/// Who sends webhook `i` of a run, and what.
#[derive(Clone, Copy)]
struct Traffic {
    /// Makes this run's customer ids its own (digits, as WhatsApp ids are).
    customer_prefix: u64,
    messages_per_customer: u64,
}

impl Traffic {
    fn new(run: u64, messages_per_customer: u64) -> Self {
        Self {
            customer_prefix: (run / 1000) % 1_000_000,
            messages_per_customer,
        }
    }

    /// Webhook `i`'s customer and which of the customer's messages it is (0 = the first).
    fn sender_of(&self, i: u64) -> (u64, u64) {
        let block = CUSTOMER_SPREAD * self.messages_per_customer;
        let offset = i % block;
        (
            i / block * CUSTOMER_SPREAD + offset % CUSTOMER_SPREAD,
            offset / CUSTOMER_SPREAD,
        )
    }
}

/// Webhook `i` of a run: a realistic inbound WhatsApp webhook (~700 bytes, escaped non-ASCII
/// as Meta sends it, stamped now so the 24-hour window is open): the customer's first message, a
/// menu answer (second message: a tapped button, or words for one customer in three) or more text.
fn body(phone_number_id: &str, run: u64, traffic: &Traffic, i: u64) -> String {
    let (customer, nth) = traffic.sender_of(i);
    let prefix = traffic.customer_prefix;
    let now = now_ms() / 1000;
    let content = if nth == 1 && customer % 3 != 0 {
        let (id, title) = MENU[(customer % 3) as usize];
        format!(
            r#""type":"interactive","interactive":{{"type":"button_reply","button_reply":{{"id":"{id}","title":"{title}"}}}}"#
        )
    } else {
        format!(
            r#""type":"text","text":{{"body":"Ol\u00e1! Is order #{customer} on its way? \ud83d\ude00 ({nth})"}}"#
        )
    };
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"{phone_number_id}"}},"contacts":[{{"profile":{{"name":"Customer {customer}"}},"wa_id":"{prefix:06}{customer:08}","user_id":"US.{run}{customer}"}}],"messages":[{{"from":"{prefix:06}{customer:08}","from_user_id":"US.{run}{customer}","id":"wamid.LOAD.{run}.{i}","timestamp":"{now}",{content}}}]}}}}]}}]}}"#
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
    traffic: Traffic,
}

impl Sender {
    async fn fire(self, i: u64, scheduled: Instant) {
        let body = body(&self.phone_number_id, self.run, &self.traffic, i);
        let first = self.traffic.sender_of(i).1 == 0;
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
            first,
        });
    }
}

struct Sample {
    latency: Duration,
    ok: bool,
    /// A customer's first message (a new conversation).
    first: bool,
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
    if let Some(address) = args.serve_meta {
        return serve_meta_stand_in(address).await;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let agents = match args.rules {
        Some(rules) => Some(save_rules(&args, &client, rules).await?),
        None => None,
    };
    let stand_in = args.meta_stand_in.as_deref().map(|base| MetaStandIn {
        client: client.clone(),
        base: base.trim_end_matches('/').to_string(),
    });
    let sends_before = match &stand_in {
        Some(stand_in) => Some(stand_in.sends().await?),
        None => None,
    };
    let devices = start_devices(&args, &client).await?;
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::new(Mutex::new(Vec::new()));
    let run = u64::try_from(now_ms()).unwrap_or(0);
    let sender = Sender {
        client: client.clone(),
        secret: AppSecret::new(args.secret.clone()),
        samples: samples.clone(),
        permits: Arc::new(Semaphore::new(args.concurrency)),
        urls: Arc::new(args.urls.clone()),
        phone_number_id: Arc::new(args.phone_number_id.clone()),
        run,
        traffic: Traffic::new(run, args.messages_per_customer),
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
    let automation = match (&stand_in, sends_before) {
        (Some(stand_in), Some(before)) => {
            Some(automation_report(&args, stand_in, before, &samples).await?)
        }
        _ => None,
    };
    if let Some(agents) = agents {
        agents.stop();
    }
    let report = Report {
        samples: &samples,
        accepted,
        elapsed,
        devices,
        automation,
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

/// Waits for the automation's sends (two per new conversation when the rules are on) and
/// reports them.
async fn automation_report(
    args: &Args,
    stand_in: &MetaStandIn,
    before: u64,
    samples: &[Sample],
) -> anyhow::Result<serde_json::Value> {
    let new_conversations = samples.iter().filter(|s| s.ok && s.first).count();
    let expected = if args.rules == Some(Rules::On) {
        2 * new_conversations as u64
    } else {
        0
    };
    let drained = stand_in
        .wait_for_sends(before, expected, Duration::from_secs(args.drain_seconds))
        .await?;
    Ok(drained.report(args.rules, new_conversations, expected))
}

/// The three agents the rules assign to, signed in and kept available while the load runs (a
/// member whose sessions were not seen for 90 s is offline, and nobody offline is assigned).
struct Agents {
    keep_available: tokio::task::JoinHandle<()>,
}

impl Agents {
    fn stop(self) {
        self.keep_available.abort();
    }
}

/// Signs in as the owner, makes sure the three agents exist and are available, and saves the
/// workspace's automation with `enabled` as `rules` says.
async fn save_rules(args: &Args, client: &reqwest::Client, rules: Rules) -> anyhow::Result<Agents> {
    let (Some(email), Some(password)) = (&args.email, &args.password) else {
        anyhow::bail!(
            "--rules needs the workspace's owner: --email and a password (--password or ZENTRO_RELAY_LOAD_PASSWORD)"
        );
    };
    let base = reqwest::Url::parse(&args.urls[0])?;
    let owner = sign_in(
        &Login {
            client,
            base: &base,
            email,
            password,
        },
        0,
    )
    .await?;
    let mut members = Vec::new();
    let mut tokens = Vec::new();
    for n in 1..=3 {
        let (member_id, token) = agent(client, &base, &owner, password, n).await?;
        members.push(member_id);
        tokens.push(token);
    }
    let presence = base.join("/v1/presence")?;
    for token in &tokens {
        set_available(client, &presence, token).await?;
    }
    let current: serde_json::Value = call(client.get(base.join("/v1/automation")?), &owner).await?;
    let setup = rules_setup(rules == Rules::On, &members);
    let body = serde_json::json!({ "expected_version": current["version"], "setup": setup });
    call::<serde_json::Value>(client.put(base.join("/v1/automation")?).json(&body), &owner)
        .await
        .map_err(|e| anyhow::anyhow!("could not save the automation: {e}"))?;
    let client = client.clone();
    let keep_available = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        every.tick().await;
        loop {
            every.tick().await;
            for token in &tokens {
                if let Err(error) = set_available(&client, &presence, token).await {
                    eprintln!("an agent could not stay available: {error}");
                }
            }
        }
    });
    Ok(Agents { keep_available })
}

/// The automation the benchmark runs: open all week (so the result does not depend on the time
/// of day), a greeting, an away message, and a menu of three teams that each assign round robin
/// among the three agents.
fn rules_setup(enabled: bool, members: &[String]) -> serde_json::Value {
    let day = serde_json::json!([{ "start": "00:00", "end": "24:00" }]);
    let teams: Vec<serde_json::Value> = MENU
        .iter()
        .map(|(id, title)| serde_json::json!({ "id": id, "name": title, "members": members, "assignment": "round_robin" }))
        .collect();
    let options: Vec<serde_json::Value> = MENU
        .iter()
        .map(|(id, title)| serde_json::json!({ "id": id, "title": title, "team": id }))
        .collect();
    serde_json::json!({
        "enabled": enabled,
        "hours": { "time_zone": "Europe/Lisbon", "weekly": [day, day, day, day, day, day, day] },
        "teams": teams,
        "greeting": { "text": "Hi! Thanks for writing to Bench & Co. Someone will be with you shortly." },
        "away": { "text": "We are closed now; we answer from 9:00 (Lisbon time)." },
        "menu": {
            "prompt": { "text": "What can we help you with?" },
            "options": options,
            "retry": { "text": "Please choose one of these:" }
        }
    })
}

/// Agent `n` (`bench-agent-<n>@…` beside the owner's address): signed in, or invited and joined
/// on first use → (member id, token).
async fn agent(
    client: &reqwest::Client,
    base: &reqwest::Url,
    owner: &str,
    password: &str,
    n: usize,
) -> anyhow::Result<(String, String)> {
    let email = format!("bench-agent-{n}@example.test");
    let members: serde_json::Value = call(client.get(base.join("/v1/members")?), owner).await?;
    let known = members["members"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["email"] == email.as_str() && m["status"] == "active");
    if let Some(member) = known {
        let login = Login {
            client,
            base,
            email: &email,
            password,
        };
        let token = sign_in(&login, n).await?;
        return Ok((str_field(member, "id")?, token));
    }
    let invite = serde_json::json!({ "email": email, "role": "agent", "display_name": format!("Agent {n}") });
    let invited: serde_json::Value =
        call(client.post(base.join("/v1/members")?).json(&invite), owner).await?;
    let accept = serde_json::json!({ "code": invited["code"], "password": password, "device_name": format!("load agent {n}") });
    let joined: serde_json::Value = client
        .post(base.join("/v1/invitations/accept")?)
        .json(&accept)
        .send()
        .await?
        .error_for_status()
        .map_err(|e| anyhow::anyhow!("agent {n} could not join: {e}"))?
        .json()
        .await?;
    Ok((
        str_field(&joined["member"], "id")?,
        str_field(&joined, "token")?,
    ))
}

/// `PUT /v1/presence` available, as the member whose token it is.
async fn set_available(
    client: &reqwest::Client,
    presence: &reqwest::Url,
    token: &str,
) -> anyhow::Result<()> {
    let body = serde_json::json!({ "status": "available" });
    call::<serde_json::Value>(client.put(presence.clone()).json(&body), token).await?;
    Ok(())
}

/// Sends an authenticated request and reads its JSON answer; an error names the status and
/// the relay's message.
async fn call<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    token: &str,
) -> anyhow::Result<T> {
    let response = request.bearer_auth(token).send().await?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        anyhow::bail!("the relay answered {status}: {text}");
    }
    Ok(response.json().await?)
}

/// A string field of a JSON answer, or an error naming it.
fn str_field(value: &serde_json::Value, name: &str) -> anyhow::Result<String> {
    value[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("the relay's answer had no {name}"))
}

/// The `--serve-meta` stand-in, as the load generator reads it.
struct MetaStandIn {
    client: reqwest::Client,
    base: String,
}

/// What the stand-in received after a load.
struct Drained {
    /// Sends that arrived while the load ran.
    during_load: u64,
    /// All sends of this run (during the load and after).
    total: u64,
    /// From the load's end to the last send (`None`: not all expected sends came in time).
    seconds_after_load: Option<f64>,
}

impl MetaStandIn {
    /// Sends the stand-in accepted so far.
    async fn sends(&self) -> anyhow::Result<u64> {
        let counts: serde_json::Value = self
            .client
            .get(format!("{}/bench/sends", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        counts["sends"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("the stand-in's answer had no sends"))
    }

    /// Waits (at most `limit`) until at least `expected` sends arrived after `before` and no
    /// more came for 3 s (the automation also answers unrecognised menu answers).
    async fn wait_for_sends(
        &self,
        before: u64,
        expected: u64,
        limit: Duration,
    ) -> anyhow::Result<Drained> {
        let load_ended = Instant::now();
        let during_load = self.sends().await?.saturating_sub(before);
        let (mut last_count, mut last_change) = (during_load, load_ended);
        loop {
            let count = self.sends().await?.saturating_sub(before);
            if count != last_count {
                (last_count, last_change) = (count, Instant::now());
            }
            let quiet = last_change.elapsed() >= Duration::from_secs(3);
            if count >= expected && quiet {
                return Ok(Drained {
                    during_load,
                    total: count,
                    seconds_after_load: Some((last_change - load_ended).as_secs_f64()),
                });
            }
            if load_ended.elapsed() >= limit {
                return Ok(Drained {
                    during_load,
                    total: count,
                    seconds_after_load: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drained {
    fn report(
        &self,
        rules: Option<Rules>,
        new_conversations: usize,
        expected: u64,
    ) -> serde_json::Value {
        serde_json::json!({
            "rules": rules.map(|r| if r == Rules::On { "on" } else { "off" }),
            "new_conversations": new_conversations,
            "expected_sends_at_least": expected,
            "sends_during_load": self.during_load,
            "sends": self.total,
            "drained_seconds_after_load": self.seconds_after_load,
        })
    }
}

/// Serves the Graph API stand-in on `address` until stopped: every `POST …/messages` with a
/// bearer token is accepted as Meta accepts a send (`{"messages":[{"id":"wamid…"}]}`) and
/// counted; anything else is refused as Meta refuses an unknown call (and counted too).
async fn serve_meta_stand_in(address: std::net::SocketAddr) -> anyhow::Result<()> {
    let counts = Arc::new(SendCounts::default());
    let app = axum::Router::new()
        .route("/bench/sends", axum::routing::get(read_counts))
        .fallback(answer_like_meta)
        .with_state(counts);
    let listener = tokio::net::TcpListener::bind(address).await?;
    eprintln!("the Graph API stand-in listens on http://{address}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// What the stand-in received.
#[derive(Default)]
struct SendCounts {
    text: std::sync::atomic::AtomicU64,
    interactive: std::sync::atomic::AtomicU64,
    other: std::sync::atomic::AtomicU64,
    refused: std::sync::atomic::AtomicU64,
}

async fn read_counts(
    axum::extract::State(counts): axum::extract::State<Arc<SendCounts>>,
) -> axum::Json<serde_json::Value> {
    use std::sync::atomic::Ordering::Relaxed;
    let (text, interactive, other) = (
        counts.text.load(Relaxed),
        counts.interactive.load(Relaxed),
        counts.other.load(Relaxed),
    );
    axum::Json(
        serde_json::json!({ "sends": text + interactive + other, "text": text,
        "interactive": interactive, "other": other, "refused": counts.refused.load(Relaxed) }),
    )
}

async fn answer_like_meta(
    axum::extract::State(counts): axum::extract::State<Arc<SendCounts>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: bytes::Bytes,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    use std::sync::atomic::Ordering::Relaxed;
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 27);
    let send: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let (true, true, Some(send)) = (
        method == axum::http::Method::POST && uri.path().ends_with("/messages"),
        authorized,
        send,
    ) else {
        counts.refused.fetch_add(1, Relaxed);
        let error = serde_json::json!({ "error": { "message": "Unsupported request (the benchmark's stand-in only accepts sends)",
            "type": "GraphMethodException", "code": 100 } });
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(error));
    };
    let counter = match send["type"].as_str() {
        Some("text") => &counts.text,
        Some("interactive") => &counts.interactive,
        _ => &counts.other,
    };
    let n = counter.fetch_add(1, Relaxed);
    let to = send["to"].clone();
    (
        axum::http::StatusCode::OK,
        axum::Json(serde_json::json!({ "messaging_product": "whatsapp",
            "contacts": [{ "input": to, "wa_id": to }],
            "messages": [{ "id": format!("wamid.STANDIN.{}.{n}", send["type"].as_str().unwrap_or("other")),
                "message_status": "accepted" }] })),
    )
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
    /// The automation's sends during and after the load (with `--meta-stand-in`).
    automation: Option<serde_json::Value>,
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
                "devices": self.devices, "automation": self.automation })
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
        if let Some(automation) = &self.automation {
            println!(
                "automation     rules {}; {} new conversations; {} sends during the load, {} in all (at least {} expected); last {} s after the load",
                automation["rules"],
                automation["new_conversations"],
                automation["sends_during_load"],
                automation["sends"],
                automation["expected_sends_at_least"],
                automation["drained_seconds_after_load"]
            );
        }
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
