//! Delivery statuses: WhatsApp's statuses (stored in runs), Messenger's and Instagram's
//! receipts, and statuses that overtook their message (kept in `pending_statuses` until it is
//! stored). A message's state only moves forward (see [`status_advances`]).

use std::collections::HashMap;

use serde_json::json;
use zentro_meta::webhook::{
    DeliveryReceipt, DeliveryState, Platform, ReadReceipt, Status, WebhookItem,
};

use super::{Tx, channel_external_id, channel_id};
use crate::cache::{Cache, CacheError};

/// A message's delivery state as known before a run of statuses, and what the run makes of it.
struct Delivery {
    /// Whether the message row exists (else the state waits in `pending_statuses`).
    stored: bool,
    state: Option<DeliveryState>,
    changed: bool,
    error_code: Option<i64>,
    error_message: Option<String>,
    at: i64,
}

impl Delivery {
    /// What the cache holds for a message before the run (`stored`: in `messages`).
    fn before(stored: bool, state: Option<DeliveryState>) -> Self {
        Self {
            stored,
            state,
            changed: false,
            error_code: None,
            error_message: None,
            at: 0,
        }
    }

    /// Takes `status` when it moves the state forward, with its error when it is a failure.
    fn advance(&mut self, status: &Status) {
        if !status_advances(self.state.as_ref(), &status.state) {
            return;
        }
        let error = status
            .errors
            .first()
            .filter(|_| status.state == DeliveryState::Failed);
        self.state = Some(status.state.clone());
        self.changed = true;
        self.error_code = error.map(|e| e.code);
        self.error_message = error.map(|e| {
            e.details
                .clone()
                .or_else(|| e.message.clone())
                .unwrap_or_default()
        });
        self.at = status.at.timestamp_millis();
    }
}

/// Applies a run of statuses with a fixed number of statements: sends recognised by their client
/// id get Meta's id, each message's state is folded forward in order (see [`status_advances`]),
/// and the final states are written at once — to the messages, or to `pending_statuses` for
/// messages not here yet. Then empties `statuses`.
pub(super) async fn store_statuses(
    tx: &mut Tx,
    statuses: &mut Vec<Status>,
) -> Result<(), CacheError> {
    if statuses.is_empty() {
        return Ok(());
    }
    claim_sends(tx, statuses).await?;
    let mut known = deliveries_before(tx, statuses).await?;
    // Forward only, in the order Meta reported them.
    for status in statuses.iter() {
        known
            .entry(status.message_id.clone())
            .or_insert_with(|| Delivery::before(false, None))
            .advance(status);
    }
    let (updates, pending) = changed_rows(&known);
    update_messages(tx, updates).await?;
    keep_pending(tx, pending).await?;
    statuses.clear();
    Ok(())
}

/// Gives Meta's id to the sends whose outcome was unknown (a timeout), recognised by the client
/// id a status carries, and marks their outbox entries accepted.
async fn claim_sends(tx: &mut Tx, statuses: &[Status]) -> Result<(), CacheError> {
    let claims: Vec<serde_json::Value> = statuses
        .iter()
        .filter_map(|s| {
            s.callback_data
                .as_ref()
                .map(|client_id| json!({ "id": s.message_id, "client_id": client_id }))
        })
        .collect();
    if claims.is_empty() {
        return Ok(());
    }
    let claims = json!(claims).to_string();
    let claimed: Vec<Option<String>> = sqlx::query_scalar!(
        r#"
            UPDATE messages SET external_id = r.value ->> 'id'
            FROM json_each(?1) r
            WHERE messages.client_id = r.value ->> 'client_id' AND messages.external_id IS NULL
            RETURNING messages.client_id
            "#,
        claims
    )
    .fetch_all(&mut **tx)
    .await?;
    if claimed.is_empty() {
        return Ok(());
    }
    let claimed = json!(claimed).to_string();
    sqlx::query!(
        r#"
                UPDATE outbox SET state = 'accepted', last_error = NULL
                WHERE client_id IN (SELECT value FROM json_each(?1))
                  AND state IN ('ambiguous', 'sending')
                "#,
        claimed
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Where each message of the run stands now: stored with its state, or waiting in
/// `pending_statuses`.
async fn deliveries_before(
    tx: &mut Tx,
    statuses: &[Status],
) -> Result<HashMap<String, Delivery>, CacheError> {
    let ids = json!(
        statuses
            .iter()
            .map(|s| s.message_id.as_str())
            .collect::<Vec<_>>()
    )
    .to_string();
    let mut known: HashMap<String, Delivery> = HashMap::new();
    for row in sqlx::query!(
        r#"
        SELECT external_id AS "external_id!", delivery_status
        FROM messages
        WHERE external_id IN (SELECT value FROM json_each(?1))
        "#,
        ids
    )
    .fetch_all(&mut **tx)
    .await?
    {
        let state = row
            .delivery_status
            .filter(|c| c != "pending")
            .map(|c| DeliveryState::parse(&c));
        known.insert(row.external_id, Delivery::before(true, state));
    }
    for row in sqlx::query!(
        r#"
        SELECT external_id, status
        FROM pending_statuses
        WHERE external_id IN (SELECT value FROM json_each(?1))
        "#,
        ids
    )
    .fetch_all(&mut **tx)
    .await?
    {
        known
            .entry(row.external_id)
            .or_insert_with(|| Delivery::before(false, Some(DeliveryState::parse(&row.status))));
    }
    Ok(known)
}

/// The changed states as JSON rows: `(for stored messages, for messages not here yet)`.
fn changed_rows(
    known: &HashMap<String, Delivery>,
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let (mut updates, mut pending) = (Vec::new(), Vec::new());
    for (id, d) in known.iter().filter(|(_, d)| d.changed) {
        let row = json!({ "id": id, "status": d.state.as_ref().map(DeliveryState::as_str), "code": d.error_code, "message": d.error_message, "at": d.at });
        if d.stored {
            updates.push(row)
        } else {
            pending.push(row)
        }
    }
    (updates, pending)
}

/// Writes the new states of stored messages, in one statement.
async fn update_messages(tx: &mut Tx, updates: Vec<serde_json::Value>) -> Result<(), CacheError> {
    if updates.is_empty() {
        return Ok(());
    }
    let updates = json!(updates).to_string();
    sqlx::query!(
        r#"
            UPDATE messages SET
                delivery_status = r.value ->> 'status',
                status_at = r.value ->> 'at',
                error_code = r.value ->> 'code',
                error_message = r.value ->> 'message'
            FROM json_each(?1) r
            WHERE messages.external_id = r.value ->> 'id'
            "#,
        updates
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Keeps the new states of messages not here yet in `pending_statuses`, in one statement.
async fn keep_pending(tx: &mut Tx, pending: Vec<serde_json::Value>) -> Result<(), CacheError> {
    if pending.is_empty() {
        return Ok(());
    }
    let pending = json!(pending).to_string();
    sqlx::query!(
        r#"
            INSERT INTO pending_statuses (external_id, status, error_code, error_message, at)
            SELECT r.value ->> 'id', r.value ->> 'status', r.value ->> 'code',
                   r.value ->> 'message', r.value ->> 'at'
            FROM json_each(?1) r WHERE true
            ON CONFLICT (external_id) DO UPDATE SET
                status = excluded.status,
                error_code = excluded.error_code,
                error_message = excluded.error_message,
                at = excluded.at
            "#,
        pending
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Applies the status waiting for a message, if any (the message is now stored or has its
/// Meta id).
pub(super) async fn apply_pending_in(tx: &mut Tx, external_id: &str) -> Result<(), CacheError> {
    if let Some(row) = sqlx::query!(
        r#"
        DELETE FROM pending_statuses WHERE external_id = ?
        RETURNING status, error_code, error_message, at
        "#,
        external_id
    )
    .fetch_optional(&mut **tx)
    .await?
    {
        let change = StatusChange {
            external_id,
            state: DeliveryState::parse(&row.status),
            code: row.error_code,
            message: row.error_message,
            at: row.at,
        };
        set_status(tx, change).await?;
    }
    Ok(())
}

/// Applies statuses that arrived before a message got its Meta id (this device's own send).
pub async fn apply_pending_status(cache: &Cache, external_id: &str) -> Result<(), CacheError> {
    let mut tx: Tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    apply_pending_in(&mut tx, external_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `new` may replace `current`: forward only (sent < delivered < read < played); failed
/// replaces only a message not yet delivered, and a later success replaces failed.
pub fn status_advances(current: Option<&DeliveryState>, new: &DeliveryState) -> bool {
    match (current, new) {
        (None, _) => true,
        (Some(DeliveryState::Failed), n) => n.rank().is_some_and(|r| r >= 2),
        (Some(c), DeliveryState::Failed) => c.rank().is_none_or(|r| r < 2),
        (Some(c), n) => match (c.rank(), n.rank()) {
            (Some(a), Some(b)) => b > a,
            (None, Some(_)) => true,
            _ => false,
        },
    }
}

/// A message's new delivery state, as a status, receipt or waiting status gives it.
struct StatusChange<'a> {
    /// The message's Meta id (wamid or mid).
    external_id: &'a str,
    state: DeliveryState,
    /// Meta's error code and message; written only for a failure.
    code: Option<i64>,
    message: Option<String>,
    /// When Meta says the state was reached (Unix ms).
    at: i64,
}

impl<'a> StatusChange<'a> {
    /// A change without an error (receipts).
    fn plain(external_id: &'a str, state: DeliveryState, at: i64) -> Self {
        Self {
            external_id,
            state,
            code: None,
            message: None,
            at,
        }
    }
}

/// Moves one message's state forward to `state` (or, for a message not here yet, the state that
/// waits for it in `pending_statuses`); the error is kept only for a failure.
async fn set_status(tx: &mut Tx, mut change: StatusChange<'_>) -> Result<(), CacheError> {
    let external_id = change.external_id;
    let state = &change.state;
    let row = sqlx::query!(
        "SELECT delivery_status FROM messages WHERE external_id = ?",
        external_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => {
            let current: Option<String> = row.delivery_status;
            let current = current
                .filter(|c| c != "pending")
                .map(|c| DeliveryState::parse(&c));
            if status_advances(current.as_ref(), state) {
                if *state != DeliveryState::Failed {
                    (change.code, change.message) = (None, None);
                }
                write_status(tx, &change).await?;
            }
        }
        None => {
            let current: Option<String> = sqlx::query_scalar!(
                "SELECT status FROM pending_statuses WHERE external_id = ?",
                external_id
            )
            .fetch_optional(&mut **tx)
            .await?;
            let current = current.map(|c| DeliveryState::parse(&c));
            if status_advances(current.as_ref(), state) {
                write_pending_status(tx, &change).await?;
            }
        }
    }
    Ok(())
}

/// Writes a stored message's state, with its error.
async fn write_status(tx: &mut Tx, change: &StatusChange<'_>) -> Result<(), CacheError> {
    let state_name = change.state.as_str();
    sqlx::query!(
        r#"
                    UPDATE messages SET
                        delivery_status = ?,
                        status_at = ?,
                        error_code = ?,
                        error_message = ?
                    WHERE external_id = ?
                    "#,
        state_name,
        change.at,
        change.code,
        change.message,
        change.external_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Keeps the state of a message not here yet in `pending_statuses`, with its error.
async fn write_pending_status(tx: &mut Tx, change: &StatusChange<'_>) -> Result<(), CacheError> {
    let state_name = change.state.as_str();
    sqlx::query!(
        r#"
                    INSERT INTO pending_statuses (external_id, status, error_code, error_message, at)
                    VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (external_id) DO UPDATE SET
                        status = excluded.status,
                        error_code = excluded.error_code,
                        error_message = excluded.error_message,
                        at = excluded.at
                    "#,
        change.external_id,
        state_name,
        change.code,
        change.message,
        change.at
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A receipt from the customer: messages read or delivered.
pub(super) enum Receipt<'a> {
    /// The customer read the one named (Instagram), or every outbound message up to the
    /// watermark (Messenger).
    Read(&'a ReadReceipt),
    /// Messages were delivered to the customer: the ones named, and every outbound message up
    /// to the watermark (Messenger).
    Delivery(&'a DeliveryReceipt),
}

/// Applies a read or delivery receipt.
pub(super) async fn apply_receipt(
    tx: &mut Tx,
    item: &WebhookItem,
    receipt: Receipt<'_>,
) -> Result<(), CacheError> {
    let (facts, state) = match receipt {
        Receipt::Read(read) => (
            ReceiptFacts {
                platform: read.platform,
                customer_id: &read.customer_id,
                message_ids: read.message_id.as_slice(),
                watermark: read.watermark.map(|w| w.timestamp_millis()),
                at: read.at.timestamp_millis(),
            },
            DeliveryState::Read,
        ),
        Receipt::Delivery(delivery) => (
            ReceiptFacts {
                platform: delivery.platform,
                customer_id: &delivery.customer_id,
                message_ids: &delivery.message_ids,
                watermark: delivery.watermark.map(|w| w.timestamp_millis()),
                at: delivery.at.timestamp_millis(),
            },
            DeliveryState::Delivered,
        ),
    };
    apply_receipt_facts(tx, item, &facts, state).await
}

/// What a read or delivery receipt says, whichever it was.
struct ReceiptFacts<'a> {
    platform: Platform,
    customer_id: &'a str,
    /// The messages the receipt names (may be none).
    message_ids: &'a [String],
    /// Messenger: every outbound message sent up to this time (Unix ms) is covered too.
    watermark: Option<i64>,
    /// When Meta says the receipt happened (Unix ms).
    at: i64,
}

/// Moves the messages a receipt names, and those up to its watermark, to `state`.
async fn apply_receipt_facts(
    tx: &mut Tx,
    item: &WebhookItem,
    receipt: &ReceiptFacts<'_>,
    state: DeliveryState,
) -> Result<(), CacheError> {
    for message_id in receipt.message_ids {
        set_status(
            tx,
            StatusChange::plain(message_id, state.clone(), receipt.at),
        )
        .await?;
    }
    if let Some(watermark) = receipt.watermark {
        mark_outbound_before(
            tx,
            item,
            receipt.platform,
            receipt.customer_id,
            watermark,
            state,
        )
        .await?;
    }
    Ok(())
}

/// Messenger receipts: every outbound message to the customer sent up to the watermark.
async fn mark_outbound_before(
    tx: &mut Tx,
    item: &WebhookItem,
    platform: Platform,
    customer: &str,
    watermark: i64,
    state: DeliveryState,
) -> Result<(), CacheError> {
    let Some(external) = channel_external_id(&item.route) else {
        return Ok(());
    };
    let channel = channel_id(platform, external);
    let ids: Vec<String> = sqlx::query_scalar!(
        r#"
        SELECT m.external_id AS "external_id!"
        FROM messages m
        JOIN conversations c ON c.id = m.conversation_id
        JOIN contacts k ON k.id = c.contact_id
        WHERE k.channel_id = ? AND k.external_id = ?
          AND m.direction = 'outbound' AND m.sent_at <= ? AND m.external_id IS NOT NULL
        "#,
        channel,
        customer,
        watermark
    )
    .fetch_all(&mut **tx)
    .await?;
    for id in ids {
        set_status(tx, StatusChange::plain(&id, state.clone(), watermark)).await?;
    }
    Ok(())
}
