//! The state every command can reach.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::RwLock;
use tokio::sync::mpsc::UnboundedSender;
use zentro_core::desk::Desk;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::Secret;
use zentro_core::{Cache, CacheError, LazyCache};

use crate::deep_links::OpenedLink;
use crate::desk_runner::{DeskKind, DeskStatus};
use crate::{CommandError, ErrorCode};

/// Locks `mutex` even if a thread panicked while holding it. Only for what is replaced or
/// written whole, never left half-written: here a status, a link and the lazily opened cache; also
/// the log file, the update state and the signup window's answer elsewhere in the shell.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A desk the app is running, with what the status bar says about it.
pub struct RunningDesk {
    /// Its sync, sends and team events, shared with the tasks that run them.
    pub desk: Arc<Desk>,
    /// The sandbox behind it, when it is one.
    pub sandbox: Option<Arc<zentro_sandbox::Sandbox>>,
    /// The workspace's name, as the status bar shows it while this desk runs.
    pub workspace_name: String,
}

impl RunningDesk {
    /// Stops the desk, then its sandbox.
    pub async fn stop(self) {
        self.desk.stop().await;
        if let Some(sandbox) = self.sandbox {
            sandbox.stop().await;
        }
    }
}

/// One desk launch, numbered in the order launches began ([`AppState::begin_launch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch(u64);

/// Shared app state, managed once at start-up.
pub struct AppState {
    /// The app's data directory.
    pub data_dir: PathBuf,
    /// The signed-in member's cache, opened on first use (also when no desk runs: the inbox is
    /// readable offline and signed out).
    cache: Mutex<Arc<LazyCache>>,
    /// The running desk, once started ([`AppState::install_desk`], [`AppState::stop_desk`]).
    desk: RwLock<Option<RunningDesk>>,
    /// How many desk launches began, and stops happened: a launch installs its desk only while
    /// nothing newer began ([`AppState::begin_launch`]).
    launches: AtomicU64,
    /// What the status bar shows ([`AppState::status`], [`AppState::update_status`]).
    status: Mutex<DeskStatus>,
    /// The conversation on screen (0: none): it gets no notifications.
    pub viewing: std::sync::atomic::AtomicI64,
    /// Asks the app to start a desk again, after a sign-in ([`AppState::relaunch`]).
    relaunch: UnboundedSender<DeskKind>,
    /// Where exports go: the user's Downloads folder (else `<data dir>/exports`).
    pub downloads: PathBuf,
    /// Where the log files go (the platform's log folder, or `<data dir>/logs`).
    pub logs: PathBuf,
    /// Opens Embedded Signup windows (set once the app is built).
    pub signup_windows: std::sync::OnceLock<Arc<dyn crate::signup_window::SignupWindows>>,
    /// The app's own updating (set once the app is built).
    pub self_update: std::sync::OnceLock<Arc<crate::self_update::SelfUpdate>>,
    /// The last `zentro://` link opened, until the UI takes it ([`AppState::open_link`],
    /// [`AppState::take_link`]).
    opened_link: Mutex<Option<OpenedLink>>,
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
    pub fn new(data_dir: &Path, relaunch: UnboundedSender<DeskKind>) -> Self {
        Self {
            relaunch,
            data_dir: data_dir.to_path_buf(),
            cache: Mutex::new(Arc::new(LazyCache::in_dir(data_dir))),
            desk: RwLock::new(None),
            launches: AtomicU64::new(0),
            status: Mutex::new(DeskStatus::starting()),
            viewing: std::sync::atomic::AtomicI64::new(0),
            downloads: data_dir.join("exports"),
            signup_windows: std::sync::OnceLock::new(),
            self_update: std::sync::OnceLock::new(),
            opened_link: Mutex::new(None),
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

    /// Gives back the page caches of the open caches' idle connections (the running desk's, and
    /// the signed-out cache if it was opened); returns how many connections were released.
    pub async fn release_cache_memory(&self) -> usize {
        let mut released = 0;
        if let Some(desk) = self.desk().await {
            released += desk.cache().release_memory().await;
        }
        let lazy = self.lazy_cache();
        if let Some(cache) = lazy.opened() {
            released += cache.release_memory().await;
        }
        released
    }

    fn lazy_cache(&self) -> Arc<LazyCache> {
        lock(&self.cache).clone()
    }

    /// Closes the signed-out cache (its files were deleted) and opens a fresh one on next use.
    pub async fn reset_cache(&self) {
        let old = std::mem::replace(
            &mut *lock(&self.cache),
            Arc::new(LazyCache::in_dir(&self.data_dir)),
        );
        old.close().await;
    }

    /// Stops the running desk (and its sandbox) and forgets it. A launch still under way
    /// (the first-run sandbox starting in the background) will not install its desk afterwards.
    pub async fn stop_desk(&self) {
        self.stop_desk_where(|_| true).await;
    }

    /// Stops the running desk and forgets it, if it is `desk`: a desk reporting its own end (its
    /// workspace terminated) must not stop the one that replaced it. Whether it was.
    pub async fn stop_desk_if(&self, desk: &Arc<Desk>) -> bool {
        self.stop_desk_where(|running| Arc::ptr_eq(&running.desk, desk))
            .await
    }

    /// Stops the running desk if `which` says so (no desk: nothing to stop, but launches under
    /// way are outdated all the same); whether one was stopped.
    async fn stop_desk_where(&self, which: impl FnOnce(&RunningDesk) -> bool) -> bool {
        let running = {
            let mut desk = self.desk.write().await;
            if desk.as_ref().is_some_and(|running| !which(running)) {
                return false;
            }
            self.launches.fetch_add(1, Ordering::SeqCst);
            desk.take()
        };
        match running {
            Some(running) => {
                running.stop().await;
                true
            }
            None => false,
        }
    }

    /// Marks the start of a desk launch; its desk is installed with the number returned.
    pub fn begin_launch(&self) -> Launch {
        Launch(self.launches.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Whether `launch` is still the latest: no other launch began and the desk was not stopped
    /// since.
    pub fn is_latest(&self, launch: Launch) -> bool {
        self.launches.load(Ordering::SeqCst) == launch.0
    }

    /// Makes `running` the desk and then calls `announce` (before anything can stop it), if
    /// `launch` is still the latest; otherwise hands it back, for the caller to stop: a desk that
    /// finished starting after a sign-in (the first-run sandbox, slower than the join that
    /// followed) must not replace the one signed in.
    pub async fn install_desk(
        &self,
        launch: Launch,
        running: RunningDesk,
        announce: impl FnOnce(),
    ) -> Result<(), RunningDesk> {
        let mut desk = self.desk.write().await;
        if !self.is_latest(launch) {
            return Err(running);
        }
        // Every launch follows a stop today; should one not, the desk it replaces is stopped
        // rather than left running unseen.
        let replaced = desk.replace(running);
        announce();
        drop(desk);
        if let Some(replaced) = replaced {
            tracing::warn!("a desk was started over a running one: the older one is stopped");
            replaced.stop().await;
        }
        Ok(())
    }

    /// The running desk, if any.
    pub async fn desk(&self) -> Option<Arc<Desk>> {
        self.desk.read().await.as_ref().map(|r| r.desk.clone())
    }

    /// The sandbox behind the running desk, when it is the sandbox's.
    pub async fn sandbox(&self) -> Option<Arc<zentro_sandbox::Sandbox>> {
        self.desk
            .read()
            .await
            .as_ref()
            .and_then(|r| r.sandbox.clone())
    }

    /// The running desk, or `signed_out` for a command that needs one.
    pub async fn running_desk(&self) -> Result<Arc<Desk>, CommandError> {
        self.desk().await.ok_or_else(|| {
            CommandError::new(
                ErrorCode::SignedOut,
                "Nothing is syncing yet: sign in (or wait for the sandbox to start), then try again.",
            )
        })
    }

    /// Calls the relay as the signed-in member through the running desk: `call` gets the client
    /// and this device's token. Without a desk the answer is `signed_out`; the relay's refusals
    /// reach the UI as their `CommandError`.
    pub async fn with_relay<T, E>(
        &self,
        call: impl AsyncFnOnce(&RelayClient, &Secret) -> Result<T, E>,
    ) -> Result<T, CommandError>
    where
        CommandError: From<E>,
    {
        let desk = self.running_desk().await?;
        let (relay, token) = desk.relay_access();
        Ok(call(relay, token).await?)
    }

    /// What the status bar shows now.
    pub fn status(&self) -> DeskStatus {
        lock(&self.status).clone()
    }

    /// Changes what the status bar shows; returns the new status.
    pub fn update_status(&self, change: impl FnOnce(&mut DeskStatus)) -> DeskStatus {
        let mut status = lock(&self.status);
        change(&mut status);
        status.clone()
    }

    /// Asks the app to start a desk of `kind` (after the running one was stopped).
    pub fn relaunch(&self, kind: DeskKind) {
        // Closed only while the app shuts down (or in tests of the bare shell): nothing to start.
        let _ = self.relaunch.send(kind);
    }

    /// Keeps `link` for the UI, replacing one it has not taken.
    pub fn open_link(&self, link: OpenedLink) {
        *lock(&self.opened_link) = Some(link);
    }

    /// The link opened last, if the UI has not taken it yet.
    pub fn take_link(&self) -> Option<OpenedLink> {
        lock(&self.opened_link).take()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design
    use super::*;

    /// A real desk, running: the sandbox's, in `dir`.
    async fn sandbox_desk(dir: &Path) -> RunningDesk {
        let sandbox = zentro_sandbox::Sandbox::start(dir).await.unwrap();
        let desk = sandbox.start_desk().await.unwrap();
        RunningDesk {
            desk: Arc::new(desk),
            sandbox: Some(Arc::new(sandbox)),
            workspace_name: "Sandbox Coffee Co.".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_desk_that_finishes_starting_after_a_sign_in_does_not_replace_it() {
        let dir = tempfile::tempdir().unwrap();
        let (relaunch, _relaunches) = tokio::sync::mpsc::unbounded_channel();
        let state = AppState::new(dir.path(), relaunch);
        // The first run's sandbox begins starting. A join succeeds meanwhile: the desk stops
        // (none runs yet) and the signed-in desk's launch begins, and finishes first.
        let first_run = state.begin_launch();
        state.stop_desk().await;
        let after_join = state.begin_launch();
        let joined = sandbox_desk(&dir.path().join("joined")).await;
        let joined_desk = joined.desk.clone();
        state
            .install_desk(after_join, joined, || {})
            .await
            .unwrap_or_else(|_| panic!("the latest launch installs its desk"));
        // The sandbox finishes starting last: handed back to be stopped, never announced.
        let late = sandbox_desk(&dir.path().join("sandbox")).await;
        let mut announced = false;
        let Err(late) = state
            .install_desk(first_run, late, || announced = true)
            .await
        else {
            panic!("the sandbox replaced the desk the join started");
        };
        late.stop().await;
        assert!(!announced, "the outdated desk was announced");
        let running = state.desk().await.unwrap();
        assert!(Arc::ptr_eq(&running, &joined_desk), "the joined desk runs");
        state.stop_desk().await;
        assert!(state.desk().await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replaced_desk_reporting_its_end_does_not_stop_the_desk_that_replaced_it() {
        let dir = tempfile::tempdir().unwrap();
        let (relaunch, _relaunches) = tokio::sync::mpsc::unbounded_channel();
        let state = AppState::new(dir.path(), relaunch);
        let first = sandbox_desk(&dir.path().join("first")).await;
        let first_desk = first.desk.clone();
        let launch = state.begin_launch();
        assert!(state.install_desk(launch, first, || {}).await.is_ok());
        // A sign-in: the first desk stops, the second is installed.
        state.stop_desk().await;
        let second = sandbox_desk(&dir.path().join("second")).await;
        let second_desk = second.desk.clone();
        let launch = state.begin_launch();
        assert!(state.install_desk(launch, second, || {}).await.is_ok());
        // The first desk's workspace ends (its own report, late): the second stays.
        assert!(!state.stop_desk_if(&first_desk).await);
        let running = state.desk().await.unwrap();
        assert!(Arc::ptr_eq(&running, &second_desk), "the second desk runs");
        assert!(state.stop_desk_if(&second_desk).await);
        assert!(state.desk().await.is_none());
    }

    /// Bytes of page cache each of the cache's connections holds (SQLite's
    /// `SQLITE_DBSTATUS_CACHE_USED`), all four held at once so each is read.
    // The test's only unsafe code: reading SQLite's own counter through its C API.
    #[allow(unsafe_code)]
    async fn page_cache_bytes(cache: &Cache) -> Vec<i32> {
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(cache.pool().acquire().await.expect("a connection"));
        }
        let mut used = Vec::new();
        for connection in &mut held {
            let mut handle = connection.lock_handle().await.expect("the handle");
            let (mut current, mut highest) = (0, 0);
            // SAFETY: the handle is a live connection, locked for this call; SQLite writes two
            // ints it was given.
            let rc = unsafe {
                libsqlite3_sys::sqlite3_db_status(
                    handle.as_raw_handle().as_ptr(),
                    libsqlite3_sys::SQLITE_DBSTATUS_CACHE_USED,
                    &mut current,
                    &mut highest,
                    0,
                )
            };
            assert_eq!(rc, libsqlite3_sys::SQLITE_OK);
            used.push(current);
        }
        used
    }

    /// Waits until the pool took all four connections back (a dropped connection returns to the
    /// pool on a task of its own).
    async fn all_idle(cache: &Cache) {
        for _ in 0..500 {
            if cache.pool().num_idle() == 4 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the pool never had its four connections back");
    }

    #[tokio::test]
    async fn idle_cache_connections_give_back_their_page_caches() {
        let dir = tempfile::tempdir().expect("a folder");
        let (relaunch, _) = tokio::sync::mpsc::unbounded_channel();
        let state = AppState::new(dir.path(), relaunch);
        let cache = state.cache().await.expect("the cache");
        // ~4 MiB of pages (one 4,000-byte row a page), read by each of the four connections.
        sqlx::query("CREATE TABLE filler (x BLOB)")
            .execute(cache.pool())
            .await
            .expect("a table");
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
             INSERT INTO filler SELECT randomblob(4000) FROM n",
        )
        .execute(cache.pool())
        .await
        .expect("rows");
        let mut readers = Vec::new();
        for _ in 0..4 {
            let mut connection = cache.pool().acquire().await.expect("a connection");
            sqlx::query("SELECT sum(length(x)) FROM filler")
                .execute(&mut *connection)
                .await
                .expect("a read");
            readers.push(connection);
        }
        drop(readers);
        let filled = page_cache_bytes(&cache).await;
        all_idle(&cache).await;
        assert!(
            filled.iter().all(|&bytes| bytes > 3 << 20),
            "each connection cached the table: {filled:?}"
        );

        // The cache's checkpointer borrows a connection every second: a release that finds it
        // borrowed leaves that one, and the next release takes it.
        let mut released = Vec::new();
        for _ in 0..20 {
            state.release_cache_memory().await;
            released = page_cache_bytes(&cache).await;
            if released.iter().all(|&bytes| bytes < 256 << 10) {
                break;
            }
            all_idle(&cache).await;
        }
        assert!(
            released.iter().all(|&bytes| bytes < 256 << 10),
            "each connection gave its page cache back: {released:?}"
        );
    }
}
