//! The WebDriver suite: builds the real app, opens its WebKit window on a private X display and
//! checks what a person would see.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod assist;
mod broadcasts;
mod footprint;
mod inbox;
mod links;
mod notifications;
mod sandbox;
mod signup;
mod ui;
mod window;
