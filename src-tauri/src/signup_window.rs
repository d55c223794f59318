//! The locked-down window Meta's Embedded Signup runs in.
//!
//! It shows the relay's signup page and Meta's login dialog (a popup the page opens), nothing
//! else: what it may load is decided by [`SignupWindowPolicy`] (zentro-core), links out open in
//! the default browser, and no capability names these windows, so they reach none of the app's
//! commands. When the page reaches the relay's finished page, or the owner closes the window, the
//! command that opened it learns how it ended.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tauri::webview::NewWindowResponse;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tokio::sync::oneshot;
use zentro_core::connections::{Navigation, SignupStart, SignupWindowPolicy};

/// The main signup window's label (popups get `signup-popup-N`).
pub const LABEL: &str = "signup";
const POPUP_PREFIX: &str = "signup-popup-";

/// How the window ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowEnd {
    /// The page reached the relay's finished page.
    Finished,
    /// The owner closed the window first.
    Closed,
}

/// Opens signup windows (implemented by the app handle, whatever the runtime).
pub trait SignupWindows: Send + Sync {
    /// Opens the window on `start.url`; the receiver tells how it ended.
    fn open(&self, start: &SignupStart) -> Result<oneshot::Receiver<WindowEnd>, String>;
}

type Ending = Arc<dyn Fn(WindowEnd) + Send + Sync>;

impl<R: Runtime> SignupWindows for AppHandle<R> {
    fn open(&self, start: &SignupStart) -> Result<oneshot::Receiver<WindowEnd>, String> {
        close_all(self);
        let (sender, receiver) = oneshot::channel();
        let sender = Mutex::new(Some(sender));
        let end: Ending = Arc::new(move |how| {
            if let Some(sender) = sender.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = sender.send(how);
            }
        });
        let title = if start.kind == "pages" {
            "Connect Facebook Pages and Instagram — Zentro Desk"
        } else {
            "Connect WhatsApp — Zentro Desk"
        };
        let window = build(
            self,
            title,
            LABEL.to_string(),
            WebviewUrl::External(start.url.clone()),
            Arc::new(start.policy.clone()),
            end.clone(),
            Arc::new(AtomicU32::new(0)),
            None,
        )
        .map_err(|e| format!("the signup window could not be opened: {e}"))?;
        window.on_window_event(move |event| {
            if matches!(event, WindowEvent::Destroyed) {
                end(WindowEnd::Closed);
            }
        });
        Ok(receiver)
    }
}

/// Closes the signup window and its popups.
fn close_all<R: Runtime>(app: &AppHandle<R>) {
    for (label, window) in app.webview_windows() {
        if label == LABEL || label.starts_with(POPUP_PREFIX) {
            let _ = window.destroy();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build<R: Runtime>(
    app: &AppHandle<R>,
    title: &'static str,
    label: String,
    url: WebviewUrl,
    policy: Arc<SignupWindowPolicy>,
    end: Ending,
    popups: Arc<AtomicU32>,
    features: Option<tauri::webview::NewWindowFeatures>,
) -> tauri::Result<tauri::WebviewWindow<R>> {
    let (nav_app, nav_policy, nav_end) = (app.clone(), policy.clone(), end.clone());
    let (popup_app, popup_policy) = (app.clone(), policy.clone());
    let mut builder = WebviewWindowBuilder::new(app, label, url)
        .title(title)
        .inner_size(560.0, 720.0)
        .on_navigation(move |url| match nav_policy.decide(url) {
            Navigation::Load => true,
            Navigation::Finished => {
                nav_end(WindowEnd::Finished);
                let app = nav_app.clone();
                // Not from inside WebKit's navigation callback.
                tauri::async_runtime::spawn(async move { close_all(&app) });
                false
            }
            Navigation::OpenInBrowser => {
                if let Err(error) = tauri_plugin_opener::open_url(url.as_str(), None::<&str>) {
                    tracing::warn!(%error, "a link from the signup window could not be opened");
                }
                false
            }
            Navigation::Block => {
                tracing::warn!(
                    scheme = url.scheme(),
                    "the signup window refused a navigation"
                );
                false
            }
        })
        .on_new_window(move |url, features| match popup_policy.decide(&url) {
            Navigation::Load => {
                let n = popups.fetch_add(1, Ordering::SeqCst);
                match build(
                    &popup_app,
                    title,
                    format!("{POPUP_PREFIX}{n}"),
                    WebviewUrl::External("about:blank".parse().expect("a valid URL")),
                    popup_policy.clone(),
                    end.clone(),
                    popups.clone(),
                    Some(features),
                ) {
                    Ok(window) => NewWindowResponse::Create { window },
                    Err(error) => {
                        tracing::warn!(%error, "Meta's login window could not be opened");
                        NewWindowResponse::Deny
                    }
                }
            }
            Navigation::OpenInBrowser => {
                if let Err(error) = tauri_plugin_opener::open_url(url.as_str(), None::<&str>) {
                    tracing::warn!(%error, "a link from the signup window could not be opened");
                }
                NewWindowResponse::Deny
            }
            Navigation::Finished | Navigation::Block => NewWindowResponse::Deny,
        });
    if let Some(features) = features {
        builder = builder.window_features(features);
    }
    builder.build()
}
