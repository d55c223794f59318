//! `zentro://` links clicked anywhere on the computer. The operating system starts the app with
//! the link (Linux, Windows: as its argument; a running app receives it from the second launch
//! through the single-instance plugin) or hands it to the running app (macOS); the deep-link
//! plugin gathers both. The link is read by [`zentro_core::links`], resolved against this
//! computer's cache, kept until the UI takes it and announced with [`LinkOpened`].

use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;
use zentro_core::links::DeepLink;

use crate::AppState;

/// What the UI does with a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenedLink {
    /// Show this conversation.
    Conversation {
        /// The conversation's id in this cache.
        #[specta(type = specta_typescript::Number)]
        conversation_id: i64,
    },
    /// Open "Join your team" with these filled in.
    Invitation {
        /// The relay's address, from the link's `relay` parameter (already checked to be a web
        /// address).
        relay: String,
        /// The invitation code, from the link's `code` parameter, single use.
        code: String,
    },
    /// The link cannot be followed here; say why.
    Refused {
        /// Why, for people.
        reason: String,
    },
}

/// A link was opened: the UI takes it with the `take_link` command.
#[derive(Debug, Clone, Serialize, specta::Type, Event)]
pub struct LinkOpened;

/// Resolves `link` against what this computer holds.
pub async fn resolve(state: &AppState, link: &str) -> OpenedLink {
    let refused = |reason: String| OpenedLink::Refused { reason };
    match zentro_core::links::parse(link) {
        Err(error) => refused(error.to_string()),
        Ok(DeepLink::Invitation { relay, code }) => OpenedLink::Invitation { relay, code },
        Ok(DeepLink::Conversation {
            channel_id,
            contact,
        }) => {
            let found = match state.cache().await {
                Ok(cache) => {
                    zentro_core::inbox::conversation_for_contact(&cache, &channel_id, &contact)
                        .await
                }
                Err(error) => Err(error),
            };
            match found {
                Ok(Some(conversation_id)) => OpenedLink::Conversation { conversation_id },
                Ok(None) => refused(
                    "That conversation is not on this computer: it may be on a channel you do \
                     not answer, in another workspace, or not synced yet."
                        .into(),
                ),
                Err(error) => refused(format!(
                    "The inbox could not be read to find that conversation: {error}"
                )),
            }
        }
    }
}

/// Follows links handed over by the operating system: resolves them in the background, keeps
/// the last one for the UI, brings the window to the front and announces it.
pub fn open<R: Runtime>(app: &AppHandle<R>, links: Vec<String>) {
    if links.is_empty() {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        for link in links {
            let opened = resolve(&state, &link).await;
            // The link itself may carry an invitation code: only its kind is logged.
            tracing::info!(
                kind = match &opened {
                    OpenedLink::Conversation { .. } => "conversation",
                    OpenedLink::Invitation { .. } => "invitation",
                    OpenedLink::Refused { .. } => "refused",
                },
                "a zentro:// link was opened"
            );
            state.open_link(opened);
        }
        crate::tray::bring_to_front(&app);
        let _ = LinkOpened.emit(&app);
    });
}

/// Shows conversation `conversation_id` in the main window, brought to the front (a click on
/// its notification).
pub fn show_conversation<R: Runtime>(app: &AppHandle<R>, conversation_id: i64) {
    app.state::<AppState>()
        .open_link(OpenedLink::Conversation { conversation_id });
    crate::tray::bring_to_front(app);
    let _ = LinkOpened.emit(app);
}

/// Listens for links (and takes the one the app was started with).
pub fn listen<R: Runtime>(app: &AppHandle<R>) {
    use tauri_plugin_deep_link::DeepLinkExt;
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        open(
            &handle,
            event.urls().into_iter().map(|u| u.to_string()).collect(),
        );
    });
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        open(app, urls.into_iter().map(|u| u.to_string()).collect());
    }
}
