//! Everything Zentro Desk knows about Meta's wire formats, in one crate used by the relay and the
//! desktop core.
//!
//! - [`platform`]: the Graph API version, limits and the other facts Meta changes over time — the
//!   one place to update when Meta does.
//! - [`signature`]: `X-Hub-Signature-256` over the raw body, and the `signed_request` of the
//!   data-deletion and deauthorize callbacks; constant-time comparisons.
//! - [`webhook`]: a tolerant parser turning one verified webhook body into typed items, each with a
//!   route (which channel it belongs to) and a stable key for de-duplication.
//! - [`graph`]: a Graph API client (sends, media, onboarding calls) whose errors say what the
//!   caller should do.
//! - [`secret`]: app secrets and access tokens that never print.
//! - [`permissions`]: the permissions Meta granted compared with those asked for (P4).
#![deny(missing_docs)]

pub mod graph;
pub mod permissions;
pub mod platform;
pub mod secret;
pub mod signature;
pub mod webhook;

pub use secret::{AccessToken, AppSecret};
