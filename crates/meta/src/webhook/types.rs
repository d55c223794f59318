//! The typed items a webhook body yields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The messaging platform a channel is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// WhatsApp Business (Cloud API).
    WhatsApp,
    /// Facebook Page conversations (Messenger).
    Messenger,
    /// Instagram Direct.
    Instagram,
}

impl Platform {
    /// The name used in keys, URLs and the relay's channel kinds.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WhatsApp => "whatsapp",
            Self::Messenger => "messenger",
            Self::Instagram => "instagram",
        }
    }

    /// Parses [`Platform::as_str`]'s names.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "whatsapp" => Some(Self::WhatsApp),
            "messenger" => Some(Self::Messenger),
            "instagram" => Some(Self::Instagram),
            _ => None,
        }
    }
}

/// Which channel an item belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Route {
    /// A WhatsApp phone number (`metadata.phone_number_id`).
    WhatsAppPhoneNumber(String),
    /// A WhatsApp Business Account (account-level events such as template status).
    WhatsAppAccount(String),
    /// A Facebook Page (Messenger).
    Page(String),
    /// An Instagram professional account.
    InstagramAccount(String),
    /// Nothing to route by.
    Unroutable,
}

impl Route {
    /// The channel's platform and external id, when the route names one.
    pub fn channel(&self) -> Option<(Platform, &str)> {
        match self {
            Self::WhatsAppPhoneNumber(id) | Self::WhatsAppAccount(id) => {
                Some((Platform::WhatsApp, id))
            }
            Self::Page(id) => Some((Platform::Messenger, id)),
            Self::InstagramAccount(id) => Some((Platform::Instagram, id)),
            Self::Unroutable => None,
        }
    }
}

/// One item of a webhook body.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookItem {
    /// The channel it belongs to.
    pub route: Route,
    /// A stable identity: the same notification delivered twice has the same key.
    pub key: String,
    /// When it happened, in UTC (absent for events without a time).
    pub at: Option<DateTime<Utc>>,
    /// A body in Meta's shape holding only this item; parsing it yields this item again.
    pub envelope: Value,
    /// What happened.
    pub event: Event,
}

/// What a webhook item says.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A customer's message, or (Messenger / Instagram echo) the business's own message.
    Message(Box<Message>),
    /// A status of a message the business sent (WhatsApp).
    Status(Status),
    /// A reaction added or removed.
    Reaction(Reaction),
    /// The customer read messages (Messenger: up to a watermark; Instagram: a message).
    Read(ReadReceipt),
    /// Messages were delivered to the customer (Messenger).
    Delivery(DeliveryReceipt),
    /// The customer edited a message (Messenger / Instagram).
    Edit(MessageEdit),
    /// The customer unsent a message (Instagram / Messenger `is_deleted`).
    Deleted(MessageDeleted),
    /// A button, Get Started or ice-breaker tap (Messenger / Instagram).
    Postback(Postback),
    /// The customer arrived from an ad, a link with `ref` or a plugin (Messenger / Instagram).
    Referral(ReferralEvent),
    /// A template was approved, rejected, paused… (WhatsApp account).
    TemplateStatus(TemplateStatus),
    /// Account-level news: partner added/removed, restrictions, verification (WhatsApp account).
    AccountUpdate(AccountUpdate),
    /// Messaging limit or quality changes of a phone number.
    PhoneNumberQuality(PhoneNumberQuality),
    /// Marketing opt-out or opt-in by a customer.
    UserPreference(UserPreference),
    /// Out-of-band errors Meta reports for the channel (`value.errors`).
    PlatformErrors(Vec<PlatformError>),
    /// Something this version does not understand; the raw JSON is kept.
    Unsupported(Unsupported),
}

/// An error as Meta reports it. Act on `code` (and `details`), never on titles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformError {
    /// Meta's numeric code (e.g. 131047).
    pub code: i64,
    /// Short title (being deprecated by Meta).
    pub title: Option<String>,
    /// Meta's human-readable message (wording changes; never match on it).
    pub message: Option<String>,
    /// `error_data.details`: the useful explanation.
    pub details: Option<String>,
}

/// Who the customer is on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Customer {
    /// The stable id to key the contact by: the business-scoped user id (BSUID) when WhatsApp
    /// sends one, else the WhatsApp id; the PSID on Messenger; the IGSID on Instagram.
    pub id: String,
    /// The phone number (WhatsApp `wa_id`), when the customer does not hide it.
    pub phone: Option<String>,
    /// WhatsApp username.
    pub username: Option<String>,
    /// Profile name.
    pub name: Option<String>,
    /// WhatsApp parent BSUID shared across linked portfolios.
    pub parent_user_id: Option<String>,
}

/// Whether a message came from the customer or is the business's own (an echo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// The business's own message (sent from this app, Business Suite or another app).
    Echo,
}

/// A message in a conversation: the customer's, or an echo of the business's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// wamid (WhatsApp) or mid (Messenger / Instagram).
    pub id: String,
    /// The channel it came through (WhatsApp, Messenger or Instagram).
    pub platform: Platform,
    /// Customer's or the business's own.
    pub direction: Direction,
    /// The customer the conversation is with (the recipient, for an echo).
    pub customer: Customer,
    /// For echoes: the app that sent it (`app_id`), to tell our sends from others.
    pub app_id: Option<String>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// Quoted message, forwarding, product or story it refers to.
    pub context: Option<MessageContext>,
    /// The ad or link the customer came from.
    pub referral: Option<Referral>,
    /// What it says.
    pub content: Content,
    /// Errors attached to the message (e.g. 131051 for unsupported types).
    pub errors: Vec<PlatformError>,
}

/// What a message refers to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageContext {
    /// The quoted message's id (a reply).
    pub quoted_id: Option<String>,
    /// Who sent the quoted message.
    pub quoted_from: Option<String>,
    /// WhatsApp marked it forwarded (`context.forwarded`).
    pub forwarded: bool,
    /// WhatsApp marked it forwarded more than five times (`context.frequently_forwarded`).
    pub frequently_forwarded: bool,
    /// `(catalog_id, product_retailer_id)` of a product enquiry.
    pub referred_product: Option<(String, String)>,
    /// The Instagram story replied to: `(id, url)`.
    pub story: Option<(Option<String>, Option<String>)>,
}

/// Where the customer came from (click-to-WhatsApp ads, m.me / ig.me links, Messenger ads).
#[derive(Debug, Clone, PartialEq)]
pub struct Referral {
    /// `source_type` (ad, post, SHORTLINK, ADS…).
    pub source_type: Option<String>,
    /// The ad or post id.
    pub source_id: Option<String>,
    /// The ad or post URL.
    pub source_url: Option<String>,
    /// The ad headline.
    pub headline: Option<String>,
    /// The ad body.
    pub body: Option<String>,
    /// The `ref` parameter of a link.
    pub reference: Option<String>,
    /// The click id of a click-to-WhatsApp ad (opens the 72-hour free entry point window).
    pub ctwa_clid: Option<String>,
    /// The raw JSON.
    pub raw: Value,
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Plain text (WhatsApp `text`, or a Messenger / Instagram message without attachments).
    Text {
        /// What the customer wrote, as sent (not trimmed).
        body: String,
    },
    /// One WhatsApp media item.
    Media(Media),
    /// Messenger / Instagram attachments, optionally with text.
    Attachments {
        /// Text sent with the attachments.
        text: Option<String>,
        /// In the order Meta listed them; never empty.
        items: Vec<Attachment>,
    },
    /// A place or pin the customer shared (WhatsApp `location`).
    Location(Location),
    /// Shared contact cards.
    Contacts(Vec<SharedContact>),
    /// A reply to an interactive message (button, list, flow).
    InteractiveReply(InteractiveReply),
    /// A quick-reply button of a template tapped (WhatsApp `button`).
    TemplateButton {
        /// The button text.
        text: String,
        /// The payload the template defined.
        payload: Option<String>,
    },
    /// A Messenger / Instagram quick reply tapped.
    QuickReply {
        /// The text shown.
        text: String,
        /// The payload the business gave the quick reply when it sent it.
        payload: String,
    },
    /// A WhatsApp catalog order.
    Order(Order),
    /// A system notice (number or identity changed).
    System(SystemNotice),
    /// The customer opened the chat for the first time (WhatsApp `request_welcome`).
    RequestWelcome,
    /// A type this version does not render; the raw JSON is kept.
    Unsupported {
        /// Meta's type name.
        kind: String,
        /// The message's JSON.
        raw: Value,
    },
}

/// Kinds of WhatsApp media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Image (jpeg, png).
    Image,
    /// Video (mp4, 3gpp).
    Video,
    /// Audio or a voice note.
    Audio,
    /// Any other file (PDF, office documents…), sent with a file name.
    Document,
    /// Sticker (webp).
    Sticker,
}

impl MediaKind {
    /// Meta's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }
}

/// A WhatsApp media item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Which of WhatsApp's media types it was sent as (decides how it is shown).
    pub kind: MediaKind,
    /// The media id to look up the download URL with (expires after 7 days).
    pub id: Option<String>,
    /// A direct download URL, when Meta includes one.
    pub url: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
    /// Base64 or hex SHA-256 of the file, as Meta gives it.
    pub sha256: Option<String>,
    /// The text sent with the media; `None` when there was none (audio and stickers never carry one).
    pub caption: Option<String>,
    /// File name (documents).
    pub filename: Option<String>,
    /// A push-to-talk voice note.
    pub voice: bool,
    /// An animated sticker.
    pub animated: bool,
}

/// A Messenger / Instagram attachment.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// Meta's type: image, video, audio, file, location, fallback, template, sticker, share,
    /// story_mention, ig_post, ig_reel, reel, ephemeral…
    pub kind: String,
    /// The CDN URL (for Instagram: keep the URL, never the bytes).
    pub url: Option<String>,
    /// A title, when there is one.
    pub title: Option<String>,
    /// Sticker id.
    pub sticker_id: Option<String>,
    /// The raw JSON.
    pub raw: Value,
}

/// A location shared by the customer (a pin, or a named place).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Degrees north (negative: south), as Meta sends it.
    pub latitude: f64,
    /// Degrees east (negative: west), as Meta sends it.
    pub longitude: f64,
    /// Place name.
    pub name: Option<String>,
    /// The place's street address; `None` for a bare pin.
    pub address: Option<String>,
    /// The place's web page, when the customer shared one with it.
    pub url: Option<String>,
}

/// A shared contact card.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedContact {
    /// Formatted name.
    pub name: String,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// Email addresses.
    pub emails: Vec<String>,
    /// The card's company (`org.company`), when it has one.
    pub organization: Option<String>,
    /// The full card as sent.
    pub raw: Value,
}

/// Which interactive element was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractiveKind {
    /// A reply button.
    ButtonReply,
    /// A list row.
    ListReply,
    /// A WhatsApp Flow (or address message) response.
    FlowReply,
    /// A call-permission reply.
    CallPermissionReply,
    /// Another kind.
    Other(String),
}

/// A reply to an interactive message.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractiveReply {
    /// Which interactive element was answered (decides which of the other fields are set).
    pub kind: InteractiveKind,
    /// The id the business gave the button or row.
    pub id: Option<String>,
    /// The title the customer saw.
    pub title: Option<String>,
    /// A list row's description.
    pub description: Option<String>,
    /// A flow's response (a JSON string, as Meta sends it).
    pub response_json: Option<String>,
    /// The raw `interactive` object.
    pub raw: Value,
}

/// A catalog order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Catalog id.
    pub catalog_id: Option<String>,
    /// Text sent with the order.
    pub text: Option<String>,
    /// The products ordered, in the customer's order.
    pub items: Vec<OrderItem>,
}

/// One ordered product.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// Product id in the catalog.
    pub product_retailer_id: String,
    /// How many units (Meta sends a number, possibly fractional).
    pub quantity: f64,
    /// Unit price.
    pub item_price: f64,
    /// Currency code.
    pub currency: String,
}

/// A system notice about the customer's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemNotice {
    /// `customer_changed_number`, `customer_identity_changed`, `user_changed_user_id`, …
    pub kind: String,
    /// Human-readable text.
    pub body: Option<String>,
    /// The new WhatsApp id, for a number change.
    pub new_wa_id: Option<String>,
    /// The (new) BSUID.
    pub user_id: Option<String>,
}

/// Delivery states of an outgoing message, in the order they can only move forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Accepted by WhatsApp's servers.
    Sent,
    /// On the customer's phone.
    Delivered,
    /// Opened by the customer (only when their read receipts are on).
    Read,
    /// A voice message played.
    Played,
    /// Failed, with errors.
    Failed,
    /// A state this version does not know.
    Other(String),
}

impl DeliveryState {
    /// Position in the forward-only order (sent < delivered < read < played); `None` for
    /// failed and unknown states.
    pub fn rank(&self) -> Option<u8> {
        match self {
            Self::Sent => Some(1),
            Self::Delivered => Some(2),
            Self::Read => Some(3),
            Self::Played => Some(4),
            Self::Failed | Self::Other(_) => None,
        }
    }

    /// Meta's name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Other(s) => s,
        }
    }

    /// Parses Meta's name (unknown names are kept as [`DeliveryState::Other`]).
    pub fn parse(s: &str) -> Self {
        match s {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            other => Self::Other(other.to_string()),
        }
    }
}

/// A status of a message the business sent (WhatsApp).
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The wamid of the sent message.
    pub message_id: String,
    /// The new state.
    pub state: DeliveryState,
    /// When Meta says it happened (its `timestamp`, not when the webhook arrived).
    pub at: DateTime<Utc>,
    /// The recipient's phone, when sent to a phone.
    pub recipient_phone: Option<String>,
    /// The recipient's BSUID.
    pub recipient_user_id: Option<String>,
    /// The `biz_opaque_callback_data` the send carried (our client message id).
    pub callback_data: Option<String>,
    /// Pricing category (service, utility, marketing…).
    pub pricing_category: Option<String>,
    /// Errors, for `failed`.
    pub errors: Vec<PlatformError>,
}

/// A reaction added or removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    /// The channel it came through (WhatsApp, Messenger or Instagram).
    pub platform: Platform,
    /// The reaction's own id (WhatsApp sends one).
    pub id: Option<String>,
    /// The message reacted to.
    pub message_id: String,
    /// Who reacted (the customer).
    pub customer: Customer,
    /// The emoji; `None` when the reaction was removed.
    pub emoji: Option<String>,
    /// When Meta says it happened (its `timestamp`, not when the webhook arrived).
    pub at: DateTime<Utc>,
}

/// The customer read messages.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadReceipt {
    /// The channel it came through (WhatsApp, Messenger or Instagram).
    pub platform: Platform,
    /// The customer's id on the platform (PSID on Messenger, IGSID on Instagram).
    pub customer_id: String,
    /// Messenger: everything sent before this time was read.
    pub watermark: Option<DateTime<Utc>>,
    /// Instagram: the message read.
    pub message_id: Option<String>,
    /// When Meta says it happened (its `timestamp`, not when the webhook arrived).
    pub at: DateTime<Utc>,
}

/// Messages delivered to the customer (Messenger).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryReceipt {
    /// The channel it came through (WhatsApp, Messenger or Instagram).
    pub platform: Platform,
    /// The customer's id on the platform (PSID on Messenger, IGSID on Instagram).
    pub customer_id: String,
    /// The delivered messages, when listed.
    pub message_ids: Vec<String>,
    /// Everything sent before this time was delivered.
    pub watermark: Option<DateTime<Utc>>,
    /// When Meta says it happened (its `timestamp`, not when the webhook arrived).
    pub at: DateTime<Utc>,
}

/// A customer edited a message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEdit {
    /// The channel it came through (WhatsApp, Messenger or Instagram).
    pub platform: Platform,
    /// The edited message.
    pub message_id: String,
    /// The customer's id on the platform (PSID on Messenger, IGSID on Instagram).
    pub customer_id: String,
    /// The new text.
    pub text: Option<String>,
    /// How many times it has been edited.
    pub edit_count: i64,
    /// When Meta says it happened (its `timestamp`, not when the webhook arrived).
    pub at: DateTime<Utc>,
}

/// A customer unsent a message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageDeleted {
    /// The channel it came through (WhatsApp, Messenger or Instagram).
    pub platform: Platform,
    /// The mid of the message the customer unsent.
    pub message_id: String,
    /// The customer's id on the platform (PSID on Messenger, IGSID on Instagram).
    pub customer_id: String,
    /// When Meta says it happened (its `timestamp`, not when the webhook arrived).
    pub at: DateTime<Utc>,
}

/// A Messenger / Instagram button tapped (a postback button, a persistent-menu item, Get Started).
#[derive(Debug, Clone, PartialEq)]
pub struct Postback {
    /// The channel it came through (WhatsApp, Messenger or Instagram).
    pub platform: Platform,
    /// The customer's id on the platform (PSID on Messenger, IGSID on Instagram).
    pub customer_id: String,
    /// The postback's message id, when Meta gives one.
    pub id: Option<String>,
    /// The button title.
    pub title: Option<String>,
    /// The payload (absent in standby).
    pub payload: Option<String>,
    /// A referral that came with it.
    pub referral: Option<Referral>,
    /// When Meta says it happened (its `timestamp`, not when the webhook arrived).
    pub at: DateTime<Utc>,
}

/// A referral on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralEvent {
    /// The channel it came through (WhatsApp, Messenger or Instagram).
    pub platform: Platform,
    /// The customer's id on the platform (PSID on Messenger, IGSID on Instagram).
    pub customer_id: String,
    /// The ad, post or link the customer came from.
    pub referral: Referral,
    /// When Meta says it happened (its `timestamp`, not when the webhook arrived).
    pub at: DateTime<Utc>,
}

/// A template's review result or status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStatus {
    /// APPROVED, REJECTED, PENDING, PAUSED, DISABLED, FLAGGED, …
    pub event: String,
    /// Template id.
    pub template_id: String,
    /// Template name.
    pub name: Option<String>,
    /// The template's language code (`en_US`…), when Meta gives it.
    pub language: Option<String>,
    /// MARKETING, UTILITY or AUTHENTICATION, when Meta gives it.
    pub category: Option<String>,
    /// Why (NONE when approved; INVALID_FORMAT, … when rejected).
    pub reason: Option<String>,
    /// Meta's explanation of a pause (`other_info.description`), when it gives one.
    pub details: Option<String>,
}

/// An `account_update`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountUpdate {
    /// PARTNER_ADDED, PARTNER_REMOVED, ACCOUNT_VIOLATION, …
    pub event: String,
    /// The whole value.
    pub raw: Value,
}

/// A `phone_number_quality_update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumberQuality {
    /// ONBOARDING, THROUGHPUT_UPGRADE, FLAGGED, …
    pub event: String,
    /// The display phone number.
    pub display_phone_number: Option<String>,
    /// TIER_250 … TIER_UNLIMITED.
    pub current_limit: Option<String>,
}

/// A marketing opt-out or opt-in.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPreference {
    /// Who changed their preference.
    pub customer: Customer,
    /// `marketing_messages`.
    pub category: String,
    /// `stop` or `resume`.
    pub value: String,
    /// When Meta says it happened; `None` when the webhook carries no timestamp.
    pub at: Option<DateTime<Utc>>,
}

/// Something this version does not understand.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsupported {
    /// What was not understood.
    pub reason: String,
    /// The raw JSON.
    pub raw: Value,
}
