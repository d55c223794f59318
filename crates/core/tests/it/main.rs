//! Integration tests of zentro-core against real SQLite files.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod apply;
mod cache;
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
