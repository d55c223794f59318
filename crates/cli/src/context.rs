//! What every command works with: the data directory, the keychain and the signed-in account.

use std::path::PathBuf;

use zentro_core::account::Account;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::{Secret, Vault};

use crate::exit::{Exit, Failure, fail, other};

/// The data directory and keychain a command runs against.
pub struct Context {
    /// Where the cache and the account live.
    pub data_dir: PathBuf,
    /// Where the device and channel tokens live.
    pub vault: Vault,
}

impl Context {
    /// The context the global flags ask for: `--data-dir` (or the app's own) and
    /// `--kernel-keyring` (or the Secret Service).
    pub fn new(data_dir: Option<PathBuf>, kernel_keyring: bool) -> Result<Self, Failure> {
        let data_dir = match data_dir {
            Some(dir) => dir,
            None => default_data_dir()?,
        };
        let vault = if kernel_keyring {
            #[cfg(target_os = "linux")]
            {
                Vault::kernel_keyring()
            }
            #[cfg(not(target_os = "linux"))]
            return Err(fail(Exit::Usage, "--kernel-keyring exists only on Linux"));
        } else {
            Vault::system()
        };
        Ok(Self { data_dir, vault })
    }

    /// The signed-in relay and this device's token.
    pub async fn relay(&self) -> Result<(RelayClient, Secret), Failure> {
        let account = self.account()?;
        let token = self.token(&account).await?;
        Ok((RelayClient::new(&account.relay_url)?, token))
    }

    /// The signed-in account, or a failure telling how to sign in.
    pub fn account(&self) -> Result<Account, Failure> {
        Account::load(&self.data_dir)?.ok_or_else(|| {
            fail(
                Exit::SignIn,
                "not signed in: run `zentro login --relay URL --email EMAIL` first",
            )
        })
    }

    /// This device's token for `account`, from the keychain.
    pub async fn token(&self, account: &Account) -> Result<Secret, Failure> {
        let vault = self.vault.clone();
        let entry = Vault::device_entry(&account.relay_url, &account.email);
        let token = tokio::task::spawn_blocking(move || vault.read(&entry))
            .await
            .map_err(other)??;
        token.ok_or_else(|| {
            fail(
                Exit::SignIn,
                "this device has no token in the keychain: run `zentro login` again",
            )
        })
    }
}

/// The app's own data directory (`$XDG_DATA_HOME/app.zentro.desk`).
fn default_data_dir() -> Result<PathBuf, Failure> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| {
            fail(
                Exit::Usage,
                "no data directory: pass --data-dir or set ZENTRO_DATA_DIR",
            )
        })?;
    Ok(base.join("app.zentro.desk"))
}
