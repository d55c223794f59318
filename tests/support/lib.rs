//! Test support shared by the end-to-end suites: the workspace's paths, building the real app,
//! a private X display, tauri-driver with WebKitWebDriver on free loopback ports, and a team's
//! relay with Meta's stand-in on loopback.
//!
//! Every process started here is stopped by a drop guard with SIGTERM (never SIGKILL first), so a
//! failing test does not leave a WebKitWebDriver holding its port and hanging the next run.

pub mod app;
pub mod process;
pub mod screen;
pub mod team;
pub mod wait;
pub mod webdriver;
pub mod xvfb;
