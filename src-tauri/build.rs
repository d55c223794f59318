//! Reads tauri.conf.json (a link to the one at the repository root) and the app's command
//! manifest, so capabilities can grant each window only the commands it uses.

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "cache_status",
            "desk_status",
            "sign_in",
            "send_reply",
            "send_attachment",
            "retry_reply",
            "templates",
            "send_template",
            "act_on_conversation",
            "canned_replies",
            "members",
            "save_canned_reply",
            "delete_canned_reply",
            "conversations",
            "messages",
            "open_conversation",
            "search",
            "set_viewing",
            "media",
            "open_media",
            "team",
            "invite_member",
            "update_member",
            "remove_member",
            "devices",
            "revoke_device",
            "audit_log",
            "channels",
            "set_channel_token",
            "revoke_channel_token",
            "remembered_sign_in",
            "finish_welcome",
            "join_workspace",
            "set_channel_access",
            "rename_workspace",
            "terminate_workspace",
            "erasure_preview",
            "erase_contact",
        ]),
    ))
    .expect("failed to read the Tauri configuration");
}
