//! Which relay and member a data directory belongs to (`account.json`; no secrets: the device
//! token is in the vault).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name inside the data directory.
pub const ACCOUNT_FILE: &str = "account.json";

/// The signed-in member of this data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The relay's address.
    pub relay_url: String,
    /// The member's email.
    pub email: String,
    /// The member's id.
    pub member_id: String,
    /// The member's name.
    pub member_name: String,
    /// owner, admin or agent.
    pub role: String,
    /// The workspace's id.
    pub workspace_id: String,
    /// The workspace's name.
    pub workspace_name: String,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(ACCOUNT_FILE)
}

impl Account {
    /// The account of `data_dir`, if someone signed in there.
    pub fn load(data_dir: &Path) -> std::io::Result<Option<Self>> {
        match std::fs::read(path(data_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Saves it (atomically: write then rename).
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        let tmp = data_dir.join(format!("{ACCOUNT_FILE}.tmp"));
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path(data_dir))
    }

    /// Forgets it.
    pub fn remove(data_dir: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(path(data_dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
