//! `zentro-assist`: AI assist, opt-in (privacy promise P18), for the desk and the CLI. No Tauri.
//!
//! Requests originate on the desk, with the provider's key from the desk's keychain (the relay
//! keeps it sealed and hands it to members' desks, as with channel tokens): nothing here talks to
//! the relay. The caller hands over a [`Conversation`], and:
//! - [`settings`]: where text goes — an OpenAI-compatible provider's base URL and model, and its
//!   [`ApiKey`] (never printed);
//! - [`features`]: the four features as requests — [`features::summary`], [`features::draft`],
//!   [`features::rewrite`] (shorter, friendlier, more formal, in the customer's language) and
//!   [`features::labels`] — each refusing restricted customers (P14) before anything is built, and
//!   showing exactly what is sent ([`PreparedRequest::what_is_sent`]);
//! - [`masking`]: identifiers replaced by placeholders before sending (on by default), put back
//!   only in drafts and rewrites;
//! - [`labels`]: intent and sentiment from fixed sets, parsed strictly;
//! - [`client`]: the streaming client (an async stream of text pieces) with typed errors
//!   ([`AssistError`], each with [`AssistError::user_message`]);
//! - [`budget`]: the monthly token budget, in the workspace's calendar;
//! - [`usage`]: what a desk reports to its relay after each request (no content).

pub mod budget;
pub mod client;
pub mod conversation;
mod error;
pub mod features;
pub mod labels;
pub mod masking;
pub mod settings;
pub mod usage;

pub use budget::{Budget, BudgetMonth};
pub use client::{Answer, AnswerStream, AssistClient, StreamEvent, Timeouts, Usage};
pub use conversation::{Author, Conversation, Customer, Message};
pub use error::AssistError;
pub use features::{Feature, PreparedRequest, RequestOptions, RewriteStyle, SentRequest};
pub use labels::{Intent, Sentiment, SuggestedLabels};
pub use settings::{ApiKey, ProviderSettings};
pub use usage::{UsageReport, conversation_hash};
