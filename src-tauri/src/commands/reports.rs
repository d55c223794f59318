//! The Reports page: a report computed on this desk from its own cache (`zentro_core::reports`),
//! the desk's time zone its default query uses, and a table saved as CSV to the Downloads folder.

use std::path::{Path, PathBuf};

use tauri::State;
use zentro_core::reports::{self, Report, ReportQuery};
use zentro_events::clock::now_ms;

use crate::{AppState, CommandError, ErrorCode};

/// The file name prefix of every saved report table.
const PREFIX: &str = "zentro-report-";

/// The longest table name kept in a file name (the rest is cut).
const MAX_NAME: usize = 48;

/// The figures of `query`'s days and filters, from this desk's cache (nothing about them is sent
/// anywhere), agents named with the team list the desk knows (kept empty where it knows none).
/// `invalid` names the date, range or time zone that can't be used and what to write instead.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(since = %query.since, until = %query.until), err(Display, level = "warn"))]
pub async fn report(
    state: State<'_, AppState>,
    query: ReportQuery,
) -> Result<Report, CommandError> {
    let cache = state.cache().await?;
    let mut report = reports::report(&cache, &query, now_ms()).await?;
    if let Some(desk) = state.desk().await {
        // The team list comes from the relay, else the one last seen; a report never waits on it.
        match desk.members().await {
            Ok(members) => reports::name_agents(&mut report, &members),
            Err(error) => tracing::warn!(%error, "the report's agents are shown without emails"),
        }
    }
    Ok(report)
}

/// The computer's IANA time zone (`Europe/Berlin`), the one reports count days in; `UTC` when
/// the system does not say.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub fn desk_time_zone() -> String {
    zone_or_utc(iana_time_zone::get_timezone().ok())
}

/// `zone` when the system named one, else `UTC`.
fn zone_or_utc(zone: Option<String>) -> String {
    zone.filter(|z| !z.trim().is_empty())
        .unwrap_or_else(|| "UTC".to_owned())
}

/// Saves a report table, already written as CSV by the page, to the Downloads folder as
/// `zentro-report-<name>-<today>.csv` (never over an earlier file) and shows it in the file
/// manager. Returns where it went.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(name = %name, bytes = csv.len()), err(Display, level = "warn"))]
pub fn save_report_csv(
    state: State<'_, AppState>,
    name: String,
    csv: String,
) -> Result<String, CommandError> {
    save_csv(&state, &name, &csv)
}

/// Saves `csv` to the Downloads folder as `zentro-report-<name>-<today>.csv` (never over an
/// earlier file) and shows it in the file manager; where it went. Also the Broadcasts page's
/// recipients and outcomes.
pub(crate) fn save_csv(state: &AppState, name: &str, csv: &str) -> Result<String, CommandError> {
    let folder = if state.downloads.is_dir() {
        state.downloads.clone()
    } else {
        state.data_dir.join("exports")
    };
    let path = write_csv(&folder, name, csv, &today())?;
    if let Err(error) = tauri_plugin_opener::reveal_item_in_dir(&path) {
        tracing::warn!(%error, "a saved report could not be shown in the file manager");
    }
    Ok(path.display().to_string())
}

fn today() -> String {
    zentro_core::utc::UtcTime::from_ms(now_ms()).date()
}

/// `name` as a file name part: lower-case letters, digits and dashes only (`report` if nothing
/// is left), so no name the page passes can leave the folder or hide an extension.
fn file_part(name: &str) -> String {
    let mut part = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (part.is_empty() || part.ends_with('-'))) {
            part.push(c);
        }
    }
    let part: String = part.chars().take(MAX_NAME).collect();
    let part = part.trim_end_matches('-');
    if part.is_empty() {
        "report".to_owned()
    } else {
        part.to_owned()
    }
}

/// Writes `csv` into `folder` (created if missing) under a new file name; where.
fn write_csv(folder: &Path, name: &str, csv: &str, date: &str) -> Result<PathBuf, CommandError> {
    let failed = |path: &Path, error: std::io::Error| {
        CommandError::new(
            ErrorCode::Internal,
            format!(
                "The report could not be saved to {}: {error}. Check that the folder is writable and the disk has free space.",
                path.display()
            ),
        )
    };
    std::fs::create_dir_all(folder).map_err(|e| failed(folder, e))?;
    let stem = format!("{PREFIX}{}-{date}", file_part(name));
    let mut n = 1;
    loop {
        let path = if n == 1 {
            folder.join(format!("{stem}.csv"))
        } else {
            folder.join(format!("{stem}-{n}.csv"))
        };
        // `create_new` never replaces a file, even one made between a check and the write.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                use std::io::Write;
                file.write_all(csv.as_bytes())
                    .map_err(|e| failed(&path, e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(failed(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_name_becomes_a_safe_file_name_part() {
        assert_eq!(file_part("By agent"), "by-agent");
        assert_eq!(file_part("../../etc/passwd"), "etc-passwd");
        assert_eq!(file_part("daily.exe"), "daily-exe");
        assert_eq!(file_part("  "), "report");
        assert_eq!(file_part("Équipe"), "quipe");
        assert_eq!(file_part(&"a".repeat(200)).len(), MAX_NAME);
    }

    #[test]
    fn a_saved_table_never_replaces_an_earlier_file() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("Downloads");
        let first = write_csv(&folder, "by agent", "a,b\r\n", "2026-12-06").unwrap();
        let second = write_csv(&folder, "by agent", "c,d\r\n", "2026-12-06").unwrap();
        assert_eq!(
            first.file_name().unwrap(),
            "zentro-report-by-agent-2026-12-06.csv"
        );
        assert_eq!(
            second.file_name().unwrap(),
            "zentro-report-by-agent-2026-12-06-2.csv"
        );
        assert_eq!(std::fs::read_to_string(first).unwrap(), "a,b\r\n");
        assert_eq!(std::fs::read_to_string(second).unwrap(), "c,d\r\n");
    }

    #[test]
    fn the_zone_falls_back_to_utc_when_the_system_names_none() {
        assert_eq!(zone_or_utc(None), "UTC");
        assert_eq!(zone_or_utc(Some(" ".into())), "UTC");
        assert_eq!(zone_or_utc(Some("Europe/Berlin".into())), "Europe/Berlin");
    }
}
