//! The commands the UI calls; each a few lines over `zentro-core`.

pub mod about;
pub mod account;
pub mod assist;
pub mod automation;
pub mod broadcasts;
pub mod cache;
pub mod channels;
pub mod conversations;
pub mod inbox;
pub mod reports;
pub mod rights;
pub mod workspace;
