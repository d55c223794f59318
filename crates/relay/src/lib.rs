//! The Zentro Desk relay: the only server of the product.
//!
//! Meta delivers webhooks here; the relay proves they came from Meta (`X-Hub-Signature-256` over
//! the raw bytes), stores them durably in the event log of the workspace that owns the channel
//! (one gapless sequence per workspace, so every device sees the same order), and streams the
//! log, with the team's own events, to every signed-in device. A webhook answered 200 is committed
//! first (group commit); redeliveries are recognised by Meta's ids and dropped; webhooks for
//! unknown channels wait in a quarantine until the channel is added.
//!
//! [`app`] builds the router over an [`AppState`]; [`run`] serves it on a listener until the
//! shutdown future resolves, then closes streams and finishes in-flight requests.
//!
//! The map:
//! - **Writing the log**: [`sequencer`] (the one writer: group commits of webhooks, team events
//!   and devices' cursors, the health probe), [`routing`] (which channel a webhook belongs to),
//!   [`store`] (the SQLite database: workspaces, members, sessions, channels, the log, the
//!   quarantine, audit; `store/` by concern).
//! - **The HTTP surface** ([`http`]): Meta's webhooks and callbacks, device sessions, the log as
//!   pages and a stream, team administration, channels and their sealed tokens, Embedded Signup,
//!   channel health, erasure, shared files, `/healthz` and `/metrics`; one error type
//!   (`http::error`).
//! - **Working while desks are closed**: [`automation`] (the workspace's automation and its
//!   outbox), [`consent`] (stop and start keywords honoured at once, consent kept for campaigns),
//!   [`campaigns`] (broadcast campaigns sent paced, exactly once each).
//! - **Who may do what and secrets**: [`roles`] (roles and permissions, shared with desks),
//!   [`credentials`] (passwords and device tokens), [`sealing`] (channel tokens at rest),
//!   [`ratelimit`] (attempt counters and the client's address).
//! - **Running it**: [`config`] (flags, environment, secret files), [`tls`] (HTTPS served
//!   directly), [`metrics`]; the binaries `zentro-relay` (`main.rs`: serve and the operator's
//!   commands) and `zentro-relay-load` (`bin/load.rs`: the load generator).
#![deny(missing_docs)]

pub mod automation;
pub mod campaigns;
pub mod config;
pub mod consent;
pub mod credentials;
pub mod http;
pub mod metrics;
pub mod migrate;
pub mod ratelimit;
pub mod roles;
pub mod routing;
pub mod sealing;
pub mod sequencer;
pub mod stand_ins;
pub mod store;
pub mod tls;
pub mod wakeups;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::ListenerExt;
pub use config::Config;
pub use http::{AppState, app};
pub use store::Store;
use tokio::net::TcpListener;
use zentro_events::clock::now_ms;

/// Serves the relay on `listener` until `shutdown` resolves: then stops accepting, ends the event
/// streams, and finishes in-flight requests.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Store::open_at(&config.database()).await?;
    let state = AppState::new(store.clone(), config.clone());
    let stop = state.shutdown.clone();
    let wakeups = store.postgres_pool().map(|pool| {
        tokio::spawn(wakeups::listen(
            pool.clone(),
            state.notifier.clone(),
            state.revocations.clone(),
            stop.clone(),
        ))
    });
    let checker = tokio::spawn(http::channel_health::check_periodically(state.clone()));
    let presence = tokio::spawn(http::automation::sweep_presence_periodically(state.clone()));
    let automation = tokio::spawn(automation::run_periodically(state.clone()));
    let consent = tokio::spawn(consent::run_periodically(state.clone()));
    let campaigns = tokio::spawn(campaigns::run_periodically(state.clone()));
    http::shared_files::sweep_periodically(&state);
    let pruner = tokio::spawn(prune_periodically(
        store.clone(),
        config.clone(),
        state.instance_id.clone(),
        stop.clone(),
    ));
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let stop_streams = stop.clone();
    let graceful = async move {
        shutdown.await;
        tracing::info!("stopping: closing streams and finishing requests");
        stop_streams.cancel();
    };
    match config.tls.clone() {
        Some(files) => {
            let address = listener.local_addr()?;
            // `tap_io` only to reach axum's `ConnectInfo` for a listener of our own.
            let listener = tls::TlsListener::start(listener, files, stop.clone())?.tap_io(|_| {});
            tracing::info!(%address, "relay listening (HTTPS)");
            axum::serve(listener, service)
                .with_graceful_shutdown(graceful)
                .await?;
        }
        None => {
            tracing::info!(address = %listener.local_addr()?, "relay listening");
            axum::serve(listener, service)
                .with_graceful_shutdown(graceful)
                .await?;
        }
    }
    stop.cancel();
    let _ = pruner.await;
    let _ = checker.await;
    let _ = presence.await;
    let _ = automation.await;
    let _ = consent.await;
    let _ = campaigns.await;
    if let Some(wakeups) = wakeups {
        let _ = wakeups.await;
    }
    store.close().await;
    tracing::info!("relay stopped");
    Ok(())
}

/// How often the pruner runs; its lease lasts three periods, so another instance takes over
/// within three minutes of the holder's death.
const PRUNE_PERIOD: Duration = Duration::from_secs(60);

/// Name of the pruner's lease (see [`Store::take_lease`]).
pub const PRUNE_LEASE: &str = "prune";

/// Expires idle sessions, prunes the log, trims the quarantine and deletes what instances share
/// once it is of no use ([`prune_shared_state`]) every [`PRUNE_PERIOD`], on one instance at a time
/// (the holder of [`PRUNE_LEASE`]).
async fn prune_periodically(
    store: Store,
    config: Config,
    instance: std::sync::Arc<str>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PRUNE_PERIOD) => {}
            _ = stop.cancelled() => {
                let _ = store.release_lease(PRUNE_LEASE, &instance).await;
                return;
            }
        }
        match store
            .take_lease(PRUNE_LEASE, &instance, 3 * PRUNE_PERIOD)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::error!(%error, "could not take the pruning lease");
                continue;
            }
        }
        // Devices unused past the idle period: signed out, and no longer holding pruning back.
        match store
            .expire_idle_sessions(now_ms(), config.device_idle)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired idle device tokens"),
            Err(error) => tracing::error!(%error, "expiring idle device tokens failed"),
        }
        match store
            .prune(now_ms(), config.prune_grace, config.retention)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned delivered and expired events"),
            Err(error) => tracing::error!(%error, "pruning failed"),
        }
        if let Err(error) = store
            .trim_quarantine(
                now_ms(),
                config.quarantine_retention,
                config.quarantine_max_items,
            )
            .await
        {
            tracing::error!(%error, "trimming the quarantine failed");
        }
        prune_shared_state(&store, now_ms()).await;
    }
}

/// Deletes what relay instances share through the database once it is of no use at `now` (UTC
/// ms): rate-limit counters of windows long ended, Pages whose choice expired, expired shared
/// files. Run by the pruner, under its lease.
pub async fn prune_shared_state(store: &Store, now: i64) {
    let ended = now - i64::try_from(ratelimit::LONGEST_WINDOW.as_millis()).unwrap_or(0);
    if let Err(error) = store.prune_rate_limits(ended).await {
        tracing::error!(%error, "pruning rate-limit counters failed");
    }
    if let Err(error) = store.prune_signup_pages(now).await {
        tracing::error!(%error, "pruning expired Page choices failed");
    }
    match store.sweep_shared_files(now).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "expired shared files deleted"),
        Err(error) => tracing::error!(%error, "deleting expired shared files failed"),
    }
}
