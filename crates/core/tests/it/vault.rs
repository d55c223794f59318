//! The vault against the real Secret Service (scripts/test.sh runs the tests in a private D-Bus
//! session with an unlocked gnome-keyring) and without any keychain.

use std::process::Command;

use zentro_core::vault::{Secret, Vault, VaultError};

fn unique(name: &str) -> String {
    format!(
        "test:{name}:{}:{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[test]
fn secrets_round_trip_through_the_real_secret_service() {
    let vault = Vault::system();
    let name = Vault::device_entry("https://relay.example/", &unique("Owner@Acme.test"));
    let secret = Secret::new("zdt_planted-device-token-5f3a");
    vault
        .store(&name, &secret)
        .expect("a Secret Service must be running (run the tests with scripts/test.sh)");
    assert_eq!(vault.read(&name).unwrap(), Some(secret.clone()));
    vault.delete(&name).unwrap();
    assert_eq!(vault.read(&name).unwrap(), None);
    vault.delete(&name).unwrap();
}

#[test]
fn secrets_never_print() {
    let secret = Secret::new("EAAG-very-secret");
    assert_eq!(
        format!("{secret} {secret:?}"),
        "[redacted] Secret([redacted])"
    );
}

/// Runs in a child process whose session bus does not exist.
#[test]
fn without_a_keychain_the_vault_says_so_and_stores_nothing_elsewhere() {
    if std::env::var_os("ZENTRO_VAULT_CHILD").is_some() {
        let error = Vault::system()
            .store("test:no-keychain", &Secret::new("zdt_child-secret-q9"))
            .unwrap_err();
        assert!(matches!(error, VaultError::Unavailable(_)), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("keychain") && message.contains("unlock"),
            "{message}"
        );
        assert!(
            !message.contains("zdt_child-secret-q9"),
            "the secret is not in the message"
        );
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .args([
            "vault::without_a_keychain_the_vault_says_so_and_stores_nothing_elsewhere",
            "--exact",
            "--nocapture",
        ])
        .env("ZENTRO_VAULT_CHILD", "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/zentro-test-bus",
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child ran the check"
    );
}
