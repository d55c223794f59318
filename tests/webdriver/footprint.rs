//! Without a GPU the app process loads no Mesa (GTK's GL probe off, EGL loaded there without a
//! driver: ADR 0017), and the window still paints. That the page still follows the system's
//! dark theme with it is `sandbox::the_sandbox_inbox_is_drawn_light_or_dark_with_the_system_theme`.

use std::collections::HashSet;
use std::path::Path;

use crate::ui::sandbox_session;
use zentro_core::footprint;

/// The app's own process for the test's data folder (the one WebKitWebDriver started): a
/// `zentro-desk` executable whose environment names that folder.
fn app_process(data_dir: &Path) -> Option<u32> {
    let wanted = format!("ZENTRO_DATA_DIR={}", data_dir.display());
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            let name = exe.file_name()?.to_string_lossy().into_owned();
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let ours = environ
                .split(|b| *b == 0)
                .any(|var| var == wanted.as_bytes());
            (name.starts_with("zentro-desk") && ours).then_some(pid)
        })
}

/// The files `pid` has mapped (its libraries), by file name.
fn mapped_files(pid: u32) -> HashSet<String> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter_map(|path| Path::new(path).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_gpu_the_app_process_loads_no_mesa_and_the_window_still_paints() {
    if footprint::has_render_node() {
        eprintln!("this computer has a GPU: WebKit's and GTK's defaults stand, nothing to check");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let session = sandbox_session(data.path(), &[]).await;
    crate::ui::screenshot(&session.client, "footprint-no-mesa.png").await;

    let app = app_process(data.path()).expect("the app's process for the test's data folder");
    let mesa: Vec<String> = mapped_files(app)
        .into_iter()
        .filter(|name| {
            [
                "libLLVM",
                "swrast_dri",
                "libgallium",
                "libEGL_mesa",
                "libGLX_mesa",
            ]
            .iter()
            .any(|lib| name.starts_with(lib))
        })
        .collect();
    assert!(
        mesa.is_empty(),
        "the app process loaded Mesa (~20 MiB) without a GPU: {mesa:?}"
    );

    // The window shows the inbox: text is drawn in many shades; a window that never painted is
    // one colour.
    let (_, _, rgb) = zentro_tests::screen::pixels(session.display()).unwrap();
    let colours: HashSet<&[u8]> = rgb.chunks_exact(3).collect();
    assert!(
        colours.len() >= 100,
        "the screen holds {} colours: the window did not paint",
        colours.len()
    );
    session.close().await.unwrap();
}

/// The processes `pid`'s main thread started (WebKit starts its processes from there), with
/// their executable's file name.
fn children(pid: u32) -> Vec<(u32, String)> {
    let listed = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    listed
        .split_whitespace()
        .filter_map(|child| child.parse::<u32>().ok())
        .filter_map(|child| {
            let exe = std::fs::read_link(format!("/proc/{child}/exe")).ok()?;
            Some((child, exe.file_name()?.to_string_lossy().into_owned()))
        })
        .collect()
}

/// `GLIBC_TUNABLES` as `pid` started with it. glibc 2.36 ends each tunable it applies with a NUL
/// in place, so in `/proc/PID/environ` the ones after the first follow as pieces of their own
/// (`glibc.…=…`); they are joined back with `:`. A later glibc may leave the string whole.
fn started_with_tunables(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let pieces: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|piece| String::from_utf8_lossy(piece).into_owned())
        .collect();
    let first = pieces
        .iter()
        .position(|piece| piece.starts_with("GLIBC_TUNABLES="))?;
    let mut tunables = vec![pieces[first]["GLIBC_TUNABLES=".len()..].to_owned()];
    tunables.extend(
        pieces[first + 1..]
            .iter()
            .take_while(|piece| piece.starts_with("glibc."))
            .cloned(),
    );
    Some(tunables.join(":"))
}

#[cfg(target_env = "gnu")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_engines_processes_start_with_the_desks_allocator_settings() {
    // glibc's defaults in the web process let its heap keep what a busy moment used (ADR 0017,
    // run 7): the desk hands its own settings on through glibc's tunables.
    // What the desk sets for its engine given this environment (the user's own choices stand),
    // and what its engine's processes then start with: that, or the environment's own tunables.
    let environment = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let (cuts, skip) = (
        environment("ZENTRO_FOOTPRINT_CUTS"),
        environment("ZENTRO_FOOTPRINT_SKIP"),
    );
    let left_out = |cut: &str| footprint::left_out(cut, cuts.as_deref(), skip.as_deref());
    let from_desk = (!left_out("engine-heaps"))
        .then(|| footprint::engine_allocator_tunables(&environment, !left_out("arenas")))
        .flatten();
    let expected = from_desk.clone().or_else(|| environment("GLIBC_TUNABLES"));
    let glibc_untouched = ["GLIBC_TUNABLES", "MALLOC_ARENA_MAX"]
        .into_iter()
        .chain(footprint::MALLOC_SETTINGS_ENV)
        .all(|name| environment(name).is_none());
    if glibc_untouched && cuts.is_none() && skip.is_none() {
        // As the desk ships, in words: the thresholds fixed at 128 KiB, two heaps.
        assert_eq!(
            expected.as_deref(),
            Some(
                "glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072:\
                 glibc.malloc.arena_max=2"
            )
        );
    }
    let data = tempfile::tempdir().unwrap();
    let session = sandbox_session(data.path(), &[]).await;
    let app = app_process(data.path()).expect("the app's process for the test's data folder");
    let engine = children(app);
    if from_desk.is_none() {
        eprintln!("the desk's tunables are left out here: checking that none are added");
    }
    for wanted in ["WebKitWebProcess", "WebKitNetworkProcess"] {
        let (pid, _) = engine
            .iter()
            .find(|(_, name)| name == wanted)
            .unwrap_or_else(|| panic!("no {wanted} among the app's processes: {engine:?}"));
        assert_eq!(
            started_with_tunables(*pid),
            expected,
            "{wanted} did not start with the allocator settings the desk gives it"
        );
    }
    session.close().await.unwrap();
}
