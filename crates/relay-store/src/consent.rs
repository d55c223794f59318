//! Rows of customers' consent to marketing messages (issue 24): the latest record per customer
//! and channel, as a campaign asks for it.

use serde::Serialize;

/// A customer's consent on one channel: the latest record of the workspace's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentRow {
    /// Opted in (may receive marketing messages) or out.
    pub opted_in: bool,
    /// How: `form`, `agent`, `keyword` or `import`.
    pub source: String,
    /// When it was given or withdrawn (UTC ms).
    pub at: i64,
    /// The log's event that recorded it.
    pub seq: i64,
}

/// A consent record to keep: the customer on a channel and what the log's event `seq` said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewConsent {
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// The channel's id at Meta.
    pub channel_external_id: String,
    /// The customer's id on the channel.
    pub customer_id: String,
    /// Opted in (1) or out (0), as stored.
    pub opted_in: i64,
    /// How: `form`, `agent`, `keyword` or `import`.
    pub source: String,
    /// When it was given or withdrawn (UTC ms).
    pub at: i64,
    /// The log's event that recorded it: a record replaces the kept one only when later.
    pub seq: i64,
}
