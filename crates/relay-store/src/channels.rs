//! Channels as members manage them: sealed tokens, who may use them, removal and purges, connectors, deletion requests, retention.

use serde::Serialize;

use crate::{Channel, Sealed};

/// A channel as a member sees it: whether they may use it and the version of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelView {
    /// The channel's own fields, flattened into the view's JSON.
    #[serde(flatten)]
    pub channel: Channel,
    /// The version of its stored token, if one is stored.
    pub token_version: Option<i64>,
    /// Agents allowed on it; empty means every member.
    pub agents: Vec<String>,
    /// Whether the asking member may use it (and fetch its token).
    pub allowed: bool,
}

/// A sealed token with its version.
#[derive(Debug, Clone)]
pub struct SealedToken {
    /// The channel the token is for; sealed with its id, the token opens for no other channel.
    pub channel_id: String,
    /// The token encrypted under a token key (the key's id, the nonce and the ciphertext).
    pub sealed: Sealed,
    /// Grows with every rotation.
    pub version: i64,
}
