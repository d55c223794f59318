//! Where the app's logs go: standard error from the first line, and, once the app knows its log
//! folder, daily files there (`zentro-desk.YYYY-MM-DD.log`, the last 7 kept). Nothing in them is
//! message text or a secret: the crates log ids, counts and errors only (the WebDriver suite reads
//! the file after a session to prove it). Nothing leaves the computer.

use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::MakeWriter;

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
            let _ = file
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .write_all(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(file) = FILE.get() {
            file.lock().unwrap_or_else(|e| e.into_inner()).flush()?;
        }
        Ok(())
    }
}

/// Starts logging (level from `RUST_LOG`, `info` by default) to standard error.
pub fn init() {
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
