//! A display for the app's window: the session's own, or a private Xvfb server.

use std::io::BufRead;
use std::process::{Command, Stdio};

use crate::process::{ChildGuard, find_executable};

/// An X display the app can open its window on.
#[derive(Debug)]
pub struct Display {
    /// The value for `DISPLAY`, e.g. `:99`.
    pub name: String,
    _server: Option<ChildGuard>,
}

impl Display {
    /// Starts a private Xvfb on a free display number, so test windows never pop up on the
    /// developer's screen; without Xvfb, falls back to `$DISPLAY`.
    pub fn acquire() -> anyhow::Result<Self> {
        let Some(xvfb) = find_executable("Xvfb") else {
            return match std::env::var_os("DISPLAY").filter(|d| !d.is_empty()) {
                Some(name) => Ok(Self {
                    name: name.to_string_lossy().into_owned(),
                    _server: None,
                }),
                None => anyhow::bail!(
                    "no Xvfb and no DISPLAY: install the `xvfb` package (scripts/test.sh does)"
                ),
            };
        };
        // -displayfd makes Xvfb pick a free display and write its number to the pipe.
        let mut command = Command::new(xvfb);
        command
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut server = ChildGuard::spawn("Xvfb", &mut command)?;
        let number = read_display_number(&mut server)?;
        Ok(Self {
            name: format!(":{number}"),
            _server: Some(server),
        })
    }
}

fn read_display_number(server: &mut ChildGuard) -> anyhow::Result<u32> {
    let stdout = server
        .take_stdout()
        .ok_or_else(|| anyhow::anyhow!("Xvfb's stdout was not captured"))?;
    let mut text = String::new();
    std::io::BufReader::new(stdout).read_line(&mut text)?;
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("Xvfb did not report a display number (got {text:?})"))
}
