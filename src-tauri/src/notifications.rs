//! OS notifications for what deserves one (`zentro_core::notices`: new conversations, messages in
//! your conversations, mentions; never the conversation on screen), and the tray's unread count
//! after every change.

use tauri::{AppHandle, Manager, Runtime};
use zentro_core::desk::Desk;
use zentro_core::notices;

use crate::AppState;

/// After a change: OS notifications for what deserves one (since `cursor`), and the tray's
/// unread count.
pub(crate) async fn notify<R: Runtime>(
    app: &AppHandle<R>,
    desk: &Desk,
    cursor: &mut notices::NoticeCursor,
) {
    let viewing = app
        .state::<AppState>()
        .viewing
        .load(std::sync::atomic::Ordering::Relaxed);
    let viewing = (viewing > 0).then_some(viewing);
    match notices::since(desk.cache(), *cursor, desk.member(), viewing).await {
        Ok((found, next)) => {
            *cursor = next;
            // A burst (a catch-up) is one summary, not a wall of notifications.
            let shown: Vec<(String, String, Option<i64>)> = if found.len() > 3 {
                vec![(
                    "Zentro Desk".into(),
                    format!("{} new messages and mentions", found.len()),
                    None,
                )]
            } else {
                found
                    .into_iter()
                    .map(|n| (n.title, n.body, Some(n.conversation_id)))
                    .collect()
            };
            for (title, body, conversation) in shown {
                show_notice(app, title, body, conversation);
            }
        }
        Err(error) => tracing::warn!(%error, "could not look for notifications"),
    }
    if let Ok(unread) = notices::unread_total(desk.cache()).await {
        crate::tray::show_unread(app, unread);
    }
}

/// Every minute: conversations of the member's teams whose first response fell due since
/// `after` (each noticed once), then `after` moves to now.
pub(crate) async fn notify_breaches<R: Runtime>(app: &AppHandle<R>, desk: &Desk, after: &mut i64) {
    let viewing = app
        .state::<AppState>()
        .viewing
        .load(std::sync::atomic::Ordering::Relaxed);
    let now = zentro_events::clock::now_ms();
    let viewing = (viewing > 0).then_some(viewing);
    match notices::breaches(desk.cache(), desk.member(), *after, now, viewing).await {
        Ok(found) => {
            for notice in found {
                show_notice(app, notice.title, notice.body, Some(notice.conversation_id));
            }
            *after = now;
        }
        Err(error) => tracing::warn!(%error, "could not look for first-response breaches"),
    }
}

/// Shows one OS notification. On Linux a click on it opens its conversation (or the window, for
/// a summary): the notification server reports the click, which a thread per notification
/// waits for until the notification is closed. Elsewhere the notification plugin shows it.
fn show_notice<R: Runtime>(
    app: &AppHandle<R>,
    title: String,
    body: String,
    conversation: Option<i64>,
) {
    #[cfg(target_os = "linux")]
    {
        let app = app.clone();
        let spawned = std::thread::Builder::new()
            .name("notification".into())
            .spawn(move || {
                let shown = notify_rust::Notification::new()
                    .appname("Zentro Desk")
                    .icon("zentro-desk")
                    .summary(&title)
                    .body(&body)
                    .action("default", "Open")
                    .show();
                match shown {
                    Ok(handle) => handle.wait_for_action(|action| {
                        if action == "default" {
                            match conversation {
                                Some(id) => crate::deep_links::show_conversation(&app, id),
                                None => crate::tray::bring_to_front(&app),
                            }
                        }
                    }),
                    Err(error) => tracing::debug!(%error, "no notification shown"),
                }
            });
        if let Err(error) = spawned {
            tracing::debug!(%error, "no notification shown");
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        use tauri_plugin_notification::NotificationExt;
        let _ = conversation;
        if let Err(error) = app.notification().builder().title(title).body(body).show() {
            tracing::debug!(%error, "no notification shown");
        }
    }
}
