//! Keeping the desk light, and the cold-start mark the UI sends once its first inbox page is
//! painted.
//!
//! What ships (measured before and after with `scripts/bench-footprint.sh`; figures in
//! docs/benchmarks.md, reasons in docs/adr/0017-desk-footprint.md): glibc's allocator gives freed
//! memory back to the system above 128 KiB instead of keeping what start-up allocated (~19 MiB),
//! it keeps at most two heaps (arenas) and is asked every 10 s to return whole free pages
//! (`malloc_trim`), and on a computer without a GPU WebKitGTK's DMA-BUF renderer is off
//! (`WEBKIT_DISABLE_DMABUF_RENDERER=1`, unless the environment already says): ~80 MiB less in
//! the web process. Since run 5, the cache connections no one is using give back their SQLite
//! page caches at each trim. The web engine's processes get the same allocator settings through
//! glibc's tunables (`GLIBC_TUNABLES`, run 7). Without a GPU the app process loads no Mesa
//! (~20 MiB: GTK's GL probe off, EGL loaded there without a driver: [`egl_without_drivers`]);
//! programs the desk starts do not inherit the shell's engine variables ([`crate::launch`]). What
//! applies is decided in [`zentro_core::footprint`]; this module applies it to the process.
//!
//! The web view's own settings (cache model, page cache, no GL) apply only when asked for with
//! [`WEBKIT_FOOTPRINT_ENV`]: two changed nothing measurable, and the third stops the web process.

use std::sync::OnceLock;
use std::time::Instant;

use tauri::Manager;
use zentro_core::footprint::{
    self, FOOTPRINT_CUTS_ENV, FOOTPRINT_SKIP_ENV, WEBKIT_FOOTPRINT_ENV, WebViewSettings,
};
#[cfg(target_os = "linux")]
use zentro_core::footprint::{EGL_VENDOR_FILES_ENV, SET_BY_DESK_ENV};

/// How long after start the allocator is first asked to give back every free page, then how
/// often after that (start-up, each sync burst and each conversation opened free memory in the
/// middle of the heaps, which the trim threshold alone never returns). Every 10 s rather than
/// every 30 s (run 4) since the idle cache connections give back their page caches at the same
/// moment: a desk left alone is light within 10 s, not half a minute (run 5).
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(10);
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether `cut` is left out ([`FOOTPRINT_SKIP_ENV`], or every cut with [`FOOTPRINT_CUTS_ENV`]).
fn skipped(cut: &str) -> bool {
    footprint::left_out(
        cut,
        std::env::var(FOOTPRINT_CUTS_ENV).ok().as_deref(),
        std::env::var(FOOTPRINT_SKIP_ENV).ok().as_deref(),
    )
}

/// When `run` began, for platforms without `/proc`.
static LAUNCHED: OnceLock<Instant> = OnceLock::new();

/// Notes the launch (the origin of [`since_process_start`] where there is no `/proc`), sets the
/// allocator's trim threshold and number of heaps before any thread exists, and the web engine's
/// environment (its processes' allocator, software rendering without a GPU). Call it first thing
/// in `run`.
// Unsafe code, allowed here and named in src-tauri/Cargo.toml: an FFI call into glibc.
#[allow(unsafe_code)]
pub fn before_webviews() {
    let _ = LAUNCHED.set(Instant::now());
    if std::env::var(FOOTPRINT_CUTS_ENV).is_ok_and(|v| v == "0") {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocator parameters; called once, at start, before
    // any thread exists (the arena limit applies to the heaps threads get from then on).
    unsafe {
        // Start-up's large temporary allocations would otherwise stay resident (glibc's
        // threshold grows with the largest block freed); the desk, its SQLite connections and the
        // sandbox's relay mostly wait, so two heaps serve them.
        libc::mallopt(
            libc::M_TRIM_THRESHOLD,
            footprint::MALLOC_TRIM_THRESHOLD_BYTES as libc::c_int,
        );
        // A limit already in the environment (glibc's MALLOC_ARENA_MAX) is the user's choice.
        if !skipped("arenas") && std::env::var_os(footprint::MALLOC_ARENA_MAX_ENV).is_none() {
            libc::mallopt(libc::M_ARENA_MAX, footprint::MALLOC_ARENAS as libc::c_int);
        }
    }
    #[cfg(target_os = "linux")]
    {
        // What a desk before this one set (an in-app update restarts the desk with its
        // environment) is not the user's choice: decided again, like the rest.
        let inherited = footprint::set_by_a_desk(std::env::var(SET_BY_DESK_ENV).ok().as_deref());
        let environment = |name: &str| {
            // An empty value is no choice (WebKit ignores an empty render node).
            std::env::var_os(name)
                .filter(|value| !value.is_empty() && !inherited.contains(&name))
                .map(|value| value.to_string_lossy().into_owned())
        };
        let settings = footprint::software_rendering(
            &environment,
            footprint::has_render_node(),
            mesa_cut_asked(),
        );
        let mut to_set: Vec<(&'static str, String)> = (settings.environment.iter())
            .map(|(name, value)| (*name, value.to_string()))
            .collect();
        // The web and network processes inherit this environment: glibc's tunables give them
        // the allocator settings the desk gave itself above.
        #[cfg(target_env = "gnu")]
        if !skipped("engine-heaps")
            && let Some(tunables) =
                footprint::engine_allocator_tunables(&environment, !skipped("arenas"))
        {
            to_set.push((footprint::GLIBC_TUNABLES_ENV, tunables));
        }
        let names: Vec<&'static str> = to_set.iter().map(|(name, _)| *name).collect();
        // SAFETY (every call below): called first thing in `run`, before the app starts any
        // thread, so nothing reads the environment concurrently.
        for name in inherited.iter().filter(|name| !names.contains(name)) {
            unsafe { std::env::remove_var(name) };
        }
        for (name, value) in to_set {
            unsafe { std::env::set_var(name, value) };
        }
        if settings.app_without_egl {
            let _ = EGL_WITHOUT_DRIVERS.set(egl_without_drivers());
        }
        if names.is_empty() {
            unsafe { std::env::remove_var(SET_BY_DESK_ENV) };
        } else {
            unsafe { std::env::set_var(SET_BY_DESK_ENV, names.join(",")) };
        }
        let mut scrubbed = names;
        scrubbed.push(SET_BY_DESK_ENV);
        let _ = ENGINE_ENVIRONMENT.set(scrubbed);
    }
}

/// Whether the Mesa cut applies (not left out with `ZENTRO_FOOTPRINT_SKIP=mesa`): without a GPU,
/// the app process loads no Mesa ([`footprint::software_rendering`]).
#[cfg(target_os = "linux")]
fn mesa_cut_asked() -> bool {
    !skipped("mesa")
}

/// Whether [`before_webviews`] loaded EGL without drivers (unset: it was not asked to).
#[cfg(target_os = "linux")]
static EGL_WITHOUT_DRIVERS: OnceLock<bool> = OnceLock::new();

/// Logs what [`before_webviews`] decided for the web engine (once the log is set up): the
/// variables it set, and whether EGL in this process was left without drivers.
pub fn log_engine_environment() {
    #[cfg(target_os = "linux")]
    tracing::info!(
        set = ?engine_environment(),
        egl_without_drivers = ?EGL_WITHOUT_DRIVERS.get(),
        "web engine environment"
    );
}

/// The variables [`before_webviews`] set for the web engine, which programs the desk starts must
/// not inherit ([`crate::launch`]).
static ENGINE_ENVIRONMENT: OnceLock<Vec<&'static str>> = OnceLock::new();

/// The names of the variables the shell set for its own web engine, and the variable that lists
/// them (none before [`before_webviews`] or off Linux).
pub fn engine_environment() -> &'static [&'static str] {
    ENGINE_ENVIRONMENT
        .get()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Every [`TRIM_EVERY`] (first [`TRIM_AFTER`] after start), on the async runtime: the idle
/// connections of the open caches give back their SQLite page caches (up to 8 MiB each, filled
/// within seconds over a large cache; the `sqlite` cut), then the allocator gives free memory in
/// the middle of its heaps back to the system (the `trim` cut; glibc only). A millisecond or so
/// each; a released connection's next read comes from the operating system's file cache.
pub fn trim_periodically<R: tauri::Runtime>(app: &tauri::AppHandle<R>) {
    let release_sqlite = !skipped("sqlite");
    let trim_heaps = !skipped("trim") && cfg!(all(target_os = "linux", target_env = "gnu"));
    if !release_sqlite && !trim_heaps {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(TRIM_AFTER).await;
        let mut every = tokio::time::interval(TRIM_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if release_sqlite {
                let released = app
                    .state::<crate::state::AppState>()
                    .release_cache_memory()
                    .await;
                tracing::trace!(released, "cache connections released their page caches");
            }
            if trim_heaps {
                trim();
            }
        }
    });
}

/// glibc's `malloc_trim(0)`: every whole free page of every heap goes back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: malloc_trim only returns free pages to the system; safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Nothing to trim where the allocator is not glibc's.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

/// A vendor file glvnd cannot read: EGL loaded with it has no driver.
#[cfg(target_os = "linux")]
const NO_EGL_VENDOR: &str = "/dev/null";

/// Loads EGL (glvnd's `libEGL.so.1`) into this process with no driver, before anything else
/// does: glvnd reads its driver list once per process, at its first display, so WebKit's EGL in
/// this process later finds no display and loads no Mesa. The environment is as before when it
/// returns, so the web process (and any program the desk starts) loads EGL's drivers as usual.
/// Whether EGL was there to load.
// Unsafe code, allowed here and named in src-tauri/Cargo.toml: dlopen/dlsym and one EGL call.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn egl_without_drivers() -> bool {
    // SAFETY (the environment): called from `before_webviews`, before any thread exists.
    unsafe { std::env::set_var(EGL_VENDOR_FILES_ENV, NO_EGL_VENDOR) };
    // SAFETY: dlopen and dlsym with constant, NUL-terminated names; `eglGetDisplay` has the C
    // signature below (EGLDisplay eglGetDisplay(EGLNativeDisplayType)), and EGL_DEFAULT_DISPLAY
    // (null) is a valid argument. The library stays loaded, as WebKit's would.
    let loaded = unsafe {
        let library = libc::dlopen(c"libEGL.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        let symbol = if library.is_null() {
            std::ptr::null_mut()
        } else {
            libc::dlsym(library, c"eglGetDisplay".as_ptr())
        };
        if symbol.is_null() {
            false
        } else {
            let get_display: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void =
                std::mem::transmute(symbol);
            get_display(std::ptr::null_mut());
            true
        }
    };
    // SAFETY: as above.
    unsafe { std::env::remove_var(EGL_VENDOR_FILES_ENV) };
    loaded
}

/// Applies the memory settings to the web view of `window` (its cache model and, on a computer
/// without a GPU, software rendering without a GL context).
pub fn tune<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    let settings = std::env::var(WEBKIT_FOOTPRINT_ENV)
        .map(|value| WebViewSettings::parse(&value))
        .unwrap_or_default();
    if settings == WebViewSettings::default() {
        tracing::debug!("web engine left at its defaults ({WEBKIT_FOOTPRINT_ENV} unset)");
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(error) = window.with_webview(move |webview| webkit::tune(webview, settings)) {
        tracing::warn!(%error, "could not tune the web view");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (window, settings);
}

/// The UI painted its first inbox page: logs, once, how long after the process started, for the
/// cold-start benchmark. Cheap: one line in the log.
pub fn inbox_painted(rows: u32) {
    static DONE: OnceLock<()> = OnceLock::new();
    if DONE.set(()).is_err() {
        return;
    }
    let since_process_start_ms = since_process_start().as_millis() as u64;
    tracing::info!(rows, since_process_start_ms, "first inbox page painted");
}

/// How long this process has run: from its start as the kernel recorded it (Linux), else from
/// [`before_webviews`].
fn since_process_start() -> std::time::Duration {
    #[cfg(target_os = "linux")]
    if let Some(elapsed) = linux_process_age() {
        return elapsed;
    }
    LAUNCHED.get().map(Instant::elapsed).unwrap_or_default()
}

/// The process's age from `/proc` (start time in clock ticks since boot, at the fixed USER_HZ of
/// 100, against the system's uptime).
#[cfg(target_os = "linux")]
fn linux_process_age() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    footprint::process_age(&stat, &uptime)
}

#[cfg(target_os = "linux")]
mod webkit {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
    };

    /// A document viewer's caches (the app is one page, loaded once from inside the binary), and
    /// no GL context when there is no GPU to back it (software GL costs memory and is slower than
    /// WebKit's own software rendering).
    pub(super) fn tune(webview: tauri::webview::PlatformWebview, asked: super::WebViewSettings) {
        let view = webview.inner();
        if asked.cache_model
            && let Some(context) = view.context()
        {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        if let Some(settings) = WebViewExt::settings(&view) {
            // Nothing navigates back: no page kept in memory for it.
            if asked.no_page_cache {
                settings.set_enable_page_cache(false);
            }
            if asked.no_gl && !zentro_core::footprint::has_render_node() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        }
        tracing::info!(
            gpu = zentro_core::footprint::has_render_node(),
            ?asked,
            "web engine tuned for a small footprint"
        );
    }
}

#[cfg(test)]
mod tests {
    /// EGL loaded by `egl_without_drivers` has no driver for the rest of the process (WebKit's
    /// display then loads no Mesa), and the environment is as it was (the web process, started
    /// later, loads its drivers). Alone in its process under nextest, as it changes the
    /// environment and loads EGL for the whole process.
    #[cfg(target_os = "linux")]
    #[test]
    #[allow(unsafe_code)]
    fn egl_loaded_without_drivers_finds_no_display_and_leaves_the_environment_as_it_was() {
        // Only where the test has its process to itself (nextest's default): it changes the
        // environment, and EGL without drivers would stay so for every later test in the process.
        if std::env::var("NEXTEST_EXECUTION_MODE").as_deref() != Ok("process-per-test") {
            eprintln!("not run: needs a process of its own (cargo nextest)");
            return;
        }
        let mapped_drivers = || {
            std::fs::read_to_string("/proc/self/maps")
                .unwrap()
                .lines()
                .filter(|line| {
                    ["libEGL_mesa", "swrast_dri", "libgallium"]
                        .iter()
                        .any(|d| line.contains(d))
                })
                .count()
        };
        assert_eq!(mapped_drivers(), 0, "no driver before");
        assert!(
            super::egl_without_drivers(),
            "libEGL.so.1 (WebKitGTK needs it) is installed"
        );
        assert!(std::env::var_os("__EGL_VENDOR_LIBRARY_FILENAMES").is_none());
        // SAFETY: the library is loaded (above); the same C signature as in egl_without_drivers;
        // EGL_DEFAULT_DISPLAY is null.
        let display = unsafe {
            let library = libc::dlopen(c"libEGL.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            assert!(!library.is_null());
            let symbol = libc::dlsym(library, c"eglGetDisplay".as_ptr());
            assert!(!symbol.is_null());
            let get_display: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void =
                std::mem::transmute(symbol);
            get_display(std::ptr::null_mut())
        };
        assert!(display.is_null(), "EGL found a display: it has a driver");
        assert_eq!(mapped_drivers(), 0, "a driver was loaded");
    }
}
