//! Starting the desk (the sandbox, or the signed-in member's relay) and relaying its events to
//! the UI as typed Tauri events.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;
use zentro_core::desk::{self, DeskEvent, OpenError, SyncState};
use zentro_core::notices;

use crate::AppState;
use crate::state::RunningDesk;

/// What runs behind the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DeskMode {
    /// Still starting.
    Starting,
    /// The built-in sandbox (simulated customers, no Meta account).
    Sandbox,
    /// A real relay.
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
    /// What runs.
    pub mode: DeskMode,
    /// Sync.
    pub sync: SyncPhase,
    /// Events still to apply while catching up.
    pub behind: u32,
    /// For people: why it is offline or signed out, and what to do.
    pub detail: Option<String>,
    /// The signed-in member's id.
    pub member_id: Option<String>,
    /// The signed-in member's name.
    pub member_name: Option<String>,
    /// The signed-in member's role (owner, admin, agent), for what the UI offers.
    pub member_role: Option<String>,
    /// The workspace's name.
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
    let state = app.state::<AppState>();
    let status = {
        let mut status = state
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut status);
        status.clone()
    };
    let _ = DeskStatusChanged(status).emit(app);
}

/// Starts the desk in the background: the sandbox when asked (or when nobody ever signed in
/// here), else the signed-in member's relay.
pub fn launch<R: Runtime>(app: &AppHandle<R>, sandbox: bool) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let data_dir = app.state::<AppState>().data_dir.clone();
        let started = if sandbox {
            start_sandbox(&data_dir).await
        } else {
            start_signed_in(&data_dir).await
        };
        match started {
            Ok((running, mode)) => {
                let desk = running.desk.clone();
                let member = desk.member().clone();
                let workspace = running.workspace_name.clone();
                *app.state::<AppState>().desk.write().await = Some(running);
                publish(&app, |s| {
                    s.mode = mode;
                    s.member_id = Some(member.id.clone());
                    s.member_name = Some(member.display_name.clone());
                    s.member_role = Some(member.role.clone());
                    s.workspace_name = Some(workspace);
                    apply_sync(s, &desk.sync_state());
                });
                let _ = InboxChanged.emit(&app);
                forward(app, desk).await;
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

/// The tray icon's id.
pub const TRAY_ID: &str = "main";

/// After a change: OS notifications for what deserves one, and the tray's unread count.
async fn notify<R: Runtime>(
    app: &AppHandle<R>,
    desk: &zentro_core::desk::Desk,
    cursor: &mut notices::NoticeCursor,
) {
    let viewing = app
        .state::<AppState>()
        .viewing
        .load(std::sync::atomic::Ordering::Relaxed);
    let viewing = (viewing > 0).then_some(viewing);
    match notices::since(desk.cache(), *cursor, desk.member(), viewing).await {
        Ok((found, next)) => {
            *cursor = next;
            // A burst (a catch-up) is one summary, not a wall of notifications.
            let shown: Vec<(String, String, Option<i64>)> = if found.len() > 3 {
                vec![(
                    "Zentro Desk".into(),
                    format!("{} new messages and mentions", found.len()),
                    None,
                )]
            } else {
                found
                    .into_iter()
                    .map(|n| (n.title, n.body, Some(n.conversation_id)))
                    .collect()
            };
            for (title, body, conversation) in shown {
                show_notice(app, title, body, conversation);
            }
        }
        Err(error) => tracing::warn!(%error, "could not look for notifications"),
    }
    if let (Some(tray), Ok(unread)) = (
        app.tray_by_id(TRAY_ID),
        notices::unread_total(desk.cache()).await,
    ) {
        let text = match unread {
            0 => "Zentro Desk — no unread messages".to_string(),
            1 => "Zentro Desk — 1 unread message".to_string(),
            n => format!("Zentro Desk — {n} unread messages"),
        };
        let _ = tray.set_tooltip(Some(&text));
        let _ = tray.set_title((unread > 0).then(|| unread.to_string()));
    }
}

/// Shows one OS notification. On Linux a click on it opens its conversation (or the window, for
/// a summary): the notification server reports the click, which a thread per notification
/// waits for until the notification is closed. Elsewhere the notification plugin shows it.
fn show_notice<R: Runtime>(
    app: &AppHandle<R>,
    title: String,
    body: String,
    conversation: Option<i64>,
) {
    #[cfg(target_os = "linux")]
    {
        let app = app.clone();
        let spawned = std::thread::Builder::new()
            .name("notification".into())
            .spawn(move || {
                let shown = notify_rust::Notification::new()
                    .appname("Zentro Desk")
                    .icon("zentro-desk")
                    .summary(&title)
                    .body(&body)
                    .action("default", "Open")
                    .show();
                match shown {
                    Ok(handle) => handle.wait_for_action(|action| {
                        if action == "default" {
                            match conversation {
                                Some(id) => crate::deep_links::show_conversation(&app, id),
                                None => bring_to_front(&app),
                            }
                        }
                    }),
                    Err(error) => tracing::debug!(%error, "no notification shown"),
                }
            });
        if let Err(error) = spawned {
            tracing::debug!(%error, "no notification shown");
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        use tauri_plugin_notification::NotificationExt;
        let _ = conversation;
        if let Err(error) = app.notification().builder().title(title).body(body).show() {
            tracing::debug!(%error, "no notification shown");
        }
    }
}

/// Relays the desk's events to the UI until it stops. Change notices are coalesced (at most a few
/// per second), so a catch-up of thousands of events does not flood the UI.
async fn forward<R: Runtime>(app: AppHandle<R>, desk: Arc<zentro_core::desk::Desk>) {
    let mut events = desk.subscribe();
    let mut pending_change = false;
    let mut cursor = notices::cursor_now(desk.cache()).await.unwrap_or_default();
    notify(&app, &desk, &mut cursor).await;
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
                    terminated(&app, &sync).await;
                }
                return;
            }
            next = next => match next {
                Some(event) => event,
                None => {
                    pending_change = false;
                    let _ = InboxChanged.emit(&app);
                    notify(&app, &desk, &mut cursor).await;
                    continue;
                }
            },
        };
        match event {
            Ok(DeskEvent::Changed) => pending_change = true,
            Ok(DeskEvent::Sync(sync @ SyncState::Terminated { .. })) => {
                terminated(&app, &sync).await;
                return;
            }
            Ok(DeskEvent::Sync(sync)) => publish(&app, |s| apply_sync(s, &sync)),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => pending_change = true,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The workspace was terminated and the desk deleted its data: forget the desk and the cache,
/// and say what happened.
async fn terminated<R: Runtime>(app: &AppHandle<R>, sync: &SyncState) {
    let state = app.state::<AppState>();
    state.stop_desk().await;
    state.reset_cache().await;
    publish(app, |s| apply_sync(s, sync));
    let _ = InboxChanged.emit(app);
}

/// Shows the main window in front (from the tray, or when the app is launched again).
pub fn bring_to_front<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Puts Zentro Desk in the system tray: the unread count as its tooltip (and title where the
/// desktop shows one), a menu to bring the window back or quit.
pub fn tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    use tauri::menu::{Menu, MenuItem};
    use tauri::tray::TrayIconBuilder;
    let open = MenuItem::with_id(app, "open", "Open Zentro Desk", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Zentro Desk")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => bring_to_front(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}
