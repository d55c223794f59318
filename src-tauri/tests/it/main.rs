//! Tests of the desktop shell without a display: the generated bindings and the whole app booted
//! on Tauri's mock runtime.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod bindings;
mod commands;
mod reports;
mod updates;
