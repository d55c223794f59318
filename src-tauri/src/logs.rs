//! Where the app's logs go: standard error from the first line, and, once the app knows its log
//! folder, daily files there (`zentro-desk.YYYY-MM-DD.log`, the last 7 kept). Nothing in them is
//! message text or a secret: the crates log ids, counts and errors only (the WebDriver suite reads
//! the file after a session to prove it). Nothing leaves the computer.
//!
//! A crash (a panic) is recorded here too, as the only crash report there is: where it happened
//! and, when the message is a fixed text from the code, that text; a message built at run time
//! could carry data, so it is left out. No crash report is ever sent anywhere (privacy promise P1).

use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::MakeWriter;

use crate::state::lock;

/// How many daily files are kept.
pub const KEPT_FILES: usize = 7;

static FILE: OnceLock<Mutex<RollingFileAppender>> = OnceLock::new();

/// Sends log lines to standard error and, once set, to the log folder.
struct Tee;

impl<'a> MakeWriter<'a> for Tee {
    type Writer = Tee;
    fn make_writer(&'a self) -> Tee {
        Tee
    }
}

impl Write for Tee {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(bytes);
        if let Some(file) = FILE.get() {
            let _ = lock(file).write_all(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(file) = FILE.get() {
            lock(file).flush()?;
        }
        Ok(())
    }
}

/// The log line a panic leaves: its place in the code and its message only if that is a fixed
/// string in the code (a message formatted at run time may hold customer data).
pub fn crash_report(info: &std::panic::PanicHookInfo<'_>) -> String {
    let place = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_else(|| "an unknown place".into());
    let thread = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    match info.payload().downcast_ref::<&'static str>() {
        Some(text) => format!("crashed at {place} (thread {thread}): {text}"),
        None => format!(
            "crashed at {place} (thread {thread}); its message is not logged as it may hold data"
        ),
    }
}

/// Starts logging (level from `RUST_LOG`, `info` by default) to standard error, and records
/// crashes in the log.
pub fn init() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("{}", crash_report(info));
        default_hook(info);
    }));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(Tee)
        .try_init();
}

/// Also writes the log to daily files in `folder` from now on (once per process).
pub fn to_folder(folder: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("zentro-desk")
        .filename_suffix("log")
        .max_log_files(KEPT_FILES)
        .build(folder)
        .map_err(std::io::Error::other)?;
    let _ = FILE.set(Mutex::new(appender));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_of(panic: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let report = std::sync::Arc::new(Mutex::new(String::new()));
        let seen = report.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            *lock(&seen) = crash_report(info);
        }));
        let _ = std::panic::catch_unwind(panic);
        std::panic::set_hook(previous);
        lock(&report).clone()
    }

    #[test]
    fn a_crash_report_names_the_place_but_never_a_message_built_from_data() {
        let fixed = report_of(|| panic!("the cache lock was poisoned"));
        assert!(fixed.contains("src/logs.rs:"), "{fixed}");
        assert!(fixed.contains("the cache lock was poisoned"), "{fixed}");

        let customer_text = "Hi, my card 4111 1111 1111 1111 was charged twice";
        let built = report_of(move || panic!("could not apply {customer_text}"));
        assert!(built.contains("src/logs.rs:"), "{built}");
        assert!(!built.contains("4111"), "{built}");
        assert!(built.contains("not logged"), "{built}");
    }
}
