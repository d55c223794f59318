//! What the agent does: reply, assign, change status, write notes, label. Each is queued in the
//! cache and goes out through the desk (so it works offline), then comes back from the relay.

use std::sync::Arc;

use tauri::State;
use zentro_core::desk::Desk;
use zentro_core::team::{self, ConversationStatus, TeamEvent};

use crate::desk::DeskStatus;
use crate::{AppState, CommandError, ErrorCode};

async fn running(state: &AppState) -> Result<Arc<Desk>, CommandError> {
    state.desk().await.ok_or_else(|| {
        CommandError::new(
            ErrorCode::SignedOut,
            "Nothing is syncing yet: sign in (or wait for the sandbox to start), then try again.",
        )
    })
}

/// What runs behind the inbox, and how sync is doing.
#[tauri::command]
#[specta::specta]
pub fn desk_status(state: State<'_, AppState>) -> DeskStatus {
    state
        .status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Signs this computer in to a relay (the token goes to the keychain) and syncs with it instead of
/// the sandbox.
#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    state: State<'_, AppState>,
    relay_url: String,
    email: String,
    password: String,
) -> Result<DeskStatus, CommandError> {
    let signed_in = zentro_core::account::sign_in(
        &state.data_dir,
        zentro_core::vault::Vault::system(),
        &relay_url,
        &email,
        &zentro_core::vault::Secret::new(password),
        &device_name(),
    )
    .await;
    switch_to_relay(&state, signed_in).await
}

/// How this computer names itself to the relay.
pub(crate) fn device_name() -> String {
    format!(
        "Zentro Desk on {}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "this computer".into())
    )
}

/// After a sign-in (or joining): stops the current desk and starts one against the relay.
pub(crate) async fn switch_to_relay(
    state: &AppState,
    signed_in: Result<zentro_core::account::Account, zentro_core::account::SignInError>,
) -> Result<DeskStatus, CommandError> {
    use zentro_core::account::SignInError;
    use zentro_core::sync::SyncError;
    if let Err(error) = signed_in {
        return Err(match error {
            SignInError::Relay(SyncError::Unauthorized) => {
                CommandError::new(ErrorCode::Invalid, "Wrong email or password.")
            }
            SignInError::Relay(SyncError::BadAddress(e)) => CommandError::new(
                ErrorCode::Invalid,
                format!("That relay address does not work: {e}"),
            ),
            SignInError::Relay(error) => error.into(),
            other => CommandError::new(ErrorCode::Internal, format!("Signing in failed: {other}")),
        });
    }
    state.stop_desk().await;
    *state
        .status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = DeskStatus::starting();
    let _ = state.relaunch.send(false);
    Ok(DeskStatus::starting())
}

/// Queues a reply; returns its client id. Refused at once when the 24-hour window is closed.
#[tauri::command]
#[specta::specta]
pub async fn send_reply(
    state: State<'_, AppState>,
    conversation_id: u32,
    text: String,
    reply_to: Option<String>,
) -> Result<String, CommandError> {
    let desk = running(&state).await?;
    Ok(desk
        .reply(conversation_id.into(), &text, reply_to.as_deref())
        .await?)
}

/// Tries a failed reply again; returns the attempt's client id.
#[tauri::command]
#[specta::specta]
pub async fn retry_reply(
    state: State<'_, AppState>,
    client_id: String,
) -> Result<String, CommandError> {
    let desk = running(&state).await?;
    Ok(desk.retry(&client_id).await?)
}

/// Something the agent does to a conversation.
#[derive(Debug, Clone, serde::Deserialize, specta::Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConversationAction {
    /// Assign to a member (`None`: unassign).
    Assign {
        /// The member.
        assignee: Option<String>,
    },
    /// Change the status; snoozing needs `snooze_hours`.
    SetStatus {
        /// The new status.
        status: ConversationStatus,
        /// For how long to snooze.
        snooze_hours: Option<u32>,
    },
    /// A private note for the team.
    AddNote {
        /// The text.
        body: String,
        /// Mentioned members.
        mentions: Vec<String>,
    },
    /// Correct the customer's details (absent fields stay; an empty email clears it).
    EditContact {
        /// A new name.
        display_name: Option<String>,
        /// A new email (`""` clears it).
        email: Option<String>,
        /// Restrict processing (admins), or lift it.
        #[serde(default)]
        restricted: Option<bool>,
    },
    /// Put a label on or take it off.
    Label {
        /// The label.
        label: String,
        /// On or off.
        added: bool,
    },
    /// The customer is the same person as the one in another conversation (another channel,
    /// another number): show them as one customer's identities.
    LinkContact {
        /// The other customer's conversation.
        other_conversation_id: u32,
    },
    /// The customer is not the person they were linked to.
    UnlinkContact,
}

/// Does `action` to a conversation, for every device of the team.
#[tauri::command]
#[specta::specta]
pub async fn act_on_conversation(
    state: State<'_, AppState>,
    conversation_id: u32,
    action: ConversationAction,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    let conversation = team::conversation_ref(desk.cache(), conversation_id.into()).await?;
    let now = now_ms();
    let event = match action {
        ConversationAction::Assign { assignee } => TeamEvent::Assigned {
            conversation,
            assignee,
        },
        ConversationAction::SetStatus {
            status,
            snooze_hours,
        } => TeamEvent::StatusChanged {
            conversation,
            status,
            snoozed_until: snooze_hours.map(|h| now + i64::from(h) * 3_600_000),
        },
        ConversationAction::AddNote { body, mentions } => TeamEvent::NoteAdded {
            conversation,
            note_id: format!("note-{now}-{:08x}", fastrand::u32(..)),
            body,
            mentions,
            at: now,
        },
        ConversationAction::EditContact {
            display_name,
            email,
            restricted,
        } => TeamEvent::ContactEdited {
            contact: conversation,
            changes: team::ContactChanges {
                display_name,
                email: email.map(|e| Some(e.trim().to_string()).filter(|e| !e.is_empty())),
                attributes: Default::default(),
                restricted,
            },
        },
        ConversationAction::Label { label, added } => TeamEvent::Labeled {
            conversation,
            label,
            added,
        },
        ConversationAction::LinkContact {
            other_conversation_id,
        } => TeamEvent::ContactsLinked {
            contact: conversation,
            with: team::conversation_ref(desk.cache(), other_conversation_id.into()).await?,
        },
        ConversationAction::UnlinkContact => TeamEvent::ContactUnlinked {
            contact: conversation,
        },
    };
    desk.act(&event).await?;
    Ok(())
}

/// Sends a file (base64) with an optional caption; it shows in the thread at once.
#[tauri::command]
#[specta::specta]
pub async fn send_attachment(
    state: State<'_, AppState>,
    conversation_id: u32,
    file_name: String,
    mime: String,
    data_base64: String,
    caption: String,
) -> Result<String, CommandError> {
    use base64::Engine as _;
    let desk = running(&state).await?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data_base64.as_bytes())
        .map_err(|_| {
            CommandError::new(
                ErrorCode::Invalid,
                "The file could not be read; attach it again.",
            )
        })?;
    let attachment = zentro_core::outbox::Attachment {
        file_name,
        mime,
        bytes,
    };
    Ok(desk
        .attach(conversation_id.into(), attachment, &caption)
        .await?)
}

/// An approved WhatsApp template, as the picker shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct TemplateView {
    /// Its name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// MARKETING, UTILITY, AUTHENTICATION.
    pub category: String,
    /// The body, with `{{1}}`… where the variables go.
    pub body: String,
    /// How many variables the body has.
    pub variables: u32,
}

/// The approved templates this conversation's WhatsApp number may send (asks Meta).
#[tauri::command]
#[specta::specta]
pub async fn templates(
    state: State<'_, AppState>,
    conversation_id: u32,
) -> Result<Vec<TemplateView>, CommandError> {
    let desk = running(&state).await?;
    Ok(desk
        .templates(conversation_id.into())
        .await?
        .into_iter()
        .map(|t| TemplateView {
            body: t.body().unwrap_or_default().to_string(),
            variables: u32::try_from(t.body_variables()).unwrap_or(0),
            name: t.name,
            language: t.language,
            category: t.category,
        })
        .collect())
}

/// Queues an approved template with its variables (allowed outside the 24-hour window).
#[tauri::command]
#[specta::specta]
pub async fn send_template(
    state: State<'_, AppState>,
    conversation_id: u32,
    template: TemplateView,
    variables: Vec<String>,
) -> Result<String, CommandError> {
    let desk = running(&state).await?;
    let choice = zentro_core::outbox::TemplateChoice {
        name: template.name,
        language: template.language,
        variables,
    };
    Ok(desk
        .send_template(conversation_id.into(), choice, &template.body)
        .await?)
}

/// The workspace's members, for assigning and @mentions.
#[tauri::command]
#[specta::specta]
pub async fn members(
    state: State<'_, AppState>,
) -> Result<Vec<zentro_core::sync::Teammate>, CommandError> {
    let desk = running(&state).await?;
    desk.members().await.map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("The team list could not be loaded: {e}"),
        )
    })
}

/// The team's canned replies.
#[tauri::command]
#[specta::specta]
pub async fn canned_replies(
    state: State<'_, AppState>,
) -> Result<Vec<team::CannedReply>, CommandError> {
    Ok(team::canned_replies(&state.cache().await?).await?)
}

/// Saves (or replaces) a canned reply for the whole team.
#[tauri::command]
#[specta::specta]
pub async fn save_canned_reply(
    state: State<'_, AppState>,
    shortcut: String,
    body: String,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    desk.act(&TeamEvent::CannedReplySaved { shortcut, body })
        .await?;
    Ok(())
}

/// Deletes a canned reply for the whole team.
#[tauri::command]
#[specta::specta]
pub async fn delete_canned_reply(
    state: State<'_, AppState>,
    shortcut: String,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    desk.act(&TeamEvent::CannedReplyDeleted { shortcut })
        .await?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
