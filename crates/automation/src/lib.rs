//! What a workspace's automation does while every desk may be closed: business hours, the
//! greeting and away message, the menu bot that asks which team, routing to teams and assigning
//! to available members under their capacity, and the satisfaction survey (CSAT) sent when a
//! person resolves a conversation.
//!
//! It is a deterministic state machine over the workspace's log ([`Engine`]): the relay runs it
//! on every event it appends and carries out its [`Action`]s (team events in the log under the
//! rule's name, automated messages through its outbox); a desk replays its own history through
//! the same machine to preview a setup before it is saved. Nothing here does I/O.
#![deny(missing_docs)]

pub mod consent;
pub mod csat;
pub mod engine;
pub mod hours;
pub mod inputs;
pub mod setup;

pub use consent::{ConsentKeywords, KeywordDecision};
pub use engine::{Action, Effect, Engine, Input, Outgoing, Presence};
pub use inputs::{inputs_from_log, webhook_item_input};
pub use setup::{Assignment, Csat, Hours, Invalid, Menu, MenuOption, Setup, Team, Texts};
