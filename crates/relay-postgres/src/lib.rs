//! The relay's SQL on PostgreSQL: its migrations and one function per statement.
//!
//! Every function here has a twin of the same name and signature in the other backend's crate
//! (`zentro-relay-sqlite`, `zentro-relay-postgres`); `zentro_relay::store` calls them through
//! its `sql!` macro and composes them. Each takes the connection it runs on (a pooled one, or
//! the writer's transaction) and returns sqlx's error: what it means is decided by the caller.
//! Queries are compile-checked (`query!`, `query_as!`, `query_scalar!`) against this
//! backend's schema, with offline data committed in `.sqlx` (`scripts/sqlx-prepare.sh`).
//! Campaigns' statements are not twins: they are written once, checked at run time, in
//! `zentro_relay_store::campaign_sql`, and run here as [`Campaigns`].

pub mod access;
pub mod assist;
pub mod automation;
pub mod channels;
pub mod connections;
pub mod consent;
pub mod gaps;
pub mod leases;
pub mod log;
pub mod rate_limits;
pub mod shared_files;
pub mod signup_pages;
pub mod team;
pub mod templates;
pub mod wakeups;

/// This backend's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// PostgreSQL as a backend of the SQL both backends share (`zentro_relay_store::campaign_sql`).
#[derive(Debug)]
pub struct PostgresBackend;

impl zentro_relay_store::campaign_sql::Backend for PostgresBackend {
    type Db = sqlx::Postgres;
    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }
}

/// The campaign statements (shared with the other backend) on PostgreSQL.
pub type Campaigns = zentro_relay_store::campaign_sql::CampaignSql<PostgresBackend>;
