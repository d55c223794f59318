//! What can go wrong with an AI request, classified by what the caller does about it, each with a
//! message a person can act on ([`AssistError::user_message`]).

use std::time::Duration;

/// Why an AI request did not produce an answer. Never carries the API key or the text sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssistError {
    /// The workspace has not turned AI assist on (P18: off until an owner turns it on).
    #[error("AI assist is off in this workspace")]
    Off,
    /// The customer is restricted (P14): their conversation is never sent.
    #[error("this customer is restricted: their conversation is not sent to AI")]
    Restricted,
    /// There is nothing to send (an empty conversation, an empty draft).
    #[error("nothing to send: {0}")]
    NothingToSend(&'static str),
    /// The settings are not usable (a bad URL, no model).
    #[error("AI settings: {0}")]
    BadSettings(String),
    /// The provider could not be reached (refused, DNS, TLS).
    #[error("the AI provider {provider} could not be reached")]
    Unreachable {
        /// The provider's host.
        provider: String,
    },
    /// The provider took too long to answer, or stopped in the middle of an answer.
    #[error("the AI provider did not answer in time")]
    Timeout,
    /// The provider refused for now: too many requests (429).
    #[error("the AI provider is rate limiting requests")]
    RateLimited {
        /// When to try again, if the provider said (`retry-after`).
        retry_after: Option<Duration>,
    },
    /// The provider refused the key (401 or 403).
    #[error("the AI provider refused the API key")]
    KeyRejected,
    /// The conversation is longer than the model can read.
    #[error("the conversation is too long for the model")]
    ContextTooLong,
    /// The workspace's monthly budget is spent.
    #[error("this month's AI budget is spent ({spent} of {limit} tokens)")]
    BudgetSpent {
        /// The monthly budget, in tokens.
        limit: u64,
        /// Tokens used this month so far.
        spent: u64,
    },
    /// The provider answered with an error of its own.
    #[error("the AI provider answered {status}: {message}")]
    Provider {
        /// The HTTP status.
        status: u16,
        /// The provider's message (shortened; never the key).
        message: String,
    },
    /// The answer did not have the shape the feature asked for (labels outside the fixed set,
    /// a stream that is not server-sent events).
    #[error("the AI provider's answer could not be read: {0}")]
    UnreadableAnswer(String),
}

impl AssistError {
    /// What to tell the person who asked, in a sentence they can act on.
    pub fn user_message(&self) -> String {
        match self {
            Self::Off => "AI assist is off. A workspace owner can turn it on in Settings → AI.".into(),
            Self::Restricted => "This customer asked for their data to be restricted, so their conversation is never sent to AI.".into(),
            Self::NothingToSend(what) => format!("There is nothing to send: {what}."),
            Self::BadSettings(why) => format!("The AI settings need fixing: {why}. An owner can change them in Settings → AI."),
            Self::Unreachable { provider } => format!("The AI provider ({provider}) cannot be reached. Everything else works; try again later or check the provider."),
            Self::Timeout => "The AI provider did not answer in time. Try again.".into(),
            Self::RateLimited { retry_after: Some(after) } => format!("The AI provider is busy. Try again in {} seconds.", after.as_secs().max(1)),
            Self::RateLimited { retry_after: None } => "The AI provider is busy. Try again in a moment.".into(),
            Self::KeyRejected => "The AI provider refused the API key. An owner can enter a new one in Settings → AI.".into(),
            Self::ContextTooLong => "This conversation is too long for the AI model. Try a model with a larger context.".into(),
            Self::BudgetSpent { limit, .. } => format!("This month's AI budget ({limit} tokens) is spent. An owner can raise it in Settings → AI."),
            Self::Provider { status, message } => format!("The AI provider answered with an error ({status}): {message}"),
            Self::UnreadableAnswer(_) => "The AI provider's answer could not be used. Try again.".into(),
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Timeout | Self::RateLimited { .. }
        ) || matches!(self, Self::Provider { status, .. } if *status >= 500)
    }
}
