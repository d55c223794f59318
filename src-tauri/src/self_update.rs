//! The app updates itself through Tauri's updater: it asks this installation's update server at
//! start and every six hours, offers a newer version in Settings → About, and on "Install and
//! restart" downloads it (with progress), verifies its signature against the public key built
//! into the app, installs it with the system's package tools and restarts.
//!
//! An update is only ever offered when its version is newer than the running one, and only
//! installed when its minisign signature is valid and names that same version (so a manifest
//! cannot dress up an older signed release as a newer one). A refused or broken download leaves
//! the installed app as it was and says why.
//!
//! The rules (acceptable servers, schedule, what the UI sees) are in
//! [`zentro_core::updates`]; this module only drives the plugin.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tauri_plugin_updater::{Error as UpdaterError, Update, Updater};
use tauri_specta::Event;
use url::Url;
use zentro_core::preferences::Preferences;
use zentro_core::updates::{UpdateState, UpdateStatus};

/// The update status changed (a check, download progress, an installation).
#[derive(Debug, Clone, Serialize, specta::Type, Event)]
pub struct UpdateStatusChanged(pub UpdateStatus);

/// Makes an updater for the given endpoints (the plugin's, with the app's public key).
pub type MakeUpdater = dyn Fn(Vec<Url>) -> Result<Updater, UpdaterError> + Send + Sync;

/// Why the update failed, for people; the installed app is unchanged in every case.
pub fn explain(error: &UpdaterError) -> String {
    use UpdaterError as E;
    match error {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => {
            "The downloaded update does not carry a valid Zentro Desk signature, so it was not \
             installed; this version stays. Tell whoever runs your update server: the file may \
             have been changed or damaged on the way."
                .into()
        }
        E::SignedVersionMismatch { .. } | E::MissingSignedVersion => {
            "The update server offered a version its file was not signed for (it could be an \
             older release), so it was not installed; this version stays."
                .into()
        }
        E::Reqwest(e) if e.is_connect() || e.is_timeout() => {
            "The update server could not be reached; Zentro Desk will try again later.".into()
        }
        E::Reqwest(e) if e.is_decode() => {
            "The update server's answer is not an update description; tell whoever runs it.".into()
        }
        E::Reqwest(_) | E::Network(_) => format!(
            "The download from the update server failed ({error}); nothing was installed. Try \
             again later."
        ),
        E::Serialization(_) | E::ReleaseNotFound => {
            "The update server's answer is not an update description; tell whoever runs it.".into()
        }
        E::TargetNotFound(_) | E::TargetsNotFound(_) => {
            "The update server has no version for this system yet.".into()
        }
        E::InvalidUpdaterFormat => {
            "The downloaded update is not a package this installation can install; nothing \
             changed."
                .into()
        }
        E::AuthenticationFailed => {
            "Installing needs an administrator's password, and none was given; nothing changed. \
             Try again when one can be entered."
                .into()
        }
        E::DebInstallFailed | E::PackageInstallFailed => {
            "The system's package manager could not install the update; nothing changed. See the \
             logs for its reason."
                .into()
        }
        E::InsecureTransportProtocol => {
            "The update server must use https://; change it in Settings → About.".into()
        }
        _ => format!("The update failed ({error}); nothing changed."),
    }
}

/// Why this copy of the app cannot replace itself, if it cannot.
pub fn cannot_install() -> Option<String> {
    match tauri::utils::platform::bundle_type() {
        Some(_) => None,
        None => Some(
            "This copy of Zentro Desk was not installed from a package (a development build), so \
             it cannot replace itself: install the new version the way you installed this one."
                .into(),
        ),
    }
}

struct Known {
    state: UpdateState,
    problem: Option<String>,
    pending: Option<Update>,
}

/// The app's updating: checks, download and installation, one at a time.
pub struct SelfUpdate {
    data_dir: PathBuf,
    default_endpoints: Vec<Url>,
    make_updater: Box<MakeUpdater>,
    publish: Box<dyn Fn(&UpdateStatus) + Send + Sync>,
    restart: Box<dyn Fn() + Send + Sync>,
    cannot_install: Option<String>,
    known: Mutex<Known>,
    busy: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SelfUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfUpdate")
            .field("default_endpoints", &self.default_endpoints)
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch, as the update check's bookkeeping keeps them.
fn now_secs() -> i64 {
    zentro_events::clock::now_ms() / 1000
}

impl SelfUpdate {
    /// Updating for the installation whose preferences live in `data_dir`; `default_endpoints`
    /// are the app's own (from its configuration), `publish` announces every change, `restart`
    /// starts the installed version.
    pub fn new(
        data_dir: &Path,
        default_endpoints: Vec<Url>,
        make_updater: Box<MakeUpdater>,
        publish: Box<dyn Fn(&UpdateStatus) + Send + Sync>,
        restart: Box<dyn Fn() + Send + Sync>,
        cannot_install: Option<String>,
    ) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            default_endpoints,
            make_updater,
            publish,
            restart,
            cannot_install,
            known: Mutex::new(Known {
                state: UpdateState::Unknown,
                problem: None,
                pending: None,
            }),
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// What is known, even if a thread panicked while changing it (each change is whole).
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        crate::state::lock(&self.known)
    }

    /// The endpoints in use: this installation's choice, else the app's own.
    fn endpoints(&self, preferences: &Preferences) -> Vec<Url> {
        preferences
            .update_endpoint
            .as_deref()
            .and_then(|e| Url::parse(e).ok())
            .map(|e| vec![e])
            .unwrap_or_else(|| self.default_endpoints.clone())
    }

    /// Whether checks run by themselves: in builds for people, or wherever an update server was
    /// chosen (development builds otherwise stay quiet).
    pub fn checks_automatically(&self) -> bool {
        !cfg!(debug_assertions) || Preferences::load(&self.data_dir).update_endpoint.is_some()
    }

    /// What Settings → About shows now.
    pub fn status(&self) -> UpdateStatus {
        let preferences = Preferences::load(&self.data_dir);
        let known = self.known();
        UpdateStatus {
            current_version: env!("CARGO_PKG_VERSION").to_string(),
            endpoint: self
                .endpoints(&preferences)
                .first()
                .map(|u| u.as_str().replace("%7B", "{").replace("%7D", "}"))
                .unwrap_or_default(),
            custom_endpoint: preferences.update_endpoint.is_some(),
            last_check: preferences.last_update_check,
            state: known.state.clone(),
            problem: known.problem.clone(),
            cannot_install: self.cannot_install.clone(),
        }
    }

    fn change(&self, change: impl FnOnce(&mut Known)) -> UpdateStatus {
        {
            let mut known = self.known();
            change(&mut known);
        }
        let status = self.status();
        (self.publish)(&status);
        status
    }

    /// Chooses this installation's update server (`None`: the app's own), after checking the
    /// address; the next check uses it.
    pub fn set_endpoint(&self, endpoint: Option<&str>) -> Result<UpdateStatus, String> {
        let endpoint = match endpoint.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => Some(
                zentro_core::updates::endpoint(e, cfg!(debug_assertions))
                    .map_err(|e| e.to_string())?
                    .to_string(),
            ),
            None => None,
        };
        Preferences::update(&self.data_dir, |p| p.update_endpoint = endpoint)
            .map_err(|e| format!("The setting could not be saved: {e}"))?;
        Ok(self.change(|known| {
            known.pending = None;
            known.problem = None;
            known.state = UpdateState::Unknown;
        }))
    }

    /// Asks the update server whether a newer version exists. While an installation runs this
    /// only reports the status.
    pub async fn check(&self) -> UpdateStatus {
        let Ok(_busy) = self.busy.try_lock() else {
            return self.status();
        };
        self.change(|known| known.state = UpdateState::Checking);
        let preferences = Preferences::load(&self.data_dir);
        let endpoints = self.endpoints(&preferences);
        let result = match (self.make_updater)(endpoints) {
            Ok(updater) => updater.check().await,
            Err(error) => Err(error),
        };
        if let Err(error) = Preferences::update(&self.data_dir, |p| {
            p.last_update_check = Some(now_secs());
        }) {
            tracing::warn!(%error, "the time of the update check could not be saved");
        }
        match result {
            Ok(Some(update)) => {
                tracing::info!(version = %update.version, "an update is available");
                self.change(|known| {
                    known.state = UpdateState::Available {
                        version: update.version.clone(),
                        notes: update.body.clone(),
                    };
                    known.problem = None;
                    known.pending = Some(update);
                })
            }
            Ok(None) => self.change(|known| {
                known.state = UpdateState::UpToDate;
                known.problem = None;
                known.pending = None;
            }),
            Err(error) => {
                tracing::warn!(%error, "the update check failed");
                self.change(|known| {
                    known.problem = Some(explain(&error));
                    known.state = match &known.pending {
                        Some(update) => UpdateState::Available {
                            version: update.version.clone(),
                            notes: update.body.clone(),
                        },
                        None => UpdateState::Unknown,
                    };
                })
            }
        }
    }

    /// Downloads the offered update and verifies its signature, reporting progress; the bytes
    /// are returned only when they are exactly what the release key signed for that version.
    pub async fn download(&self) -> Result<(Update, Vec<u8>), String> {
        let update = {
            let known = self.known();
            known.pending.clone()
        }
        .ok_or_else(|| "No update is waiting: check for updates first.".to_string())?;
        let version = update.version.clone();
        self.change(|known| {
            known.problem = None;
            known.state = UpdateState::Downloading {
                version: version.clone(),
                received: 0,
                total: None,
            };
        });
        let mut received = 0u64;
        let mut announced = std::time::Instant::now();
        let result = update
            .download(
                |chunk, total| {
                    received += chunk as u64;
                    if announced.elapsed() >= Duration::from_millis(150) || total == Some(received)
                    {
                        announced = std::time::Instant::now();
                        self.change(|known| {
                            known.state = UpdateState::Downloading {
                                version: version.clone(),
                                received,
                                total,
                            };
                        });
                    }
                },
                || {},
            )
            .await;
        match result {
            Ok(bytes) => {
                tracing::info!(%version, bytes = bytes.len(), "update downloaded and verified");
                self.offer_again(None);
                Ok((update, bytes))
            }
            Err(error) => {
                tracing::warn!(%error, %version, "the update was refused");
                let reason = explain(&error);
                self.offer_again(Some(&reason));
                Err(reason)
            }
        }
    }

    /// Back to offering the update, saying why the attempt failed if it did.
    fn offer_again(&self, problem: Option<&str>) {
        self.change(|known| {
            known.problem = problem.map(str::to_string);
            known.state = match &known.pending {
                Some(update) => UpdateState::Available {
                    version: update.version.clone(),
                    notes: update.body.clone(),
                },
                None => UpdateState::Unknown,
            };
        });
    }

    /// "Install and restart": downloads and verifies the offered update, installs it and
    /// restarts into it. On any failure the installed app is unchanged and the reason returned.
    pub async fn install(&self) -> Result<UpdateStatus, String> {
        if let Some(reason) = &self.cannot_install {
            return Err(reason.clone());
        }
        let Ok(_busy) = self.busy.try_lock() else {
            return Err("An update is already being checked or installed.".into());
        };
        let (update, bytes) = self.download().await?;
        let version = update.version.clone();
        self.change(|known| {
            known.state = UpdateState::Installing {
                version: version.clone(),
            }
        });
        // The package tools run as separate processes (and may wait for a password).
        let installed = tokio::task::spawn_blocking(move || update.install(bytes)).await;
        match installed {
            Ok(Ok(())) => {
                tracing::info!(%version, "update installed; restarting");
                let status = self.change(|known| {
                    known.pending = None;
                    known.state = UpdateState::Installed { version };
                });
                (self.restart)();
                Ok(status)
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, %version, "the update could not be installed");
                let reason = explain(&error);
                self.offer_again(Some(&reason));
                Err(reason)
            }
            Err(error) => {
                tracing::error!(%error, "the installation task failed");
                let reason = "The installation stopped unexpectedly; nothing changed.".to_string();
                self.offer_again(Some(&reason));
                Err(reason)
            }
        }
    }

    /// Checks at start (after a short pause, so start-up comes first) and then whenever the
    /// last check is six hours old, while the app runs.
    pub fn check_periodically(self: &Arc<Self>) {
        let this = self.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            if this.checks_automatically() {
                this.check().await;
            }
            loop {
                tokio::time::sleep(Duration::from_secs(10 * 60)).await;
                let last = Preferences::load(&this.data_dir).last_update_check;
                if this.checks_automatically() && zentro_core::updates::check_due(last, now_secs())
                {
                    this.check().await;
                }
            }
        });
    }
}

/// The update servers named in the app's configuration (`plugins.updater.endpoints`).
pub fn configured_endpoints(config: &tauri::Config) -> Vec<Url> {
    config
        .plugins
        .0
        .get("updater")
        .and_then(|updater| updater.get("endpoints"))
        .and_then(|endpoints| serde_json::from_value(endpoints.clone()).ok())
        .unwrap_or_default()
}
