//! The locked-down window Meta's Embedded Signup runs in.
//!
//! It shows the relay's signup page and Meta's login dialog (a popup the page opens), nothing
//! else: what it may load is decided by [`SignupWindowPolicy`] (zentro-core), links out open in
//! the default browser, and no capability names these windows, so they reach none of the app's
//! commands. When the page reaches the relay's finished page, or the owner closes the window, the
//! command that opened it learns how it ended.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tauri::webview::{NewWindowFeatures, NewWindowResponse};
use tauri::{
    AppHandle, Manager, Runtime, Url, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent,
};
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
            if let Some(sender) = crate::state::lock(&sender).take() {
                let _ = sender.send(how);
            }
        });
        let title = if start.kind == "pages" {
            "Connect Facebook Pages and Instagram — Zentro Desk"
        } else {
            "Connect WhatsApp — Zentro Desk"
        };
        let signup = Signup {
            app: self.clone(),
            title,
            policy: Arc::new(start.policy.clone()),
            end: end.clone(),
            popups: Arc::new(AtomicU32::new(0)),
        };
        let window = signup
            .window(
                LABEL.to_string(),
                WebviewUrl::External(start.url.clone()),
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

/// One signup: what its window and Meta's popups share.
struct Signup<R: Runtime> {
    app: AppHandle<R>,
    title: &'static str,
    policy: Arc<SignupWindowPolicy>,
    end: Ending,
    /// How many popups were opened (their labels' numbers).
    popups: Arc<AtomicU32>,
}

impl<R: Runtime> Clone for Signup<R> {
    fn clone(&self) -> Self {
        Self {
            app: self.app.clone(),
            title: self.title,
            policy: self.policy.clone(),
            end: self.end.clone(),
            popups: self.popups.clone(),
        }
    }
}

impl<R: Runtime> Signup<R> {
    /// Opens a window of this signup on `url` (a popup with the `features` its page asked for).
    fn window(
        &self,
        label: String,
        url: WebviewUrl,
        features: Option<NewWindowFeatures>,
    ) -> tauri::Result<WebviewWindow<R>> {
        let (navigating, opening) = (self.clone(), self.clone());
        let mut builder = WebviewWindowBuilder::new(&self.app, label, url)
            .title(self.title)
            .inner_size(560.0, 720.0)
            .on_navigation(move |url| navigating.navigate(url))
            .on_new_window(move |url, features| opening.popup(&url, features));
        if let Some(features) = features {
            builder = builder.window_features(features);
        }
        builder.build()
    }

    /// Whether a window may go to `url`; reaching the finished page ends the signup and closes
    /// its windows.
    fn navigate(&self, url: &Url) -> bool {
        match self.policy.decide(url) {
            Navigation::Load => true,
            Navigation::Finished => {
                (self.end)(WindowEnd::Finished);
                let app = self.app.clone();
                // Not from inside WebKit's navigation callback.
                tauri::async_runtime::spawn(async move { close_all(&app) });
                false
            }
            Navigation::OpenInBrowser => {
                open_in_browser(url);
                false
            }
            Navigation::Block => {
                tracing::warn!(
                    scheme = url.scheme(),
                    "the signup window refused a navigation"
                );
                false
            }
        }
    }

    /// What a page's request for a new window on `url` gets: a popup of this signup (Meta's login
    /// dialog), the default browser, or nothing.
    fn popup(&self, url: &Url, features: NewWindowFeatures) -> NewWindowResponse<R> {
        match self.policy.decide(url) {
            Navigation::Load => {
                let n = self.popups.fetch_add(1, Ordering::SeqCst);
                let blank = WebviewUrl::External("about:blank".parse().expect("a valid URL"));
                match self.window(format!("{POPUP_PREFIX}{n}"), blank, Some(features)) {
                    Ok(window) => NewWindowResponse::Create { window },
                    Err(error) => {
                        tracing::warn!(%error, "Meta's login window could not be opened");
                        NewWindowResponse::Deny
                    }
                }
            }
            Navigation::OpenInBrowser => {
                open_in_browser(url);
                NewWindowResponse::Deny
            }
            Navigation::Finished | Navigation::Block => NewWindowResponse::Deny,
        }
    }
}

/// Opens a link from the signup pages in the default browser, on a blocking thread (this runs in
/// the web view's callback, on the main thread).
fn open_in_browser(url: &Url) {
    let url = url.to_string();
    tauri::async_runtime::spawn_blocking(move || {
        if let Err(error) = crate::launch::open(&url) {
            tracing::warn!(%error, "a link from the signup window could not be opened");
        }
    });
}
