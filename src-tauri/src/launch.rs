//! Opening files, folders and links in the user's own applications, without the desk's web-engine
//! settings: the variables the shell set for itself without a GPU (`GDK_GL=disable` among them,
//! [`crate::footprint`]) would otherwise pass to every program it starts, and a GTK program that
//! draws with GL (a video player) would fail to.

use std::ffi::OsStr;
use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a launcher (`xdg-open`, `gio`, …) may take to fail before it counts as started: a
/// launcher still running after this has handed the target over.
const LAUNCHER_FAILS_WITHIN: Duration = Duration::from_secs(1);

/// Opens `target` (a path or a URL) with the user's default application, trying each of the
/// system's launchers in turn (those of the `open` crate, as tauri's opener does) with the
/// desk's own web-engine variables removed from their environment.
pub fn open(target: impl AsRef<OsStr>) -> io::Result<()> {
    let mut first_error = None;
    for mut command in open::commands(target) {
        scrub(&mut command, crate::footprint::engine_environment());
        match started(&mut command) {
            Ok(()) => return Ok(()),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| io::Error::other("no launcher on this system")))
}

/// Removes `names` (the variables the shell set for its own web engine) from `command`'s
/// environment.
fn scrub(command: &mut Command, names: &[&str]) {
    for name in names {
        command.env_remove(name);
    }
}

/// Starts `command` with no input or output and waits up to [`LAUNCHER_FAILS_WITHIN`] for it to
/// fail; a launcher that exits successfully or is still running has started. Its exit is then
/// collected on a thread of its own, so no zombie is left.
fn started(command: &mut Command) -> io::Result<()> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let since = Instant::now();
    while since.elapsed() < LAUNCHER_FAILS_WITHIN {
        if let Some(status) = child.try_wait()? {
            return if status.success() {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "{:?} {status}",
                    command.get_program()
                )))
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::spawn(move || child.wait());
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::process::Command;

    #[test]
    fn a_launcher_that_fails_is_an_error_and_one_that_succeeds_or_keeps_running_has_started() {
        let failing = super::started(&mut Command::new("false")).unwrap_err();
        assert!(failing.to_string().contains("false"), "{failing}");
        super::started(&mut Command::new("true")).unwrap();
        super::started(Command::new("sleep").arg("5")).unwrap();
        assert!(super::started(&mut Command::new("/nonexistent/launcher")).is_err());
    }

    #[test]
    fn a_launched_program_gets_none_of_the_variables_the_shell_sets_without_a_gpu() {
        let set: Vec<&str> = crate::footprint::software_rendering(&|_| None, false, true)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert!(set.contains(&"GDK_GL"), "{set:?}");
        let mut command = Command::new("xdg-open");
        super::scrub(&mut command, &set);
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
