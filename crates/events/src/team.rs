//! Team events: what staff do to conversations and contacts (assign, change status, write a
//! private note, label, edit or link a contact, keep canned replies), published by devices and
//! applied by every desk in the relay's order.
//!
//! Conversations and contacts are named by what every device knows the same way: the channel
//! (kind and Meta id) and the customer's id on it. A conversation reference means the contact's
//! current conversation (the active one, else the latest).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A customer as every device names them: channel kind, channel id at Meta, customer id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ContactRef {
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// phone_number_id, Page id or Instagram account id.
    pub channel_external_id: String,
    /// BSUID / wa_id, PSID or IGSID.
    pub customer_id: String,
}

/// A conversation's workflow state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Needs an answer.
    Open,
    /// Waiting on the customer or a third party.
    Pending,
    /// Hidden until a time (or the customer writes again).
    Snoozed,
    /// Done; a new message from the customer reopens it.
    Resolved,
}

impl ConversationStatus {
    /// The value stored in the cache.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Snoozed => "snoozed",
            Self::Resolved => "resolved",
        }
    }
}

/// Changes to a contact's editable fields. Absent fields stay as they are; for `email` and the
/// attributes, `null` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ContactChanges {
    /// A new display name (not empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A new email (`Some(None)` clears it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub email: Option<Option<String>>,
    /// Custom attributes to set (a value) or remove (`null`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Option<String>>,
    /// Restrict (or lift the restriction on) processing: kept, but no automation and no AI
    /// features. The relay accepts this only from admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted: Option<bool>,
}

mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|inner| inner.as_deref()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::<String>::deserialize(d)?))
    }
}

/// Something a member did, as published to the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TeamEvent {
    /// The conversation was given to a member (or unassigned, `None`).
    Assigned {
        /// The conversation, named by its customer as every device knows them.
        conversation: ContactRef,
        /// The member now responsible.
        assignee: Option<String>,
    },
    /// The conversation was given to a team (department), or taken from any (`None`). Whoever
    /// routes it: a member, or the workspace's automation (the menu's answer, the channel's
    /// default team).
    Routed {
        /// The conversation, named by its customer as every device knows them.
        conversation: ContactRef,
        /// The team's id (as the workspace's automation setup names it), or none.
        team: Option<String>,
    },
    /// The conversation's status changed.
    StatusChanged {
        /// The conversation, named by its customer as every device knows them.
        conversation: ContactRef,
        /// The status from now on (a snoozed conversation reopens at `snoozed_until`).
        status: ConversationStatus,
        /// For `snoozed`: when it wakes up (UTC ms).
        #[serde(default)]
        snoozed_until: Option<i64>,
    },
    /// A private note for the team (never sent to the customer).
    NoteAdded {
        /// The conversation, named by its customer as every device knows them.
        conversation: ContactRef,
        /// The note's id, made by the writer's device.
        note_id: String,
        /// What the member wrote, shown only to the team.
        body: String,
        /// Members mentioned with @.
        #[serde(default)]
        mentions: Vec<String>,
        /// When it was written (UTC ms).
        at: i64,
    },
    /// A label was put on (or taken off) the conversation.
    Labeled {
        /// The conversation, named by its customer as every device knows them.
        conversation: ContactRef,
        /// The label's name (labels are created on first use).
        label: String,
        /// On (`true`) or off.
        added: bool,
    },
    /// A canned reply was saved (created or replaced) for the team.
    CannedReplySaved {
        /// Typed as `/shortcut` (letters, digits, `-` and `_`).
        shortcut: String,
        /// The text it inserts.
        body: String,
    },
    /// A canned reply was deleted.
    CannedReplyDeleted {
        /// The `/shortcut` of the reply to delete (a shortcut nobody saved changes nothing).
        shortcut: String,
    },
    /// A contact's fields were corrected.
    ContactEdited {
        /// The contact, named as every device knows it.
        contact: ContactRef,
        /// The fields set (a field left out keeps its value).
        changes: ContactChanges,
    },
    /// Two contacts are the same person (e.g. on WhatsApp and on Instagram): from now on they
    /// are shown as one customer's identities. Linking into a contact that is already linked
    /// joins the person it is part of.
    ContactsLinked {
        /// The contact being linked (with everyone already linked to it).
        contact: ContactRef,
        /// The other (with everyone already linked to it).
        with: ContactRef,
    },
    /// A contact is no longer linked to the person it was part of.
    ContactUnlinked {
        /// The contact, named as every device knows it.
        contact: ContactRef,
    },
    /// The customer answered the satisfaction survey (CSAT) sent when a person resolved their
    /// conversation. Only the relay's automation writes it (authored `automation:csat`): devices
    /// may not publish it ([`TeamEvent::AUTOMATION_KINDS`]). A survey is named by its
    /// conversation and `resolved_at`; a later event for the same survey (the comment, once the
    /// customer wrote it) replaces the earlier one.
    Rated {
        /// The conversation that was resolved, named by its customer.
        conversation: ContactRef,
        /// 1 (very dissatisfied) to 5 (very satisfied).
        rating: u8,
        /// What the customer wrote when asked for a comment, if they did.
        #[serde(default)]
        comment: Option<String>,
        /// The member the conversation was assigned to when it was resolved.
        #[serde(default)]
        agent: Option<String>,
        /// The team the conversation was in when it was resolved.
        #[serde(default)]
        team: Option<String>,
        /// When the conversation was resolved (UTC ms): with `conversation`, names the survey.
        resolved_at: i64,
        /// When the customer gave the rating (Meta's time of their answer, UTC ms).
        rated_at: i64,
    },
    /// A contact's consent to marketing messages on its channel was recorded: opted in or out.
    /// The latest record in the log's order wins, on the relay and on every desk. Devices publish it with
    /// the source `agent` (any member), `form` or `import` (admins); the source `keyword` (the
    /// customer wrote a stop or start keyword) only the relay writes, authored
    /// `automation:consent`, from the customer's own message in Meta's signed webhook.
    ConsentRecorded {
        /// The customer, on the channel the consent is for.
        contact: ContactRef,
        /// Opted in (`true`: may receive marketing messages) or out.
        opted_in: bool,
        /// How the consent was given or withdrawn.
        source: ConsentSource,
        /// When (UTC ms): the customer's message for a keyword, the member's action otherwise.
        at: i64,
        /// What the member noted about it (e.g. "asked by phone"), at most 500 bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

/// How a consent record came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// The customer filled in a form (a sign-up on the business's site); recorded by an admin.
    Form,
    /// A member recorded what the customer told them.
    Agent,
    /// The customer wrote a stop or start keyword; only the relay records it.
    Keyword,
    /// Imported from the business's earlier records by an admin.
    Import,
}

impl ConsentSource {
    /// The value stored in caches and shown (`form`, `agent`, `keyword`, `import`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Agent => "agent",
            Self::Keyword => "keyword",
            Self::Import => "import",
        }
    }
}

/// The kind of [`TeamEvent::ConsentRecorded`].
pub const CONSENT_RECORDED: &str = "team.consent_recorded";

/// The longest note of a consent record (bytes).
pub const MAX_CONSENT_NOTE: usize = 500;

/// The kind of [`TeamEvent::Rated`]: a customer's answer to the satisfaction survey.
pub const RATED: &str = "team.rated";

/// The longest comment a rating keeps (bytes); a longer one is cut at a character boundary by
/// the automation before it is written.
pub const MAX_COMMENT: usize = 2_000;

/// The relay event kind for every team event of this module.
pub const KIND_PREFIX: &str = "team.";

impl TeamEvent {
    /// The relay event kind, e.g. `team.assigned`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Assigned { .. } => "team.assigned",
            Self::Routed { .. } => "team.routed",
            Self::StatusChanged { .. } => "team.status_changed",
            Self::NoteAdded { .. } => "team.note_added",
            Self::Labeled { .. } => "team.labeled",
            Self::ContactEdited { .. } => "team.contact_edited",
            Self::ContactsLinked { .. } => "team.contacts_linked",
            Self::ContactUnlinked { .. } => "team.contact_unlinked",
            Self::CannedReplySaved { .. } => "team.canned_reply_saved",
            Self::CannedReplyDeleted { .. } => "team.canned_reply_deleted",
            Self::Rated { .. } => RATED,
            Self::ConsentRecorded { .. } => CONSENT_RECORDED,
        }
    }

    /// The team event kinds only the relay's automation writes: a device publishing one is
    /// refused, and a desk ignores one the relay did not write.
    pub const AUTOMATION_KINDS: [&'static str; 1] = [RATED];

    /// Every team event kind devices may publish.
    pub const KINDS: [&'static str; 11] = [
        "team.assigned",
        "team.routed",
        "team.status_changed",
        "team.note_added",
        "team.labeled",
        "team.contact_edited",
        "team.contacts_linked",
        "team.contact_unlinked",
        "team.canned_reply_saved",
        "team.canned_reply_deleted",
        CONSENT_RECORDED,
    ];

    /// The contacts it names (every reference must name a customer on a channel).
    fn contacts(&self) -> Vec<&ContactRef> {
        match self {
            Self::Assigned { conversation, .. }
            | Self::Routed { conversation, .. }
            | Self::StatusChanged { conversation, .. }
            | Self::NoteAdded { conversation, .. }
            | Self::Labeled { conversation, .. }
            | Self::Rated { conversation, .. } => vec![conversation],
            Self::ContactEdited { contact, .. }
            | Self::ContactUnlinked { contact }
            | Self::ConsentRecorded { contact, .. } => vec![contact],
            Self::ContactsLinked { contact, with } => vec![contact, with],
            Self::CannedReplySaved { .. } | Self::CannedReplyDeleted { .. } => vec![],
        }
    }

    /// Whether it restricts a customer's processing (or lifts the restriction): an admin's
    /// decision (privacy promise P14).
    pub fn restricts(&self) -> bool {
        matches!(self, Self::ContactEdited { changes, .. } if changes.restricted.is_some())
    }

    /// Whether it records consent the business collected in bulk or outside the inbox (a form,
    /// an import): an admin's decision, as opting many customers in is what spam complaints are
    /// made of. A member recording what a customer told them (`agent`) is part of answering.
    pub fn records_collected_consent(&self) -> bool {
        matches!(
            self,
            Self::ConsentRecorded {
                source: ConsentSource::Form | ConsentSource::Import,
                ..
            }
        )
    }

    /// Whether only the relay may write it although its kind is a device kind: a consent record
    /// whose source is a keyword the customer wrote (no member may claim a customer wrote STOP).
    pub fn relay_only(&self) -> bool {
        matches!(
            self,
            Self::ConsentRecorded {
                source: ConsentSource::Keyword,
                ..
            }
        )
    }

    /// Checks what a member typed before it is queued, and what the relay accepts: everything a
    /// desk needs to apply it.
    pub fn validate(&self) -> Result<(), Invalid> {
        for contact in self.contacts() {
            channel(
                &contact.channel_kind,
                &contact.channel_external_id,
                &contact.customer_id,
            )?;
        }
        match self {
            Self::Assigned {
                assignee: Some(member),
                ..
            } => id("assignee", member),
            Self::Routed {
                team: Some(team), ..
            } => id("team", team),
            Self::NoteAdded {
                note_id,
                body,
                mentions,
                at,
                ..
            } => note(note_id, body, mentions, *at),
            Self::Labeled { label, .. } if label.trim().is_empty() || label.len() > 64 => {
                Err(Invalid("a label has 1 to 64 characters".into()))
            }
            Self::StatusChanged {
                status: ConversationStatus::Snoozed,
                snoozed_until: None,
                ..
            } => Err(Invalid("snoozing needs the time it ends".into())),
            Self::StatusChanged {
                snoozed_until: Some(until),
                ..
            } if *until < 0 => Err(Invalid("snoozed_until is a time in UTC ms".into())),
            Self::CannedReplySaved { shortcut, .. } | Self::CannedReplyDeleted { shortcut }
                if !is_shortcut(shortcut) =>
            {
                Err(Invalid(
                    "a shortcut has 1 to 32 letters, digits, '-' or '_'".into(),
                ))
            }
            Self::CannedReplySaved { body, .. } if body.trim().is_empty() => {
                Err(Invalid("a canned reply needs its text".into()))
            }
            Self::CannedReplySaved { body, .. } if body.len() > MAX_TEXT => Err(Invalid(
                "a canned reply is longer than 10,000 characters".into(),
            )),
            Self::ContactsLinked { contact, with } if contact == with => Err(Invalid(
                "a contact is already the same person as itself".into(),
            )),
            Self::ContactEdited { changes, .. } => changes.validate(),
            Self::Rated {
                rating,
                comment,
                agent,
                team,
                resolved_at,
                rated_at,
                ..
            } => rated(
                *rating,
                comment.as_deref(),
                agent.as_deref(),
                team.as_deref(),
                [*resolved_at, *rated_at],
            ),
            Self::ConsentRecorded { at, note, .. } => consent_record(*at, note.as_deref()),
            _ => Ok(()),
        }
    }
}

impl ContactChanges {
    fn validate(&self) -> Result<(), Invalid> {
        if let Some(name) = &self.display_name {
            if name.trim().is_empty() {
                return Err(Invalid("a contact's name can't be empty".into()));
            }
            if name.len() > 256 {
                return Err(Invalid(
                    "a contact's name has at most 256 characters".into(),
                ));
            }
        }
        if self
            .email
            .as_ref()
            .is_some_and(|e| e.as_ref().is_some_and(|e| e.len() > 320))
        {
            return Err(Invalid("an email has at most 320 characters".into()));
        }
        if self.attributes.len() > 100 {
            return Err(Invalid("at most 100 attributes at once".into()));
        }
        for (name, value) in &self.attributes {
            if name.trim().is_empty() || name.len() > 64 {
                return Err(Invalid("an attribute's name has 1 to 64 characters".into()));
            }
            if value.as_ref().is_some_and(|v| v.len() > 1_000) {
                return Err(Invalid(
                    "an attribute's value has at most 1,000 characters".into(),
                ));
            }
        }
        Ok(())
    }
}

impl ContactRef {
    /// The person key this contact gives a person it starts (see the migration
    /// `link_contact_identities`): the same string on every device.
    pub fn person_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.channel_kind, self.channel_external_id, self.customer_id
        )
    }
}

/// The longest note or canned reply (bytes).
const MAX_TEXT: usize = 10_000;

/// A note: some text within the limit, its id, at most 100 mentioned members, a time.
fn note(note_id: &str, body: &str, mentions: &[String], at: i64) -> Result<(), Invalid> {
    if body.trim().is_empty() {
        return Err(Invalid("the note is empty".into()));
    }
    if body.len() > MAX_TEXT {
        return Err(Invalid("the note is longer than 10,000 characters".into()));
    }
    id("note_id", note_id)?;
    if mentions.len() > 100 {
        return Err(Invalid("a note mentions at most 100 members".into()));
    }
    for member in mentions {
        id("mention", member)?;
    }
    if at < 0 {
        return Err(Invalid("at is a time in UTC ms".into()));
    }
    Ok(())
}

/// A rating: 1 to 5, a comment within [`MAX_COMMENT`], ids, times.
fn rated(
    rating: u8,
    comment: Option<&str>,
    agent: Option<&str>,
    team: Option<&str>,
    times: [i64; 2],
) -> Result<(), Invalid> {
    if !(1..=5).contains(&rating) {
        return Err(Invalid("a rating is 1 to 5".into()));
    }
    if comment.is_some_and(|c| c.len() > MAX_COMMENT) {
        return Err(Invalid(format!(
            "a rating's comment has at most {MAX_COMMENT} bytes"
        )));
    }
    if let Some(agent) = agent {
        id("agent", agent)?;
    }
    if let Some(team) = team {
        id("team", team)?;
    }
    if times.iter().any(|t| *t < 0) {
        return Err(Invalid(
            "resolved_at and rated_at are times in UTC ms".into(),
        ));
    }
    Ok(())
}

/// A consent record: a time, a note within [`MAX_CONSENT_NOTE`].
fn consent_record(at: i64, note: Option<&str>) -> Result<(), Invalid> {
    if at < 0 {
        return Err(Invalid("at is a time in UTC ms".into()));
    }
    if note.is_some_and(|n| n.len() > MAX_CONSENT_NOTE) {
        return Err(Invalid(format!(
            "a consent note has at most {MAX_CONSENT_NOTE} bytes"
        )));
    }
    Ok(())
}

/// A canned reply's shortcut: 1 to 32 letters, digits, '-' or '_'.
fn is_shortcut(shortcut: &str) -> bool {
    !shortcut.is_empty()
        && shortcut.len() <= 32
        && shortcut
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// An event that is not allowed as given; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Checks an id a desk stores or looks up: 1 to 256 bytes, no control characters.
pub(crate) fn id(what: &str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        return Err(Invalid(format!(
            "{what} has 1 to 256 characters and no control characters"
        )));
    }
    Ok(())
}

/// Checks a customer reference: a channel kind desks know, the channel's and the customer's ids.
pub(crate) fn channel(kind: &str, channel_id: &str, customer_id: &str) -> Result<(), Invalid> {
    if !["whatsapp", "messenger", "instagram"].contains(&kind) {
        return Err(Invalid(
            "channel_kind is whatsapp, messenger or instagram".into(),
        ));
    }
    id("channel_external_id", channel_id)?;
    id("customer_id", customer_id)
}
