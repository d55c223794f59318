//! Zentro Desk's core: everything the desktop app does that can run without a display.
//!
//! The Tauri shell (`src-tauri`) and the `zentro` CLI are thin layers over this crate. It owns the
//! local SQLite cache ([`cache`]), where every conversation a staff member can see is kept, so the
//! inbox opens instantly and works offline.
//!
//! The map:
//! - **The cache and what fills it**: [`cache`] (the SQLite file, its migrations, checkpoints),
//!   [`apply`] (the relay's events applied in the log's order, one transaction per batch with the
//!   cursor), [`sync`] (catching up and following the stream), [`gaps`] (catching up after the
//!   relay pruned past this desk).
//! - **Talking to the relay**: [`relay_client`] (every route the desk calls, one request helper),
//!   [`account`] (which relay and member a data folder belongs to; signing in and joining),
//!   [`members`] (the team as the relay describes it), [`channel_tokens`], [`channel_access`] and
//!   [`connections`] (channels: their tokens in the keychain, who may use them, connecting them).
//! - **What staff do**: [`inbox`] (lists, threads, search), [`outbox`] (replies, templates and
//!   files, sent exactly once through Meta's Graph API), [`actions`] (assign, status, notes,
//!   labels, contact edits: team events queued offline), [`desk`] (the running desk that ties
//!   sync and sending together), [`teams`] (teams, presence and first-response targets as the
//!   log carried them), [`automation_preview`] (a setup replayed over the last week of the
//!   cache, before it is saved), [`assist`] and [`assist_requests`] (AI assist: the
//!   conversation as it is sent, the workspace's settings as the relay announced them, and one
//!   request from building it to recording its usage), [`broadcasts`] and [`audience`]
//!   (broadcast campaigns: the audience chosen on the cache, created and steered on the relay).
//! - **Customers' content and rights**: [`media`] and [`customer_files`] (files kept, shown and
//!   opened safely), [`profiles`] (customer names), [`export`] and [`rights`] (export, erasure,
//!   retention, restriction), [`consent`] (customers' consent to marketing messages), [`notices`] (what deserves an OS notification), [`links`]
//!   (`zentro://` links).
//! - **This installation**: [`vault`] (the OS keychain), [`preferences`], [`updates`], [`utc`],
//!   [`footprint`] (what keeps the desk's process light, decided; the shell applies it).
//!
//! Invariants kept here:
//! - the cache schema comes only from the migrations in the repository's `migrations/` folder;
//! - no secret (Meta token, relay credential) is ever written to the cache.
#![deny(missing_docs)]

pub mod account;
pub mod actions;
pub mod apply;
pub mod assist;
pub mod assist_requests;
pub mod audience;
pub mod auto_labels;
pub mod automation_preview;
pub mod broadcasts;
pub mod cache;
pub mod channel_access;
pub mod channel_tokens;
pub mod connections;
pub mod consent;
pub mod customer_files;
pub mod desk;
pub mod export;
pub mod footprint;
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
pub mod reports;
pub mod rights;
pub mod satisfaction;
pub mod sync;
pub mod teams;
pub mod updates;
pub mod utc;
pub mod vault;

pub use cache::{Cache, CacheCounts, CacheError, CacheStatus, LazyCache};
