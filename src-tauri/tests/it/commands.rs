use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindowBuilder};
use zentro_desk::{AppConfig, build_app};

pub(crate) fn request(cmd: &str) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::default(),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    }
}

/// A request for `cmd` with JSON arguments.
pub(crate) fn request_with(cmd: &str, args: serde_json::Value) -> InvokeRequest {
    InvokeRequest {
        body: InvokeBody::Json(args),
        ..request(cmd)
    }
}

pub(crate) fn json(body: InvokeResponseBody) -> serde_json::Value {
    match body {
        InvokeResponseBody::Json(s) => serde_json::from_str(&s).unwrap(),
        InvokeResponseBody::Raw(bytes) => serde_json::from_slice(&bytes).unwrap(),
    }
}

pub(crate) fn app_in(dir: &std::path::Path) -> tauri::App<tauri::test::MockRuntime> {
    build_app(
        mock_builder(),
        AppConfig {
            data_dir: Some(dir.to_path_buf()),
            ..AppConfig::default()
        },
    )
    .unwrap()
}

pub(crate) fn main_window(
    app: &tauri::App<tauri::test::MockRuntime>,
) -> tauri::WebviewWindow<tauri::test::MockRuntime> {
    match app.get_webview_window("main") {
        Some(window) => window,
        None => WebviewWindowBuilder::new(app, "main", Default::default())
            .build()
            .unwrap(),
    }
}

#[test]
fn cache_status_opens_and_migrates_the_cache_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let window = main_window(&app);

    let status = json(get_ipc_response(&window, request("cache_status")).unwrap());

    assert_eq!(
        status["schemaVersion"],
        zentro_core::cache::migrator().iter().count()
    );
    assert_eq!(status["counts"]["messages"], 0);
    assert!(
        dir.path().join("cache.sqlite").is_file(),
        "the cache file must be created in the data dir"
    );
    assert!(status["path"].as_str().unwrap().ends_with("cache.sqlite"));
}

#[test]
fn an_unusable_data_dir_is_a_cache_unavailable_error_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let app = app_in(&blocker.join("data"));
    let window = main_window(&app);

    let error = get_ipc_response(&window, request("cache_status")).unwrap_err();

    assert_eq!(error["code"], "cache_unavailable", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("try again"),
        "the message must say what to do: {message}"
    );
}

#[test]
fn a_window_without_the_capability_cannot_call_commands() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let other = WebviewWindowBuilder::new(&app, "signup", Default::default())
        .build()
        .unwrap();

    let denied = get_ipc_response(&other, request("cache_status"));

    let error = denied.expect_err("only the main window is granted cache_status");
    assert!(error.to_string().contains("not allowed"), "{error}");
    assert!(
        !dir.path().join("cache.sqlite").exists(),
        "a denied call must not reach the core"
    );
}

/// No window can run, spawn or kill a program: there is no shell plugin (none granted, none
/// registered), and web links open only through `open_web_link`, which refuses anything but an
/// `http`/`https` address before anything starts.
#[test]
fn no_window_can_run_a_program_and_links_open_only_when_they_are_web_addresses() {
    // What the capability files grant: nothing of a shell plugin.
    let capabilities = concat!(env!("CARGO_MANIFEST_DIR"), "/capabilities");
    for entry in std::fs::read_dir(capabilities).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let capability: serde_json::Value = serde_json::from_str(&text).unwrap();
        for permission in capability["permissions"].as_array().unwrap() {
            let name = permission
                .as_str()
                .or_else(|| permission["identifier"].as_str())
                .unwrap();
            assert!(
                !name.starts_with("shell:"),
                "{name} lets the UI use the shell"
            );
        }
    }

    // What the running app enforces, from the main window.
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let window = main_window(&app);
    let marker = dir.path().join("ran");
    for (command, args) in [
        (
            "plugin:shell|execute",
            serde_json::json!({ "program": "sh", "args": ["-c", format!("touch {}", marker.display())], "options": {} }),
        ),
        (
            "plugin:shell|spawn",
            serde_json::json!({ "program": "sh", "args": ["-c", format!("touch {}", marker.display())], "options": {}, "onEvent": "__CHANNEL__:9" }),
        ),
        ("plugin:shell|kill", serde_json::json!({ "pid": 1 })),
        (
            "plugin:shell|open",
            serde_json::json!({ "path": format!("file://{}", marker.display()) }),
        ),
    ] {
        let denied = get_ipc_response(&window, request_with(command, args));
        assert!(denied.is_err(), "{command} was answered");
    }
    // The app's own link command: a local file, a program or a script URL is refused as invalid.
    for target in [
        "file:///etc/passwd",
        "/usr/bin/xterm",
        "javascript:alert(1)",
        "--help",
    ] {
        let refused = get_ipc_response(
            &window,
            request_with("open_web_link", serde_json::json!({ "url": target })),
        );
        let error = refused.expect_err(target);
        assert!(error.to_string().contains("invalid"), "{target}: {error}");
    }
    // A refused program must not run later either: watch for its marker for a generous 3 s, far
    // longer than the same program takes when it does run (the control below proves the watch
    // sees a program that ran).
    let watch = |path: &std::path::Path| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            if path.exists() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        path.exists()
    };
    assert!(!watch(&marker), "a program ran");
    let control = dir.path().join("control");
    let mut child = std::process::Command::new("sh")
        .args(["-c", &format!("touch {}", control.display())])
        .spawn()
        .expect("sh runs");
    assert!(watch(&control), "the watch did not see a program that ran");
    child.wait().unwrap();
}
