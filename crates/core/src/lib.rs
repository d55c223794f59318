//! Zentro Desk's core: everything the desktop app does that can run without a display.
//!
//! The Tauri shell (`src-tauri`) and the `zentro` CLI are thin layers over this crate. It owns the
//! local SQLite cache ([`cache`]), where every conversation a staff member can see is kept, so the
//! inbox opens instantly and works offline.
//!
//! Invariants kept here:
//! - the cache schema comes only from the migrations in the repository's `migrations/` folder;
//! - no secret (Meta token, relay credential) is ever written to the cache.
#![deny(missing_docs)]

pub mod account;
pub mod actions;
pub mod apply;
pub mod cache;
pub mod channel_access;
pub mod channel_tokens;
pub mod connections;
pub mod customer_files;
pub mod desk;
pub mod export;
pub mod gaps;
pub mod inbox;
pub mod links;
pub mod media;
pub mod members;
pub mod notices;
pub mod outbox;
pub mod preferences;
pub mod profiles;
pub mod relay_client;
pub mod rights;
pub mod sync;
pub mod updates;
pub mod utc;
pub mod vault;

pub use cache::{Cache, CacheCounts, CacheError, CacheStatus, LazyCache};
