//! Drives the real app's WebKit window through tauri-driver and WebKitWebDriver.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::process::{ChildGuard, find_executable, free_port, wait_for_port};
use crate::xvfb::Display;

/// Debian's WebKitGTK WebDriver.
const WEBKIT_WEBDRIVER: &str = "/usr/bin/WebKitWebDriver";

/// A running app under WebDriver control. Dropping it ends the session and stops the drivers.
pub struct AppSession {
    /// The WebDriver client for the app's main window.
    pub client: Client,
    _driver: ChildGuard,
    _display: Display,
}

impl AppSession {
    /// Starts `app` (with `envs` added to its environment) and opens a WebDriver session on it.
    pub async fn start(app: &Path, envs: &[(&str, &str)]) -> anyhow::Result<Self> {
        let display = Display::acquire()?;
        let tauri_driver = find_executable("tauri-driver").ok_or_else(|| {
            anyhow::anyhow!("tauri-driver not found: `cargo install tauri-driver --locked` (scripts/test.sh does)")
        })?;
        anyhow::ensure!(
            Path::new(WEBKIT_WEBDRIVER).is_file(),
            "{WEBKIT_WEBDRIVER} not found: install the `webkit2gtk-driver` package (scripts/test.sh does)"
        );
        let port = free_port()?;
        let native_port = free_port()?;
        let mut command = Command::new(tauri_driver);
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .args(["--native-driver", WEBKIT_WEBDRIVER])
            .env("DISPLAY", &display.name)
            .stdin(Stdio::null());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut driver = ChildGuard::spawn("tauri-driver", &mut command)?;
        // tauri-driver starts WebKitWebDriver itself; a session request before both listen fails.
        wait_for_port(port, Duration::from_secs(30))?;
        wait_for_port(native_port, Duration::from_secs(30))?;
        driver.ensure_running()?;

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "wry".into());
        capabilities.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app.to_string_lossy() }),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{port}");
        // The drivers may accept connections a moment before they can start a session.
        let mut attempt = 0;
        let client = loop {
            attempt += 1;
            match tokio::time::timeout(Duration::from_secs(60), builder.connect(&url)).await {
                Ok(Ok(client)) => break client,
                Ok(Err(error)) if attempt < 3 => {
                    eprintln!("WebDriver session attempt {attempt} failed ({error}); retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    driver.ensure_running()?;
                }
                Ok(Err(error)) => anyhow::bail!("the WebDriver session did not start: {error}"),
                Err(_) => anyhow::bail!("the WebDriver session did not start within 60 s"),
            }
        };
        crate::screen::set_current_display(Some(&display.name));
        Ok(Self {
            client,
            _driver: driver,
            _display: display,
        })
    }

    /// The X display the app runs on (for launching another process beside it).
    pub fn display(&self) -> &str {
        &self._display.name
    }

    /// Ends the WebDriver session (closing the app) before the drivers stop.
    pub async fn close(self) -> anyhow::Result<()> {
        let Self {
            client,
            _driver,
            _display,
        } = self;
        tokio::time::timeout(Duration::from_secs(20), client.close())
            .await
            .map_err(|_| anyhow::anyhow!("closing the WebDriver session timed out"))??;
        Ok(())
    }
}
