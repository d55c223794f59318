//! The `zentro-desk` binary: starts the desktop app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    zentro_desk::run();
}
