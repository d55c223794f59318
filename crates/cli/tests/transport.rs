//! The `zentro` binary refuses a relay reached over plain `http://` away from this computer,
//! before it sends anything (a password, an invitation code).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use support::{closed_port, stderr};

/// `Exit::Network` (src/exit.rs): the exit code of a relay address that is not allowed.
const EXIT_NETWORK: Option<i32> = Some(4);

/// Runs `zentro args` on `data_dir`, typing a password.
fn zentro(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    support::zentro(data_dir, args, Some("correct horse battery\n"))
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
