//! Choices made for this installation of the app (not for a member or a workspace): whether it
//! starts hidden in the tray, where it looks for updates, and when it last did.
//!
//! Kept in `preferences.json` in the data folder, written whole and atomically; a missing or
//! unreadable file means the defaults (and is never an error the user has to deal with).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file, in the data folder.
pub const FILE: &str = "preferences.json";

/// This installation's preferences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preferences {
    /// Start with the window hidden and only the tray icon showing.
    pub start_minimized: bool,
    /// The update server chosen for this installation (a team's own, next to its relay);
    /// `None`: the one the app was built with.
    pub update_endpoint: Option<String>,
    /// When updates were last looked for, in Unix seconds (whatever the outcome).
    pub last_update_check: Option<i64>,
}

impl Preferences {
    /// Reads the preferences kept in `data_dir`; the defaults when there are none or the file
    /// cannot be read (logged).
    pub fn load(data_dir: &Path) -> Self {
        let path = data_dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, "the preferences file is damaged; using the defaults");
                Self::default()
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(error) => {
                tracing::warn!(%error, "the preferences file could not be read; using the defaults");
                Self::default()
            }
        }
    }

    /// Writes the preferences to `data_dir`, replacing the file at once (never half-written).
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(FILE);
        let tmp = data_dir.join(format!("{FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
    }

    /// Loads, changes and saves the preferences in `data_dir`, returning the new ones.
    pub fn update(data_dir: &Path, change: impl FnOnce(&mut Self)) -> std::io::Result<Self> {
        let mut preferences = Self::load(data_dir);
        change(&mut preferences);
        preferences.save(data_dir)?;
        Ok(preferences)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferences_round_trip_and_a_damaged_file_means_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Preferences::load(dir.path()), Preferences::default());

        let saved = Preferences::update(dir.path(), |p| {
            p.start_minimized = true;
            p.update_endpoint = Some("https://updates.example.com/desk.json".into());
        })
        .unwrap();
        assert_eq!(Preferences::load(dir.path()), saved);
        assert!(Preferences::load(dir.path()).start_minimized);

        // A later change keeps what it does not touch.
        Preferences::update(dir.path(), |p| p.last_update_check = Some(42)).unwrap();
        let now = Preferences::load(dir.path());
        assert!(now.start_minimized);
        assert_eq!(now.last_update_check, Some(42));

        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert_eq!(Preferences::load(dir.path()), Preferences::default());
        // Fields added by a later version are ignored, missing ones take their defaults.
        std::fs::write(
            dir.path().join(FILE),
            br#"{"start_minimized":true,"new":1}"#,
        )
        .unwrap();
        assert!(Preferences::load(dir.path()).start_minimized);
    }
}
