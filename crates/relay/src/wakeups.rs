//! Wake-ups across relay instances on PostgreSQL (ADR 0012 §4).
//!
//! Every batch that grows a workspace's log sends, inside its transaction, a `NOTIFY` naming the
//! workspace and its last seq: PostgreSQL delivers it only if the batch commits, in commit order.
//! Each instance listens on one connection of its own and feeds what it hears into its
//! [`Notifier`], so a device streaming from any instance wakes within milliseconds of a commit on
//! any other. Revocations travel the same way, so a revoked device's stream closes wherever it is.
//!
//! A lost connection loses the notifications sent meanwhile: once the listener is back, it wakes
//! every stream, which re-reads from its cursor (a lost wake-up costs a read, never an event).
//! While the database is away it retries with a growing pause. Streams also poll every 2 s.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio_util::sync::CancellationToken;
use zentro_relay_postgres::wakeups::{EVENTS_CHANNEL, REVOCATIONS_CHANNEL};

use crate::sequencer::Notifier;

/// Longest pause between attempts to listen again while the database is unreachable.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// Listens until `stop` for other instances' commits and revocations, and wakes the local
/// streams (`notifier`, `revocations`).
pub async fn listen(
    pool: PgPool,
    notifier: Notifier,
    revocations: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    stop: CancellationToken,
) {
    let mut pause = Duration::from_millis(100);
    loop {
        let listening = tokio::select! {
            listener = subscribe(&pool) => listener,
            _ = stop.cancelled() => return,
        };
        match listening {
            Ok(mut listener) => {
                // Whatever was committed while nobody listened: streams re-read from their cursors.
                notifier.wake_all();
                revocations.send_modify(|n| *n += 1);
                pause = Duration::from_millis(100);
                if relay_notifications(&mut listener, &notifier, &revocations, &stop).await {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for other relay instances' commits; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.cancelled() => return,
        }
        pause = (pause * 2).min(MAX_RETRY_PAUSE);
    }
}

/// A listener on both channels.
async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([EVENTS_CHANNEL, REVOCATIONS_CHANNEL])
        .await?;
    Ok(listener)
}

/// Hands notifications on until the connection is lost (`false`) or `stop` (`true`).
async fn relay_notifications(
    listener: &mut PgListener,
    notifier: &Notifier,
    revocations: &tokio::sync::watch::Sender<u64>,
    stop: &CancellationToken,
) -> bool {
    loop {
        let received = tokio::select! {
            received = listener.try_recv() => received,
            _ = stop.cancelled() => return true,
        };
        match received {
            Ok(Some(notification)) if notification.channel() == EVENTS_CHANNEL => {
                match parse_events_payload(notification.payload()) {
                    Some((workspace, seq)) => notifier.notify(workspace, seq),
                    None => tracing::warn!("ignored an unreadable wake-up from another instance"),
                }
            }
            Ok(Some(_)) => revocations.send_modify(|n| *n += 1),
            Ok(None) => {
                tracing::warn!("lost the connection that listens for other instances' commits");
                return false;
            }
            Err(error) => {
                tracing::warn!(%error, "listening for other instances' commits failed");
                return false;
            }
        }
    }
}

/// Reads `<workspace id> <last seq>`.
pub fn parse_events_payload(payload: &str) -> Option<(&str, i64)> {
    let (workspace, seq) = payload.split_once(' ')?;
    Some((workspace, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::parse_events_payload;

    #[test]
    fn a_wake_up_names_a_workspace_and_its_last_seq() {
        assert_eq!(parse_events_payload("w1 42"), Some(("w1", 42)));
        assert_eq!(parse_events_payload("w1"), None);
        assert_eq!(parse_events_payload("w1 x"), None);
    }
}
