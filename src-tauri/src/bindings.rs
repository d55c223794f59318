//! The typed IPC surface: every command the UI may call, and the TypeScript bindings generated
//! from it (`ui/src/lib/ipc/bindings.ts`, checked for staleness by a test).

use tauri::Runtime;

use crate::commands;

/// Where the generated bindings live, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/lib/ipc/bindings.ts";

/// The command registry shared by the app and the binding generator.
pub fn builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        .commands(tauri_specta::collect_commands![
            commands::cache::cache_status,
            commands::desk::desk_status,
            commands::desk::sign_in,
            commands::desk::send_reply,
            commands::desk::send_attachment,
            commands::desk::retry_reply,
            commands::desk::templates,
            commands::desk::send_template,
            commands::desk::act_on_conversation,
            commands::desk::canned_replies,
            commands::desk::members,
            commands::desk::save_canned_reply,
            commands::desk::delete_canned_reply,
            commands::inbox::conversations,
            commands::inbox::messages,
            commands::inbox::open_conversation,
            commands::inbox::search,
            commands::inbox::set_viewing,
            commands::inbox::media,
            commands::inbox::open_media,
            commands::inbox::save_media,
            commands::team::team,
            commands::team::invite_member,
            commands::team::update_member,
            commands::team::remove_member,
            commands::team::devices,
            commands::team::revoke_device,
            commands::team::audit_log,
            commands::team::channels,
            commands::team::set_channel_token,
            commands::team::revoke_channel_token,
            commands::team::remembered_sign_in,
            commands::team::finish_welcome,
            commands::team::join_workspace,
            commands::team::set_channel_access,
            commands::team::rename_workspace,
            commands::team::terminate_workspace,
            commands::team::erasure_preview,
            commands::team::erase_contact,
            commands::rights::export_contact,
            commands::rights::export_all,
            commands::rights::reveal_export,
            commands::team::retention,
            commands::team::set_retention,
            commands::team::connect_channels,
            commands::team::check_channel,
            commands::team::disconnect_channel,
            commands::about::about,
            commands::about::open_logs_folder,
            commands::about::set_start_minimized,
            commands::about::update_status,
            commands::about::check_for_update,
            commands::about::install_update,
            commands::about::set_update_endpoint,
            commands::about::take_link,
            commands::inbox::link_candidates,
        ])
        .events(tauri_specta::collect_events![
            crate::desk::DeskStatusChanged,
            crate::desk::InboxChanged,
            crate::self_update::UpdateStatusChanged,
            crate::deep_links::LinkOpened
        ])
        .typ::<crate::ErrorCode>()
}

/// Renders the TypeScript bindings into `path`.
pub fn export(path: &std::path::Path) -> Result<(), specta_typescript::Error> {
    builder::<tauri::Wry>().export(
        specta_typescript::Typescript::default()
            .header("// Generated from Rust by `src-tauri/src/bindings.rs`. Do not edit.\n"),
        path,
    )
}
