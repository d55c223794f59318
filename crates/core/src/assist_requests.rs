//! One AI assist request from this device, as the desk and the CLI make it: the workspace's
//! settings read from the relay (off until an owner turns it on, P18), the conversation taken from
//! the cache (a restricted customer refused before anything else, P14), the request built and
//! checked against the month's budget, the provider's key taken from the keychain (fetched from
//! the relay once per key version), the answer streamed piece by piece, and the usage recorded on
//! the relay without content.

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
pub use zentro_assist::AssistError;
use zentro_assist::features::{self, RequestOptions};
use zentro_assist::{
    ApiKey, AssistClient, Budget, PreparedRequest, ProviderSettings, RewriteStyle, SentRequest,
    StreamEvent, SuggestedLabels, Timeouts, Usage, UsageReport,
};

use crate::assist::assist_conversation;
use crate::cache::{Cache, CacheError};
use crate::relay_client::{AssistSettings, RelayClient, SyncError};
use crate::vault::{Secret, Vault, VaultError};

/// How many of the latest messages a request takes.
pub const MESSAGES: i64 = 40;

/// What is asked of the provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Ask {
    /// A summary of the conversation.
    Summary,
    /// A draft of the next reply.
    Draft,
    /// The agent's draft, rewritten.
    Rewrite {
        /// How.
        style: RewriteAs,
        /// The draft as it stands in the composer.
        draft: String,
    },
    /// Intent and sentiment of the customer's latest message.
    Labels,
}

/// How a rewrite changes the agent's draft (the UI's names for [`RewriteStyle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RewriteAs {
    /// Fewer words, same meaning.
    Shorter,
    /// Warmer.
    Friendlier,
    /// More formal.
    MoreFormal,
    /// In the language the customer writes in.
    CustomersLanguage,
}

impl From<RewriteAs> for RewriteStyle {
    fn from(style: RewriteAs) -> Self {
        match style {
            RewriteAs::Shorter => Self::Shorter,
            RewriteAs::Friendlier => Self::Friendlier,
            RewriteAs::MoreFormal => Self::MoreFormal,
            RewriteAs::CustomersLanguage => Self::CustomersLanguage,
        }
    }
}

/// Exactly what a request sends, for the agent to read before (and after) it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssistPreview {
    /// Where it goes (`https://…/chat/completions`).
    pub endpoint: String,
    /// The provider's host.
    pub provider: String,
    /// The model asked.
    pub model: String,
    /// The body as sent, pretty-printed (the key goes in a header and is never shown).
    pub body: String,
    /// The placeholders that replaced identifiers (their values stay on this desk).
    pub masked: Vec<String>,
}

/// Suggested intent and sentiment labels for the customer's latest message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LabelSuggestion {
    /// The intent (`order_status`, `refund`, …).
    pub intent: String,
    /// The sentiment (`positive`, `neutral`, `negative`).
    pub sentiment: String,
    /// The two labels as the team's label list shows them (`intent:refund`, `sentiment:negative`).
    pub labels: Vec<String>,
}

/// What a finished request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssistOutcome {
    /// Tokens this request used (as the provider reported them, else estimated).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub tokens: u64,
    /// Tokens the workspace spent this month, this request included.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub spent_this_month: u64,
}

/// Why a request could not be made, by what the caller does about it.
#[derive(Debug, thiserror::Error)]
pub enum AssistRequestError {
    /// AI assist itself refused or failed (off, restricted, budget, provider errors).
    #[error(transparent)]
    Assist(#[from] AssistError),
    /// The conversation is not in this cache.
    #[error("no conversation {0} in this cache")]
    NoConversation(i64),
    /// The relay (settings, key, usage) could not be reached or refused.
    #[error(transparent)]
    Relay(#[from] SyncError),
    /// The cache could not be read.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The keychain could not be read or written.
    #[error("the keychain: {0}")]
    Keychain(#[from] VaultError),
}

/// What a request needs of this device: the relay as the signed-in member, the workspace's cache,
/// and the keychain that keeps the provider's key (`None`: the key is fetched for each request
/// and kept only in memory, as in the sandbox).
#[derive(Clone, Copy)]
pub struct AssistAccess<'a> {
    /// The workspace's relay.
    pub relay: &'a RelayClient,
    /// This device's relay token.
    pub token: &'a Secret,
    /// The relay's id of the workspace.
    pub workspace_id: &'a str,
    /// The workspace's cache.
    pub cache: &'a Cache,
    /// The keychain, when this device has one.
    pub keychain: Option<&'a Vault>,
}

/// A request ready to send (or to show), with where it goes and how the audit names it.
#[derive(Debug, Clone)]
pub struct ReadyRequest {
    /// The request, masked as the workspace asks.
    pub request: PreparedRequest,
    /// Where it goes (with the key once [`AssistAccess::with_key`] added it).
    pub provider: ProviderSettings,
    /// How the usage record names the conversation ([`zentro_assist::conversation_hash`]).
    pub reference: String,
    /// The workspace's settings as the relay answered them.
    pub settings: AssistSettings,
}

impl ReadyRequest {
    /// Exactly what goes to the provider (the key is never shown).
    pub fn what_is_sent(&self) -> AssistPreview {
        let SentRequest {
            endpoint,
            provider,
            body,
            masked,
        } = self.request.what_is_sent(&self.provider);
        AssistPreview {
            endpoint,
            provider,
            model: self.provider.model.clone(),
            body,
            masked,
        }
    }
}

impl AssistAccess<'_> {
    /// Builds the request for `ask` on the cache's conversation `conversation_id`: a restricted
    /// customer is refused before the relay is asked anything; AI assist must be on; the month's
    /// budget must allow the request's estimate. The provider's key is not fetched yet.
    pub async fn prepare(
        &self,
        conversation_id: i64,
        ask: &Ask,
    ) -> Result<ReadyRequest, AssistRequestError> {
        let found = assist_conversation(self.cache, self.workspace_id, conversation_id, MESSAGES)
            .await?
            .ok_or(AssistRequestError::NoConversation(conversation_id))?;
        if found.conversation.restricted {
            return Err(AssistError::Restricted.into());
        }
        let settings = self.relay.assist_settings(self.token).await?;
        let provider = match (settings.enabled, &settings.provider) {
            (true, Some(provider)) => provider.clone(),
            _ => return Err(AssistError::Off.into()),
        };
        let options = RequestOptions {
            masking: settings.masking,
            ..RequestOptions::default()
        };
        let conversation = &found.conversation;
        let request = match ask {
            Ask::Summary => features::summary(conversation, &options),
            Ask::Draft => features::draft(conversation, &options),
            Ask::Rewrite { style, draft } => {
                features::rewrite(conversation, draft, (*style).into(), &options)
            }
            Ask::Labels => features::labels(conversation, &options),
        }?;
        Budget {
            monthly_tokens: settings.monthly_budget_tokens,
            spent_this_month: settings.spent_this_month,
        }
        .check(&request)?;
        let provider = ProviderSettings::new(&provider.base_url, &provider.model, None)?;
        Ok(ReadyRequest {
            request,
            provider,
            reference: found.reference,
            settings,
        })
    }

    /// `ready` with the provider's key, when the provider has one: from the keychain, else fetched
    /// from the relay (and kept in the keychain, the previous version's copy removed).
    pub async fn with_key(
        &self,
        mut ready: ReadyRequest,
    ) -> Result<ReadyRequest, AssistRequestError> {
        if ready.settings.key_set {
            let key = self.provider_key(ready.settings.key_version).await?;
            ready.provider.api_key = Some(ApiKey::new(key.expose()));
        }
        Ok(ready)
    }

    async fn provider_key(&self, version: i64) -> Result<Secret, AssistRequestError> {
        let Some(vault) = self.keychain.cloned() else {
            return Ok(self.relay.assist_key(self.token).await?.0);
        };
        let entry = Vault::assist_entry(self.workspace_id, version);
        let reader = vault.clone();
        let kept = tokio::task::spawn_blocking(move || reader.read(&entry))
            .await
            .map_err(|_| VaultError::Unavailable("the keychain task stopped".into()))??;
        if let Some(key) = kept {
            return Ok(key);
        }
        let (key, version) = self.relay.assist_key(self.token).await?;
        let entry = Vault::assist_entry(self.workspace_id, version);
        let previous = (version > 1).then(|| Vault::assist_entry(self.workspace_id, version - 1));
        let stored = key.clone();
        tokio::task::spawn_blocking(move || {
            vault.store(&entry, &stored)?;
            match previous {
                Some(previous) => vault.delete(&previous),
                None => Ok(()),
            }
        })
        .await
        .map_err(|_| VaultError::Unavailable("the keychain task stopped".into()))??;
        Ok(key)
    }

    /// Records what `ready` used on the relay (no content).
    pub async fn record_usage(
        &self,
        ready: &ReadyRequest,
        usage: Option<Usage>,
    ) -> Result<AssistOutcome, SyncError> {
        let report = UsageReport::new(
            ready.reference.clone(),
            &ready.request,
            &ready.provider,
            usage,
        );
        let spent_this_month = self.relay.record_assist_usage(self.token, &report).await?;
        Ok(AssistOutcome {
            tokens: report.prompt_tokens + report.completion_tokens,
            spent_this_month,
        })
    }

    /// Makes the request for `ask` and hands each piece of the answer to `on_text` as it arrives
    /// (summaries, drafts, rewrites); records the usage once the answer is complete.
    pub async fn stream(
        &self,
        conversation_id: i64,
        ask: &Ask,
        on_text: impl FnMut(&str),
    ) -> Result<AssistOutcome, AssistRequestError> {
        let ready = self
            .with_key(self.prepare(conversation_id, ask).await?)
            .await?;
        let usage = stream_answer(&ready, Timeouts::default(), on_text).await?;
        Ok(self.record_usage(&ready, usage).await?)
    }

    /// Asks for the customer's latest message's intent and sentiment; records the usage.
    pub async fn labels(
        &self,
        conversation_id: i64,
    ) -> Result<LabelSuggestion, AssistRequestError> {
        let ready = self
            .with_key(self.prepare(conversation_id, &Ask::Labels).await?)
            .await?;
        let (labels, usage) = suggest_labels(&ready, Timeouts::default()).await?;
        self.record_usage(&ready, usage).await?;
        Ok(LabelSuggestion {
            intent: labels.intent.as_str().to_string(),
            sentiment: labels.sentiment.as_str().to_string(),
            labels: labels.labels().to_vec(),
        })
    }
}

/// Sends `ready` and hands each piece of the answer to `on_text` as soon as it arrives (unmasked
/// for drafts and rewrites); the usage the provider reported.
pub async fn stream_answer(
    ready: &ReadyRequest,
    timeouts: Timeouts,
    mut on_text: impl FnMut(&str),
) -> Result<Option<Usage>, AssistError> {
    let client = AssistClient::new(ready.provider.clone(), timeouts)?;
    let mut stream = client.stream(&ready.request).await?;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Text(piece) => on_text(&piece),
            StreamEvent::Done { usage, .. } => return Ok(usage),
        }
    }
    Err(AssistError::UnreadableAnswer(
        "the answer ended early".into(),
    ))
}

/// Sends a labels request and reads the two labels; with the usage the provider reported.
pub async fn suggest_labels(
    ready: &ReadyRequest,
    timeouts: Timeouts,
) -> Result<(SuggestedLabels, Option<Usage>), AssistError> {
    let client = AssistClient::new(ready.provider.clone(), timeouts)?;
    let answer = client.complete(&ready.request).await?;
    Ok((SuggestedLabels::parse(&answer.text)?, answer.usage))
}
