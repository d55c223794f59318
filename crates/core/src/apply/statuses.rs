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
        let state = DeliveryState::parse(&row.status);
        set_status(
            tx,
            external_id,
            &state,
            row.error_code,
            row.error_message,
            row.at,
        )
        .await?;
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

/// Moves one message's state forward to `state` (or, for a message not here yet, the state that
/// waits for it in `pending_statuses`); the error is kept only for a failure.
async fn set_status(
    tx: &mut Tx,
    external_id: &str,
    state: &DeliveryState,
    code: Option<i64>,
    message: Option<String>,
    at: i64,
) -> Result<(), CacheError> {
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
                let failed = *state == DeliveryState::Failed;
                let (code, message) = if failed {
                    (code, message)
                } else {
                    (None, None)
                };
                write_status(tx, external_id, state, code, message, at).await?;
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
                write_pending_status(tx, external_id, state, code, message, at).await?;
            }
        }
    }
    Ok(())
}

/// Writes a stored message's state, with its error.
async fn write_status(
    tx: &mut Tx,
    external_id: &str,
    state: &DeliveryState,
    code: Option<i64>,
    message: Option<String>,
    at: i64,
) -> Result<(), CacheError> {
    let state_name = state.as_str();
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
        at,
        code,
        message,
        external_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Keeps the state of a message not here yet in `pending_statuses`, with its error.
async fn write_pending_status(
    tx: &mut Tx,
    external_id: &str,
    state: &DeliveryState,
    code: Option<i64>,
    message: Option<String>,
    at: i64,
) -> Result<(), CacheError> {
    let state_name = state.as_str();
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
        external_id,
        state_name,
        code,
        message,
        at
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The customer read messages: the one named (Instagram), or every outbound message up to the
/// watermark (Messenger).
pub(super) async fn apply_read(
    tx: &mut Tx,
    item: &WebhookItem,
    read: &ReadReceipt,
) -> Result<(), CacheError> {
    if let Some(message_id) = &read.message_id {
        set_status(
            tx,
            message_id,
            &DeliveryState::Read,
            None,
            None,
            read.at.timestamp_millis(),
        )
        .await?;
    }
    if let Some(watermark) = read.watermark {
        mark_outbound_before(
            tx,
            item,
            read.platform,
            &read.customer_id,
            watermark.timestamp_millis(),
            DeliveryState::Read,
        )
        .await?;
    }
    Ok(())
}

/// Messages were delivered to the customer: the ones named, and every outbound message up to
/// the watermark (Messenger).
pub(super) async fn apply_delivery(
    tx: &mut Tx,
    item: &WebhookItem,
    delivery: &DeliveryReceipt,
) -> Result<(), CacheError> {
    for message_id in &delivery.message_ids {
        set_status(
            tx,
            message_id,
            &DeliveryState::Delivered,
            None,
            None,
            delivery.at.timestamp_millis(),
        )
        .await?;
    }
    if let Some(watermark) = delivery.watermark {
        mark_outbound_before(
            tx,
            item,
            delivery.platform,
            &delivery.customer_id,
            watermark.timestamp_millis(),
            DeliveryState::Delivered,
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
        set_status(tx, &id, &state, None, None, watermark).await?;
    }
    Ok(())
}
