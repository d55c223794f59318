//! The typed IPC surface: every command the UI may call, and the TypeScript bindings generated
//! from it (`ui/src/lib/ipc/bindings.ts`, checked for staleness by a test).

use tauri::Runtime;

use crate::commands;

/// Where the generated bindings live, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/lib/ipc/bindings.ts";

/// The command registry shared by the app and the binding generator.
// Long: one line per command the UI may call; splitting the list would only hide it.
pub fn builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        .commands(tauri_specta::collect_commands![
            commands::cache::cache_status,
            commands::account::desk_status,
            commands::account::sign_in,
            commands::conversations::send_reply,
            commands::conversations::send_attachment,
            commands::conversations::retry_reply,
            commands::conversations::templates,
            commands::conversations::send_template,
            commands::conversations::act_on_conversation,
            commands::conversations::consent,
            commands::conversations::record_consent,
            commands::conversations::canned_replies,
            commands::workspace::members,
            commands::conversations::save_canned_reply,
            commands::conversations::delete_canned_reply,
            commands::inbox::conversations,
            commands::inbox::messages,
            commands::inbox::open_conversation,
            commands::inbox::search,
            commands::inbox::set_viewing,
            commands::inbox::inbox_painted,
            commands::inbox::media,
            commands::inbox::open_media,
            commands::inbox::open_web_link,
            commands::inbox::save_media,
            commands::workspace::team,
            commands::workspace::invite_member,
            commands::workspace::update_member,
            commands::workspace::remove_member,
            commands::workspace::devices,
            commands::workspace::revoke_device,
            commands::workspace::audit_log,
            commands::channels::channels,
            commands::channels::set_channel_token,
            commands::channels::revoke_channel_token,
            commands::account::remembered_sign_in,
            commands::account::finish_welcome,
            commands::account::join_workspace,
            commands::channels::set_channel_access,
            commands::workspace::rename_workspace,
            commands::workspace::terminate_workspace,
            commands::rights::erasure_preview,
            commands::rights::erase_contact,
            commands::rights::export_contact,
            commands::rights::export_all,
            commands::rights::reveal_export,
            commands::rights::retention,
            commands::rights::set_retention,
            commands::channels::connect_channels,
            commands::channels::check_channel,
            commands::channels::disconnect_channel,
            commands::about::about,
            commands::about::open_logs_folder,
            commands::about::set_start_minimized,
            commands::about::update_status,
            commands::about::check_for_update,
            commands::about::install_update,
            commands::about::set_update_endpoint,
            commands::about::take_link,
            commands::inbox::link_candidates,
            commands::automation::automation_setup,
            commands::automation::save_automation_setup,
            commands::automation::preview_automation,
            commands::automation::set_presence,
            commands::automation::presence,
            commands::reports::report,
            commands::reports::desk_time_zone,
            commands::reports::save_report_csv,
            commands::assist::assist_status,
            commands::assist::assist_settings,
            commands::assist::save_assist_settings,
            commands::assist::assist_preview,
            commands::assist::assist_stream,
            commands::assist::assist_labels,
            commands::broadcasts::broadcast_options,
            commands::broadcasts::broadcast_templates,
            commands::broadcasts::broadcast_audience,
            commands::broadcasts::create_broadcast,
            commands::broadcasts::broadcasts,
            commands::broadcasts::broadcast,
            commands::broadcasts::broadcast_recipients,
            commands::broadcasts::steer_broadcast,
            commands::broadcasts::save_broadcast_csv,
            commands::broadcasts::campaigns_received,
        ])
        .events(tauri_specta::collect_events![
            crate::desk_runner::DeskStatusChanged,
            crate::desk_runner::InboxChanged,
            crate::self_update::UpdateStatusChanged,
            crate::deep_links::LinkOpened
        ])
        .typ::<crate::ErrorCode>()
        // The platform's rules the UI offers from, so no page spells them out again.
        .constant("ROLES", zentro_core::members::Role::ALL)
}

/// Renders the TypeScript bindings into `path`.
pub fn export(path: &std::path::Path) -> Result<(), specta_typescript::Error> {
    builder::<tauri::Wry>().export(
        specta_typescript::Typescript::default()
            .header("// Generated from Rust by `src-tauri/src/bindings.rs`. Do not edit.\n"),
        path,
    )
}
