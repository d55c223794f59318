//! The main window comes back where the user left it: its size, position and whether it was
//! maximized are kept in `window.json` in the data folder (written once it keeps still) and restored at start — unless the screen it was on is gone or the size is
//! implausible, then the window starts centred at its default size.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{PhysicalPosition, PhysicalSize, Runtime, WebviewWindow, WindowEvent};

/// The file, in the data folder.
pub const FILE: &str = "window.json";

/// The window's outer placement, in physical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The outer size, frame included, as the window had it last (unmaximized).
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// The outer top-left corner, from the top-left of the whole desktop (it may be negative on
    /// a monitor left of or above the primary one).
    pub x: i32,
    /// See `x`.
    pub y: i32,
    /// Maximized (size and position are then the unmaximized ones).
    pub maximized: bool,
}

impl Placement {
    /// Whether the placement can be used: a plausible size whose top-left area lies on one of
    /// `screens` (`(x, y, width, height)` each).
    pub fn fits(&self, screens: &[(i32, i32, u32, u32)]) -> bool {
        let plausible =
            (400..=16_384).contains(&self.width) && (300..=16_384).contains(&self.height);
        let (cx, cy) = (self.x.saturating_add(50), self.y.saturating_add(20));
        plausible
            && screens.iter().any(|&(x, y, w, h)| {
                cx >= x
                    && cy >= y
                    && cx < x.saturating_add(w as i32)
                    && cy < y.saturating_add(h as i32)
            })
    }
}

/// Reads the saved placement, if any and readable.
pub fn load(data_dir: &Path) -> Option<Placement> {
    let text = std::fs::read_to_string(data_dir.join(FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn save(data_dir: &Path, placement: &Placement) {
    let path = data_dir.join(FILE);
    let result = serde_json::to_vec(placement)
        .map_err(std::io::Error::other)
        .and_then(|bytes| {
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)
        });
    if let Err(error) = result {
        tracing::debug!(%error, "the window placement could not be saved");
    }
}

fn current<R: Runtime>(window: &WebviewWindow<R>) -> Option<Placement> {
    let size = window.outer_size().ok()?;
    let position = window.outer_position().ok()?;
    Some(Placement {
        width: size.width,
        height: size.height,
        x: position.x,
        y: position.y,
        maximized: window.is_maximized().unwrap_or(false),
    })
}

/// Puts `window` where it was last time and keeps the file up to date from now on.
pub fn keep<R: Runtime>(window: &WebviewWindow<R>, data_dir: &Path) {
    if let Some(placement) = load(data_dir) {
        let screens: Vec<(i32, i32, u32, u32)> = window
            .available_monitors()
            .unwrap_or_default()
            .iter()
            .map(|m| {
                (
                    m.position().x,
                    m.position().y,
                    m.size().width,
                    m.size().height,
                )
            })
            .collect();
        if placement.fits(&screens) {
            let _ = window.set_size(PhysicalSize::new(placement.width, placement.height));
            let _ = window.set_position(PhysicalPosition::new(placement.x, placement.y));
            if placement.maximized {
                let _ = window.maximize();
            }
        } else {
            tracing::info!("the saved window placement is off-screen; starting centred");
        }
    }
    let (watched, folder): (WebviewWindow<R>, PathBuf) = (window.clone(), data_dir.to_path_buf());
    // Saved once the window has been still for a moment (a drag or resize sends many events),
    // and at once when it closes.
    let changes = std::sync::Arc::new(AtomicU64::new(0));
    window.on_window_event(move |event| {
        let closing = matches!(event, WindowEvent::CloseRequested { .. });
        if closing {
            remember(&watched, &folder);
            return;
        }
        if !matches!(event, WindowEvent::Resized(_) | WindowEvent::Moved(_)) {
            return;
        }
        let change = changes.fetch_add(1, Ordering::SeqCst) + 1;
        let (changes, watched, folder) = (changes.clone(), watched.clone(), folder.clone());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(SETTLE).await;
            if changes.load(Ordering::SeqCst) == change {
                remember(&watched, &folder);
            }
        });
    });
}

/// How long the window must keep still before its placement is written.
const SETTLE: Duration = Duration::from_millis(400);

fn remember<R: Runtime>(window: &WebviewWindow<R>, folder: &Path) {
    if let Some(mut placement) = current(window) {
        // A maximized window keeps the size it will return to.
        if placement.maximized
            && let Some(before) = load(folder)
        {
            placement = Placement {
                maximized: true,
                ..before
            };
        }
        save(folder, &placement);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: [(i32, i32, u32, u32); 1] = [(0, 0, 1920, 1080)];

    fn at(x: i32, y: i32, width: u32, height: u32) -> Placement {
        Placement {
            width,
            height,
            x,
            y,
            maximized: false,
        }
    }

    #[test]
    fn only_plausible_placements_on_a_present_screen_are_restored() {
        assert!(at(100, 80, 1280, 800).fits(&SCREEN));
        // The second monitor it was on is unplugged.
        assert!(!at(2500, 100, 1280, 800).fits(&SCREEN));
        assert!(at(2500, 100, 1280, 800).fits(&[SCREEN[0], (1920, 0, 2560, 1440)]));
        // Dragged almost off the top-left edge, or absurd sizes.
        assert!(!at(-1000, -1000, 1280, 800).fits(&SCREEN));
        assert!(!at(0, 0, 10, 10).fits(&SCREEN));
        assert!(!at(0, 0, 100_000, 800).fits(&SCREEN));
    }

    #[test]
    fn a_placement_round_trips_through_its_file_and_a_broken_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()), None);
        let placement = Placement {
            maximized: true,
            ..at(10, 20, 1000, 700)
        };
        save(dir.path(), &placement);
        assert_eq!(load(dir.path()), Some(placement));
        std::fs::write(dir.path().join(FILE), "{not json").unwrap();
        assert_eq!(load(dir.path()), None);
    }
}
