//! What the `zentro` binary's test suites share: running it on a data folder, and a free port.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const ZENTRO: &str = env!("CARGO_BIN_EXE_zentro");

/// Runs `zentro args` on `data_dir`, with `stdin` as its standard input.
pub fn zentro(data_dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    zentro_with(data_dir, args, stdin, &[])
}

/// Runs `zentro args` on `data_dir`, with `stdin` as its standard input and `envs` added to
/// its environment.
pub fn zentro_with(
    data_dir: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
    envs: &[(&str, &str)],
) -> Output {
    let mut child = Command::new(ZENTRO)
        .args(args)
        .envs(envs.iter().copied())
        .env("ZENTRO_DATA_DIR", data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// What `zentro` wrote to its standard error.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A loopback port nobody listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
