//! Counters for `/metrics` (Prometheus text format) and the signature-failure alarm.

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Webhook POSTs answered 200.
    pub webhooks_accepted: AtomicU64,
    /// Webhook POSTs refused for a missing or wrong signature.
    pub webhooks_rejected_signature: AtomicU64,
    /// Webhook POSTs refused for size.
    pub webhooks_rejected_size: AtomicU64,
    /// Webhook items that were redeliveries.
    pub webhook_duplicates: AtomicU64,
    /// Webhook items quarantined.
    pub webhooks_quarantined: AtomicU64,
    /// Events appended to any log.
    pub events_appended: AtomicU64,
    /// Group commits that ran while background writes (the automation's, campaigns') waited for
    /// their turn (see [`crate::sequencer::Lane`]).
    pub commits_ahead_of_background: AtomicU64,
    /// Open event streams.
    pub stream_clients: AtomicI64,
    alarm: Mutex<SignatureAlarm>,
}

#[derive(Debug, Default)]
struct SignatureAlarm {
    window_start: Option<Instant>,
    failures: u32,
    last_alert: Option<Instant>,
}

/// Failures within a minute that raise the alarm.
const ALARM_THRESHOLD: u32 = 10;

impl Metrics {
    /// Counts a signature failure; returns `true` when a burst should be logged as an alert (at
    /// most once a minute): every real delivery failing usually means the app secret was rotated.
    pub fn signature_failed(&self) -> bool {
        self.webhooks_rejected_signature
            .fetch_add(1, Ordering::Relaxed);
        let Ok(mut alarm) = self.alarm.lock() else {
            return false;
        };
        let now = Instant::now();
        match alarm.window_start {
            Some(start) if now.duration_since(start) < Duration::from_secs(60) => {
                alarm.failures += 1
            }
            _ => {
                alarm.window_start = Some(now);
                alarm.failures = 1;
            }
        }
        let quiet = alarm
            .last_alert
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60));
        if alarm.failures >= ALARM_THRESHOLD && quiet {
            alarm.last_alert = Some(now);
            return true;
        }
        false
    }

    /// Renders the counters and the age of the oldest unacknowledged event: over all workspaces,
    /// or per workspace (labelled with its id) when `per_workspace`, for the operator's scraper.
    pub fn render(&self, oldest_unacknowledged: &[(String, i64)], per_workspace: bool) -> String {
        let mut out = String::new();
        self.render_counters(&mut out);
        let _ = writeln!(
            out,
            "# HELP zentro_stream_clients Open event streams.\n# TYPE zentro_stream_clients gauge\nzentro_stream_clients {}",
            self.stream_clients.load(Ordering::Relaxed)
        );
        render_oldest_unacknowledged(&mut out, oldest_unacknowledged, per_workspace);
        out
    }

    fn render_counters(&self, out: &mut String) {
        counter(
            out,
            "zentro_webhooks_accepted_total",
            "Webhook deliveries answered 200.",
            self.webhooks_accepted.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP zentro_webhooks_rejected_total Webhook deliveries refused, by reason.\n# TYPE zentro_webhooks_rejected_total counter"
        );
        let _ = writeln!(
            out,
            "zentro_webhooks_rejected_total{{reason=\"signature\"}} {}",
            self.webhooks_rejected_signature.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "zentro_webhooks_rejected_total{{reason=\"too_large\"}} {}",
            self.webhooks_rejected_size.load(Ordering::Relaxed)
        );
        counter(
            out,
            "zentro_webhook_duplicates_total",
            "Webhook items that were redeliveries.",
            self.webhook_duplicates.load(Ordering::Relaxed),
        );
        counter(
            out,
            "zentro_webhooks_quarantined_total",
            "Webhook items quarantined.",
            self.webhooks_quarantined.load(Ordering::Relaxed),
        );
        counter(
            out,
            "zentro_events_appended_total",
            "Events appended to workspace logs.",
            self.events_appended.load(Ordering::Relaxed),
        );
        counter(
            out,
            "zentro_commits_ahead_of_background_writes_total",
            "Group commits that ran while background writes (automation, campaigns) waited for their turn at the writer.",
            self.commits_ahead_of_background.load(Ordering::Relaxed),
        );
    }
}

/// One counter, with its help and type lines.
fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// The age of the oldest event some active device has not acknowledged: the largest over all
/// workspaces, or one line per workspace.
fn render_oldest_unacknowledged(
    out: &mut String,
    oldest_unacknowledged: &[(String, i64)],
    per_workspace: bool,
) {
    let _ = writeln!(
        out,
        "# HELP zentro_oldest_unacknowledged_event_age_seconds Age of the oldest event some active device has not acknowledged.\n# TYPE zentro_oldest_unacknowledged_event_age_seconds gauge"
    );
    if per_workspace {
        for (workspace, age_ms) in oldest_unacknowledged {
            let _ = writeln!(
                out,
                "zentro_oldest_unacknowledged_event_age_seconds{{workspace=\"{workspace}\"}} {:.3}",
                *age_ms as f64 / 1000.0
            );
        }
    } else {
        let oldest = oldest_unacknowledged
            .iter()
            .map(|(_, age_ms)| *age_ms)
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "zentro_oldest_unacknowledged_event_age_seconds {:.3}",
            oldest as f64 / 1000.0
        );
    }
}
