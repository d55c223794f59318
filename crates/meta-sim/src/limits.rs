//! Bulk sending as Meta limits it (issue 24), each limit settable by tests:
//! - the **messaging limit** of a business portfolio (here: its WhatsApp Business Account): how
//!   many unique customers it may reach with business-initiated messages (templates outside the
//!   customer-service window) in a moving 24 hours, exposed as Meta exposes it
//!   (`whatsapp_business_manager_messaging_limit`: `TIER_250`, `TIER_2K`, `TIER_10K`,
//!   `TIER_100K`, `TIER_UNLIMITED`) on the phone number. New portfolios get 250, as at Meta. Meta
//!   documents no error code for going past it: such a message is accepted and then fails in its
//!   status webhook (code 131000 with details naming the limit), which is what businesses see;
//! - a number's **throughput** (messages per second; Meta's default is 80): past it a send is
//!   refused with 130429. Off unless a test sets it (the inbox tests send in bursts);
//! - the **pair rate**: one message to the same customer every few seconds (Meta: about 6 s);
//!   past it 131056. Off unless a test sets it;
//! - **undeliverable** customers (not on WhatsApp, blocked): the send is accepted and its status
//!   webhook says `failed` with 131026, as the Cloud API does.
//!
//! Tests read how often each customer was sent to ([`SimState::sends_to`]) to prove "exactly
//! once", and the times sends were accepted ([`crate::SentMessage::at`]) to check pacing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::SimState;

/// The bulk-sending limits and what they counted.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    /// Messaging limit tier per account, when a test set one (else `TIER_250`).
    tiers: HashMap<String, String>,
    /// Per account: customers reached by business-initiated messages, and when last.
    reached: HashMap<String, HashMap<String, DateTime<Utc>>>,
    /// Messages per second per number, when a test set it.
    throughput: HashMap<String, u32>,
    /// When the sends of the last second of each number were accepted.
    recent: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// The least time between two messages to one customer, when a test set it.
    pair_gap: Option<Duration>,
    /// When each (number, customer) was last sent to.
    last_to: HashMap<(String, String), DateTime<Utc>>,
    /// Customers messages cannot be delivered to.
    undeliverable: HashSet<String>,
}

/// The tier new portfolios start with.
pub const DEFAULT_TIER: &str = "TIER_250";

/// How many unique customers a tier allows per moving 24 hours (`None`: unlimited).
pub fn tier_limit(tier: &str) -> Option<usize> {
    match tier {
        "TIER_250" => Some(250),
        "TIER_1K" => Some(1_000),
        "TIER_2K" => Some(2_000),
        "TIER_10K" => Some(10_000),
        "TIER_100K" => Some(100_000),
        _ => None,
    }
}

/// Why a send breaks a limit at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 130429.
    Throughput,
    /// 131056.
    PairRate,
}

/// What becomes of an accepted message beyond the usual statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Sent, delivered, read as usual.
    Delivered,
    /// Failed with 131026.
    Undeliverable,
    /// Failed: the portfolio's messaging limit was reached.
    OverLimit,
}

impl SimState {
    /// Sets the messaging limit tier of account `waba_id` (`TIER_250` … `TIER_UNLIMITED`).
    pub fn set_messaging_limit(&mut self, waba_id: &str, tier: &str) {
        self.limits.tiers.insert(waba_id.into(), tier.into());
    }

    /// The messaging limit tier of account `waba_id`, as Meta names it.
    pub fn messaging_limit(&self, waba_id: &str) -> String {
        self.limits
            .tiers
            .get(waba_id)
            .cloned()
            .unwrap_or_else(|| DEFAULT_TIER.into())
    }

    /// Sets the most messages per second number `phone_number_id` takes (130429 past it).
    pub fn set_throughput(&mut self, phone_number_id: &str, per_second: u32) {
        self.limits
            .throughput
            .insert(phone_number_id.into(), per_second);
    }

    /// Sets the least time between two messages to one customer (131056 sooner); `None` lifts it.
    pub fn set_pair_rate(&mut self, gap: Option<Duration>) {
        self.limits.pair_gap = gap;
    }

    /// Makes messages to `customer` undeliverable (their status fails with 131026).
    pub fn make_undeliverable(&mut self, customer: &str) {
        self.limits.undeliverable.insert(customer.into());
    }

    /// Sets the category (MARKETING, UTILITY, AUTHENTICATION) of the template `name` in
    /// `language` seeded for every account; `false` when there is none.
    pub fn set_template_category(&mut self, name: &str, language: &str, category: &str) -> bool {
        match self
            .templates
            .get_mut(&(String::new(), name.into(), language.into()))
        {
            Some(template) => {
                template.category = category.into();
                true
            }
            None => false,
        }
    }

    /// How many messages were accepted for `to` from `channel_id`.
    pub fn sends_to(&self, channel_id: &str, to: &str) -> usize {
        self.sent
            .iter()
            .filter(|m| m.channel_id == channel_id && m.to == to)
            .count()
    }

    /// Unique customers account `waba_id` reached with business-initiated messages in the
    /// last 24 hours.
    pub fn reached_in_a_day(&self, waba_id: &str) -> usize {
        let since = self.now() - chrono::Duration::hours(24);
        self.limits
            .reached
            .get(waba_id)
            .map(|r| r.values().filter(|at| **at > since).count())
            .unwrap_or(0)
    }

    /// The number's throughput and the pair rate, checked (and counted) before a send is
    /// accepted.
    pub(crate) fn check_rate(
        &mut self,
        phone_number_id: &str,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if let Some(per_second) = self.limits.throughput.get(phone_number_id).copied() {
            let recent = self
                .limits
                .recent
                .entry(phone_number_id.into())
                .or_default();
            while recent
                .front()
                .is_some_and(|at| now - *at >= chrono::Duration::seconds(1))
            {
                recent.pop_front();
            }
            if recent.len() >= per_second as usize {
                return Err(Refusal::Throughput);
            }
        }
        let key = (phone_number_id.to_string(), customer.to_string());
        if let Some(gap) = self.limits.pair_gap
            && let Some(last) = self.limits.last_to.get(&key)
            && now - *last < chrono::Duration::from_std(gap).unwrap_or_default()
        {
            return Err(Refusal::PairRate);
        }
        if self.limits.throughput.contains_key(phone_number_id) {
            self.limits
                .recent
                .entry(phone_number_id.into())
                .or_default()
                .push_back(now);
        }
        self.limits.last_to.insert(key, now);
        Ok(())
    }

    /// What becomes of an accepted message to `customer` of account `waba_id`; a
    /// business-initiated one counts against the portfolio's messaging limit.
    pub(crate) fn fate(
        &mut self,
        waba_id: &str,
        customer: &str,
        business_initiated: bool,
        now: DateTime<Utc>,
    ) -> Fate {
        if self.limits.undeliverable.contains(customer) {
            return Fate::Undeliverable;
        }
        if !business_initiated {
            return Fate::Delivered;
        }
        let limit = tier_limit(&self.messaging_limit(waba_id));
        let since = now - chrono::Duration::hours(24);
        let reached = self.limits.reached.entry(waba_id.into()).or_default();
        let already = reached.get(customer).is_some_and(|at| *at > since);
        if !already {
            let count = reached.values().filter(|at| **at > since).count();
            if limit.is_some_and(|limit| count >= limit) {
                return Fate::OverLimit;
            }
        }
        reached.insert(customer.into(), now);
        Fate::Delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_read_as_meta_names_them() {
        assert_eq!(tier_limit("TIER_250"), Some(250));
        assert_eq!(tier_limit("TIER_100K"), Some(100_000));
        assert_eq!(tier_limit("TIER_UNLIMITED"), None);
    }
}
