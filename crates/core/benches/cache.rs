//! Cache benchmark: a cache of 1,000,000 messages in 50,000 conversations, then the operations
//! the inbox does all day. Run with `cargo bench -p zentro-core --bench cache` (figures in
//! docs/benchmarks.md). The generated cache is kept in target/bench-cache and reused. Reports over
//! 90 days and a year read the rollups its triggers kept; applying is measured with the rollups
//! kept and without them.
#![allow(clippy::unwrap_used)] // a benchmark fails loudly

use std::time::{Duration, Instant};

use serde_json::json;
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch};
use zentro_core::inbox;
use zentro_core::reports;

const CONVERSATIONS: i64 = 50_000;
const PER_CONVERSATION: i64 = 20;
const BASE: i64 = 1_750_000_000_000;
const WORDS: &[&str] = &[
    "order",
    "refund",
    "delivery",
    "address",
    "invoice",
    "payment",
    "blue",
    "red",
    "size",
    "medium",
    "large",
    "return",
    "exchange",
    "shipping",
    "tracking",
    "number",
    "thanks",
    "hello",
    "please",
    "today",
    "tomorrow",
    "week",
    "store",
    "open",
    "closed",
    "price",
    "discount",
    "coupon",
    "broken",
    "missing",
    "package",
    "courier",
    "warranty",
    "receipt",
    "cancel",
    "subscription",
    "account",
    "password",
    "login",
    "photo",
];

fn sentence(seed: u64) -> String {
    // Used for the events applied at the end.
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..rng.usize(4..14))
        .map(|_| WORDS[rng.usize(..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Generates the cache inside SQLite (recursive CTEs), so a million rows take seconds, not a
/// million round trips. The cache's triggers fill the search index and conversation summaries.
async fn generate(cache: &Cache) {
    let started = Instant::now();
    let mut tx = cache.pool().begin().await.unwrap();
    let words = WORDS
        .iter()
        .map(|w| format!("('{w}')"))
        .collect::<Vec<_>>()
        .join(", ");
    let statements = [
        "CREATE TEMP TABLE words (w TEXT)".to_string(),
        format!("INSERT INTO words (w) VALUES {words}"),
        "CREATE TEMP TABLE wl AS SELECT row_number() OVER () - 1 AS k, w FROM words".to_string(),
        "INSERT INTO channels (id, kind, external_id, created_at) VALUES ('whatsapp:P1', 'whatsapp', 'P1', 0)".to_string(),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {CONVERSATIONS})
             INSERT INTO contacts (id, channel_id, external_id, display_name, phone, created_at)
             SELECT i, 'whatsapp:P1', 'US.' || i, 'Customer ' || i, printf('1650%07d', i), 0 FROM n"
        ),
        format!(
            "INSERT INTO conversations (id, contact_id, last_activity_at, last_inbound_at, created_at, last_message_preview)
             SELECT id, id, {BASE} + id * 60000 + {PER_CONVERSATION} * 1000, {BASE} + id * 60000 + {PER_CONVERSATION} * 1000, {BASE}, 'hello' FROM contacts"
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total})
             INSERT INTO messages (id, conversation_id, external_id, direction, kind, body, sent_at)
             SELECT i, (i - 1) / {PER_CONVERSATION} + 1, 'wamid.B' || i, CASE WHEN i % 2 THEN 'inbound' ELSE 'outbound' END, 'text',
                    (SELECT w FROM wl WHERE k = (i * 7) % 40) || ' ' || (SELECT w FROM wl WHERE k = (i * 13) % 40) || ' ' ||
                    (SELECT w FROM wl WHERE k = (i * 31) % 40) || ' ' || (SELECT w FROM wl WHERE k = (i * 17 / 3) % 40) || ' ' ||
                    (SELECT w FROM wl WHERE k = (i / 40) % 40) || ' ' || (SELECT w FROM wl WHERE k = (i * 3 + 11) % 40) || ' number ' || (i % 9973),
                    {BASE} + ((i - 1) / {PER_CONVERSATION} + 1) * 60000 + ((i - 1) % {PER_CONVERSATION}) * 1000
             FROM n",
            total = CONVERSATIONS * PER_CONVERSATION
        ),
    ];
    for sql in statements {
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("INSERT INTO search_index (search_index) VALUES ('optimize')")
        .execute(cache.pool())
        .await
        .unwrap();
    sqlx::query("PRAGMA optimize")
        .execute(cache.pool())
        .await
        .unwrap();
    eprintln!(
        "generated {} messages in {CONVERSATIONS} conversations in {:.1?}",
        CONVERSATIONS * PER_CONVERSATION,
        started.elapsed()
    );
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let at = |p: f64| {
        samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
    };
    println!(
        "{name:<44} n={:<5} p50 {:>8.3} ms   p95 {:>8.3} ms   max {:>8.3} ms",
        samples.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}

#[tokio::main]
async fn main() {
    // `ZENTRO_BENCH_CACHE_DIR` generates (or reuses) the cache elsewhere, e.g. in an app's data
    // directory; with `ZENTRO_BENCH_GENERATE_ONLY=1` the benchmark stops once the cache is there
    // (scripts/bench-footprint.sh seeds the desk's cache this way).
    let dir = std::env::var_os("ZENTRO_BENCH_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-cache")
        });
    let fresh = !dir.join("cache.sqlite").exists();
    {
        let cache = Cache::open_in(&dir).await.unwrap();
        let have: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(cache.pool())
            .await
            .unwrap();
        if fresh || have < CONVERSATIONS * PER_CONVERSATION {
            sqlx::query("DELETE FROM search_index")
                .execute(cache.pool())
                .await
                .unwrap();
            sqlx::query("DELETE FROM channels")
                .execute(cache.pool())
                .await
                .unwrap();
            generate(&cache).await;
        }
        cache.close().await;
    }
    if std::env::var_os("ZENTRO_BENCH_GENERATE_ONLY").is_some_and(|v| v == "1") {
        return;
    }

    // `ZENTRO_BENCH_ONLY=reports` runs only the reports (`ZENTRO_BENCH_REPORT_RUNS` times each,
    // 20 by default), e.g. under `perf record`; `apply` only the apply rounds.
    let only = std::env::var("ZENTRO_BENCH_ONLY").unwrap_or_default();
    if only == "reports" {
        let cache = Cache::open_in(&dir).await.unwrap();
        bench_reports(&cache).await;
        cache.close().await;
        return;
    }
    if only == "apply" {
        apply_rounds(&dir).await;
        return;
    }
    if only == "audience" {
        bench_audience(&dir).await;
        return;
    }

    // Open: migrations check + the first inbox page, as the app does at start.
    let mut opens = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let cache = Cache::open_in(&dir).await.unwrap();
        let page = inbox::conversations(&cache, None, 50).await.unwrap();
        opens.push(started.elapsed());
        assert_eq!(page.len(), 50);
        cache.close().await;
    }
    summary("open + first inbox page (50)", opens);

    let cache = Cache::open_in(&dir).await.unwrap();
    let mut rng = fastrand::Rng::with_seed(42);
    let base = BASE;

    let mut pages = Vec::new();
    for _ in 0..300 {
        let c = rng.i64(51..CONVERSATIONS);
        let key = (base + c * 60_000 + PER_CONVERSATION * 1000, c);
        let started = Instant::now();
        let page = inbox::conversations(&cache, Some(key), 50).await.unwrap();
        pages.push(started.elapsed());
        assert!(!page.is_empty());
    }
    summary("inbox page (50, any depth, by key)", pages);

    let mut opens = Vec::new();
    for _ in 0..300 {
        let c = rng.i64(1..=CONVERSATIONS);
        let started = Instant::now();
        let messages = inbox::messages(&cache, c, None, 50).await.unwrap();
        opens.push(started.elapsed());
        assert!(messages.len() as i64 >= PER_CONVERSATION);
    }
    summary("open conversation (last 50 messages)", opens);

    let mut searches = Vec::new();
    for i in 0..300 {
        let a = WORDS[rng.usize(..WORDS.len())];
        let b = WORDS[rng.usize(..WORDS.len())];
        let query = match i % 3 {
            0 => a[..3].to_string(),                      // typing the first letters
            1 => format!("{a} {}", &b[..b.len().min(4)]), // two words, the last a prefix
            _ => format!("Customer {}", rng.i64(1..CONVERSATIONS)),
        };
        let started = Instant::now();
        let _ = inbox::search(&cache, &query, 20).await.unwrap();
        searches.push(started.elapsed());
    }
    summary("search as you type (top 20 conversations)", searches);

    bench_reports(&cache).await;
    cache.close().await;
    bench_audience(&dir).await;
    apply_rounds(&dir).await;
}

/// A broadcast campaign's audience (issue 24) over the 50,000 customers of the generated cache,
/// on a copy given labels (`espresso` on every 3rd conversation, `beans` on every 5th, one on
/// the customer for every 7th), consent records (5 in 6 opted in, 1 in 50 opted out later) and 1 % of customers restricted: the count, sample and exclusions the page asks for
/// on every change of a filter, and the full recipient list a campaign hands the relay.
async fn bench_audience(dir: &std::path::Path) {
    use zentro_core::audience::{self, AttributeEquals, AudienceFilter, LabelMatch, LastActivity};
    let scratch = dir.join("audience");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::copy(dir.join("cache.sqlite"), scratch.join("cache.sqlite")).unwrap();
    let cache = Cache::open_in(&scratch).await.unwrap();
    for sql in [
        "INSERT INTO labels (id, name) VALUES (1, 'espresso'), (2, 'beans')",
        "INSERT INTO conversation_labels (conversation_id, label_id) SELECT id, 1 FROM conversations WHERE id % 3 = 0",
        "INSERT INTO conversation_labels (conversation_id, label_id) SELECT id, 2 FROM conversations WHERE id % 5 = 0",
        "INSERT INTO contact_labels (contact_id, label_id) SELECT id, 1 FROM contacts WHERE id % 7 = 0",
        "INSERT INTO consent_records (seq, contact_id, opted_in, source, at) SELECT id, id, 1, 'form', 0 FROM contacts WHERE id % 6 <> 0",
        "INSERT INTO consent_records (seq, contact_id, opted_in, source, at) SELECT 100000 + id, id, 0, 'keyword', 0 FROM contacts WHERE id % 50 = 1",
        "UPDATE contacts SET restricted = 1 WHERE id % 100 = 7",
        "UPDATE contacts SET attributes = json_object('city', CASE WHEN id % 4 = 0 THEN 'Lisbon' ELSE 'Porto' END)",
        "ANALYZE",
    ] {
        sqlx::query(sql).execute(cache.pool()).await.unwrap();
    }
    let everyone = AudienceFilter {
        channel_id: "whatsapp:P1".into(),
        labels: Vec::new(),
        label_match: LabelMatch::Any,
        attributes: Vec::new(),
        last_activity: None,
    };
    let filters = [
        ("audience: everyone (50,000)", everyone.clone()),
        (
            "audience: espresso or beans",
            AudienceFilter {
                labels: vec!["espresso".into(), "beans".into()],
                ..everyone.clone()
            },
        ),
        (
            "audience: espresso and beans, city, 30 days",
            AudienceFilter {
                labels: vec!["espresso".into(), "beans".into()],
                label_match: LabelMatch::All,
                attributes: vec![AttributeEquals {
                    key: "city".into(),
                    value: "Lisbon".into(),
                }],
                last_activity: Some(LastActivity::WithinDays { days: 30 }),
                ..everyone.clone()
            },
        ),
    ];
    // The generated history ends 35 days after BASE; "now" is the day after it.
    let now = BASE + 36 * 86_400_000;
    for (name, filter) in &filters {
        let mut samples = Vec::new();
        let cpu_before = cpu_time();
        for _ in 0..20 {
            let started = Instant::now();
            let found = audience::evaluate(&cache, filter, true, "Europe/Berlin", now)
                .await
                .unwrap();
            samples.push(started.elapsed());
            assert!(found.eligible > 0);
        }
        let cpu = cpu_time().zip(cpu_before).map(|(a, b)| a - b);
        summary(name, samples);
        if let Some(cpu) = cpu {
            println!(
                "{:<44} CPU {:.1} ms per count (mean of 20)",
                "",
                cpu.as_secs_f64() * 1000.0 / 20.0
            );
        }
    }
    let mut samples = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let recipients = audience::recipients(&cache, &everyone, true, "Europe/Berlin", now)
            .await
            .unwrap();
        samples.push(started.elapsed());
        assert!(recipients.len() > 30_000);
    }
    summary("audience: every recipient (marketing)", samples);
    cache.close().await;
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Reports (issue 23) over the whole generated history (it spans 35 days from BASE), read from
/// the rollups the triggers kept while it was generated: the wall clock of each, and the CPU time
/// the process spent on them (every thread, the mean of the runs: ticks of 10 ms).
async fn bench_reports(cache: &Cache) {
    let runs: usize = std::env::var("ZENTRO_BENCH_REPORT_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    for (name, days) in [("report, 90 days", 90), ("report, one year", 365)] {
        let query = reports::ReportQuery {
            since: "2025-06-01".into(),
            until: (chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
                + chrono::Duration::days(days - 1))
            .to_string(),
            time_zone: "Europe/Berlin".into(),
            channel_kind: None,
            team_id: None,
            member_id: None,
            business_hours_only: false,
        };
        let mut samples = Vec::new();
        let cpu_before = cpu_time();
        for _ in 0..runs {
            let started = Instant::now();
            let report = reports::report(cache, &query, BASE + 400 * 86_400_000)
                .await
                .unwrap();
            samples.push(started.elapsed());
            assert_eq!(
                report.messages.received + report.messages.sent,
                CONVERSATIONS * PER_CONVERSATION
            );
        }
        let cpu = cpu_time().zip(cpu_before).map(|(a, b)| a - b);
        summary(name, samples);
        if let Some(cpu) = cpu {
            println!(
                "{:<44} CPU {:.1} ms per report (mean of {runs})",
                "",
                cpu.as_secs_f64() * 1000.0 / runs as f64
            );
        }
    }
}

/// Apply runs on a copy, so every run of the benchmark starts from the same generated cache;
/// with the reports' rollups kept and, to compare in the same run, without them (their triggers
/// dropped from the copy), twice each, alternately.
async fn apply_rounds(dir: &std::path::Path) {
    for (round, rollups) in [(1, true), (1, false), (2, true), (2, false)] {
        let label = if rollups {
            "rollups kept"
        } else {
            "no rollups"
        };
        println!("-- apply, round {round}, {label}");
        apply_on_a_copy(dir, rollups).await;
    }
}

/// Applies new webhook events in batches of 500, as sync does, to a copy of the generated cache
/// (without the rollups' triggers unless `rollups`): first customers' messages to random
/// conversations, then delivery statuses (delivered, then read) of earlier replies, then both.
async fn apply_on_a_copy(dir: &std::path::Path, rollups: bool) {
    let scratch = dir.join("apply");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::copy(dir.join("cache.sqlite"), scratch.join("cache.sqlite")).unwrap();
    let cache = Cache::open_in(&scratch).await.unwrap();
    if !rollups {
        for trigger in [
            "report_message_arrived",
            "report_message_accepted",
            "report_message_author",
            "report_activity",
        ] {
            sqlx::query(&format!("DROP TRIGGER {trigger}"))
                .execute(cache.pool())
                .await
                .unwrap();
        }
    }

    let last_seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(applied_seq), 0) FROM sync_cursors")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    let n = 50_000i64;
    let messages: Vec<RelayEvent> = (1..=n).map(|i| customer_message(last_seq + i)).collect();
    apply_rates(
        &cache,
        "apply customer messages (batches of 500)",
        &messages,
    )
    .await;
    // Outbound messages of the generated cache are the even ids; each gets delivered, then read.
    let statuses: Vec<RelayEvent> = (1..=n)
        .map(|i| {
            let message = ((i + 1) / 2 * 7919) % (CONVERSATIONS * PER_CONVERSATION / 2) * 2 + 2;
            let state = if i % 2 == 1 { "delivered" } else { "read" };
            delivery_status(last_seq + n + i, message, state)
        })
        .collect();
    apply_rates(
        &cache,
        "apply delivery statuses (batches of 500)",
        &statuses,
    )
    .await;
    // As a day's traffic comes: customers' messages and the statuses of replies, interleaved.
    let mixed: Vec<RelayEvent> = (1..=n)
        .map(|i| {
            let seq = last_seq + 2 * n + i;
            if i % 2 == 0 {
                customer_message(seq)
            } else {
                let message = (i * 104_729) % (CONVERSATIONS * PER_CONVERSATION / 2) * 2 + 2;
                delivery_status(seq, message, if i % 4 == 1 { "delivered" } else { "read" })
            }
        })
        .collect();
    apply_rates(&cache, "apply both, interleaved (batches of 500)", &mixed).await;
    let read: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE delivery_status = 'read'")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert!(read > 0, "the statuses applied");
    cache.close().await;
    let _ = std::fs::remove_dir_all(&scratch);
}

/// A customer's text to a conversation picked by `seq`, as the relay delivers it.
fn customer_message(seq: i64) -> RelayEvent {
    let c = (seq * 7) % CONVERSATIONS + 1;
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P1" },
            "contacts": [{ "profile": { "name": format!("Customer {c}") }, "user_id": format!("US.{c}") }],
            "messages": [{ "from_user_id": format!("US.{c}"), "id": format!("wamid.A{seq}"), "timestamp": "1760000000", "type": "text",
                           "text": { "body": sentence(seq as u64) } }] }}]}]}),
    )
}

/// A status of the generated message `message` (an outbound one: even ids).
fn delivery_status(seq: i64, message: i64, state: &str) -> RelayEvent {
    let c = (message - 1) / PER_CONVERSATION + 1;
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P1" },
            "statuses": [{ "id": format!("wamid.B{message}"), "status": state, "timestamp": (1_760_000_000 + seq).to_string(),
                           "recipient_id": format!("1650{c:07}"), "recipient_user_id": format!("US.{c}") }] }}]}]}),
    )
}

/// Applies `events` in batches of 500 and prints the median batch's rate, the rate over all of
/// them (slow batches included), and the worst and best.
async fn apply_rates(cache: &Cache, name: &str, events: &[RelayEvent]) {
    let mut rates = Vec::new();
    let mut total = Duration::ZERO;
    let cpu_before = cpu_time();
    for chunk in events.chunks(500) {
        let started = Instant::now();
        apply_batch(cache, "bench", chunk).await.unwrap();
        let took = started.elapsed();
        total += took;
        rates.push(chunk.len() as f64 / took.as_secs_f64());
    }
    // CPU time of the whole process (every thread: SQLite works on sqlx's worker thread), which
    // the other work on a shared machine changes far less than the wall clock.
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    rates.sort_by(f64::total_cmp);
    // The WAL must stay bounded through a catch-up (the background checkpoint and the restarts).
    let wal = std::fs::metadata(cache.path().with_extension("sqlite-wal")).map_or(0, |m| m.len());
    println!(
        "{:<44} n={:<5} median {:.0} events/s   all {:.0} events/s   worst {:.0} events/s   best {:.0} events/s   per CPU second {}   WAL {} MB",
        name,
        rates.len(),
        rates[rates.len() / 2],
        events.len() as f64 / total.as_secs_f64(),
        rates[0],
        rates[rates.len() - 1],
        cpu.map_or("?".to_string(), |cpu| format!(
            "{:.0} events",
            events.len() as f64 / cpu.as_secs_f64()
        )),
        wal / 1_000_000
    );
}

/// The CPU time this process has used so far (user and system, all threads), from
/// `/proc/self/stat` (Linux; `None` elsewhere). Clock ticks of 10 ms: enough over 50,000 events.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state; utime and stime are
    // the 14th and 15th fields of the line, the 12th and 13th after the name.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
