//! Opening files, folders and links in the user's own applications, without the desk's web-engine
//! settings: the variables the shell set for itself (`GDK_GL=disable` without a GPU, glibc's
//! tunables for the engine's processes, [`crate::footprint`]) would otherwise pass to every
//! program it starts, the user's browser among them, and a GTK program that draws with GL (a
//! video player) would fail to. Linux only; elsewhere the shell sets nothing and
//! the system's own way of opening is used, as tauri's opener does.

use std::ffi::OsStr;
use std::io;

/// Opens `target` (a path or a URL) with the user's default application. Blocks for up to a
/// second per launcher tried: call it off the main thread and off the async runtime's workers
/// ([`open_in_background`], or `spawn_blocking`).
#[cfg(target_os = "linux")]
pub fn open(target: impl AsRef<OsStr>) -> io::Result<()> {
    linux::open(target)
}

/// Opens `target` with the user's default application (the system's own launcher).
#[cfg(not(target_os = "linux"))]
pub fn open(target: impl AsRef<OsStr>) -> io::Result<()> {
    open::that_detached(target)
}

/// [`open`] on a blocking thread of the async runtime, for a command that reports the outcome.
pub async fn open_in_background(target: impl AsRef<OsStr> + Send + 'static) -> io::Result<()> {
    tauri::async_runtime::spawn_blocking(move || open(target))
        .await
        .map_err(|e| io::Error::other(format!("the launcher's thread failed: {e}")))?
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::OsStr;
    use std::io;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    /// How long a launcher (`xdg-open`, `gio`, …) may take to fail before it counts as started: a
    /// launcher still running after this has handed the target over (or waits for the program it
    /// started, which is as good).
    const LAUNCHER_FAILS_WITHIN: Duration = Duration::from_secs(1);

    /// Tries each of the system's launchers (those of the `open` crate, as tauri's opener does)
    /// with the shell's web-engine variables removed, until one starts. A launcher that failed is
    /// reported before one that is not installed.
    pub(super) fn open(target: impl AsRef<OsStr>) -> io::Result<()> {
        let (mut failed, mut missing) = (None, None);
        for mut command in open::commands(target) {
            scrub(&mut command, crate::footprint::engine_environment());
            match started(&mut command) {
                Ok(()) => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    missing.get_or_insert(error);
                }
                Err(error) => {
                    failed.get_or_insert(error);
                }
            }
        }
        Err(failed
            .or(missing)
            .unwrap_or_else(|| io::Error::other("no launcher on this system")))
    }

    /// Removes `names` (the variables the shell set for its own web engine) from `command`'s
    /// environment.
    pub(super) fn scrub(command: &mut Command, names: &[&str]) {
        for name in names {
            command.env_remove(name);
        }
    }

    /// Starts `command` in a process group of its own (a Ctrl-C or a closed terminal that stops
    /// the desk leaves the opened program alone), with no input or output, and waits up to
    /// [`LAUNCHER_FAILS_WITHIN`] for it to fail; a launcher that exits successfully or is still
    /// running has started. Its exit is then collected on a small thread, so no zombie is left.
    pub(super) fn started(command: &mut Command) -> io::Result<()> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let since = Instant::now();
        while since.elapsed() < LAUNCHER_FAILS_WITHIN {
            if let Some(status) = child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "{} {status}",
                        command.get_program().to_string_lossy()
                    )))
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let reaper = std::thread::Builder::new()
            .name("launcher-wait".into())
            .stack_size(64 * 1024)
            .spawn(move || child.wait());
        if let Err(error) = reaper {
            // The launcher runs on; it stays a zombie once it exits, which is all this costs.
            tracing::debug!(%error, "no thread to collect a launcher's exit");
        }
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::process::Command;

    use super::linux::{scrub, started};

    #[test]
    fn a_launcher_that_fails_is_an_error_and_one_that_succeeds_or_keeps_running_has_started() {
        let failing = started(&mut Command::new("false")).unwrap_err();
        assert!(failing.to_string().contains("false"), "{failing}");
        started(&mut Command::new("true")).unwrap();
        started(Command::new("sleep").arg("5")).unwrap();
        let missing = started(&mut Command::new("/nonexistent/launcher")).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn a_launched_program_gets_none_of_the_variables_the_shell_sets_without_a_gpu() {
        let set: Vec<&str> = zentro_core::footprint::software_rendering(&|_| None, false, true)
            .environment
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert!(set.contains(&"GDK_GL"), "{set:?}");
        let mut command = Command::new("xdg-open");
        scrub(&mut command, &set);
        let removed: Vec<String> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        for name in set {
            assert!(removed.iter().any(|r| r == name), "{name} is passed on");
        }
    }
}
