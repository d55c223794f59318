//! The state every command can reach.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::RwLock;
use zentro_core::desk::Desk;
use zentro_core::{Cache, CacheError, LazyCache};

use crate::desk::DeskStatus;

/// A desk the app is running, with what the status bar says about it.
pub struct RunningDesk {
    /// The desk.
    pub desk: Arc<Desk>,
    /// The sandbox behind it, when it is one.
    pub sandbox: Option<Arc<zentro_sandbox::Sandbox>>,
    /// The workspace's name.
    pub workspace_name: String,
}

/// Shared app state, managed once at start-up.
pub struct AppState {
    /// The app's data directory.
    pub data_dir: PathBuf,
    /// The signed-in member's cache, opened on first use (also when no desk runs: the inbox is
    /// readable offline and signed out).
    cache: std::sync::Mutex<Arc<LazyCache>>,
    /// The running desk, once started.
    pub desk: RwLock<Option<RunningDesk>>,
    /// What the status bar shows.
    pub status: std::sync::Mutex<DeskStatus>,
    /// The conversation on screen (0: none): it gets no notifications.
    pub viewing: std::sync::atomic::AtomicI64,
    /// Asks the app to start a desk again (`true`: the sandbox), after a sign-in.
    pub relaunch: tokio::sync::mpsc::UnboundedSender<bool>,
    /// Where exports go: the user's Downloads folder (else `<data dir>/exports`).
    pub downloads: PathBuf,
    /// Where the log files go (the platform's log folder, or `<data dir>/logs`).
    pub logs: PathBuf,
    /// Opens Embedded Signup windows (set once the app is built).
    pub signup_windows: std::sync::OnceLock<Arc<dyn crate::signup_window::SignupWindows>>,
    /// The app's own updating (set once the app is built).
    pub self_update: std::sync::OnceLock<Arc<crate::self_update::SelfUpdate>>,
    /// The last `zentro://` link opened, until the UI takes it.
    pub opened_link: std::sync::Mutex<Option<crate::deep_links::OpenedLink>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State for an app whose data lives in `data_dir`.
    pub fn new(data_dir: &Path, relaunch: tokio::sync::mpsc::UnboundedSender<bool>) -> Self {
        Self {
            relaunch,
            data_dir: data_dir.to_path_buf(),
            cache: std::sync::Mutex::new(Arc::new(LazyCache::in_dir(data_dir))),
            desk: RwLock::new(None),
            status: std::sync::Mutex::new(DeskStatus::starting()),
            viewing: std::sync::atomic::AtomicI64::new(0),
            downloads: data_dir.join("exports"),
            signup_windows: std::sync::OnceLock::new(),
            self_update: std::sync::OnceLock::new(),
            opened_link: std::sync::Mutex::new(None),
            logs: data_dir.join("logs"),
        }
    }

    /// The cache the inbox shows: the running desk's, else the signed-in member's file.
    pub async fn cache(&self) -> Result<Cache, CacheError> {
        if let Some(running) = self.desk.read().await.as_ref() {
            return Ok(running.desk.cache().clone());
        }
        let lazy = self.lazy_cache();
        lazy.get().await.cloned()
    }

    fn lazy_cache(&self) -> Arc<LazyCache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Closes the signed-out cache (its files were deleted) and opens a fresh one on next use.
    pub async fn reset_cache(&self) {
        let old = std::mem::replace(
            &mut *self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            Arc::new(LazyCache::in_dir(&self.data_dir)),
        );
        old.close().await;
    }

    /// Stops the running desk (and its sandbox) and forgets it.
    pub async fn stop_desk(&self) {
        if let Some(running) = self.desk.write().await.take() {
            running.desk.stop().await;
            if let Some(sandbox) = running.sandbox {
                sandbox.stop().await;
            }
        }
    }

    /// The running desk, if any.
    pub async fn desk(&self) -> Option<Arc<Desk>> {
        self.desk.read().await.as_ref().map(|r| r.desk.clone())
    }
}
