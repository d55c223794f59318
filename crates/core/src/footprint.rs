//! What keeps the desk's process light, decided without touching the process: which of the
//! footprint cuts apply, the web engine's environment on a computer without a GPU, and the
//! process's age from `/proc`. The Tauri shell applies these (`src-tauri/src/footprint.rs`: the
//! environment, glibc's allocator, EGL, the periodic trim); reasons and figures in
//! docs/adr/0017-desk-footprint.md and docs/benchmarks.md ("Footprint").

/// Environment variable that applies the web view's footprint settings, for measuring them (`1`
/// for all, or a list: see [`WebViewSettings::parse`]). Off by default: on WebKitGTK 2.50.6
/// without a GPU, `cache-model` and `no-page-cache` measured no change, and with `no-gl` the
/// window's web process never comes up (docs/adr/0017-desk-footprint.md).
pub const WEBKIT_FOOTPRINT_ENV: &str = "ZENTRO_WEBKIT_FOOTPRINT";

/// Environment variable that, set to `0`, leaves out every shipped cut (the allocator at its
/// defaults in every process, no periodic trim, no release of the cache's page caches, Mesa in
/// the app process),
/// as before the cuts (for the footprint benchmark's "before" in the same run).
pub const FOOTPRINT_CUTS_ENV: &str = "ZENTRO_FOOTPRINT_CUTS";

/// Environment variable naming shipped cuts to leave out, comma-separated (`arenas`, `trim`,
/// `sqlite`: the idle cache connections' page caches kept, `mesa`: the app process's GL left on
/// without a GPU, `engine-heaps`: glibc's defaults in the web engine's processes), for the
/// footprint benchmark's variants (each cut measured against the same
/// binary without it).
pub const FOOTPRINT_SKIP_ENV: &str = "ZENTRO_FOOTPRINT_SKIP";

/// Whether `cut` is left out, given the values of [`FOOTPRINT_CUTS_ENV`] (`0`: every cut) and
/// [`FOOTPRINT_SKIP_ENV`] (a comma-separated list of cuts, whole names only).
pub fn left_out(cut: &str, cuts: Option<&str>, skip: Option<&str>) -> bool {
    cuts == Some("0") || skip.is_some_and(|list| list.split(',').any(|name| name.trim() == cut))
}

/// The web view's own settings asked for in [`WEBKIT_FOOTPRINT_ENV`], to measure or rule out one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebViewSettings {
    /// WebKit's cache model `DocumentViewer` instead of `WebBrowser`.
    pub cache_model: bool,
    /// WebKit's back/forward page cache off.
    pub no_page_cache: bool,
    /// Hardware acceleration `Never` on a computer without a GPU.
    pub no_gl: bool,
}

impl WebViewSettings {
    /// The settings `value` names: `1` for all of them, or a comma-separated list of
    /// `cache-model`, `no-page-cache`, `no-gl`; unknown names are ignored (and logged).
    pub fn parse(value: &str) -> Self {
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
}

/// WebKitGTK's switch for its DMA-BUF renderer.
pub const DMABUF_ENV: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// GTK's switch for its own GL: when GTK opens the X display it probes GLX, which loads Mesa's
/// driver and its LLVM in the app process (~20 MiB, relocated data and static constructors).
pub const GDK_GL_ENV: &str = "GDK_GL";

/// The render node WebKit gives its web process: a choice the environment made (the desk no
/// longer sets it; a desk of run 6 with the held-back cut did, so a restarted desk still clears
/// it). Setting it skips WebKit's look-up of its app-process display, which is also where WebKit
/// starts following GTK's settings (the dark theme among them), so the desk does not.
pub const RENDER_DEVICE_ENV: &str = "WEBKIT_WEB_RENDER_DEVICE_FILE";

/// glvnd's EGL driver (vendor) files: the user's choice when set, and how the shell keeps EGL's
/// drivers out of the app process otherwise (it names a file glvnd cannot read while EGL loads).
pub const EGL_VENDOR_FILES_ENV: &str = "__EGL_VENDOR_LIBRARY_FILENAMES";

/// The folders glvnd looks for EGL's driver files in: the user's choice when set.
pub const EGL_VENDOR_DIRS_ENV: &str = "__EGL_VENDOR_LIBRARY_DIRS";

/// Names the variables the desk set for its web engine, for a desk started with this environment
/// (an in-app update restarts the desk with it), which must tell them from the user's own.
pub const SET_BY_DESK_ENV: &str = "ZENTRO_ENGINE_ENVIRONMENT";

/// Whether this computer has a GPU the web engine could render with (a DRM render node,
/// `/dev/dri/renderD*`).
pub fn has_render_node() -> bool {
    std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// What the web engine should start with without a GPU: the variables to set, and whether the
/// app process goes without EGL's drivers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SoftwareRendering {
    /// Names and values to set in the environment (inherited by the web process).
    pub environment: Vec<(&'static str, &'static str)>,
    /// Whether EGL in the app process is to find no driver.
    pub app_without_egl: bool,
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
pub fn software_rendering(
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
        let gdk_gl = environment(GDK_GL_ENV);
        if gdk_gl.is_none() {
            settings.environment.push((GDK_GL_ENV, "disable"));
        }
        // GTK's GL, when the user turned it on (`GDK_GL=gles`, say), may draw through EGL.
        let gtk_without_gl = gdk_gl.is_none_or(|value| value == "disable");
        settings.app_without_egl = gtk_without_gl
            && [RENDER_DEVICE_ENV, EGL_VENDOR_FILES_ENV, EGL_VENDOR_DIRS_ENV]
                .into_iter()
                .all(|name| environment(name).is_none());
    }
    settings
}

/// The engine variables a desk before this one set, from [`SET_BY_DESK_ENV`]'s value (names
/// other than the ones a desk sets are ignored).
pub fn set_by_a_desk(value: Option<&str>) -> Vec<&'static str> {
    let listed: Vec<&str> = value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .collect();
    [
        DMABUF_ENV,
        GDK_GL_ENV,
        RENDER_DEVICE_ENV,
        GLIBC_TUNABLES_ENV,
    ]
    .into_iter()
    .filter(|name| listed.contains(name))
    .collect()
}

/// glibc's tunables, read by each process as it starts: how the desk gives the web engine's
/// processes (the web and network processes, which inherit the desk's environment) the
/// allocator settings the desk gives itself with `mallopt`.
pub const GLIBC_TUNABLES_ENV: &str = "GLIBC_TUNABLES";

/// glibc's own variable for its number of heaps: the user's choice when set.
pub const MALLOC_ARENA_MAX_ENV: &str = "MALLOC_ARENA_MAX";

/// Above this much free memory at the top of a heap glibc gives it back, and from this size on
/// an allocation gets pages of its own (given back when freed). Fixed: glibc's defaults grow
/// both with the largest block freed (up to 32 MiB), so memory a busy moment used stays.
pub const MALLOC_TRIM_THRESHOLD_BYTES: u32 = 128 * 1024;

/// At most this many glibc heaps (arenas) per process: glibc's default is 8 per core, each
/// holding its own freed memory, for processes whose threads mostly wait.
pub const MALLOC_ARENAS: u32 = 2;

/// glibc's older variables for the settings the tunables carry: set by the user, they stand (the
/// tunables would override them).
pub const MALLOC_SETTINGS_ENV: [&str; 4] = [
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
];

/// The `GLIBC_TUNABLES` value for the web engine's processes, given what the environment already
/// says (`environment`) and whether the `arenas` cut applies: the trim and mmap thresholds fixed
/// at [`MALLOC_TRIM_THRESHOLD_BYTES`] and, with `arenas` and no `MALLOC_ARENA_MAX`, at most
/// [`MALLOC_ARENAS`] heaps. None when the user tuned glibc already (`GLIBC_TUNABLES`, which
/// glibc would otherwise lose, or one of its older variables, [`MALLOC_SETTINGS_ENV`]).
pub fn engine_allocator_tunables(
    environment: &dyn Fn(&str) -> Option<String>,
    arenas: bool,
) -> Option<String> {
    let tuned = std::iter::once(GLIBC_TUNABLES_ENV).chain(MALLOC_SETTINGS_ENV);
    if tuned.into_iter().any(|name| environment(name).is_some()) {
        return None;
    }
    let arenas = arenas && environment(MALLOC_ARENA_MAX_ENV).is_none();
    let mut tunables = format!(
        "glibc.malloc.trim_threshold={MALLOC_TRIM_THRESHOLD_BYTES}:\
         glibc.malloc.mmap_threshold={MALLOC_TRIM_THRESHOLD_BYTES}"
    );
    if arenas {
        tunables.push_str(&format!(":glibc.malloc.arena_max={MALLOC_ARENAS}"));
    }
    Some(tunables)
}

/// A process's age from Linux's `/proc/PID/stat` (its start time in clock ticks since boot, at the
/// fixed USER_HZ of 100) and `/proc/uptime`; none when either does not parse or the start lies
/// ahead.
pub fn process_age(stat: &str, uptime: &str) -> Option<std::time::Duration> {
    // The command name may hold spaces and parentheses: fields are counted after its last ')'.
    let after_name = stat.get(stat.rfind(')')? + 2..)?;
    let start_ticks: f64 = after_name.split(' ').nth(19)?.parse().ok()?;
    let uptime_s: f64 = uptime.split(' ').next()?.parse().ok()?;
    let age = uptime_s - start_ticks / 100.0;
    (age >= 0.0).then(|| std::time::Duration::from_secs_f64(age))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_asks_for_every_setting_and_a_list_for_those_it_names() {
        let all = WebViewSettings {
            cache_model: true,
            no_page_cache: true,
            no_gl: true,
        };
        assert_eq!(WebViewSettings::parse("1"), all);
        assert_eq!(
            WebViewSettings::parse("no-gl, cache-model"),
            WebViewSettings {
                cache_model: true,
                no_page_cache: false,
                no_gl: true
            }
        );
        assert_eq!(
            WebViewSettings::parse("no-page-cache"),
            WebViewSettings {
                no_page_cache: true,
                ..WebViewSettings::default()
            }
        );
        assert_eq!(WebViewSettings::parse("0"), WebViewSettings::default());
        assert_eq!(WebViewSettings::parse(""), WebViewSettings::default());
    }

    #[test]
    fn a_cut_is_left_out_when_named_or_when_every_cut_is() {
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

    #[test]
    fn without_a_gpu_the_dmabuf_renderer_and_the_app_processs_gl_go_off_unless_the_user_chose() {
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
            rendering(&no_gpu[..1], false),
            "the environment's GDK_GL stands, and GTK may draw with EGL"
        );
        let gl_off = |name: &str| (name == "GDK_GL").then(|| "disable".into());
        assert_eq!(
            software_rendering(&gl_off, false, true),
            rendering(&no_gpu[..1], true),
            "the user's own GDK_GL=disable: EGL's drivers go too"
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

    #[test]
    fn a_desk_restarted_with_its_own_settings_knows_them_from_the_users() {
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

    #[test]
    fn the_web_engines_processes_get_the_desks_allocator_settings_unless_the_user_chose() {
        let empty = |_: &str| None;
        let only = |set: &'static str| move |name: &str| (name == set).then(|| "1".to_string());
        assert_eq!(
            engine_allocator_tunables(&empty, true).as_deref(),
            Some(
                "glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072:\
                 glibc.malloc.arena_max=2"
            )
        );
        let thresholds = "glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072";
        assert_eq!(
            engine_allocator_tunables(&empty, false).as_deref(),
            Some(thresholds),
            "arenas left out: glibc's number of heaps"
        );
        assert_eq!(
            engine_allocator_tunables(&only("MALLOC_ARENA_MAX"), true).as_deref(),
            Some(thresholds),
            "the user's MALLOC_ARENA_MAX stands"
        );
        for tuned in [
            "GLIBC_TUNABLES",
            "MALLOC_TRIM_THRESHOLD_",
            "MALLOC_MMAP_MAX_",
        ] {
            assert_eq!(
                engine_allocator_tunables(&only(tuned), true),
                None,
                "the user's own {tuned} stands"
            );
        }
        assert_eq!(
            set_by_a_desk(Some("GLIBC_TUNABLES")),
            ["GLIBC_TUNABLES"],
            "a restarted desk recognises its own"
        );
    }

    #[test]
    fn a_process_age_is_read_past_a_command_name_with_spaces_and_parentheses() {
        // Field 22 (start time) is 1234 ticks: 12.34 s after boot; uptime 100.5 s.
        let stat = "4242 (zentro (desk) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 \
                    12 0 1234 1000000 500 18446744073709551615";
        let age = process_age(stat, "100.50 180.00\n").unwrap();
        assert!((age.as_secs_f64() - 88.16).abs() < 1e-6, "{age:?}");
        assert_eq!(
            process_age(stat, "10.00 1.00"),
            None,
            "a start ahead of now"
        );
        assert_eq!(process_age("garbage", "100.5 1"), None);
    }
}
