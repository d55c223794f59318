//! Zentro Desk's desktop shell.
//!
//! A thin translator between the web UI and `zentro-core`: each command unpacks its arguments,
//! calls one core function and maps the error to [`CommandError`]. Nothing worth unit testing
//! lives here; the logic is in `crates/`.
//!
//! [`build_app`] is generic over the Tauri runtime so tests can boot the whole app on Tauri's mock
//! runtime, without a display.
//!
//! The map:
//! - **What the UI calls**: `commands/` (one module per page or concern: `account`, `inbox`,
//!   `conversations`, `workspace`, `channels`, `rights`, `cache`, `about`), registered with their
//!   events in [`bindings`], which also generates the TypeScript bindings; errors as
//!   [`CommandError`] ([`error`]); what every command reaches in [`AppState`].
//! - **What runs beside the UI**: [`desk_runner`] (starting the desk and forwarding its events),
//!   `notifications` (OS notifications), [`tray`] (the tray's unread count), [`deep_links`]
//!   (`zentro://` links), [`self_update`] (signed updates), [`signup_window`] (Meta's Embedded
//!   Signup in a locked-down window), [`window_state`], [`logs`] and [`footprint`] (the web
//!   engine's memory settings and the cold-start mark).

pub mod bindings;
mod commands;
pub mod deep_links;
pub mod desk_runner;
pub mod error;
pub mod footprint;
pub mod launch;
pub mod logs;
mod notifications;
pub mod self_update;
pub mod signup_window;
mod state;
pub mod tray;
pub mod window_state;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tauri::{App, AppHandle, Manager, Runtime};
use tokio::sync::mpsc::UnboundedReceiver;

use desk_runner::DeskKind;

pub use error::{CommandError, ErrorCode};
pub use state::AppState;

/// Environment variable that moves the app's data directory (cache, media) elsewhere, for tests
/// and for running several instances side by side.
pub const DATA_DIR_ENV: &str = "ZENTRO_DATA_DIR";

/// Environment variable choosing the sandbox (`1`) or not (`0`); see [`AppConfig::sandbox`].
pub const SANDBOX_ENV: &str = "ZENTRO_SANDBOX";

/// How the app is started.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// Where the cache and media live; the platform's app-data directory when `None`.
    pub data_dir: Option<PathBuf>,
    /// Run the sandbox (`Some(true)`, `--sandbox`), never (`Some(false)`), or when nobody has
    /// signed in on this computer yet (`None`, the default: the first start shows the sandbox).
    pub sandbox: Option<bool>,
    /// Start the desk (sync, sending) at all; off for tests of the bare shell.
    pub start_desk: bool,
}

impl AppConfig {
    /// Reads the configuration from the command line and the process environment.
    pub fn from_env() -> Self {
        let flag = std::env::args().any(|a| a == "--sandbox").then_some(true);
        let env = std::env::var(SANDBOX_ENV)
            .ok()
            .map(|v| v == "1" || v == "true");
        Self {
            data_dir: std::env::var_os(DATA_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            sandbox: flag.or(env),
            start_desk: true,
        }
    }
}

/// The single-instance name of the app running on `data_dir` (a D-Bus name on Linux).
fn instance_id(data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    format!("app.zentro.desk.d{:016x}", hasher.finish())
}

/// Builds the app on any Tauri runtime: plugins, commands, state and the main window; then starts
/// the desk (unless `config.start_desk` is off).
pub fn build_app<R: Runtime>(
    builder: tauri::Builder<R>,
    config: AppConfig,
) -> tauri::Result<tauri::App<R>> {
    let commands = bindings::builder::<R>();
    let start_desk = config.start_desk;
    let app = builder
        .plugin(single_instance(config.data_dir.as_deref()))
        // After single-instance: a second launch's `zentro://` argument reaches this app's
        // deep-link handler.
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .invoke_handler(commands.invoke_handler())
        .setup(move |app| show_main_window(app, start_desk))
        .build(tauri::generate_context!())?;
    // Before anything can emit (the desk starts below; `setup` would run only with the loop).
    commands.mount_events(&app);
    let folders = Folders::of(&app, config.data_dir)?;
    if let Err(error) = logs::to_folder(&folders.logs) {
        tracing::warn!(%error, folder = %folders.logs.display(), "logs go to standard error only");
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %folders.data.display(),
        "starting"
    );
    // Managed here rather than in `setup` (which runs when the event loop starts), so the state is
    // there before any window can call a command, on every runtime.
    let (self_update, relaunches) = manage_state(&app, &folders);
    deep_links::listen(app.handle());
    footprint::trim_periodically(app.handle());
    if start_desk {
        let kind = first_desk(config.sandbox, &folders.data);
        start_desk_and_tray(app.handle(), kind, relaunches);
        self_update.check_periodically();
    }
    Ok(app)
}

/// One app per data folder: a second launch hands its arguments to the running one, which comes
/// to the front, and exits. Keyed by the folder, so side-by-side instances (and the tests) with
/// folders of their own stay independent.
fn single_instance<R: Runtime>(data_dir: Option<&Path>) -> tauri::plugin::TauriPlugin<R> {
    let instance = tauri_plugin_single_instance::Builder::new()
        .callback(|app, _args, _cwd| tray::bring_to_front(app));
    match data_dir {
        Some(dir) => instance.dbus_id(instance_id(dir)),
        None => instance,
    }
    .build()
}

/// The main window exists from `setup` on (windows from the configuration come first), hidden
/// until it is where it was left. It stays hidden when the user chose to start in the tray, if
/// there is a tray to come back from.
fn show_main_window<R: Runtime>(
    app: &mut App<R>,
    start_desk: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(window) = app.get_webview_window("main") {
        footprint::tune(&window);
        let data_dir = &app.state::<AppState>().data_dir;
        window_state::keep(&window, data_dir);
        let in_tray = start_desk
            && app.tray_by_id(tray::TRAY_ID).is_some()
            && zentro_core::preferences::Preferences::load(data_dir).start_minimized;
        if in_tray {
            tracing::info!("starting minimized to the tray");
        } else {
            window.show()?;
        }
    }
    Ok(())
}

/// Where the app keeps its data and writes its logs.
struct Folders {
    data: PathBuf,
    logs: PathBuf,
}

impl Folders {
    /// The configured data folder, else the platform's; the logs go next to a configured one,
    /// else to the platform's log folder.
    fn of<R: Runtime>(app: &App<R>, data_dir: Option<PathBuf>) -> tauri::Result<Self> {
        let explicit = data_dir.is_some();
        let data = match data_dir {
            Some(dir) => dir,
            None => app.path().app_data_dir()?,
        };
        let logs = match explicit {
            true => data.join("logs"),
            false => app
                .path()
                .app_log_dir()
                .unwrap_or_else(|_| data.join("logs")),
        };
        Ok(Self { data, logs })
    }
}

/// Makes the [`AppState`] every command reaches; returns the app's updating and where requests
/// to start a desk again arrive.
fn manage_state<R: Runtime>(
    app: &App<R>,
    folders: &Folders,
) -> (Arc<self_update::SelfUpdate>, UnboundedReceiver<DeskKind>) {
    let (relaunch, relaunches) = tokio::sync::mpsc::unbounded_channel();
    let mut state = AppState::new(&folders.data, relaunch);
    if let Ok(downloads) = app.path().download_dir() {
        state.downloads = downloads;
    }
    state.logs = folders.logs.clone();
    let _ = state.signup_windows.set(Arc::new(app.handle().clone()));
    let self_update = Arc::new(updates_for(app.handle(), &folders.data));
    let _ = state.self_update.set(self_update.clone());
    app.manage(state);
    (self_update, relaunches)
}

/// The desk to start at launch: as `sandbox` says, else the sandbox when nobody has signed in on
/// this computer yet.
fn first_desk(sandbox: Option<bool>, data_dir: &Path) -> DeskKind {
    let sandbox =
        sandbox.unwrap_or_else(|| !data_dir.join(zentro_core::account::ACCOUNT_FILE).exists());
    match sandbox {
        true => DeskKind::Sandbox,
        false => DeskKind::SignedIn,
    }
}

/// Puts the app in the tray and starts a desk of `kind`, and another whenever one is asked for
/// (after a sign-in).
fn start_desk_and_tray<R: Runtime>(
    app: &AppHandle<R>,
    kind: DeskKind,
    mut relaunches: UnboundedReceiver<DeskKind>,
) {
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(kind) = relaunches.recv().await {
            desk_runner::launch(&handle, kind);
        }
    });
    if let Err(error) = tray::install(app) {
        tracing::warn!(%error, "no tray icon on this desktop");
    }
    desk_runner::launch(app, kind);
}

/// The app's updating, through the updater plugin (the public key and default server come from
/// the configuration).
fn updates_for<R: Runtime>(
    app: &tauri::AppHandle<R>,
    data_dir: &std::path::Path,
) -> self_update::SelfUpdate {
    use std::time::Duration;
    use tauri_plugin_updater::UpdaterExt;
    use tauri_specta::Event;
    let (updater, publisher, restarter) = (app.clone(), app.clone(), app.clone());
    self_update::SelfUpdate::new(
        data_dir,
        self_update::configured_endpoints(app.config()),
        Box::new(move |endpoints| {
            updater
                .updater_builder()
                .endpoints(endpoints)?
                // A server that stops answering fails the attempt instead of hanging it; a slow
                // but moving download is fine.
                .configure_client(|client| {
                    client
                        .connect_timeout(Duration::from_secs(20))
                        .read_timeout(Duration::from_secs(60))
                })
                .build()
        }),
        Box::new(move |status| {
            let _ = self_update::UpdateStatusChanged(status.clone()).emit(&publisher);
        }),
        Box::new(move || restarter.restart()),
        self_update::cannot_install(),
    )
}

/// Runs the desktop app until its last window closes.
pub fn run() {
    footprint::before_webviews();
    logs::init();
    footprint::log_engine_environment();
    match build_app(tauri::Builder::default(), AppConfig::from_env()) {
        Ok(app) => app.run(|_, _| {}),
        Err(error) => {
            tracing::error!(%error, "Zentro Desk could not start");
            eprintln!("Zentro Desk could not start: {error}");
            std::process::exit(1);
        }
    }
}
