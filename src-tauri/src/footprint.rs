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
//! page caches at each trim. Without a GPU the app process loads no Mesa (~20 MiB: GTK's GL probe
//! off, EGL loaded there without a driver: `software_rendering`, `egl_without_drivers`); programs
//! the desk starts do not inherit the shell's engine variables ([`crate::launch`]).
//!
//! The web view's own settings (cache model, page cache, no GL) apply only when asked for with
//! [`WEBKIT_FOOTPRINT_ENV`]: two changed nothing measurable, and the third stops the web process.

use std::sync::OnceLock;
use std::time::Instant;

use tauri::Manager;

/// Environment variable that applies the web view's footprint settings, for measuring them (`1`
/// for all, or a list: see [`FootprintSettings::parse`]). Off by default: on WebKitGTK 2.50.6
/// without a GPU, `cache-model` and `no-page-cache` measured no change, and with `no-gl` the
/// window's web process never comes up (docs/adr/0017-desk-footprint.md).
pub const WEBKIT_FOOTPRINT_ENV: &str = "ZENTRO_WEBKIT_FOOTPRINT";

/// Environment variable that, set to `0`, leaves out every shipped cut (the allocator at its
/// defaults, no periodic trim, no release of the cache's page caches), as before the cuts (for
/// the footprint benchmark's "before" in the same run).
pub const FOOTPRINT_CUTS_ENV: &str = "ZENTRO_FOOTPRINT_CUTS";

/// Above this much free memory at the top of a heap, glibc gives it back (its default threshold
/// grows with the largest block freed, so start-up's large temporary allocations stay resident).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_TRIM_THRESHOLD_BYTES: libc::c_int = 128 * 1024;

/// Environment variable naming shipped cuts to leave out, comma-separated (`arenas`, `trim`,
/// `sqlite`: the idle cache connections' page caches kept, `mesa`: the app process's GL left on
/// without a GPU), for the footprint benchmark's variants (each cut measured against the same
/// binary without it).
pub const FOOTPRINT_SKIP_ENV: &str = "ZENTRO_FOOTPRINT_SKIP";

/// At most this many glibc heaps (arenas): glibc's default is 8 per core, each holding its own
/// freed memory, for an app whose threads mostly wait (the desk, its SQLite connections, the
/// sandbox's relay).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

/// How long after start the allocator is first asked to give back every free page, then how
/// often after that (start-up, each sync burst and each conversation opened free memory in the
/// middle of the heaps, which the trim threshold alone never returns). Every 10 s rather than
/// every 30 s (run 4) since the idle cache connections give back their page caches at the same
/// moment: a desk left alone is light within 10 s, not half a minute (run 5).
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(10);
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether `cut` is left out ([`FOOTPRINT_SKIP_ENV`], or every cut with [`FOOTPRINT_CUTS_ENV`]).
fn skipped(cut: &str) -> bool {
    left_out(
        cut,
        std::env::var(FOOTPRINT_CUTS_ENV).ok().as_deref(),
        std::env::var(FOOTPRINT_SKIP_ENV).ok().as_deref(),
    )
}

/// Whether `cut` is left out, given the values of [`FOOTPRINT_CUTS_ENV`] (`0`: every cut) and
/// [`FOOTPRINT_SKIP_ENV`] (a comma-separated list of cuts).
fn left_out(cut: &str, cuts: Option<&str>, skip: Option<&str>) -> bool {
    cuts == Some("0") || skip.is_some_and(|list| list.split(',').any(|name| name.trim() == cut))
}

/// When `run` began, for platforms without `/proc`.
static LAUNCHED: OnceLock<Instant> = OnceLock::new();

/// The footprint settings asked for in [`WEBKIT_FOOTPRINT_ENV`]: `1` for all of them, or a
/// comma-separated list of `cache-model`, `no-page-cache`, `no-gl` (to measure or rule out one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FootprintSettings {
    /// WebKit's cache model `DocumentViewer` instead of `WebBrowser`.
    cache_model: bool,
    /// WebKit's back/forward page cache off.
    no_page_cache: bool,
    /// Hardware acceleration `Never` on a computer without a GPU.
    no_gl: bool,
}

impl FootprintSettings {
    /// The settings `value` names; unknown names are ignored (and logged).
    fn parse(value: &str) -> Self {
        if value.trim() == "1" {
            return Self {
                cache_model: true,
                no_page_cache: true,
                no_gl: true,
            };
        }
        let mut settings = Self::default();
        let names = value.split(',').map(str::trim);
        for name in names.filter(|n| !n.is_empty() && *n != "0") {
            match name {
                "cache-model" => settings.cache_model = true,
                "no-page-cache" => settings.no_page_cache = true,
                "no-gl" => settings.no_gl = true,
                other => tracing::warn!(setting = other, "unknown {WEBKIT_FOOTPRINT_ENV} setting"),
            }
        }
        settings
    }

    /// The settings asked for in the environment (none when it is unset).
    fn from_env() -> Self {
        std::env::var(WEBKIT_FOOTPRINT_ENV)
            .map(|v| Self::parse(&v))
            .unwrap_or_default()
    }
}

/// Notes the launch (the origin of [`since_process_start`] where there is no `/proc`), and sets
/// the allocator's trim threshold before any thread exists. Call it first thing in `run`.
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
        libc::mallopt(libc::M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD_BYTES);
        // A limit already in the environment (glibc's MALLOC_ARENA_MAX) is the user's choice.
        if !skipped("arenas") && std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
    #[cfg(target_os = "linux")]
    {
        // What a desk before this one set (an in-app update restarts the desk with its
        // environment) is not the user's choice: decided again, like the rest.
        let inherited = set_by_a_desk(std::env::var(SET_BY_DESK_ENV).ok().as_deref());
        let environment = |name: &str| {
            // An empty value is no choice (WebKit ignores an empty render node).
            std::env::var_os(name)
                .filter(|value| !value.is_empty() && !inherited.contains(&name))
                .map(|value| value.to_string_lossy().into_owned())
        };
        let settings = software_rendering(&environment, has_render_node(), mesa_cut_asked());
        let names: Vec<&'static str> = settings.environment.iter().map(|(name, _)| *name).collect();
        // SAFETY (every call below): called first thing in `run`, before the app starts any
        // thread, so nothing reads the environment concurrently.
        for name in inherited.iter().filter(|name| !names.contains(name)) {
            unsafe { std::env::remove_var(name) };
        }
        for (name, value) in settings.environment {
            unsafe { std::env::set_var(name, value) };
        }
        if settings.app_without_egl && !egl_without_drivers() {
            tracing::debug!("no EGL to keep out of the app process");
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
/// the app process loads no Mesa (see `software_rendering`).
#[cfg(target_os = "linux")]
fn mesa_cut_asked() -> bool {
    !skipped("mesa")
}

/// Names the variables the desk set for its web engine, for a desk started with this environment
/// (an in-app update restarts the desk with it), which must tell them from the user's own.
#[cfg(target_os = "linux")]
const SET_BY_DESK_ENV: &str = "ZENTRO_ENGINE_ENVIRONMENT";

/// The engine variables a desk before this one set, from [`SET_BY_DESK_ENV`]'s value (names
/// other than the ones the desk sets are ignored).
#[cfg(target_os = "linux")]
fn set_by_a_desk(value: Option<&str>) -> Vec<&'static str> {
    let listed: Vec<&str> = value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .collect();
    [DMABUF_ENV, GDK_GL_ENV, RENDER_DEVICE_ENV]
        .into_iter()
        .filter(|name| listed.contains(name))
        .collect()
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

/// WebKitGTK's switch for its DMA-BUF renderer.
#[cfg(target_os = "linux")]
const DMABUF_ENV: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// GTK's switch for its own GL: when GTK opens the X display it probes GLX, which loads Mesa's
/// driver and its LLVM in the app process (~20 MiB, relocated data and static constructors).
#[cfg(target_os = "linux")]
const GDK_GL_ENV: &str = "GDK_GL";

/// The render node WebKit gives its web process: a choice the environment made (the desk no
/// longer sets it; a desk of run 6 with the held-back cut did, so a restarted desk still clears
/// it). Setting it skips WebKit's lookup of its app-process display, which is also where WebKit
/// starts following GTK's settings (the dark theme among them), so the desk does not.
#[cfg(target_os = "linux")]
const RENDER_DEVICE_ENV: &str = "WEBKIT_WEB_RENDER_DEVICE_FILE";

/// glvnd's EGL driver (vendor) files, and the folders it looks for them in: the user's choice
/// when set, and the way the desk keeps EGL's drivers out of the app process otherwise
/// ([`egl_without_drivers`]).
#[cfg(target_os = "linux")]
const EGL_VENDOR_FILES_ENV: &str = "__EGL_VENDOR_LIBRARY_FILENAMES";
#[cfg(target_os = "linux")]
const EGL_VENDOR_DIRS_ENV: &str = "__EGL_VENDOR_LIBRARY_DIRS";

/// What the web engine should start with without a GPU: the variables to set, and whether the
/// app process goes without EGL's drivers ([`egl_without_drivers`]).
#[cfg(target_os = "linux")]
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SoftwareRendering {
    /// Names and values to set in the environment (inherited by the web process).
    pub(crate) environment: Vec<(&'static str, &'static str)>,
    /// Whether EGL in the app process is to find no driver.
    pub(crate) app_without_egl: bool,
}

/// The environment the web engine should start with, given what the environment already says
/// (`environment`), whether there is a GPU (a DRM render node), and whether the app process may
/// go without Mesa (the `mesa` cut).
///
/// Without a GPU, WebKit renders through Mesa's software GL. Its DMA-BUF renderer then keeps
/// ~80 MiB of buffers in the web process for nothing, so it goes off. With it off, the app process
/// needs no GL at all: GTK's GL probe goes off, and EGL in the app process finds no driver, so
/// WebKit's look-up of a render node for the web process (the only use it then has for EGL there)
/// finds none, as Mesa's software driver would, without loading Mesa (~20 MiB); the web process
/// still paints through its own EGL display. A choice already made in the environment is the
/// user's; with the DMA-BUF renderer on (the user's choice) nothing more is done, since the app
/// process then draws its buffers with GL. With a GPU, WebKit's and GTK's defaults stand.
#[cfg(target_os = "linux")]
pub(crate) fn software_rendering(
    environment: &dyn Fn(&str) -> Option<String>,
    gpu: bool,
    app_without_mesa: bool,
) -> SoftwareRendering {
    let mut settings = SoftwareRendering::default();
    if gpu {
        return settings;
    }
    let dmabuf = environment(DMABUF_ENV);
    if dmabuf.is_none() {
        settings.environment.push((DMABUF_ENV, "1"));
    }
    // WebKit reads any value but `0` as "off".
    let dmabuf_off = dmabuf.is_none_or(|value| value != "0");
    if dmabuf_off && app_without_mesa {
        if environment(GDK_GL_ENV).is_none() {
            settings.environment.push((GDK_GL_ENV, "disable"));
        }
        settings.app_without_egl = [RENDER_DEVICE_ENV, EGL_VENDOR_FILES_ENV, EGL_VENDOR_DIRS_ENV]
            .into_iter()
            .all(|name| environment(name).is_none());
    }
    settings
}

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
        let library = libc::dlopen(c"libEGL.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
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
    let settings = FootprintSettings::from_env();
    if settings == FootprintSettings::default() {
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
    // The command name may hold spaces and parentheses: fields are counted after its last ')'.
    let after_name = stat.get(stat.rfind(')')? + 2..)?;
    let start_ticks: f64 = after_name.split(' ').nth(19)?.parse().ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let uptime_s: f64 = uptime.split(' ').next()?.parse().ok()?;
    let age = uptime_s - start_ticks / 100.0;
    (age >= 0.0).then(|| std::time::Duration::from_secs_f64(age))
}

/// Whether this computer has a GPU the web engine could render with (a DRM render node).
pub fn has_render_node() -> bool {
    std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

#[cfg(target_os = "linux")]
mod webkit {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
    };

    /// A document viewer's caches (the app is one page, loaded once from inside the binary), and
    /// no GL context when there is no GPU to back it (software GL costs memory and is slower than
    /// WebKit's own software rendering).
    pub(super) fn tune(webview: tauri::webview::PlatformWebview, asked: super::FootprintSettings) {
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
            if asked.no_gl && !super::has_render_node() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        }
        tracing::info!(
            gpu = super::has_render_node(),
            ?asked,
            "web engine tuned for a small footprint"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::FootprintSettings;

    #[test]
    fn one_asks_for_every_setting_and_a_list_for_those_it_names() {
        let all = FootprintSettings {
            cache_model: true,
            no_page_cache: true,
            no_gl: true,
        };
        assert_eq!(FootprintSettings::parse("1"), all);
        assert_eq!(
            FootprintSettings::parse("no-gl, cache-model"),
            FootprintSettings {
                cache_model: true,
                no_page_cache: false,
                no_gl: true
            }
        );
        assert_eq!(
            FootprintSettings::parse("no-page-cache"),
            FootprintSettings {
                no_page_cache: true,
                ..FootprintSettings::default()
            }
        );
        assert_eq!(FootprintSettings::parse("0"), FootprintSettings::default());
        assert_eq!(FootprintSettings::parse(""), FootprintSettings::default());
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_cut_is_left_out_when_named_or_when_every_cut_is() {
        use super::left_out;
        assert!(!left_out("arenas", None, None), "shipped: every cut");
        assert!(left_out("arenas", None, Some("trim, arenas")));
        assert!(!left_out("arenas", None, Some("trim")));
        assert!(!left_out("trim", None, Some("trimmed")), "whole names only");
        assert!(
            left_out("trim", Some("0"), None),
            "ZENTRO_FOOTPRINT_CUTS=0: none"
        );
        assert!(!left_out("trim", Some("1"), Some("")));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn without_a_gpu_the_dmabuf_renderer_and_the_app_processs_gl_go_off_unless_the_user_chose() {
        use super::{SoftwareRendering, software_rendering};
        let rendering =
            |environment: &[(&'static str, &'static str)], app_without_egl| SoftwareRendering {
                environment: environment.to_vec(),
                app_without_egl,
            };
        let empty = |_: &str| None;
        let no_gpu = [
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
            ("GDK_GL", "disable"),
        ];
        assert_eq!(
            software_rendering(&empty, false, true),
            rendering(&no_gpu, true),
            "no GPU"
        );
        assert_eq!(
            software_rendering(&empty, true, true),
            rendering(&[], false),
            "a GPU: WebKit's and GTK's defaults"
        );
        assert_eq!(
            software_rendering(&empty, false, false),
            rendering(&no_gpu[..1], false),
            "the mesa cut left out: the DMA-BUF renderer still goes off"
        );

        let renderer_on =
            |name: &str| (name == "WEBKIT_DISABLE_DMABUF_RENDERER").then(|| "0".into());
        assert_eq!(
            software_rendering(&renderer_on, false, true),
            rendering(&[], false),
            "the user turned the DMA-BUF renderer on: the app process keeps the GL it draws with"
        );
        let renderer_off =
            |name: &str| (name == "WEBKIT_DISABLE_DMABUF_RENDERER").then(|| "1".into());
        assert_eq!(
            software_rendering(&renderer_off, false, true),
            rendering(&no_gpu[1..], true)
        );
        let own_gl = |name: &str| (name == "GDK_GL").then(|| "gles".into());
        assert_eq!(
            software_rendering(&own_gl, false, true),
            rendering(&no_gpu[..1], true),
            "the environment's GDK_GL stands"
        );
        for own in [
            "WEBKIT_WEB_RENDER_DEVICE_FILE",
            "__EGL_VENDOR_LIBRARY_FILENAMES",
            "__EGL_VENDOR_LIBRARY_DIRS",
        ] {
            let chosen = |name: &str| (name == own).then(|| "/somewhere".into());
            assert_eq!(
                software_rendering(&chosen, false, true),
                rendering(&no_gpu, false),
                "the environment's {own} stands: EGL keeps its drivers"
            );
        }
    }

    /// EGL loaded by `egl_without_drivers` has no driver for the rest of the process (WebKit's
    /// display then loads no Mesa), and the environment is as it was (the web process, started
    /// later, loads its drivers). Alone in its process under nextest, as it changes the
    /// environment and loads EGL for the whole process.
    #[cfg(target_os = "linux")]
    #[test]
    #[allow(unsafe_code)]
    fn egl_loaded_without_drivers_finds_no_display_and_leaves_the_environment_as_it_was() {
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
            let get_display: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void =
                std::mem::transmute(symbol);
            get_display(std::ptr::null_mut())
        };
        assert!(display.is_null(), "EGL found a display: it has a driver");
        assert_eq!(mapped_drivers(), 0, "a driver was loaded");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_desk_restarted_with_its_own_settings_knows_them_from_the_users() {
        use super::set_by_a_desk;
        assert_eq!(
            set_by_a_desk(Some(
                "WEBKIT_DISABLE_DMABUF_RENDERER,GDK_GL,WEBKIT_WEB_RENDER_DEVICE_FILE"
            )),
            [
                "WEBKIT_DISABLE_DMABUF_RENDERER",
                "GDK_GL",
                "WEBKIT_WEB_RENDER_DEVICE_FILE"
            ]
        );
        assert_eq!(
            set_by_a_desk(Some("GDK_GL, PATH")),
            ["GDK_GL"],
            "only the desk's own"
        );
        assert!(set_by_a_desk(None).is_empty());
    }
}
