//! How Meta's routes map onto the relay's channels.

use zentro_meta::webhook::Route;

use crate::store::ChannelKind;

/// The kind of event a verified Meta webhook item becomes; its payload is the item's envelope in
/// Meta's own shape.
pub const WEBHOOK_EVENT_KIND: &str = "meta.webhook";

/// `(route kind, route id)` as stored, or `None` for an unroutable item.
pub fn route_key(route: &Route) -> Option<(&'static str, &str)> {
    match route {
        Route::WhatsAppPhoneNumber(id) => Some(("whatsapp_phone_number", id)),
        Route::WhatsAppAccount(id) => Some(("whatsapp_account", id)),
        Route::Page(id) => Some(("page", id)),
        Route::InstagramAccount(id) => Some(("instagram_account", id)),
        Route::Unroutable => None,
    }
}

/// The route kinds a channel of `kind` receives, and whether each matches its account id
/// (`true`, the WABA) or its external id (`false`).
pub fn route_kinds_for(kind: ChannelKind) -> &'static [(&'static str, bool)] {
    match kind {
        ChannelKind::Whatsapp => &[("whatsapp_phone_number", false), ("whatsapp_account", true)],
        ChannelKind::Messenger => &[("page", false)],
        ChannelKind::Instagram => &[("instagram_account", false)],
    }
}
