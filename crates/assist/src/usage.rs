//! What a desk reports to its relay after each request: usage without content (who asked is the
//! signed-in member; which conversation, as a hash; which feature; which provider; how many
//! tokens), audited there and counted toward the monthly budget.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::client::Usage;
use crate::features::PreparedRequest;
use crate::settings::ProviderSettings;

/// How the audit names a conversation: SHA-256 over a domain tag, the workspace, the channel
/// (`kind:external id`) and the customer's id on it, in hex. Every desk of the workspace computes
/// the same value for the same conversation; the record names no customer in clear.
pub fn conversation_hash(workspace_id: &str, channel: &str, customer_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"zentro assist conversation\0")
        .chain_update(workspace_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(channel.as_bytes())
        .chain_update(b"\0")
        .chain_update(customer_id.as_bytes())
        .finalize();
    hex::encode(digest)
}

/// The body of `POST /v1/assist/usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// [`conversation_hash`] of the conversation.
    pub conversation: String,
    /// `summary`, `draft`, `rewrite` or `labels`.
    pub feature: &'static str,
    /// The provider's host.
    pub provider: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
}

impl UsageReport {
    /// The report of `request`, sent to `provider`, which used `usage` (when the provider did not
    /// say, the desk's estimate of the prompt and the answer's limit are reported: a budget is
    /// better over-counted than under).
    pub fn new(
        conversation: String,
        request: &PreparedRequest,
        provider: &ProviderSettings,
        usage: Option<Usage>,
    ) -> Self {
        let usage = usage.unwrap_or(Usage {
            prompt_tokens: request.estimated_prompt_tokens(),
            completion_tokens: u64::from(request.max_tokens),
        });
        Self {
            conversation,
            feature: request.feature.name(),
            provider: provider.provider_name(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable_and_names_nobody() {
        let a = conversation_hash("ws1", "whatsapp:P1", "34611222333");
        assert_eq!(a, conversation_hash("ws1", "whatsapp:P1", "34611222333"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("34611222333"));
        assert_ne!(
            a,
            conversation_hash("ws2", "whatsapp:P1", "34611222333"),
            "per workspace"
        );
    }
}
