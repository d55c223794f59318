//! Zentro Desk's desktop shell.
//!
//! A thin translator between the web UI and `zentro-core`: each command unpacks its arguments,
//! calls one core function and maps the error to [`CommandError`]. Nothing worth unit testing
//! lives here; the logic is in `crates/`.
//!
//! [`build_app`] is generic over the Tauri runtime so tests can boot the whole app on Tauri's mock
//! runtime, without a display.

pub mod bindings;
mod commands;
pub mod desk;
pub mod error;
pub mod logs;
pub mod signup_window;
mod state;
pub mod window_state;

use std::path::PathBuf;

use tauri::{Manager, Runtime};

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
fn instance_id(data_dir: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    format!("app.zentro.desk.d{:016x}", hasher.finish())
}

/// Builds the app on any Tauri runtime: plugins, commands, state and the main window.
pub fn build_app<R: Runtime>(
    builder: tauri::Builder<R>,
    config: AppConfig,
) -> tauri::Result<tauri::App<R>> {
    let commands = bindings::builder::<R>();
    let invoke_handler = commands.invoke_handler();
    // One app per data folder: a second launch hands its arguments to the running one, which
    // comes to the front, and exits. Keyed by the folder, so side-by-side instances (and the
    // tests) with folders of their own stay independent.
    let instance = tauri_plugin_single_instance::Builder::new()
        .callback(|app, _args, _cwd| desk::bring_to_front(app));
    let instance = match &config.data_dir {
        Some(dir) => instance.dbus_id(instance_id(dir)),
        None => instance,
    };
    let app = builder
        .plugin(instance.build())
        .plugin(tauri_plugin_shell::init())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(invoke_handler)
        .setup(|app| {
            // The main window exists from here on (windows from the configuration come first).
            if let Some(window) = app.get_webview_window("main") {
                window_state::keep(&window, &app.state::<AppState>().data_dir);
            }
            Ok(())
        })
        .build(tauri::generate_context!())?;
    // Before anything can emit (the desk starts below; `setup` would run only with the loop).
    commands.mount_events(&app);
    // Managed here rather than in `setup` (which runs when the event loop starts), so the state is
    // there before any window can call a command, on every runtime.
    let explicit_data_dir = config.data_dir.is_some();
    let data_dir = match config.data_dir {
        Some(dir) => dir,
        None => app.path().app_data_dir()?,
    };
    // With a data folder of its own (tests, side-by-side instances) the logs go next to it.
    let log_dir = match explicit_data_dir {
        true => data_dir.join("logs"),
        false => app
            .path()
            .app_log_dir()
            .unwrap_or_else(|_| data_dir.join("logs")),
    };
    if let Err(error) = logs::to_folder(&log_dir) {
        tracing::warn!(%error, folder = %log_dir.display(), "logs go to standard error only");
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %data_dir.display(),
        "starting"
    );
    let (relaunch, mut relaunches) = tokio::sync::mpsc::unbounded_channel();
    let mut state = AppState::new(&data_dir, relaunch);
    if let Ok(downloads) = app.path().download_dir() {
        state.downloads = downloads;
    }
    state.logs = log_dir;
    let _ = state
        .signup_windows
        .set(std::sync::Arc::new(app.handle().clone()));
    app.manage(state);
    if config.start_desk {
        let handle = app.handle().clone();
        tauri::async_runtime::spawn(async move {
            while let Some(sandbox) = relaunches.recv().await {
                desk::launch(&handle, sandbox);
            }
        });
        let sandbox = config
            .sandbox
            .unwrap_or_else(|| !data_dir.join(zentro_core::account::ACCOUNT_FILE).exists());
        if let Err(error) = desk::tray(app.handle()) {
            tracing::warn!(%error, "no tray icon on this desktop");
        }
        desk::launch(app.handle(), sandbox);
    }
    Ok(app)
}

/// Runs the desktop app until its last window closes.
pub fn run() {
    logs::init();
    match build_app(tauri::Builder::default(), AppConfig::from_env()) {
        Ok(app) => app.run(|_, _| {}),
        Err(error) => {
            tracing::error!(%error, "Zentro Desk could not start");
            eprintln!("Zentro Desk could not start: {error}");
            std::process::exit(1);
        }
    }
}
