//! Keeping the desk light: the web engine's settings that bound the window's memory (WebKitGTK's
//! cache model, no page cache, no hardware acceleration where there is no GPU), and the
//! cold-start mark the UI sends once its first inbox page is painted.
//!
//! Each setting was measured before and after with `scripts/bench-footprint.sh` (figures in
//! docs/benchmarks.md, reasons in docs/adr/0017-desk-footprint.md). They apply only with
//! `ZENTRO_WEBKIT_FOOTPRINT=1` for now (see [`WEBKIT_FOOTPRINT_ENV`]).

use std::sync::OnceLock;
use std::time::Instant;

/// Environment variable that applies the footprint settings (`1`). Off by default: in the first
/// measurement (2026-12-06, WebKitGTK 2.50.6, no GPU) the window's web process did not come up
/// with them applied (issue 26; docs/adr/0017-desk-footprint.md), so WebKit's defaults ship until
/// the setting at fault is found.
pub const WEBKIT_FOOTPRINT_ENV: &str = "ZENTRO_WEBKIT_FOOTPRINT";

/// When `run` began, for platforms without `/proc`.
static LAUNCHED: OnceLock<Instant> = OnceLock::new();

/// Whether WebKit's defaults stay (the footprint settings were not asked for).
fn webkit_defaults() -> bool {
    !std::env::var(WEBKIT_FOOTPRINT_ENV).is_ok_and(|v| v == "1")
}

/// Notes the launch, the origin of [`since_process_start`] where there is no `/proc`.
pub fn before_webviews() {
    let _ = LAUNCHED.set(Instant::now());
}

/// Applies the memory settings to the web view of `window` (its cache model and, on a computer
/// without a GPU, software rendering without a GL context).
pub fn tune<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    if webkit_defaults() {
        tracing::debug!("web engine left at its defaults ({WEBKIT_FOOTPRINT_ENV} unset)");
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(error) = window.with_webview(webkit::tune) {
        tracing::warn!(%error, "could not tune the web view");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
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
    pub(super) fn tune(webview: tauri::webview::PlatformWebview) {
        let view = webview.inner();
        if let Some(context) = view.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        if let Some(settings) = WebViewExt::settings(&view) {
            // Nothing navigates back: no page kept in memory for it.
            settings.set_enable_page_cache(false);
            if !super::has_render_node() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        }
        tracing::info!(
            gpu = super::has_render_node(),
            "web engine tuned for a small footprint"
        );
    }
}
