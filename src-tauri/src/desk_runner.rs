//! Running the desk: starting it (the sandbox, or the signed-in member's relay) and forwarding its
//! events to the UI as typed Tauri events (`InboxChanged`, coalesced; `DeskStatusChanged`, the
//! status bar), with OS notifications after each change.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;
use zentro_core::desk::{self, DeskEvent, OpenError, SyncState};
use zentro_core::notices;

use crate::AppState;
use crate::state::RunningDesk;

/// Which desk to start: what the app chose at start-up, or what a sign-in asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskKind {
    /// The built-in sandbox (simulated customers on loopback).
    Sandbox,
    /// The signed-in member's relay.
    SignedIn,
}

/// What runs behind the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DeskMode {
    /// No desk runs yet: the app has just started, or starts one after a sign-in.
    Starting,
    /// The built-in sandbox (simulated customers, no Meta account).
    Sandbox,
    /// The team's relay, with the channels connected to Meta.
    Relay,
    /// Nobody is signed in (or the keychain lost the sign-in): the cache is shown read-only.
    SignedOut,
}

/// How sync is doing, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// Not connected yet.
    Connecting,
    /// Applying what the relay has.
    CatchingUp,
    /// Up to date, following live.
    Live,
    /// The relay is unreachable; retrying.
    Offline,
    /// No sync (signed out).
    Stopped,
}

/// The desk's state as the UI shows it; sent with every change as [`DeskStatusChanged`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DeskStatus {
    /// What answers behind the inbox: the sandbox, the team's relay or nothing (signed out).
    pub mode: DeskMode,
    /// Whether events from the relay are arriving, for the status bar's dot.
    pub sync: SyncPhase,
    /// Events still to apply while catching up.
    pub behind: u32,
    /// For people: why it is offline or signed out, and what to do.
    pub detail: Option<String>,
    /// The signed-in member's id.
    pub member_id: Option<String>,
    /// The signed-in member's name.
    pub member_name: Option<String>,
    /// The signed-in member's role, for what the UI offers.
    pub member_role: Option<zentro_core::members::Role>,
    /// The workspace's name, for the title and the status bar (none while signed out).
    pub workspace_name: Option<String>,
}

impl DeskStatus {
    /// Before the desk started.
    pub fn starting() -> Self {
        Self {
            mode: DeskMode::Starting,
            sync: SyncPhase::Connecting,
            behind: 0,
            detail: None,
            member_id: None,
            member_name: None,
            member_role: None,
            workspace_name: None,
        }
    }
}

/// The desk's status changed.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, Event)]
pub struct DeskStatusChanged(pub DeskStatus);

/// The cache changed: lists and the open conversation should be read again.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, Event)]
pub struct InboxChanged;

fn apply_sync(status: &mut DeskStatus, sync: &SyncState) {
    (status.sync, status.behind, status.detail) = match sync {
        SyncState::CatchingUp(p) => (
            SyncPhase::CatchingUp,
            u32::try_from(p.behind).unwrap_or(u32::MAX),
            None,
        ),
        SyncState::Live => (SyncPhase::Live, 0, None),
        SyncState::Resynced(r) => (
            SyncPhase::Live,
            0,
            Some(format!(
                "This computer was away longer than the relay keeps events: {} events (#{} to #{}) were gone before it received them. It applied every erasure the relay remembers ({}, {} on this computer) and synced what remains; older conversations may lack messages.",
                r.to - r.from + 1,
                r.from,
                r.to,
                r.erasures,
                r.contacts_erased
            )),
        ),
        SyncState::ChannelAccess(change) => (SyncPhase::Live, 0, Some(change.describe())),
        SyncState::Offline { reason } => (
            SyncPhase::Offline,
            0,
            Some(format!(
                "Offline: {reason}. Replies wait and go out when the connection is back."
            )),
        ),
        SyncState::Terminated {
            files,
            keychain_entries,
        } => {
            status.mode = DeskMode::SignedOut;
            status.member_id = None;
            status.member_role = None;
            (
                SyncPhase::Stopped,
                0,
                Some(format!(
                    "The workspace was terminated by its owner. Zentro Desk deleted its conversations, media and keys from this computer ({files} files, {keychain_entries} keychain entries)."
                )),
            )
        }
        SyncState::SignedOut => {
            status.mode = DeskMode::SignedOut;
            (
                SyncPhase::Stopped,
                0,
                Some("The relay signed this computer out. Sign in again to keep syncing.".into()),
            )
        }
    };
}

fn publish<R: Runtime>(app: &AppHandle<R>, change: impl FnOnce(&mut DeskStatus)) {
    let status = app.state::<AppState>().update_status(change);
    let _ = DeskStatusChanged(status).emit(app);
}

/// Starts a desk of `kind` in the background; when it cannot start, the status bar says why and
/// the local cache is shown read-only.
pub fn launch<R: Runtime>(app: &AppHandle<R>, kind: DeskKind) {
    let app = app.clone();
    // Numbered now, so a launch asked for later (a sign-in) wins whichever finishes first.
    let launch = app.state::<AppState>().begin_launch();
    tauri::async_runtime::spawn(async move {
        let data_dir = app.state::<AppState>().data_dir.clone();
        let started = match kind {
            DeskKind::Sandbox => start_sandbox(&data_dir).await,
            DeskKind::SignedIn => start_signed_in(&data_dir).await,
        };
        match started {
            Ok((running, mode)) => {
                let desk = running.desk.clone();
                // Listening before the status is announced: a sync state reached in between
                // (live, say) is not lost.
                let events = desk.subscribe();
                let member = desk.member().clone();
                let workspace = running.workspace_name.clone();
                let announce = || {
                    publish(&app, |s| {
                        s.mode = mode;
                        s.member_id = Some(member.id.clone());
                        s.member_name = Some(member.display_name.clone());
                        s.member_role = Some(member.role);
                        s.workspace_name = Some(workspace);
                        apply_sync(s, &desk.sync_state());
                    });
                };
                let state = app.state::<AppState>();
                if let Err(outdated) = state.install_desk(launch, running, announce).await {
                    tracing::info!(?kind, "desk started after a newer one: stopped");
                    outdated.stop().await;
                    return;
                }
                tracing::info!(?kind, "desk started");
                let _ = InboxChanged.emit(&app);
                forward(app, desk, events).await;
            }
            Err(detail) if !app.state::<AppState>().is_latest(launch) => {
                tracing::info!(?kind, %detail, "desk not started, and a newer one replaced it");
            }
            Err(detail) => {
                tracing::warn!(%detail, "no desk: showing the local cache only");
                publish(&app, |s| {
                    s.mode = DeskMode::SignedOut;
                    s.sync = SyncPhase::Stopped;
                    s.detail = Some(detail);
                });
            }
        }
    });
}

async fn start_sandbox(data_dir: &std::path::Path) -> Result<(RunningDesk, DeskMode), String> {
    // A slow computer's first start (`ZENTRO_SANDBOX_START_DELAY`, seconds before the sandbox
    // starts): tests sign in from the welcome while it is still starting.
    if let Some(delay) = std::env::var("ZENTRO_SANDBOX_START_DELAY")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_secs(delay)).await;
    }
    let sandbox = zentro_sandbox::Sandbox::start(&data_dir.join("sandbox"))
        .await
        .map_err(|e| format!("The sandbox could not start: {e:#}"))?;
    let desk = sandbox
        .start_desk()
        .await
        .map_err(|e| format!("The sandbox could not start: {e:#}"))?;
    // How often a customer writes in on their own (`ZENTRO_SANDBOX_PACE`, seconds; tests slow it).
    let pace = std::env::var("ZENTRO_SANDBOX_PACE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(45)
        .max(1);
    sandbox.start_customers(Duration::from_secs(pace));
    let workspace_name = sandbox.identity().workspace.name.clone();
    Ok((
        RunningDesk {
            desk: Arc::new(desk),
            sandbox: Some(Arc::new(sandbox)),
            workspace_name,
        },
        DeskMode::Sandbox,
    ))
}

async fn start_signed_in(data_dir: &std::path::Path) -> Result<(RunningDesk, DeskMode), String> {
    let workspace_name = zentro_core::account::Account::load(data_dir)
        .ok()
        .flatten()
        .map(|a| a.workspace_name)
        .unwrap_or_default();
    match desk::open_signed_in(data_dir, zentro_core::vault::Vault::system()).await {
        Ok(desk) => Ok((
            RunningDesk {
                desk: Arc::new(desk),
                sandbox: None,
                workspace_name,
            },
            DeskMode::Relay,
        )),
        Err(OpenError::NoAccount) => Err("Nobody is signed in on this computer.".into()),
        Err(OpenError::NoToken) => Err(
            "This computer's sign-in is no longer in the keychain. Sign in again to sync; the inbox below is what was synced before."
                .into(),
        ),
        Err(error) => Err(format!("Zentro Desk could not start syncing: {error}.")),
    }
}
/// Relays the desk's `events` (subscribed to before its status was announced) to the UI until
/// it stops. Change notices are coalesced (at most a few per second), so a catch-up of thousands
/// of events does not flood the UI.
async fn forward<R: Runtime>(
    app: AppHandle<R>,
    desk: Arc<zentro_core::desk::Desk>,
    mut events: tokio::sync::broadcast::Receiver<zentro_core::desk::DeskEvent>,
) {
    let mut pending_change = false;
    let mut cursor = notices::cursor_now(desk.cache()).await.unwrap_or_default();
    crate::notifications::notify(&app, &desk, &mut cursor).await;
    // First-response targets fall due with time alone: looked at every minute.
    let mut breaches_after = zentro_events::clock::now_ms();
    let mut minute = tokio::time::interval(Duration::from_secs(60));
    minute.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = async {
            if pending_change {
                tokio::time::timeout(Duration::from_millis(150), events.recv())
                    .await
                    .ok()
            } else {
                Some(events.recv().await)
            }
        };
        let event = tokio::select! {
            _ = desk.stopped() => {
                let sync = desk.sync_state();
                if matches!(sync, SyncState::Terminated { .. }) {
                    terminated(&app, &desk, &sync).await;
                }
                return;
            }
            _ = minute.tick() => {
                crate::notifications::notify_breaches(&app, &desk, &mut breaches_after).await;
                continue;
            }
            next = next => match next {
                Some(event) => event,
                None => {
                    pending_change = false;
                    let _ = InboxChanged.emit(&app);
                    crate::notifications::notify(&app, &desk, &mut cursor).await;
                    continue;
                }
            },
        };
        match event {
            Ok(DeskEvent::Changed) => pending_change = true,
            Ok(DeskEvent::Sync(sync @ SyncState::Terminated { .. })) => {
                terminated(&app, &desk, &sync).await;
                return;
            }
            Ok(DeskEvent::Sync(sync)) => publish(&app, |s| apply_sync(s, &sync)),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => pending_change = true,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The workspace was terminated and `desk` deleted its data: forget the desk and the cache, and
/// say what happened — unless another desk replaced it meanwhile (a sign-in), which stays.
async fn terminated<R: Runtime>(
    app: &AppHandle<R>,
    desk: &Arc<zentro_core::desk::Desk>,
    sync: &SyncState,
) {
    let state = app.state::<AppState>();
    if !state.stop_desk_if(desk).await {
        tracing::info!("a replaced desk's workspace was terminated: the running desk stays");
        return;
    }
    state.reset_cache().await;
    publish(app, |s| apply_sync(s, sync));
    let _ = InboxChanged.emit(app);
}
