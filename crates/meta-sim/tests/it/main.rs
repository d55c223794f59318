//! The real Graph client (zentro-meta) against the Meta stand-in: every send kind, every mapped
//! error, media, Embedded Signup calls, and signed webhooks.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod menus;
mod receiver;
mod sends;
mod signup_and_media;
mod templates;
mod webhooks;
