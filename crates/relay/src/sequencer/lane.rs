//! The writer's two lanes (ADR 0013 §9): webhooks first, the relay's own background writes with
//! what is left.
//!
//! The automation's decisions and sends, and campaigns' sends, run inside the writer's group
//! commits ([`super::Sequencer::write_in_commit`]), so every millisecond they take there is a
//! millisecond the webhooks of that commit wait. While the writer commits back to back (a flood
//! of webhooks), such writes are held and let into a commit only as far as their **credit**
//! allows: they earn [`BACKGROUND_SHARE`] of the time the writer spends on everything else, and
//! all of the time it spends waiting for work (capacity nobody wanted), and spend what they
//! take (a debt is paid in full: one long write waits that much longer for the next). With
//! writes held the writer looks for other work for [`IDLE_PROBE`] before it takes an empty queue
//! for idleness (under a flood the queue is empty for instants between commits). So under a flood webhooks keep about 1 − [`BACKGROUND_SHARE`] of
//! the writer, the background is never starved, and with the writer not saturated it runs at
//! once. Held writes keep their order; a batch with nothing else to do takes all of them.

use std::collections::VecDeque;
use std::time::Duration;

/// Which writes yield to webhooks (see [`super::Sequencer::write_in_commit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// In the next group commit, whatever waits: what must take effect at once (a customer's
    /// stop keyword honoured, issue 24), and the `sending` marks that must commit right after
    /// the checks made before a send (consent, restriction, cancellation, the switch).
    Prompt,
    /// Yields to webhooks while the writer is saturated (the automation's decisions and
    /// outcomes, campaigns' outcomes): then about [`BACKGROUND_SHARE`] of the writer's busy time
    /// plus the time it would have spent waiting; at once when it is not saturated.
    Background,
}

/// The share of the writer's busy time background writes may take while it is saturated.
pub const BACKGROUND_SHARE: f64 = 0.02;

/// Most credit the background lane keeps (earned while the writer waited): what a flood's first
/// commits may give it at once.
const CREDIT_LIMIT: Duration = Duration::from_millis(100);

/// What one background write is expected to take before any was measured.
const FIRST_ESTIMATE: Duration = Duration::from_millis(2);

/// How long the writer, with writes held, waits for other work before it takes the queue's pause
/// for idleness and runs them all: under a flood the next webhook comes
/// within microseconds, so a queue empty for an instant is no sign the writer is free.
pub(super) const IDLE_PROBE: Duration = Duration::from_millis(2);

/// Background writes held back, and what they may still take of the writer's time.
#[derive(Debug)]
pub(super) struct BackgroundLane<W> {
    held: VecDeque<W>,
    /// Writer time (µs) the lane may still take; negative: what it took beyond its share.
    credit_us: f64,
    /// What a background write took lately (µs, moving average): how much credit admitting one
    /// reserves.
    typical_us: f64,
}

impl<W> Default for BackgroundLane<W> {
    fn default() -> Self {
        Self {
            held: VecDeque::new(),
            credit_us: 0.0,
            typical_us: micros(FIRST_ESTIMATE),
        }
    }
}

impl<W> BackgroundLane<W> {
    /// How long the writer waits for its next job: for ever with nothing held, [`IDLE_PROBE`]
    /// otherwise (then held writes run if nothing came: the writer is free).
    pub fn patience(&self) -> Option<Duration> {
        (!self.held.is_empty()).then_some(IDLE_PROBE)
    }

    /// How many writes wait for their turn.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Queues background writes behind those already held.
    pub fn hold(&mut self, writes: impl IntoIterator<Item = W>) {
        self.held.extend(writes);
    }

    /// The held writes the next commit takes, oldest first: all of them when it has nothing
    /// else to do (`alone`), otherwise as many as the credit covers at their typical cost.
    pub fn admit(&mut self, alone: bool) -> Vec<W> {
        if alone {
            return self.held.drain(..).collect();
        }
        let mut admitted = Vec::new();
        let mut reserved = 0.0;
        while self.credit_us - reserved > 0.0 {
            let Some(write) = self.held.pop_front() else {
                break;
            };
            admitted.push(write);
            reserved += self.typical_us;
        }
        admitted
    }

    /// Settles a commit: `idle`, how long the writer waited for work before it; `busy`, how
    /// long it took; `background`, how much of that the `admitted` background writes took;
    /// `alone`, whether the commit had nothing else to do (then its writes cost nothing: the
    /// writer had no one else to serve).
    pub fn settle(
        &mut self,
        idle: Duration,
        busy: Duration,
        background: Duration,
        admitted: usize,
        alone: bool,
    ) {
        if admitted > 0 {
            let each = micros(background) / admitted as f64;
            self.typical_us = 0.8 * self.typical_us + 0.2 * each;
        }
        if alone {
            return;
        }
        let others = micros(busy.saturating_sub(background));
        let earned = micros(idle) + BACKGROUND_SHARE * others;
        self.credit_us = (self.credit_us + earned - micros(background)).min(micros(CREDIT_LIMIT));
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A writer saturated by webhooks: each commit takes 6 ms of webhooks, with no wait in
    /// between, plus whatever background writes it admits at 8 ms each. Returns the
    /// background's share of the writer's time and how many writes went.
    fn saturated(commits: usize, held: usize) -> (f64, usize) {
        let mut lane = BackgroundLane::default();
        lane.hold(0..held);
        let (mut total, mut background, mut went) = (Duration::ZERO, Duration::ZERO, 0);
        for _ in 0..commits {
            let admitted = lane.admit(false).len();
            let took = 8 * MS * admitted as u32;
            let busy = 6 * MS + took;
            lane.settle(Duration::ZERO, busy, took, admitted, false);
            total += busy;
            background += took;
            went += admitted;
        }
        (background.as_secs_f64() / total.as_secs_f64(), went)
    }

    #[test]
    fn under_a_flood_background_writes_take_about_their_share_and_are_never_starved() {
        let (share, went) = saturated(2_000, 10_000);
        // Their share of 2,000 commits of 6 ms of webhooks, at 8 ms a write.
        let fair = BACKGROUND_SHARE * 2_000.0 * 6.0 / 8.0;
        assert!(
            went as f64 > fair / 2.0,
            "background writes starved: {went} went"
        );
        assert!(
            (share - BACKGROUND_SHARE).abs() < BACKGROUND_SHARE / 4.0,
            "background took {:.1} % of the writer",
            share * 100.0
        );
    }

    #[test]
    fn a_long_write_is_paid_for_in_full_before_the_next_goes_beside_webhooks() {
        let mut lane = BackgroundLane::default();
        lane.settle(Duration::ZERO, 10 * MS, Duration::ZERO, 0, false);
        lane.hold([1, 2]);
        assert_eq!(lane.admit(false), vec![1]);
        // It took a second: the next waits for 1 s / share of webhook work.
        lane.settle(Duration::ZERO, 1006 * MS, 1000 * MS, 1, false);
        let mut webhooks = Duration::ZERO;
        while lane.admit(false).is_empty() {
            lane.settle(Duration::ZERO, 6 * MS, Duration::ZERO, 0, false);
            webhooks += 6 * MS;
        }
        let owed = 1.0 / BACKGROUND_SHARE;
        assert!(
            webhooks.as_secs_f64() >= owed * 0.99,
            "the next write went after {webhooks:?} of webhooks, owed {owed} s"
        );
    }

    #[test]
    fn held_writes_go_in_order_and_all_at_once_when_nothing_else_waits() {
        let mut lane = BackgroundLane::default();
        lane.hold([1, 2, 3]);
        assert_eq!(lane.admit(false), Vec::<i32>::new(), "no credit yet");
        lane.hold([4]);
        assert_eq!(lane.admit(true), vec![1, 2, 3, 4]);
        assert_eq!(
            lane.patience(),
            None,
            "nothing held: the writer waits for work"
        );
    }

    #[test]
    fn with_writes_held_the_writer_looks_for_other_work_before_it_counts_itself_free() {
        let mut lane = BackgroundLane::default();
        assert_eq!(lane.patience(), None, "nothing held: wait for work");
        lane.hold([1]);
        assert_eq!(lane.patience(), Some(IDLE_PROBE), "look for webhooks first");
        lane.settle(Duration::ZERO, 10 * MS, Duration::ZERO, 0, false);
        assert_eq!(lane.patience(), Some(IDLE_PROBE), "with credit too");
    }

    #[test]
    fn time_the_writer_spent_waiting_lets_background_writes_in_beside_webhooks() {
        let mut lane = BackgroundLane::default();
        // Not saturated: the writer waited 20 ms for this commit's webhooks.
        lane.settle(20 * MS, 3 * MS, Duration::ZERO, 0, false);
        lane.hold(0..100);
        let admitted = lane.admit(false).len();
        assert!(
            admitted >= 5,
            "only {admitted} admitted with 20 ms of idle credit"
        );
        // A write alone costs no credit.
        let mut alone = BackgroundLane::default();
        alone.hold([1]);
        let went = alone.admit(true).len();
        alone.settle(Duration::ZERO, 50 * MS, 50 * MS, went, true);
        alone.settle(Duration::ZERO, 10 * MS, Duration::ZERO, 0, false);
        alone.hold([2]);
        assert_eq!(alone.admit(false), vec![2]);
    }
}
