//! End to end across the parts: Meta's stand-in, a real relay on a loopback socket, and two
//! desktop cores with their own cache files.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod auto_labels;
mod automation;
mod channel_access;
mod connect;
mod content_flow;
mod gaps;
mod rights;
mod support;
mod sync;
mod team;
