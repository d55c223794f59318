//! The SQL of broadcast campaigns (issue 24, ADR 0021), once for both backends: campaigns, their
//! recipients' outcomes, and where the campaign worker is in each workspace's log.
//!
//! The queries are checked at run time and written in the SQL both SQLite and PostgreSQL read
//! (`$n` placeholders, `ON CONFLICT`), so one text serves both. [`CampaignSql`] is generic over a
//! [`Backend`]: each backend crate names its sqlx database and the little sqlx does not share
//! between drivers, and exports `Campaigns`, this SQL on its connection.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::campaigns::{CampaignRow, ReceivedRow, RecipientRow};

/// A backend the shared SQL runs on.
pub trait Backend {
    /// Its sqlx database.
    type Db: Database;
    /// How many rows a statement changed (sqlx gives each driver its own result type).
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;
}

/// The database of a backend.
type Db<B> = <B as Backend>::Db;
/// The connection of a backend's database.
type Conn<B> = <Db<B> as Database>::Connection;
/// A row of a backend's database.
type DbRow<B> = <Db<B> as Database>::Row;

const CAMPAIGN_COLUMNS: &str =
    "id, workspace_id, name, channel_id, template_name, template_language,
    category, audience, state, paused_reason, paused_until, per_second, send_at, created_by,
    created_at, started_at, finished_at, statuses_seen_at";

const RECIPIENT_COLUMNS: &str = "campaign_id, workspace_id, ordinal, customer_id, name, status,
    skip_reason, error, message_id, sending_at, sent_at, next_attempt_at, updated_at, attempts";

/// The campaign statements on backend `B`: one associated function per statement, taking the
/// connection it runs on (a pooled one or the writer's transaction) and returning sqlx's error.
pub struct CampaignSql<B>(PhantomData<B>);

impl<B: Backend> CampaignSql<B>
where
    for<'e> &'e mut Conn<B>: Executor<'e, Database = Db<B>>,
    for<'q> <Db<B> as Database>::Arguments<'q>: IntoArguments<'q, Db<B>>,
    for<'q> &'q str: Encode<'q, Db<B>> + Type<Db<B>> + ColumnIndex<DbRow<B>>,
    for<'q> i64: Encode<'q, Db<B>> + Decode<'q, Db<B>> + Type<Db<B>>,
    for<'q> Option<&'q str>: Encode<'q, Db<B>>,
    for<'q> Option<i64>: Encode<'q, Db<B>>,
    for<'r> String: Decode<'r, Db<B>> + Type<Db<B>>,
{
    fn campaign_of(row: &DbRow<B>) -> Result<CampaignRow, sqlx::Error> {
        Ok(CampaignRow {
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            name: row.try_get("name")?,
            channel_id: row.try_get("channel_id")?,
            template_name: row.try_get("template_name")?,
            template_language: row.try_get("template_language")?,
            category: row.try_get("category")?,
            audience: row.try_get("audience")?,
            state: row.try_get("state")?,
            paused_reason: row.try_get("paused_reason")?,
            paused_until: row.try_get("paused_until")?,
            per_second: row.try_get("per_second")?,
            send_at: row.try_get("send_at")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            statuses_seen_at: row.try_get("statuses_seen_at")?,
        })
    }

    fn recipient_of(row: &DbRow<B>) -> Result<RecipientRow, sqlx::Error> {
        Ok(RecipientRow {
            campaign_id: row.try_get("campaign_id")?,
            workspace_id: row.try_get("workspace_id")?,
            ordinal: row.try_get("ordinal")?,
            customer_id: row.try_get("customer_id")?,
            name: row.try_get("name")?,
            status: row.try_get("status")?,
            skip_reason: row.try_get("skip_reason")?,
            error: row.try_get("error")?,
            message_id: row.try_get("message_id")?,
            sending_at: row.try_get("sending_at")?,
            sent_at: row.try_get("sent_at")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            updated_at: row.try_get("updated_at")?,
            attempts: row.try_get("attempts")?,
        })
    }

    /// Keeps a new campaign.
    pub async fn insert_campaign(conn: &mut Conn<B>, c: &CampaignRow) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        ))
        .bind(c.id.as_str())
        .bind(c.workspace_id.as_str())
        .bind(c.name.as_str())
        .bind(c.channel_id.as_str())
        .bind(c.template_name.as_str())
        .bind(c.template_language.as_str())
        .bind(c.category.as_str())
        .bind(c.audience.as_str())
        .bind(c.state.as_str())
        .bind(c.paused_reason.as_deref())
        .bind(c.paused_until)
        .bind(c.per_second)
        .bind(c.send_at)
        .bind(c.created_by.as_str())
        .bind(c.created_at)
        .bind(c.started_at)
        .bind(c.finished_at)
        .bind(c.statuses_seen_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// A workspace's campaign.
    pub async fn campaign(
        conn: &mut Conn<B>,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<CampaignRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
        row.as_ref().map(Self::campaign_of).transpose()
    }

    /// A workspace's campaigns, newest first.
    pub async fn campaigns(
        conn: &mut Conn<B>,
        workspace_id: &str,
    ) -> Result<Vec<CampaignRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = $1
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(workspace_id)
        .fetch_all(conn)
        .await?;
        rows.iter().map(Self::campaign_of).collect()
    }

    /// Every campaign the worker looks after: scheduled, running or paused.
    pub async fn live_campaigns(conn: &mut Conn<B>) -> Result<Vec<CampaignRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns
             WHERE state IN ('scheduled', 'running', 'paused') ORDER BY created_at, id"
        ))
        .fetch_all(conn)
        .await?;
        rows.iter().map(Self::campaign_of).collect()
    }

    /// Saves what changes of a campaign (its state, pause, pace and times) if it is still in state
    /// `from`; whether it was.
    pub async fn update_campaign(
        conn: &mut Conn<B>,
        c: &CampaignRow,
        from: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE campaigns SET state = $2, paused_reason = $3, paused_until = $4, per_second = $5,
                send_at = $6, started_at = $7, finished_at = $8
             WHERE id = $1 AND state = $9",
        )
        .bind(c.id.as_str())
        .bind(c.state.as_str())
        .bind(c.paused_reason.as_deref())
        .bind(c.paused_until)
        .bind(c.per_second)
        .bind(c.send_at)
        .bind(c.started_at)
        .bind(c.finished_at)
        .bind(from)
        .execute(conn)
        .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    /// A campaign's recipients by status.
    pub async fn counts(
        conn: &mut Conn<B>,
        campaign_id: &str,
    ) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM campaign_recipients WHERE campaign_id = $1
             GROUP BY status",
        )
        .bind(campaign_id)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }

    /// The highest ordinal of a campaign's recipients (0 with none).
    pub async fn last_ordinal(conn: &mut Conn<B>, campaign_id: &str) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(ordinal), 0) AS n FROM campaign_recipients WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_one(conn)
        .await?;
        row.try_get("n")
    }

    /// Adds a recipient, queued; one already on the campaign is left as is. Whether it was added.
    pub async fn add_recipient(conn: &mut Conn<B>, r: &RecipientRow) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(&format!(
            "INSERT INTO campaign_recipients ({RECIPIENT_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (campaign_id, customer_id) DO NOTHING"
        ))
        .bind(r.campaign_id.as_str())
        .bind(r.workspace_id.as_str())
        .bind(r.ordinal)
        .bind(r.customer_id.as_str())
        .bind(r.name.as_deref())
        .bind(r.status.as_str())
        .bind(r.skip_reason.as_deref())
        .bind(r.error.as_deref())
        .bind(r.message_id.as_deref())
        .bind(r.sending_at)
        .bind(r.sent_at)
        .bind(r.next_attempt_at)
        .bind(r.updated_at)
        .bind(r.attempts)
        .execute(conn)
        .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    /// Saves what changes of a recipient.
    pub async fn update_recipient(conn: &mut Conn<B>, r: &RecipientRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE campaign_recipients SET status = $3, skip_reason = $4, error = $5,
                message_id = $6, sending_at = $7, sent_at = $8, next_attempt_at = $9, updated_at = $10,
                attempts = $11
             WHERE campaign_id = $1 AND customer_id = $2",
        )
        .bind(r.campaign_id.as_str())
        .bind(r.customer_id.as_str())
        .bind(r.status.as_str())
        .bind(r.skip_reason.as_deref())
        .bind(r.error.as_deref())
        .bind(r.message_id.as_deref())
        .bind(r.sending_at)
        .bind(r.sent_at)
        .bind(r.next_attempt_at)
        .bind(r.updated_at)
        .bind(r.attempts)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// One recipient of a campaign.
    pub async fn recipient(
        conn: &mut Conn<B>,
        campaign_id: &str,
        customer_id: &str,
    ) -> Result<Option<RecipientRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM campaign_recipients
             WHERE campaign_id = $1 AND customer_id = $2"
        ))
        .bind(campaign_id)
        .bind(customer_id)
        .fetch_optional(conn)
        .await?;
        row.as_ref().map(Self::recipient_of).transpose()
    }

    /// Recipients of `status` in order: those due by `now` (by their next attempt), at most `limit`.
    pub async fn recipients_in(
        conn: &mut Conn<B>,
        campaign_id: &str,
        status: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<RecipientRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM campaign_recipients
             WHERE campaign_id = $1 AND status = $2 AND next_attempt_at <= $3
             ORDER BY ordinal LIMIT $4"
        ))
        .bind(campaign_id)
        .bind(status)
        .bind(now)
        .bind(limit)
        .fetch_all(conn)
        .await?;
        rows.iter().map(Self::recipient_of).collect()
    }

    /// A page of a campaign's recipients after the ordinal `after`.
    pub async fn recipients_after(
        conn: &mut Conn<B>,
        campaign_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RecipientRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM campaign_recipients
             WHERE campaign_id = $1 AND ordinal > $2 ORDER BY ordinal LIMIT $3"
        ))
        .bind(campaign_id)
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await?;
        rows.iter().map(Self::recipient_of).collect()
    }

    /// The campaigns a customer is a recipient of on a channel, newest first.
    pub async fn received(
        conn: &mut Conn<B>,
        workspace_id: &str,
        channel_id: &str,
        customer_id: &str,
    ) -> Result<Vec<ReceivedRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT c.id AS campaign_id, c.name AS name, c.template_name AS template_name,
                r.status AS status, r.updated_at AS updated_at
             FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
             WHERE r.workspace_id = $1 AND r.customer_id = $2 AND c.channel_id = $3
             ORDER BY c.created_at DESC, c.id DESC",
        )
        .bind(workspace_id)
        .bind(customer_id)
        .bind(channel_id)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReceivedRow {
                    campaign_id: r.try_get("campaign_id")?,
                    name: r.try_get("name")?,
                    template_name: r.try_get("template_name")?,
                    status: r.try_get("status")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Customers the campaigns of a number reached since `since` (Meta accepted their message), and
    /// when the earliest of them was reached.
    pub async fn reached_since(
        conn: &mut Conn<B>,
        channel_id: &str,
        since: i64,
    ) -> Result<(i64, Option<i64>), sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT r.customer_id) AS n, MIN(r.sent_at) AS first
             FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
             WHERE c.channel_id = $1 AND r.sent_at >= $2",
        )
        .bind(channel_id)
        .bind(since)
        .fetch_one(conn)
        .await?;
        Ok((row.try_get("n")?, row.try_get("first")?))
    }

    /// Workspaces with campaigns: the logs the campaign worker follows.
    pub async fn followed_workspaces(conn: &mut Conn<B>) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query("SELECT DISTINCT workspace_id FROM campaigns ORDER BY workspace_id")
            .fetch_all(conn)
            .await?;
        rows.iter().map(|r| r.try_get("workspace_id")).collect()
    }

    /// Where the campaign worker is in a workspace's log.
    pub async fn cursor(
        conn: &mut Conn<B>,
        workspace_id: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("SELECT cursor FROM campaign_progress WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(conn)
            .await?;
        row.map(|r| r.try_get("cursor")).transpose()
    }

    /// Records where the campaign worker is in a workspace's log; `only_if_new` keeps a saved one.
    pub async fn save_cursor(
        conn: &mut Conn<B>,
        workspace_id: &str,
        cursor: i64,
        only_if_new: bool,
    ) -> Result<(), sqlx::Error> {
        let sql = if only_if_new {
            "INSERT INTO campaign_progress (workspace_id, cursor) VALUES ($1, $2)
             ON CONFLICT (workspace_id) DO NOTHING"
        } else {
            "INSERT INTO campaign_progress (workspace_id, cursor) VALUES ($1, $2)
             ON CONFLICT (workspace_id) DO UPDATE SET cursor = excluded.cursor"
        };
        sqlx::query(sql)
            .bind(workspace_id)
            .bind(cursor)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Deletes a customer's recipient rows in every campaign of a workspace (an erasure).
    pub async fn delete_recipients_of_customer(
        conn: &mut Conn<B>,
        workspace_id: &str,
        customer_id: &str,
    ) -> Result<u64, sqlx::Error> {
        sqlx::query("DELETE FROM campaign_recipients WHERE workspace_id = $1 AND customer_id = $2")
            .bind(workspace_id)
            .bind(customer_id)
            .execute(conn)
            .await
            .map(|done| B::rows_affected(&done))
    }

    /// A customer wrote at `at`: their campaign messages of that number sent before it become
    /// `replied`. How many.
    pub async fn mark_replied(
        conn: &mut Conn<B>,
        workspace_id: &str,
        channel_id: &str,
        customer_id: &str,
        at: i64,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        sqlx::query(
            "UPDATE campaign_recipients SET status = 'replied', updated_at = $5
             WHERE workspace_id = $1 AND customer_id = $3 AND sent_at <= $4
               AND status IN ('sent', 'delivered', 'read')
               AND campaign_id IN (SELECT id FROM campaigns WHERE workspace_id = $1 AND channel_id = $2)",
        )
        .bind(workspace_id)
        .bind(channel_id)
        .bind(customer_id)
        .bind(at)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| B::rows_affected(&done))
    }

    /// The campaigns of a number saw its status webhooks up to Meta's time `at`.
    pub async fn see_statuses(
        conn: &mut Conn<B>,
        workspace_id: &str,
        channel_id: &str,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE campaigns SET statuses_seen_at = $3
             WHERE workspace_id = $1 AND channel_id = $2 AND statuses_seen_at < $3
               AND state IN ('running', 'paused', 'scheduled')",
        )
        .bind(workspace_id)
        .bind(channel_id)
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The recipients not reached become `cancelled`.
    pub async fn cancel_queued(
        conn: &mut Conn<B>,
        campaign_id: &str,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        sqlx::query(
            "UPDATE campaign_recipients SET status = 'cancelled', updated_at = $2
             WHERE campaign_id = $1 AND status = 'queued'",
        )
        .bind(campaign_id)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| B::rows_affected(&done))
    }

    /// The customers of a workspace whose processing is restricted (P14): the latest
    /// `contact.restricted` / `contact.unrestricted` audit entry of each says.
    pub async fn restricted_customers(
        conn: &mut Conn<B>,
        workspace_id: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT subject, action FROM audit_log
             WHERE workspace_id = $1 AND action IN ('contact.restricted', 'contact.unrestricted')
               AND subject IS NOT NULL
             ORDER BY id",
        )
        .bind(workspace_id)
        .fetch_all(conn)
        .await?;
        let mut restricted = BTreeSet::new();
        for row in &rows {
            let subject: String = row.try_get("subject")?;
            let action: String = row.try_get("action")?;
            if action == "contact.restricted" {
                restricted.insert(subject);
            } else {
                restricted.remove(&subject);
            }
        }
        Ok(restricted.into_iter().collect())
    }
}
