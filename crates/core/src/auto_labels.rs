//! Automatic intent and sentiment labels for the whole inbox (issue 25): when an owner turned
//! automatic labels on, each new customer message is labelled by one open desk, whether or not
//! anyone has its conversation on screen.
//!
//! Requests stay on desks (ADR 0016: the relay never reads message text for AI), so the desks
//! agree among themselves who labels which message, without talking to each other:
//! - every open desk ranks the members it believes can label — those the relay last said are
//!   available, and itself — by a hash of the member and the message's Meta id (rendezvous
//!   hashing: every desk computes the same order from the same presence);
//! - the first waits for nothing; each next one waits [`STAGGER_MS`] more, then labels only if no
//!   intent label arrived in the conversation since the message (so a desk that closed, or whose
//!   member is away, is covered by the next);
//! - the label events carry idempotency keys made of the message's id and the label, so two desks
//!   that both label (a presence they saw differently) still add each label once.
//!
//! The labels are published as this desk's member's (a device cannot write in the automation's
//! name). Restricted customers (P14) are never sent. A provider that fails for now (unreachable,
//! too slow, 429, 5xx) pauses this desk's requests ([`ProviderPause`]: its `retry-after`, else 15 s
//! doubling to 10 minutes) and the message waits for the next try, here or on the next desk in its
//! order, while it is fresh; a budget that is spent or a refusal skips the message (logged), and
//! nothing else stops.

use sha2::{Digest, Sha256};
use zentro_events::{ContactRef, TeamEvent};

use crate::actions::TeamError;
use crate::assist_requests::{AssistAccess, AssistError, AssistRequestError};
use crate::cache::{Cache, CacheError};

/// Why one message was not labelled.
#[derive(Debug, thiserror::Error)]
enum LabelError {
    #[error(transparent)]
    Assist(#[from] AssistRequestError),
    #[error(transparent)]
    Team(#[from] TeamError),
}

/// How much longer each next desk in a message's order waits before labelling it.
pub const STAGGER_MS: i64 = 5_000;

/// Messages older than this when first seen are not labelled: a desk catching up after a long
/// time away does not label the history the open desks already did (or chose not to).
pub const FRESH_FOR_MS: i64 = 60 * 60 * 1000;

/// Most messages labelled in one round (each is a request to the provider).
const PER_ROUND: usize = 20;

/// The first pause after a temporary provider failure, when the provider did not say how long.
const FIRST_PAUSE_MS: i64 = 15_000;

/// The longest pause between tries while the provider keeps failing.
const LONGEST_PAUSE_MS: i64 = 10 * 60 * 1000;

/// Until when this desk asks the provider nothing, after temporary failures (kept in memory by the
/// desk's loop: a restarted desk tries at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProviderPause {
    /// UTC ms before which no request is made.
    pub until: i64,
    /// Temporary failures in a row.
    pub failures: u32,
}

impl ProviderPause {
    /// Records a temporary failure at `now`: the provider's `retry_after`, else 15 s doubling with
    /// each failure in a row, up to 10 minutes.
    fn failed(&mut self, now: i64, retry_after: Option<std::time::Duration>) {
        self.failures = self.failures.saturating_add(1);
        let doubling = FIRST_PAUSE_MS.saturating_mul(1 << self.failures.min(16).saturating_sub(1));
        let wait = retry_after
            .map(|after| i64::try_from(after.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(doubling)
            .clamp(1_000, LONGEST_PAUSE_MS);
        self.until = now.saturating_add(wait);
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Messages labelled by this desk.
    pub labelled: usize,
    /// Messages another desk labelled, too old, or whose request was refused for good (budget
    /// spent, restricted, key rejected, an unreadable answer): not labelled here.
    pub skipped: usize,
    /// Messages whose turn on this desk has not come yet, or waiting out a provider that failed for
    /// now.
    pub waiting: usize,
}

/// A new customer message to consider.
struct Candidate {
    message_id: i64,
    conversation_id: i64,
    external_id: String,
    sent_at: i64,
}

/// One round: labels the new customer messages whose turn on this desk has come. `me` is this
/// desk's member; `now` is UTC ms; `pause` carries temporary provider failures from one round to
/// the next. With automatic labels off, only moves past what arrived.
pub async fn label_new_messages(
    access: &AssistAccess<'_>,
    me: &str,
    now: i64,
    pause: &mut ProviderPause,
) -> Result<Round, CacheError> {
    let cache = access.cache;
    let newest = newest_message(cache).await?;
    let on = crate::assist::announced_settings(cache)
        .await?
        .is_some_and(|s| s.is_on() && s.auto_labels);
    let Some(progress) = progress(cache).await? else {
        // The first round on this desk starts from now, never the history.
        save_progress(cache, newest).await?;
        return Ok(Round::default());
    };
    if !on {
        if newest > progress {
            save_progress(cache, newest).await?;
        }
        return Ok(Round::default());
    }
    let candidates = candidates(cache, progress).await?;
    let desks = labelling_desks(cache, me).await?;
    let mut round = Round::default();
    // Progress stops before the first message still waiting for its turn here.
    let mut done_up_to = newest;
    for candidate in candidates {
        if round.labelled + round.waiting >= PER_ROUND {
            done_up_to = done_up_to.min(candidate.message_id - 1);
            break;
        }
        if now - candidate.sent_at > FRESH_FOR_MS {
            round.skipped += 1;
            continue;
        }
        let turn = candidate.sent_at + rank(&desks, me, &candidate.external_id) * STAGGER_MS;
        if now < turn.max(pause.until) {
            round.waiting += 1;
            done_up_to = done_up_to.min(candidate.message_id - 1);
            continue;
        }
        if labelled_since(cache, candidate.conversation_id, candidate.sent_at).await? {
            round.skipped += 1;
            continue;
        }
        match label(access, &candidate, now).await {
            Ok(()) => {
                round.labelled += 1;
                *pause = ProviderPause::default();
            }
            Err(LabelError::Assist(AssistRequestError::Assist(error))) if error.is_transient() => {
                let retry_after = match &error {
                    AssistError::RateLimited { retry_after } => *retry_after,
                    _ => None,
                };
                pause.failed(now, retry_after);
                tracing::warn!(%error, failures = pause.failures, retry_in_ms = pause.until - now,
                    "automatic labels: the provider failed for now; the message waits");
                round.waiting += 1;
                done_up_to = done_up_to.min(candidate.message_id - 1);
            }
            Err(error) => {
                tracing::warn!(%error, "automatic labels: a message was not labelled");
                round.skipped += 1;
            }
        }
    }
    if done_up_to > progress {
        save_progress(cache, done_up_to).await?;
    }
    Ok(round)
}

/// Asks for the message's labels and queues those the conversation does not carry, each with its
/// own idempotency key.
async fn label(
    access: &AssistAccess<'_>,
    candidate: &Candidate,
    now: i64,
) -> Result<(), LabelError> {
    let suggestion = access.labels(candidate.conversation_id).await?;
    let conversation =
        crate::actions::conversation_ref(access.cache, candidate.conversation_id).await?;
    let carried = carried_labels(access.cache, candidate.conversation_id)
        .await
        .map_err(TeamError::from)?;
    for label in suggestion.labels {
        if carried.iter().any(|c| c.eq_ignore_ascii_case(&label)) {
            continue;
        }
        queue_label(
            access.cache,
            &conversation,
            &candidate.external_id,
            label,
            now,
        )
        .await?;
    }
    Ok(())
}

async fn queue_label(
    cache: &Cache,
    conversation: &ContactRef,
    external_id: &str,
    label: String,
    now: i64,
) -> Result<(), TeamError> {
    let key = format!("auto-label:{external_id}:{label}");
    let event = TeamEvent::Labeled {
        conversation: conversation.clone(),
        label,
        added: true,
    };
    event.validate()?;
    let payload = serde_json::to_value(&event).map_err(|e| TeamError::Invalid(e.to_string()))?;
    Ok(crate::actions::queue_announcement(cache, event.kind(), &payload, &key, now).await?)
}

/// The members whose desks may label: those the relay last said are available, and `me`.
async fn labelling_desks(cache: &Cache, me: &str) -> Result<Vec<String>, CacheError> {
    let mut desks: Vec<String> = crate::teams::presence(cache)
        .await?
        .into_iter()
        .filter(|p| p.presence == "available")
        .map(|p| p.member_id)
        .collect();
    if !desks.iter().any(|d| d == me) {
        desks.push(me.to_string());
    }
    Ok(desks)
}

/// Where `me` stands in the message's order of `desks` (0: first).
fn rank(desks: &[String], me: &str, external_id: &str) -> i64 {
    let score = |member: &str| -> [u8; 32] {
        Sha256::new()
            .chain_update(b"zentro-auto-labels-v1\0")
            .chain_update(member.as_bytes())
            .chain_update(b"\0")
            .chain_update(external_id.as_bytes())
            .finalize()
            .into()
    };
    let mine = score(me);
    desks
        .iter()
        .filter(|d| d.as_str() != me && score(d) > mine)
        .count() as i64
}

/// The latest customer message of each conversation that arrived after `after`, oldest first.
async fn candidates(cache: &Cache, after: i64) -> Result<Vec<Candidate>, CacheError> {
    let rows = sqlx::query!(
        r#"SELECT m.id AS "id!", m.conversation_id, m.external_id AS "external_id!", m.sent_at
           FROM messages m
           WHERE m.id > ?1 AND m.direction = 'inbound' AND m.external_id IS NOT NULL
             AND m.id = (SELECT max(l.id) FROM messages l
                         WHERE l.conversation_id = m.conversation_id AND l.direction = 'inbound')
           ORDER BY m.id"#,
        after
    )
    .fetch_all(cache.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Candidate {
            message_id: r.id,
            conversation_id: r.conversation_id,
            external_id: r.external_id,
            sent_at: r.sent_at,
        })
        .collect())
}

/// Whether an intent label was added to the conversation since `since` (another desk's, or this
/// one's in an earlier round).
async fn labelled_since(
    cache: &Cache,
    conversation_id: i64,
    since: i64,
) -> Result<bool, CacheError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM conversation_activity
                          WHERE conversation_id = ? AND kind = 'labeled' AND at >= ?
                            AND json_extract(detail, '$.label') LIKE 'intent:%') AS "found!: bool""#,
        conversation_id,
        since
    )
    .fetch_one(cache.pool())
    .await?)
}

async fn carried_labels(cache: &Cache, conversation_id: i64) -> Result<Vec<String>, CacheError> {
    Ok(sqlx::query_scalar!(
        "SELECT l.name FROM conversation_labels c JOIN labels l ON l.id = c.label_id WHERE c.conversation_id = ?",
        conversation_id
    )
    .fetch_all(cache.pool())
    .await?)
}

async fn newest_message(cache: &Cache) -> Result<i64, CacheError> {
    Ok(
        sqlx::query_scalar!(r#"SELECT coalesce(max(id), 0) AS "id!: i64" FROM messages"#)
            .fetch_one(cache.pool())
            .await?,
    )
}

async fn progress(cache: &Cache) -> Result<Option<i64>, CacheError> {
    Ok(
        sqlx::query_scalar!("SELECT last_message_id FROM auto_label_progress WHERE id = 1")
            .fetch_optional(cache.pool())
            .await?,
    )
}

async fn save_progress(cache: &Cache, last_message_id: i64) -> Result<(), CacheError> {
    sqlx::query!(
        "INSERT INTO auto_label_progress (id, last_message_id) VALUES (1, ?)
         ON CONFLICT (id) DO UPDATE SET last_message_id = excluded.last_message_id",
        last_message_id
    )
    .execute(cache.pool())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_provider_is_asked_again_after_its_retry_after_else_after_doubling_pauses() {
        let mut pause = ProviderPause::default();
        pause.failed(1_000_000, Some(std::time::Duration::from_secs(7)));
        assert_eq!(pause.until, 1_007_000, "the provider's retry-after");
        let waits: Vec<i64> = (0..8)
            .map(|_| {
                pause.failed(0, None);
                pause.until
            })
            .collect();
        assert_eq!(
            waits,
            [
                30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000
            ],
            "15 s doubling per failure in a row, at most 10 minutes"
        );
        pause.failed(0, Some(std::time::Duration::from_secs(3600)));
        assert_eq!(
            pause.until, LONGEST_PAUSE_MS,
            "a day-long retry-after is capped"
        );
    }

    #[test]
    fn every_desk_computes_the_same_order_and_each_message_has_one_first() {
        let desks: Vec<String> = ["m_ana", "m_bo", "m_cy"].map(String::from).to_vec();
        let mut firsts = std::collections::BTreeMap::new();
        for n in 0..60 {
            let message = format!("wamid.{n}");
            let mut ranks: Vec<i64> = desks.iter().map(|d| rank(&desks, d, &message)).collect();
            ranks.sort();
            assert_eq!(ranks, [0, 1, 2], "a strict order for {message}");
            let first = desks
                .iter()
                .find(|d| rank(&desks, d, &message) == 0)
                .unwrap();
            *firsts.entry(first.clone()).or_insert(0) += 1;
        }
        // Spread among the desks, not always the same one.
        assert_eq!(firsts.len(), 3, "{firsts:?}");
    }
}
