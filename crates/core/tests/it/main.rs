//! Integration tests of zentro-core against real SQLite files.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod apply;
mod assist_settings;
mod audience;
mod cache;
mod campaigns;
mod consent;
mod crash;
mod customer_files;
mod export;
mod media;
mod notices;
mod outbox;
mod relay_events;
mod retention;
mod stream_utf8;
mod support;
mod team;
mod teams;
mod vault;

/// The cache's contact id of customer `customer`.
pub async fn export_contact_id(cache: &zentro_core::Cache, customer: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM contacts WHERE external_id = ?")
        .bind(customer)
        .fetch_one(cache.pool())
        .await
        .unwrap()
}
