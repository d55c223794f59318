//! The `zentro` binary refuses a relay reached over plain `http://` away from this computer,
//! before it sends anything (a password, an invitation code).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::Write;
use std::process::{Command, Output, Stdio};

const ZENTRO: &str = env!("CARGO_BIN_EXE_zentro");
/// `Exit::Network` (src/exit.rs): the exit code of a relay address that is not allowed.
const EXIT_NETWORK: Option<i32> = Some(4);

fn zentro(data_dir: &std::path::Path, args: &[&str]) -> Output {
    let mut child = Command::new(ZENTRO)
        .args(args)
        .env("ZENTRO_DATA_DIR", data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn login_and_join_refuse_a_plain_http_relay_away_from_this_computer() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[
            "login",
            "--relay",
            "http://relay.example.com",
            "--email",
            "a@acme.test",
        ][..],
        &[
            "join",
            "--relay",
            "http://relay.example.com",
            "--code",
            "ABCD-2345",
        ][..],
    ] {
        let output = zentro(dir.path(), args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), EXIT_NETWORK, "{args:?}: {message}");
        assert!(message.contains("https://"), "{args:?}: {message}");
        assert!(message.contains("plain http://"), "{args:?}: {message}");
        assert!(
            !dir.path().join("account.json").exists(),
            "nothing was saved"
        );
    }
}

#[test]
fn https_and_a_loopback_relay_pass_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let loopback = format!("http://127.0.0.1:{}", closed_port());
    for relay in ["https://relay.invalid", loopback.as_str()] {
        let output = zentro(
            dir.path(),
            &["login", "--relay", relay, "--email", "a@acme.test"],
        );
        let message = stderr(&output);
        // Accepted, then not reachable: the network error, not the refusal.
        assert!(
            message.contains("could not be reached"),
            "{relay}: {message}"
        );
        assert!(!message.contains("plain http://"), "{relay}: {message}");
    }
}
