//! The commands the UI calls; each a few lines over `zentro-core`.

pub mod about;
pub mod cache;
pub mod desk;
pub mod inbox;
pub mod rights;
pub mod team;
