//! The real desktop app binary, built from this workspace.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Cargo's target directory for this workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Where tests put artifacts people look at (screenshots): `$ZENTRO_ARTIFACTS_DIR` or
/// `target/artifacts`.
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("ZENTRO_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("artifacts"))
}

/// Builds the app (a no-op when it is up to date) and returns its binary.
///
/// `$ZENTRO_APP_BIN` names a prebuilt binary instead. The UI must have been built into `ui/dist`
/// first (`npm --prefix ui run build`), since the app embeds it.
pub fn app_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("ZENTRO_APP_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let root = workspace_root();
    anyhow::ensure!(
        root.join("ui/dist/index.html").is_file(),
        "ui/dist is missing: build the UI first with `npm --prefix ui run build`"
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            "zentro-desk",
            "--bin",
            "zentro-desk",
        ])
        .status()?;
    anyhow::ensure!(status.success(), "building the app failed ({status})");
    let bin = target_dir().join("debug").join("zentro-desk");
    anyhow::ensure!(bin.is_file(), "the app binary is not at {}", bin.display());
    Ok(bin)
}

/// Marks a data directory as past the first-run welcome (sandbox or relay), for tests that start
/// elsewhere.
pub fn skip_welcome(data_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(data_dir.join("sign-in.json"), r#"{"welcomed": true}"#)
}
