//! The app's commands, grouped by area. Each is a few lines over `zentro-core`.

pub mod cache;
