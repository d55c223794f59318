//! Facts about Meta's platform that change over time, kept in one place.
//!
//! When Meta ships a new Graph API version or changes a limit, this is the file to edit (and
//! `docs/meta.md` to update).

use std::time::Duration;

/// The Graph API version every call is made with. Always explicit in the path: unversioned calls
/// use the app's default version and drift silently.
pub const GRAPH_API_VERSION: &str = "v26.0";

/// Meta's Graph API host.
pub const GRAPH_BASE_URL: &str = "https://graph.facebook.com";

/// The permissions the Embedded Signup / Facebook Login for Business configuration asks for:
/// exactly these and no others (privacy promise P4).
pub const REQUESTED_PERMISSIONS: [&str; 7] = [
    "whatsapp_business_messaging",
    "whatsapp_business_management",
    "pages_messaging",
    "pages_show_list",
    "instagram_basic",
    "instagram_manage_messages",
    "business_management",
];

/// Embedded Signup flow version passed in `extras.version`.
pub const EMBEDDED_SIGNUP_VERSION: &str = "v4";
/// Session-info version passed in `extras.sessionInfoVersion`.
pub const EMBEDDED_SIGNUP_SESSION_INFO_VERSION: &str = "3";
/// An Embedded Signup code must be exchanged within this time.
pub const SIGNUP_CODE_TTL: Duration = Duration::from_secs(30);

/// Meta's JavaScript SDK, which the relay's signup page loads (`FB.init`, `FB.login`).
pub const JS_SDK_URL: &str = "https://connect.facebook.net/en_US/sdk.js";

/// `extras.featureType` of the WhatsApp Business app coexistence flow (the number stays in the
/// app; it is not registered again).
pub const COEXISTENCE_FEATURE_TYPE: &str = "whatsapp_business_app_onboarding";

/// The `WA_EMBEDDED_SIGNUP` events of Meta's dialog (`event` field of the message).
pub mod signup_events {
    /// A new number finished.
    pub const FINISH: &str = "FINISH";
    /// The WhatsApp Business app (coexistence) flow finished; `phone_number_id` may be missing.
    pub const FINISH_COEXISTENCE: &str = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING";
    /// Only the WhatsApp Business Account was shared (no number).
    pub const FINISH_ONLY_WABA: &str = "FINISH_ONLY_WABA";
    /// The owner closed the dialog (`data.current_step`).
    pub const CANCEL: &str = "CANCEL";
    /// Meta reported an error (`data.error_message`, `data.error_id`).
    pub const ERROR: &str = "ERROR";
}

/// Hosts (and their subdomains) that Meta's login dialog and SDK load from: the only pages, with
/// the relay's, that the signup window may show.
pub const LOGIN_HOST_SUFFIXES: [&str; 4] =
    ["facebook.com", "facebook.net", "fbcdn.net", "fbsbx.com"];

/// Whether `host` belongs to Meta's login dialog (`www.facebook.com`, `connect.facebook.net`, …).
pub fn is_login_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    LOGIN_HOST_SUFFIXES
        .iter()
        .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")))
}

/// The webhook fields a Page (Messenger) or Instagram account is subscribed to.
pub const MESSAGING_FIELDS: &str = "messages,messaging_postbacks,message_deliveries,message_reads,message_reactions,message_echoes";

/// The largest webhook body Meta sends for WhatsApp (3 MB); the relay accepts up to 4 MiB.
pub const WEBHOOK_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// WhatsApp customer-service window: free-form messages only within this time of the customer's
/// last message.
pub const WHATSAPP_SERVICE_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Messenger / Instagram standard messaging window.
pub const MESSENGER_STANDARD_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Messenger / Instagram window for human agents with the `HUMAN_AGENT` tag.
pub const MESSENGER_HUMAN_AGENT_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// Free-entry-point window opened by a click-to-WhatsApp ad.
pub const WHATSAPP_FREE_ENTRY_POINT_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// WhatsApp text body limit, in characters.
pub const WHATSAPP_TEXT_MAX_CHARS: usize = 4096;
/// WhatsApp media caption limit, in characters.
pub const WHATSAPP_CAPTION_MAX_CHARS: usize = 1024;

/// Whether a file sent on a channel of this kind (`whatsapp`, `messenger`, `instagram`) carries a
/// caption. Only WhatsApp's media messages have one; Messenger's and Instagram's attachments carry
/// none, so text typed with a file goes as its own message there.
pub fn files_carry_captions(channel_kind: &str) -> bool {
    channel_kind == "whatsapp"
}
/// `biz_opaque_callback_data` limit, in bytes.
pub const WHATSAPP_CALLBACK_DATA_MAX_BYTES: usize = 512;
/// Reply buttons per interactive message.
pub const WHATSAPP_MAX_REPLY_BUTTONS: usize = 3;
/// Reply button title limit, in characters.
pub const WHATSAPP_BUTTON_TITLE_MAX_CHARS: usize = 20;
/// Reply button id limit, in characters.
pub const WHATSAPP_BUTTON_ID_MAX_CHARS: usize = 256;
/// Body text of an interactive message (reply buttons or list), in characters.
pub const WHATSAPP_INTERACTIVE_BODY_MAX_CHARS: usize = 1024;
/// Footer text of an interactive message, in characters.
pub const WHATSAPP_INTERACTIVE_FOOTER_MAX_CHARS: usize = 60;
/// Rows across all sections of an interactive list.
pub const WHATSAPP_LIST_MAX_ROWS: usize = 10;
/// Sections of an interactive list.
pub const WHATSAPP_LIST_MAX_SECTIONS: usize = 10;
/// The label of the button that opens an interactive list, in characters.
pub const WHATSAPP_LIST_BUTTON_MAX_CHARS: usize = 20;
/// A list row's title, in characters.
pub const WHATSAPP_LIST_ROW_TITLE_MAX_CHARS: usize = 24;
/// A list row's description, in characters.
pub const WHATSAPP_LIST_ROW_DESCRIPTION_MAX_CHARS: usize = 72;
/// A list row's id, in characters.
pub const WHATSAPP_LIST_ROW_ID_MAX_CHARS: usize = 200;
/// A list section's title, in characters.
pub const WHATSAPP_LIST_SECTION_TITLE_MAX_CHARS: usize = 24;
/// Quick replies on one Messenger or Instagram message.
pub const MESSENGER_MAX_QUICK_REPLIES: usize = 13;
/// A quick reply's title, in characters (Meta truncates longer ones; we refuse them).
pub const MESSENGER_QUICK_REPLY_TITLE_MAX_CHARS: usize = 20;
/// A quick reply's payload (what the customer's answer carries back), in characters.
pub const MESSENGER_QUICK_REPLY_PAYLOAD_MAX_CHARS: usize = 1000;
/// Messenger text limit, in characters.
pub const MESSENGER_TEXT_MAX_CHARS: usize = 2000;
/// Instagram text limit, in UTF-8 bytes (not characters).
pub const INSTAGRAM_TEXT_MAX_BYTES: usize = 1000;

/// A media download URL returned by `GET /{media-id}` stops working after this time.
pub const MEDIA_URL_TTL: Duration = Duration::from_secs(5 * 60);
/// The largest file WhatsApp accepts for a media kind (`image`, `video`, `audio`, `sticker`,
/// `document`): 5 MB images, 16 MB video and audio, 500 KB stickers, 100 MB documents.
pub fn whatsapp_upload_limit(kind: &str) -> u64 {
    match kind {
        "image" => 5 * 1024 * 1024,
        "video" | "audio" => 16 * 1024 * 1024,
        "sticker" => 500 * 1024,
        _ => WHATSAPP_MEDIA_MAX_BYTES,
    }
}

/// What Instagram accepts as a reply's file, by MIME type, and how large: PNG and JPEG images up
/// to 8 MB; audio, video and PDF up to 25 MB. `None`: Instagram takes no such file.
pub fn instagram_attachment_limit(mime: &str) -> Option<u64> {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "image/png" | "image/jpeg" => Some(8 * 1024 * 1024),
        "application/pdf" => Some(25 * 1024 * 1024),
        m if m.starts_with("audio/") || m.starts_with("video/") => Some(25 * 1024 * 1024),
        _ => None,
    }
}

/// The largest file the Messenger Attachment Upload API takes.
pub const MESSENGER_ATTACHMENT_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// The largest media file WhatsApp carries (documents, 100 MB).
pub const WHATSAPP_MEDIA_MAX_BYTES: u64 = 100 * 1024 * 1024;

/// Hosts media is downloaded from. Anything else is refused (no SSRF through a crafted URL).
pub const MEDIA_HOST_SUFFIXES: [&str; 3] = ["lookaside.fbsbx.com", ".fbcdn.net", ".fbsbx.com"];

/// Error codes Meta returns, by name. Build logic on these, not on titles.
pub mod codes {
    /// Generic temporary error.
    pub const TEMPORARY: i64 = 2;
    /// Unknown error (often transient).
    pub const UNKNOWN: i64 = 1;
    /// Application-level rate limit.
    pub const APP_RATE_LIMIT: i64 = 4;
    /// Permission missing or revoked.
    pub const PERMISSION: i64 = 10;
    /// User-level rate limit.
    pub const USER_RATE_LIMIT: i64 = 17;
    /// Pages rate limit.
    pub const PAGES_RATE_LIMIT: i64 = 32;
    /// Invalid parameter.
    pub const INVALID_PARAMETER: i64 = 100;
    /// Access token invalid, expired or revoked: the channel is disconnected.
    pub const TOKEN_INVALID: i64 = 190;
    /// Subcode of 100: the login code expired.
    pub const CODE_EXPIRED: i64 = 36007;
    /// Subcode of 100: the login code was used already or is malformed.
    pub const CODE_INVALID: i64 = 36009;
    /// Temporarily blocked for policy reasons.
    pub const POLICY_BLOCK: i64 = 368;
    /// Custom-level rate limit.
    pub const CUSTOM_RATE_LIMIT: i64 = 613;
    /// Business-use-case rate limits (Pages, Instagram, Messenger, WhatsApp).
    pub const BUSINESS_USE_CASE_LIMITS: [i64; 4] = [80001, 80002, 80006, 80007];
    /// Throughput limit for the phone number.
    pub const THROUGHPUT_LIMIT: i64 = 130429;
    /// Generic WhatsApp server error (transient).
    pub const WHATSAPP_SERVER_ERROR: i64 = 131000;
    /// Invalid parameter value.
    pub const INVALID_PARAMETER_VALUE: i64 = 131009;
    /// Service unavailable (transient).
    pub const SERVICE_UNAVAILABLE: i64 = 131016;
    /// Message undeliverable.
    pub const UNDELIVERABLE: i64 = 131026;
    /// Re-engagement required: more than 24 hours since the customer's last message.
    pub const WINDOW_CLOSED: i64 = 131047;
    /// Spam rate limit.
    pub const SPAM_RATE_LIMIT: i64 = 131048;
    /// Marketing per-user limit.
    pub const MARKETING_LIMIT: i64 = 131049;
    /// Unsupported message type (inbound).
    pub const UNSUPPORTED_MESSAGE: i64 = 131051;
    /// Media download error.
    pub const MEDIA_DOWNLOAD: i64 = 131052;
    /// Media upload error.
    pub const MEDIA_UPLOAD: i64 = 131053;
    /// Pair rate limit: too many messages to one customer in a short time.
    pub const PAIR_RATE_LIMIT: i64 = 131056;
    /// Number in maintenance (throughput upgrade).
    pub const NUMBER_MAINTENANCE: i64 = 131057;
    /// Template parameter count mismatch.
    pub const TEMPLATE_PARAM_COUNT: i64 = 132000;
    /// Template does not exist in that language.
    pub const TEMPLATE_NOT_FOUND: i64 = 132001;
    /// Template parameter format mismatch.
    pub const TEMPLATE_PARAM_FORMAT: i64 = 132012;
    /// Template paused.
    pub const TEMPLATE_PAUSED: i64 = 132015;
    /// Template disabled.
    pub const TEMPLATE_DISABLED: i64 = 132016;
    /// Invalid template parameters.
    pub const TEMPLATE_INVALID_PARAMS: i64 = 132018;
    /// Phone number not registered.
    pub const NOT_REGISTERED: i64 = 133010;
    /// Identity key mismatch.
    pub const IDENTITY_KEY_MISMATCH: i64 = 137000;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Privacy promise P4: the login configuration asks for exactly these permissions.
    #[test]
    fn the_requested_permissions_are_exactly_the_documented_seven() {
        let mut requested = REQUESTED_PERMISSIONS.to_vec();
        requested.sort_unstable();
        assert_eq!(
            requested,
            [
                "business_management",
                "instagram_basic",
                "instagram_manage_messages",
                "pages_messaging",
                "pages_show_list",
                "whatsapp_business_management",
                "whatsapp_business_messaging",
            ]
        );
    }

    #[test]
    fn only_meta_hosts_count_as_login_hosts() {
        for host in [
            "www.facebook.com",
            "facebook.com",
            "connect.facebook.net",
            "static.xx.fbcdn.net",
            "WEB.Facebook.com.",
        ] {
            assert!(is_login_host(host), "{host}");
        }
        for host in [
            "evilfacebook.com",
            "facebook.com.evil.net",
            "example.com",
            "fbcdn.net.example",
            "",
        ] {
            assert!(!is_login_host(host), "{host}");
        }
    }

    #[test]
    fn the_graph_version_is_a_versioned_path_segment() {
        assert!(GRAPH_API_VERSION.starts_with('v') && GRAPH_API_VERSION.contains('.'));
    }
}
