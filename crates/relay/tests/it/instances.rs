//! Two `zentro-relay serve` processes on one PostgreSQL database, devices on each (ADR 0012 §2–§4,
//! §9, §10): one order for every device whichever instance it streams from, wake-ups across
//! instances, kill -9 of one instance, and a database restart under load. They run only when the
//! suite runs on PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use zentro_meta::AppSecret;
use zentro_meta::signature::sign_webhook;

use crate::crash::{cli, serve, wait_healthy};
use crate::stream::Sse;
use crate::support::{PASSWORD, SECRET, call_at, fresh_database, on_postgres, wa_text};

const OWNER: &str = "owner@acme.test";
const PHONE: &str = "P1";
const POSTGRES_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres.sh");

/// `true` (after saying so) when the suite does not run on PostgreSQL: the test should return.
fn skipped() -> bool {
    let skip = !on_postgres();
    if skip {
        eprintln!("SKIPPED: needs PostgreSQL (two instances share one database)");
    }
    skip
}

/// One `zentro-relay serve` process on its own data directory and port (the database is what
/// instances share); killed with SIGKILL when dropped, so a failing test leaves none behind.
struct Instance {
    base: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Instance {
    /// Serves the database `url` on a free port, once `/healthz` answers 200.
    async fn start(url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let instance = Self {
            base: format!("http://127.0.0.1:{port}"),
            child: serve(dir.path(), Some(url), port),
            _dir: dir,
        };
        wait_healthy(&instance.base).await;
        instance
    }

    /// kill -9: no shutdown, no flush, connections to the database simply vanish.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace Acme (owner [`OWNER`]) and its WhatsApp channel [`PHONE`] in the database `url`,
/// made with the CLI as an operator would.
fn create_workspace(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "workspace",
        "create",
        "--name",
        "Acme",
        "--owner-email",
        OWNER,
    ];
    let workspace = cli(dir.path(), Some(url), &args, Some(PASSWORD));
    assert_eq!(
        workspace.len(),
        32,
        "stdout carries only the id: {workspace:?}"
    );
    let args = [
        "channel",
        "add",
        "--workspace",
        &workspace,
        "--kind",
        "whatsapp",
    ];
    let args = [&args[..], &["--external-id", PHONE]].concat();
    cli(dir.path(), Some(url), &args, None);
}

/// A fresh database on the test server, with the workspace; its URL.
async fn fresh_workspace() -> String {
    let url = fresh_database().await.expect("on PostgreSQL");
    create_workspace(&url);
    url
}

/// Signs the owner in at `base` as a device named `device`; its token.
async fn sign_in(base: &str, device: &str) -> String {
    let body = json!({ "email": OWNER, "password": PASSWORD, "device_name": device });
    let (status, session) = call_at(base, None, "POST", "/v1/sessions", body).await;
    assert_eq!(status, 201, "sign-in at {base}: {session}");
    session["token"].as_str().unwrap().to_string()
}

/// POSTs a signed WhatsApp text `wamid` to `base` as Meta does; the status, `None` when no
/// answer came (refused, reset, timed out).
async fn post_webhook(client: &reqwest::Client, base: &str, wamid: &str) -> Option<u16> {
    let body = wa_text(PHONE, wamid, "hello").to_string();
    let signature = sign_webhook(&AppSecret::new(SECRET), body.as_bytes());
    let request = client
        .post(format!("{base}/webhooks/meta"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body);
    request.send().await.ok().map(|r| r.status().as_u16())
}

/// A client whose requests give up after `seconds`.
fn client(seconds: u64) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(seconds))
        .build()
        .unwrap()
}

/// The whole log as the device holding `token` reads it from `base`, page after page.
async fn read_log(base: &str, token: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let path = format!("/v1/events?after={after}&limit=500");
        let (status, page) = call_at(base, Some(token), "GET", &path, Value::Null).await;
        assert_eq!(status, 200, "{page}");
        let batch = page["events"].as_array().unwrap().clone();
        if batch.is_empty() {
            return events;
        }
        after = page["next_after"].as_i64().unwrap();
        events.extend(batch);
    }
}

/// What tells events apart here: a webhook's wamid, a team event's kind and label.
fn identity(event: &Value) -> String {
    let wamid = event["payload"].pointer("/entry/0/changes/0/value/messages/0/id");
    match wamid.and_then(Value::as_str) {
        Some(wamid) => wamid.to_string(),
        None => format!(
            "{}:{}",
            event["kind"].as_str().unwrap_or_default(),
            event["payload"]["label"].as_str().unwrap_or_default()
        ),
    }
}

/// Checks events as a device got them: seqs 1, 2, 3… with no gap and no repeat; how many times
/// each identity occurs.
fn counted(events: &[Value], device: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        let expected = i as i64 + 1;
        assert_eq!(
            event["seq"].as_i64(),
            Some(expected),
            "{device}: seq {} where {expected} belongs: a gap, a repeat or a reordering",
            event["seq"]
        );
        *counts.entry(identity(event)).or_default() += 1;
    }
    counts
}

/// A device following the stream at `base` from the start; what it received, in order.
fn follow(base: String, token: String) -> (Arc<Mutex<Vec<Value>>>, JoinHandle<()>) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let task = tokio::spawn(async move {
        let mut stream = Sse::open(&base, &token, Some(0), None).await;
        while let Some((id, data)) = stream.next().await {
            assert_eq!(data["seq"], id, "the SSE id is the event's seq");
            sink.lock().unwrap().push(data);
        }
    });
    (received, task)
}

/// Waits (at most `seconds`) until `done()` holds, saying `what` if it never does.
async fn wait_until(seconds: u64, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "not within {seconds} s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const SENDERS: usize = 4;
const WEBHOOKS_PER_SENDER: usize = 100;
const TEAM_EVENTS_PER_INSTANCE: usize = 50;
const TWICE: usize = 50;

/// Posts `wamid.S.I` for I in 0..[`WEBHOOKS_PER_SENDER`], alternating between the instances;
/// each must be accepted. The wamids sent.
async fn send_webhooks(bases: [String; 2], s: usize) -> Vec<(String, Option<i64>)> {
    let client = client(10);
    let mut sent = Vec::new();
    for i in 0..WEBHOOKS_PER_SENDER {
        let wamid = format!("wamid.{s}.{i}");
        let base = &bases[(s + i) % 2];
        assert_eq!(
            post_webhook(&client, base, &wamid).await,
            Some(200),
            "{wamid} at {base}"
        );
        sent.push((wamid, None));
    }
    sent
}

/// Posts each of `wamid.twice.I` to both instances at the same moment (Meta redelivering while
/// the first delivery is still in flight): both must answer 200, and the log holds it once (the
/// dedup check runs after the workspace's lock, so it sees the other instance's commit instead
/// of failing the batch on the unique key).
async fn send_each_to_both_at_once(bases: [String; 2]) -> Vec<(String, Option<i64>)> {
    let client = client(10);
    let mut sent = Vec::new();
    for i in 0..TWICE {
        let wamid = format!("wamid.twice.{i}");
        let (on_a, on_b) = tokio::join!(
            post_webhook(&client, &bases[0], &wamid),
            post_webhook(&client, &bases[1], &wamid)
        );
        assert_eq!(
            (on_a, on_b),
            (Some(200), Some(200)),
            "{wamid} posted to both at once"
        );
        sent.push((wamid, None));
    }
    sent
}

/// Publishes team events (labels `label-T-I`) through `base` as the device holding `token`; each
/// must be accepted. Their identities and the seqs the relay answered.
async fn publish_team_events(base: String, token: String, t: usize) -> Vec<(String, Option<i64>)> {
    let conversation =
        json!({ "channel_kind": "whatsapp", "channel_external_id": PHONE, "customer_id": "US.1" });
    let mut sent = Vec::new();
    for i in 0..TEAM_EVENTS_PER_INSTANCE {
        let label = format!("label-{t}-{i}");
        let payload = json!({ "type": "labeled", "conversation": conversation, "label": label, "added": true });
        let body = json!({ "kind": "team.labeled", "payload": payload, "idempotency_key": format!("key-{t}-{i}") });
        let (status, answer) = call_at(&base, Some(&token), "POST", "/v1/events", body).await;
        assert_eq!(status, 201, "{label} at {base}: {answer}");
        sent.push((format!("team.labeled:{label}"), answer["seq"].as_i64()));
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_one_order_to_devices_on_both() {
    if skipped() {
        return;
    }
    let url = fresh_workspace().await;
    let (a, b) = (Instance::start(&url).await, Instance::start(&url).await);
    let (token_a, token_b) = (
        sign_in(&a.base, "on A").await,
        sign_in(&b.base, "on B").await,
    );
    let (on_a, following_a) = follow(a.base.clone(), token_a.clone());
    let (on_b, following_b) = follow(b.base.clone(), token_b.clone());

    // Several senders, alternating between the instances, and devices writing through both.
    let bases = [a.base.clone(), b.base.clone()];
    let mut writers: Vec<_> = (0..SENDERS)
        .map(|s| tokio::spawn(send_webhooks(bases.clone(), s)))
        .collect();
    writers.push(tokio::spawn(send_each_to_both_at_once(bases.clone())));
    for (t, (base, token)) in [(&a.base, &token_a), (&b.base, &token_b)]
        .into_iter()
        .enumerate()
    {
        writers.push(tokio::spawn(publish_team_events(
            base.clone(),
            token.clone(),
            t,
        )));
    }
    let mut sent = Vec::new();
    for writer in writers {
        sent.extend(writer.await.unwrap());
    }
    let total = sent.len();
    let expected = format!("{total} events on both streams");
    wait_until(60, &expected, || on_a.lock().unwrap().len() >= total).await;
    wait_until(60, &expected, || on_b.lock().unwrap().len() >= total).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // a repeat would have arrived by now
    following_a.abort();
    following_b.abort();

    let on_a = on_a.lock().unwrap().clone();
    let on_b = on_b.lock().unwrap().clone();
    assert_eq!(
        (on_a.len(), on_b.len()),
        (total, total),
        "each event once on each stream"
    );
    let counts = counted(&on_a, "device on A");
    counted(&on_b, "device on B");
    let order = |events: &[Value]| events.iter().map(identity).collect::<Vec<_>>();
    assert_eq!(
        order(&on_a),
        order(&on_b),
        "the same seq → event on both instances"
    );
    for (identity, seq) in &sent {
        assert_eq!(counts.get(identity), Some(&1), "{identity} exactly once");
        if let Some(seq) = seq {
            assert_eq!(
                &order(&on_a)[*seq as usize - 1],
                identity,
                "the seq answered"
            );
        }
    }
    println!("{total} events through two instances, one order on both streams");
}

/// How many webhooks the wake-up test times.
const ROUNDS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_on_one_instance_wakes_streams_on_the_other_at_once() {
    if skipped() {
        return;
    }
    let url = fresh_workspace().await;
    let (a, b) = (Instance::start(&url).await, Instance::start(&url).await);
    let token = sign_in(&b.base, "on B").await;
    let mut stream = Sse::open(&b.base, &token, Some(0), None).await;
    let client = client(10);

    // Not timed: the first crossing, once both instances and the stream are up.
    assert_eq!(post_webhook(&client, &a.base, "wamid.0").await, Some(200));
    assert_eq!(identity(&stream.next().await.unwrap().1), "wamid.0");

    let mut delays = Vec::new();
    for i in 1..=ROUNDS {
        let wamid = format!("wamid.{i}");
        let posted = Instant::now();
        assert_eq!(post_webhook(&client, &a.base, &wamid).await, Some(200));
        let (seq, event) = stream.next().await.expect("the stream stays open");
        delays.push(posted.elapsed()); // from the post to A, commit included
        assert_eq!((seq, identity(&event)), (i as i64 + 1, wamid));
    }
    delays.sort();
    let median = delays[ROUNDS / 2];
    let p99 = delays[(ROUNDS * 99).div_ceil(100) - 1];
    println!(
        "post to A → event on B's stream: median {median:?}, p99 {p99:?}, max {:?} ({ROUNDS} webhooks)",
        delays[ROUNDS - 1]
    );
    assert!(
        delays[ROUNDS - 1] < Duration::from_secs(1),
        "every wake-up beats the 2 s fallback poll by far: {delays:?}"
    );
    assert!(
        median < Duration::from_millis(200),
        "woken, not polled: {delays:?}"
    );
}

/// What the senders of the kill -9 test record: every wamid an instance answered 200, the ones
/// that needed a retry on the other instance, and when to stop.
#[derive(Default)]
struct Ledger {
    answered: Mutex<HashSet<String>>,
    retried: Mutex<HashSet<String>>,
    stop: AtomicBool,
}

impl Ledger {
    fn len(&self) -> usize {
        self.answered.lock().unwrap().len()
    }
}

/// Posts `wamid` to instance `first`, and after a failure or a refusal to the other one, and so
/// on (as a load balancer retries, and as Meta redelivers), until one answers 200.
async fn deliver(
    client: &reqwest::Client,
    bases: &[String; 2],
    first: usize,
    wamid: &str,
    ledger: &Ledger,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for attempt in 0.. {
        if post_webhook(client, &bases[(first + attempt) % 2], wamid).await == Some(200) {
            ledger.answered.lock().unwrap().insert(wamid.to_string());
            if attempt > 0 {
                ledger.retried.lock().unwrap().insert(wamid.to_string());
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no instance accepted {wamid} in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends distinct webhooks (`wamid.S.I`), alternating between the instances, until told to stop.
async fn send_until_stopped(bases: [String; 2], s: usize, ledger: Arc<Ledger>) {
    let client = client(5);
    for i in 0.. {
        if ledger.stop.load(SeqCst) {
            return;
        }
        deliver(
            &client,
            &bases,
            (s + i) % 2,
            &format!("wamid.{s}.{i}"),
            &ledger,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_one_instance_loses_nothing_it_acknowledged() {
    if skipped() {
        return;
    }
    let url = fresh_workspace().await;
    let (mut a, b) = (Instance::start(&url).await, Instance::start(&url).await);
    let ledger = Arc::new(Ledger::default());
    let bases = [a.base.clone(), b.base.clone()];
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| tokio::spawn(send_until_stopped(bases.clone(), s, ledger.clone())))
        .collect();

    wait_until(60, "300 webhooks answered 200 before the kill", || {
        ledger.len() >= 300
    })
    .await;
    assert!(
        senders.iter().all(|s| !s.is_finished()),
        "the senders post through the kill"
    );
    a.kill_9();
    let at_kill = ledger.len();
    wait_until(60, "200 more answered after the kill", || {
        ledger.len() >= at_kill + 200
    })
    .await;
    ledger.stop.store(true, SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }
    let answered = ledger.answered.lock().unwrap().clone();
    // Meta redelivers some of what either instance had acknowledged.
    for wamid in answered.iter().take(20) {
        assert_eq!(post_webhook(&client(10), &b.base, wamid).await, Some(200));
    }

    assert_log_holds_exactly(&b.base, &answered).await;
    let retried = ledger.retried.lock().unwrap().len();
    println!(
        "{} answered 200 ({at_kill} before the kill, {retried} after a retry on the other instance); each once in the log",
        answered.len()
    );
}

/// Runs `scripts/postgres.sh COMMAND DIR`; its stdout (the URL, for `start`).
fn postgres_sh(command: &str, dir: &Path) -> String {
    let out = Command::new("bash")
        .arg(POSTGRES_SH)
        .arg(command)
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "postgres.sh {command}: {stderr}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A PostgreSQL server of this test's own (it is restarted), stopped when dropped.
struct PostgresServer {
    url: String,
    dir: tempfile::TempDir,
}

impl PostgresServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = postgres_sh("start", dir.path());
        Self { url, dir }
    }

    /// `postgres.sh stop` (a fast shutdown: sessions are ended, open transactions roll back).
    async fn stop(&self) {
        let dir = self.dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || postgres_sh("stop", &dir))
            .await
            .unwrap();
    }

    /// Starts the stopped server again, on its data.
    async fn start_again(&self) {
        let dir = self.dir.path().to_path_buf();
        let url = tokio::task::spawn_blocking(move || postgres_sh("start", &dir))
            .await
            .unwrap();
        assert_eq!(url, self.url, "the server comes back where it was");
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(POSTGRES_SH)
            .arg("stop")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Where the database restart test is: the server up (0, the start), down (between `stop`
/// returning and `start` beginning), or coming back.
const DOWN: u8 = 1;
const BACK: u8 = 2;

/// What the database restart test saw: every answer with the phase it arrived in.
#[derive(Default)]
struct Outage {
    phase: AtomicU8,
    /// (phase, "webhook" or "healthz", status; `None`: no answer).
    answers: Mutex<Vec<(u8, &'static str, Option<u16>)>>,
    ledger: Mutex<HashSet<String>>,
    stop: AtomicBool,
}

impl Outage {
    fn saw(&self, what: &'static str, status: Option<u16>) {
        let phase = self.phase.load(SeqCst);
        self.answers.lock().unwrap().push((phase, what, status));
    }

    /// The statuses of `what` answered while the server was down.
    fn while_down(&self, what: &str) -> Vec<Option<u16>> {
        let answers = self.answers.lock().unwrap();
        answers
            .iter()
            .filter(|a| a.0 == DOWN && a.1 == what)
            .map(|a| a.2)
            .collect()
    }

    fn accepted(&self) -> usize {
        self.ledger.lock().unwrap().len()
    }
}

/// Sends distinct webhooks to `base` until told to stop, each retried (as Meta redelivers) until
/// answered 200.
async fn send_through_outage(base: String, s: usize, outage: Arc<Outage>) {
    let client = client(15);
    for i in 0.. {
        if outage.stop.load(SeqCst) {
            return;
        }
        let wamid = format!("wamid.{s}.{i}");
        loop {
            let status = post_webhook(&client, &base, &wamid).await;
            outage.saw("webhook", status);
            if status == Some(200) {
                outage.ledger.lock().unwrap().insert(wamid);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Asks `/healthz` every 100 ms until told to stop.
async fn poll_health(base: String, outage: Arc<Outage>) {
    let client = client(15);
    while !outage.stop.load(SeqCst) {
        let answer = client.get(format!("{base}/healthz")).send().await;
        outage.saw("healthz", answer.ok().map(|r| r.status().as_u16()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_under_load_answers_503_then_recovers() {
    if skipped() {
        return;
    }
    let server = PostgresServer::start();
    create_workspace(&server.url);
    let relay = Instance::start(&server.url).await;
    let outage = Arc::new(Outage::default());
    let mut tasks: Vec<_> = (0..3)
        .map(|s| tokio::spawn(send_through_outage(relay.base.clone(), s, outage.clone())))
        .collect();
    tasks.push(tokio::spawn(poll_health(
        relay.base.clone(),
        outage.clone(),
    )));

    wait_until(60, "100 webhooks answered 200 before the restart", || {
        outage.accepted() >= 100
    })
    .await;
    server.stop().await;
    outage.phase.store(DOWN, SeqCst);
    let before = outage.accepted();
    tokio::time::sleep(Duration::from_secs(6)).await;
    outage.phase.store(BACK, SeqCst);
    server.start_again().await;
    let restarted = Instant::now();
    wait_healthy(&relay.base).await; // by itself: the relay is not restarted
    let healthy_after = restarted.elapsed();
    let back = outage.accepted();
    wait_until(
        60,
        "100 more webhooks answered 200 after the restart",
        || outage.accepted() >= back + 100,
    )
    .await;
    outage.stop.store(true, SeqCst);
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .unwrap()
            .unwrap();
    }

    let webhooks_down = outage.while_down("webhook");
    let health_down = outage.while_down("healthz");
    println!(
        "{before} accepted before the outage; while down {} webhook answers {:?}, {} healthz answers; healthy {healthy_after:?} after the restart; {} accepted in all",
        webhooks_down.len(),
        webhooks_down.iter().collect::<HashSet<_>>(),
        health_down.len(),
        outage.accepted()
    );
    assert!(
        !webhooks_down.is_empty(),
        "webhooks were answered during the outage"
    );
    assert!(
        webhooks_down.iter().all(|s| *s == Some(503)),
        "503, never 200: {webhooks_down:?}"
    );
    assert!(
        health_down.contains(&Some(503)),
        "/healthz said so: {health_down:?}"
    );
    assert!(
        !health_down.contains(&Some(200)),
        "/healthz never 200 while down: {health_down:?}"
    );
    let answered = outage.ledger.lock().unwrap().clone();
    assert_log_holds_exactly(&relay.base, &answered).await;
}

/// A device reading the whole log from `base` finds every wamid of `answered` exactly once, and
/// nothing else (every post was retried until answered 200).
async fn assert_log_holds_exactly(base: &str, answered: &HashSet<String>) {
    let token = sign_in(base, "auditor").await;
    let counts = counted(&read_log(base, &token).await, "auditor");
    for wamid in answered {
        assert_eq!(
            counts.get(wamid),
            Some(&1),
            "{wamid} was answered 200: once in the log"
        );
    }
    assert!(counts.values().all(|&n| n == 1), "no event is duplicated");
    assert_eq!(
        counts.len(),
        answered.len(),
        "nothing in the log that was not answered 200"
    );
}
