//! The system tray icon (the unread count, a menu to bring the window back or quit) and bringing
//! the main window to the front.

use tauri::{AppHandle, Manager, Runtime};

/// The id the tray icon is created under, by which the unread count finds it again.
pub const TRAY_ID: &str = "main";

/// Shows how many messages are unread as the tray icon's tooltip (and title where the desktop
/// shows one); nothing without a tray.
pub fn show_unread<R: Runtime>(app: &AppHandle<R>, unread: i64) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let text = match unread {
        0 => "Zentro Desk — no unread messages".to_string(),
        1 => "Zentro Desk — 1 unread message".to_string(),
        n => format!("Zentro Desk — {n} unread messages"),
    };
    let _ = tray.set_tooltip(Some(&text));
    let _ = tray.set_title((unread > 0).then(|| unread.to_string()));
}

/// Shows the main window in front (from the tray, or when the app is launched again).
pub fn bring_to_front<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Puts Zentro Desk in the system tray: the unread count as its tooltip (and title where the
/// desktop shows one), a menu to bring the window back or quit.
pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    use tauri::menu::{Menu, MenuItem};
    use tauri::tray::TrayIconBuilder;
    let open = MenuItem::with_id(app, "open", "Open Zentro Desk", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Zentro Desk")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => bring_to_front(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}
