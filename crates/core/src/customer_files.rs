//! Files customers send, made harmless to show, keep and open (threat model: a customer sending
//! hostile files, `docs/security.md`).
//!
//! - **Names.** What a desk shows and names a file comes from [`stored_name`]: the customer's
//!   name cleaned by [`display_name`] (no bidi controls, zero-width or other invisible format
//!   characters, control characters or path separators), its extension replaced by the one the
//!   allow-list gives the MIME type ([`extension_for`]; any other type gets `.bin`). The customer's
//!   own extension never survives, so `invoice\u{202E}fdp.exe` sent as `application/pdf` is
//!   `invoicefdp.pdf`.
//! - **Opening.** [`refusal`] decides whether a file may be handed to the system's opener: only
//!   allow-listed types, and never one whose type, customer-given extension or first bytes say it
//!   is a program or a script on Linux, Windows or macOS. A refused file can only be saved
//!   ([`save_copy`]); the desk says why.
//! - **Opened copies.** The opener needs a file with a real name, so [`open_copy`] writes one, not
//!   executable, under the one folder [`OPENED_DIR_NAME`] next to the cache
//!   (`opened/<message id>-<content hash>/<name>`). A copy is shredded (overwritten, then deleted)
//!   as soon as its message or stored file is gone: [`crate::rights::cleanup`] runs
//!   [`shred_stale_copies`] after every erasure (local or from the log), retention run and other
//!   removal of customers' data; signing a removed member out and a terminated workspace shred them
//!   all ([`shred_all_copies`]).

use std::path::{Path, PathBuf};

use crate::cache::{Cache, CacheError};

/// The folder, next to the cache file, that holds the copies handed to the system's opener.
pub const OPENED_DIR_NAME: &str = "opened";

/// The longest name a desk gives a file, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// The extension a desk gives a file whose MIME type is not on the allow-list.
pub const UNKNOWN_EXTENSION: &str = "bin";

/// The MIME types a desk keeps under their own extension and may open: what WhatsApp, Instagram
/// and Messenger carry as images, audio, video and documents. Nothing here runs code when opened
/// with the system's default application.
const ALLOWED: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
    ("image/gif", "gif"),
    ("audio/ogg", "ogg"),
    ("audio/opus", "opus"),
    ("audio/mpeg", "mp3"),
    ("audio/aac", "aac"),
    ("audio/amr", "amr"),
    ("audio/mp4", "m4a"),
    ("video/mp4", "mp4"),
    ("video/3gpp", "3gp"),
    ("application/pdf", "pdf"),
    ("text/plain", "txt"),
    ("text/csv", "csv"),
    ("application/msword", "doc"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    ("application/vnd.ms-excel", "xls"),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ("application/vnd.ms-powerpoint", "ppt"),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    ),
    ("application/vnd.oasis.opendocument.text", "odt"),
    ("application/vnd.oasis.opendocument.spreadsheet", "ods"),
    ("application/vnd.oasis.opendocument.presentation", "odp"),
];

/// MIME types of programs, scripts, installers, shortcuts and active documents on the systems we
/// bundle for (Linux, Windows, macOS) and Android. Never opened, whatever the name says.
const EXECUTABLE_TYPES: &[&str] = &[
    // Linux
    "application/x-executable",
    "application/x-elf",
    "application/x-sharedlib",
    "application/x-pie-executable",
    "application/x-object",
    "application/x-sh",
    "application/x-shellscript",
    "text/x-shellscript",
    "text/x-sh",
    "application/x-csh",
    "application/x-desktop",
    "application/x-appimage",
    "application/vnd.appimage",
    "application/x-deb",
    "application/vnd.debian.binary-package",
    "application/x-rpm",
    "application/x-redhat-package-manager",
    "application/vnd.snap",
    "application/vnd.flatpak",
    "application/vnd.flatpak.ref",
    // Windows
    "application/x-msdownload",
    "application/x-msdos-program",
    "application/x-dosexec",
    "application/x-ms-dos-executable",
    "application/vnd.microsoft.portable-executable",
    "application/x-msi",
    "application/x-ms-installer",
    "application/x-ms-shortcut",
    "application/x-mswinurl",
    "application/x-bat",
    "application/x-msdos-batch",
    "text/x-msdos-batch",
    "application/x-powershell",
    "text/x-powershell",
    "text/vbscript",
    "application/x-vbscript",
    "text/vbs",
    "application/hta",
    "application/x-ms-application",
    "application/x-ms-wim",
    "application/vnd.ms-cab-compressed",
    "application/x-wsh",
    "text/x-registry",
    // macOS
    "application/x-mach-binary",
    "application/x-apple-diskimage",
    "application/x-newton-compatible-pkg",
    "application/vnd.apple.installer+xml",
    "application/x-apple-aspen-config",
    "application/vnd.apple.applescript",
    // Everywhere
    "application/java-archive",
    "application/x-java-archive",
    "application/x-java-jnlp-file",
    "application/x-java-applet",
    "application/vnd.android.package-archive",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "text/javascript",
    "text/ecmascript",
    "text/jscript",
    "application/x-python",
    "application/x-python-code",
    "text/x-python",
    "text/x-python-script",
    "application/x-perl",
    "text/x-perl",
    "application/x-ruby",
    "text/x-ruby",
    "application/x-php",
    "text/x-php",
    "application/x-httpd-php",
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "application/x-shockwave-flash",
];

/// Extensions of programs, scripts, installers, shortcuts and active documents on Linux, Windows
/// and macOS (lower case, no dot). A file the customer named with one is never opened.
const EXECUTABLE_EXTENSIONS: &[&str] = &[
    // Windows
    "exe",
    "msi",
    "msp",
    "mst",
    "bat",
    "cmd",
    "com",
    "scr",
    "pif",
    "cpl",
    "ps1",
    "psm1",
    "psd1",
    "ps1xml",
    "psc1",
    "vb",
    "vbs",
    "vbe",
    "js",
    "jse",
    "mjs",
    "cjs",
    "wsf",
    "wsh",
    "wsc",
    "ws",
    "hta",
    "lnk",
    "url",
    "reg",
    "msc",
    "gadget",
    "application",
    "appref-ms",
    "inf",
    "scf",
    "sct",
    "chm",
    "dll",
    "sys",
    "ocx",
    "drv",
    "cab",
    "msix",
    "msixbundle",
    "appx",
    "appxbundle",
    "vhd",
    "vhdx",
    "iso",
    "img",
    "settingcontent-ms",
    "library-ms",
    "search-ms",
    "xll",
    "xbap",
    // Linux
    "sh",
    "bash",
    "zsh",
    "csh",
    "ksh",
    "fish",
    "run",
    "bin",
    "out",
    "elf",
    "so",
    "ko",
    "appimage",
    "deb",
    "rpm",
    "snap",
    "flatpak",
    "flatpakref",
    "desktop",
    "directory",
    // macOS
    "app",
    "command",
    "tool",
    "pkg",
    "mpkg",
    "dmg",
    "scpt",
    "scptd",
    "applescript",
    "workflow",
    "action",
    "terminal",
    "kext",
    "dylib",
    "bundle",
    "plugin",
    "prefpane",
    "osax",
    "webloc",
    "inetloc",
    "fileloc",
    "mobileconfig",
    // Everywhere
    "jar",
    "jnlp",
    "class",
    "apk",
    "xapk",
    "aab",
    "py",
    "pyc",
    "pyo",
    "pyw",
    "pyz",
    "pl",
    "pm",
    "rb",
    "php",
    "phar",
    "lua",
    "tcl",
    "awk",
    "html",
    "htm",
    "xhtml",
    "shtml",
    "mht",
    "mhtml",
    "svg",
    "swf",
    "xml",
    "xsl",
];

/// Why a file is not handed to the system's opener (it can still be saved, with a warning).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Its MIME type is a program, a script or an active document.
    #[error("this file's type ({0}) is a program or a script")]
    ExecutableType(String),
    /// The customer named it with the extension of a program or a script.
    #[error("this file was sent as a .{0} file, which is a program or a script")]
    ExecutableExtension(String),
    /// Its first bytes are those of a program or a script.
    #[error("this file's contents are a program or a script")]
    ExecutableContent,
    /// Its type is not one the desk opens.
    #[error("Zentro Desk does not open files of this type ({0})")]
    UnknownType(String),
}

/// Why a customer's file could not be opened or saved.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The message has no file on this computer (yet, or any more).
    #[error("this file is not on this computer")]
    NotStored,
    /// The file may not be opened; it can be saved.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The copy could not be written.
    #[error("could not write {path}: {reason}")]
    Write {
        /// The file that could not be written, as the agent chose it.
        path: String,
        /// The operating system's error, as text.
        reason: String,
    },
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// The type part of a MIME type, lower case (`Application/PDF; x=y` → `application/pdf`).
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The extension the allow-list gives `mime`; [`UNKNOWN_EXTENSION`] for any other type.
pub fn extension_for(mime: &str) -> &'static str {
    let mime = essence(mime);
    ALLOWED
        .iter()
        .find(|(m, _)| *m == mime)
        .map_or(UNKNOWN_EXTENSION, |(_, ext)| ext)
}

/// Whether `c` is invisible or reorders text: bidi controls, zero-width and other format (Cf)
/// characters, line and paragraph separators, variation selectors, fillers that render as nothing.
fn invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD // soft hyphen
            | 0x034F // combining grapheme joiner
            | 0x0600..=0x0605
            | 0x061C // Arabic letter mark
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x115F..=0x1160 // Hangul fillers
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F // Mongolian selectors and vowel separator
            | 0x200B..=0x200F // zero-width space, joiners, LRM, RLM
            | 0x2028..=0x202E // separators, LRE, RLE, PDF, LRO, RLO
            | 0x2060..=0x206F // word joiner, invisible operators, LRI, RLI, FSI, PDI, …
            | 0x3164 // Hangul filler
            | 0xFE00..=0xFE0F // variation selectors
            | 0xFEFF // zero-width no-break space
            | 0xFFA0 // halfwidth Hangul filler
            | 0xFFF0..=0xFFFB // interlinear annotation
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF // tags, variation selectors supplement
    )
}

/// Whether `c` reorders text or hides in it: bidi embeddings, overrides, isolates and marks,
/// zero-width spaces, the byte order mark. Joiners and variation selectors (emoji sequences,
/// Persian words) are not among them.
fn reordering_or_hidden(c: char) -> bool {
    matches!(
        u32::from(c),
        0x061C | 0x200B | 0x200E | 0x200F | 0x202A..=0x202E | 0x2060 | 0x2066..=0x2069 | 0xFEFF
    )
}

/// Text a customer wrote or named, fit to show next to names: without bidi controls (which
/// could make `invoice\u{202E}fdp.exe` read as `invoiceexe.pdf`), zero-width spaces or control
/// characters other than whitespace. For names and previews in lists and notifications.
pub fn visible_text(text: &str) -> String {
    text.chars()
        .filter(|&c| !reordering_or_hidden(c) && (!c.is_control() || c.is_whitespace()))
        .collect()
}

/// Characters no file name may hold on Windows or macOS, and path separators everywhere.
fn forbidden_in_names(c: char) -> bool {
    matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
}

/// A file name fit to show and to write: bidi controls, zero-width and other invisible or
/// format characters and control characters are dropped; path separators and characters Windows
/// refuses become `_`; every kind of space is one space; no leading dots or spaces, no trailing
/// dots or spaces (Windows drops those, turning `x.exe.` into `x.exe`); at most
/// [`MAX_NAME_CHARS`] characters. May be empty.
pub fn display_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_whitespace() {
            ' '
        } else if c.is_control() || invisible(c) {
            continue;
        } else if forbidden_in_names(c) {
            '_'
        } else {
            c
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    let trimmed = out
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let cut: String = trimmed.chars().take(MAX_NAME_CHARS).collect();
    cut.trim_end_matches(['.', ' ']).to_string()
}

/// Device names Windows reserves, whatever the extension.
fn reserved_on_windows(stem: &str) -> bool {
    let base = stem.split('.').next().unwrap_or_default().trim();
    let upper = base.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ((upper.starts_with("COM") || upper.starts_with("LPT"))
        && upper.len() == 4
        && upper[3..]
            .chars()
            .all(|c| c.is_ascii_digit() || "¹²³".contains(c)))
}

/// The customer's name without its extension, cleaned ([`display_name`]).
fn stem(customer_name: &str) -> String {
    let cleaned = display_name(customer_name);
    let stem = match cleaned.rsplit_once('.') {
        Some((stem, _)) if !stem.trim().is_empty() => stem,
        _ => cleaned.as_str(),
    };
    let stem = stem.trim_end_matches(['.', ' ']);
    if reserved_on_windows(stem) {
        format!("_{stem}")
    } else {
        stem.to_string()
    }
}

/// The name a desk gives a customer's file: the customer's name, cleaned ([`display_name`]) and
/// without its own extension, then the allow-list's extension for `mime` (`.bin` for any other
/// type); `message-<id>` when nothing of the customer's name is left.
pub fn stored_name(customer_name: Option<&str>, mime: &str, message_id: i64) -> String {
    let extension = extension_for(mime);
    let stem = stem(customer_name.unwrap_or_default());
    let room = MAX_NAME_CHARS.saturating_sub(extension.len() + 1);
    let stem: String = stem.chars().take(room).collect();
    let stem = stem.trim_end_matches(['.', ' ']);
    if stem.is_empty() {
        format!("message-{message_id}.{extension}")
    } else {
        format!("{stem}.{extension}")
    }
}

/// The file name a message shows: [`stored_name`] when its MIME type is known, else the name
/// cleaned by [`display_name`]; `None` when the customer gave none.
pub fn shown_name(
    customer_name: Option<&str>,
    mime: Option<&str>,
    message_id: i64,
) -> Option<String> {
    let name = customer_name?;
    Some(match mime {
        Some(mime) => stored_name(Some(name), mime, message_id),
        None => display_name(name),
    })
}

/// The extension the customer gave the file (lower case), after the cleaning Windows and
/// [`display_name`] do: `x.EXE.` and `x.exe\u{200B}` are `exe`.
fn customer_extension(customer_name: &str) -> Option<String> {
    let cleaned = display_name(customer_name);
    let (_, extension) = cleaned.rsplit_once('.')?;
    let extension = extension.trim().to_lowercase();
    (!extension.is_empty()).then_some(extension)
}

/// Whether `head` (a file's first bytes) starts like a program or a script: ELF, PE (`MZ`),
/// Mach-O (thin and fat), a `#!` script.
fn executable_content(head: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"\x7fELF",
        b"MZ",
        b"#!",
        &[0xFE, 0xED, 0xFA, 0xCE],
        &[0xFE, 0xED, 0xFA, 0xCF],
        &[0xCE, 0xFA, 0xED, 0xFE],
        &[0xCF, 0xFA, 0xED, 0xFE],
        &[0xCA, 0xFE, 0xBA, 0xBE],
    ];
    MAGIC.iter().any(|magic| head.starts_with(magic))
}

/// Whether a file the customer named `customer_name`, of type `mime`, whose first bytes are
/// `head`, may be handed to the system's opener: `None` when it may; else why not. Refused: a
/// program or script type, a customer-given extension of one (any OS), contents that start like
/// one, and every type not on the allow-list.
pub fn refusal(customer_name: Option<&str>, mime: &str, head: &[u8]) -> Option<Refusal> {
    let essence = essence(mime);
    if EXECUTABLE_TYPES.contains(&essence.as_str()) {
        return Some(Refusal::ExecutableType(essence));
    }
    if let Some(extension) = customer_name.and_then(customer_extension)
        && EXECUTABLE_EXTENSIONS.contains(&extension.as_str())
    {
        return Some(Refusal::ExecutableExtension(extension));
    }
    if executable_content(head) {
        return Some(Refusal::ExecutableContent);
    }
    if extension_for(&essence) == UNKNOWN_EXTENSION {
        return Some(Refusal::UnknownType(if essence.is_empty() {
            "unknown".to_string()
        } else {
            essence
        }));
    }
    None
}

/// The one folder of opened copies: [`OPENED_DIR_NAME`] next to `cache`'s file.
pub fn opened_dir(cache: &Cache) -> PathBuf {
    opened_dir_in(cache.path().parent().unwrap_or(Path::new(".")))
}

/// The folder of opened copies in the data directory `data_dir`.
pub fn opened_dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join(OPENED_DIR_NAME)
}

/// The folder of one message's opened copy: its id and the start of its stored file's content
/// hash, so a copy outlives neither the message nor its file.
fn copy_folder_name(message_id: i64, stored: &Path) -> String {
    let tag: String = stored
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    format!("{message_id}-{tag}")
}

/// A message's stored file, its MIME type and the customer's name for it.
async fn message_file(
    cache: &Cache,
    message_id: i64,
) -> Result<(PathBuf, String, Option<String>), FileError> {
    let Some((stored, mime)) = crate::inbox::media_file(cache, message_id).await? else {
        return Err(FileError::NotStored);
    };
    let name: Option<String> =
        sqlx::query_scalar!("SELECT file_name FROM messages WHERE id = ?", message_id)
            .fetch_optional(cache.pool())
            .await
            .map_err(CacheError::Query)?
            .flatten();
    Ok((stored, mime, name))
}

/// The first bytes of a file (fewer if it is shorter).
async fn head(path: &Path) -> Result<Vec<u8>, FileError> {
    use tokio::io::AsyncReadExt as _;
    let missing = |e: std::io::Error| {
        tracing::warn!(error = %e, "a stored media file could not be read");
        FileError::NotStored
    };
    let file = tokio::fs::File::open(path).await.map_err(missing)?;
    let mut head = Vec::with_capacity(8);
    file.take(8).read_to_end(&mut head).await.map_err(missing)?;
    Ok(head)
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> FileError + '_ {
    move |e| FileError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Copies `from` to `to` and makes the copy readable and writable by its owner only,
/// never executable.
async fn copy_plain(from: &Path, to: &Path, mode: u32) -> std::io::Result<()> {
    tokio::fs::copy(from, to).await?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tokio::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).await?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

/// A copy of a message's file for the system's default application, under its [`stored_name`]
/// in the [`opened_dir`] (not executable); refused ([`FileError::Refused`]) when [`refusal`]
/// says so, and then nothing is written.
pub async fn open_copy(cache: &Cache, message_id: i64) -> Result<PathBuf, FileError> {
    let (stored, mime, name) = message_file(cache, message_id).await?;
    if let Some(refused) = refusal(name.as_deref(), &mime, &head(&stored).await?) {
        tracing::info!(message_id, %refused, "a customer's file was not opened");
        return Err(refused.into());
    }
    let folder = opened_dir(cache).join(copy_folder_name(message_id, &stored));
    let target = folder.join(stored_name(name.as_deref(), &mime, message_id));
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(write_error(&folder))?;
    copy_plain(&stored, &target, 0o600)
        .await
        .map_err(write_error(&target))?;
    // Erased or expired while it was copied: the copy goes at once.
    let still = crate::inbox::media_file(cache, message_id).await?;
    if still.is_none_or(|(path, _)| path != stored) {
        shred_tree(&folder).await;
        return Err(FileError::NotStored);
    }
    Ok(target)
}

/// Saves a message's file into `folder` (the Downloads folder) under its [`stored_name`] (with
/// ` (2)`, ` (3)`… when taken), not executable, whatever [`refusal`] says: the user chose to keep
/// it after the warning. Returns where.
pub async fn save_copy(
    cache: &Cache,
    message_id: i64,
    folder: &Path,
) -> Result<PathBuf, FileError> {
    let (stored, mime, name) = message_file(cache, message_id).await?;
    let name = stored_name(name.as_deref(), &mime, message_id);
    tokio::fs::create_dir_all(folder)
        .await
        .map_err(write_error(folder))?;
    let (stem, extension) = name
        .rsplit_once('.')
        .unwrap_or((name.as_str(), UNKNOWN_EXTENSION));
    let mut target = folder.join(&name);
    let mut n = 2;
    while tokio::fs::symlink_metadata(&target).await.is_ok() {
        target = folder.join(format!("{stem} ({n}).{extension}"));
        n += 1;
    }
    copy_plain(&stored, &target, 0o644)
        .await
        .map_err(write_error(&target))?;
    Ok(target)
}

/// Overwrites and deletes everything under `path` (a file or a folder) without following links.
/// How many files were shredded.
async fn shred_tree(path: &Path) -> usize {
    let Ok(meta) = tokio::fs::symlink_metadata(path).await else {
        return 0;
    };
    if meta.is_dir() {
        let mut shredded = 0;
        if let Ok(mut entries) = tokio::fs::read_dir(path).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                shredded += Box::pin(shred_tree(&entry.path())).await;
            }
        }
        if let Err(error) = tokio::fs::remove_dir(path).await {
            tracing::warn!(%error, "could not delete an opened copy's folder");
        }
        shredded
    } else if meta.is_file() {
        usize::from(crate::rights::shred(path).await)
    } else {
        // A link or anything else: removed, never written through.
        let _ = tokio::fs::remove_file(path).await;
        0
    }
}

/// Shreds (overwrites, then deletes) every opened copy whose message, or whose message's stored
/// file, is gone — and anything else in the [`opened_dir`] that is not such a copy. Returns how
/// many files were shredded.
pub async fn shred_stale_copies(cache: &Cache) -> Result<usize, CacheError> {
    let dir = opened_dir(cache);
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => {
            tracing::warn!(%error, "could not read the opened copies' folder");
            return Ok(0);
        }
    };
    let mut shredded = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        let message_id = name
            .split_once('-')
            .and_then(|(id, _)| id.parse::<i64>().ok());
        let live = match message_id {
            Some(id) => crate::inbox::media_file(cache, id)
                .await?
                .is_some_and(|(stored, _)| copy_folder_name(id, &stored) == name),
            None => false,
        };
        if !live {
            shredded += shred_tree(&entry.path()).await;
        }
    }
    if shredded > 0 {
        tracing::info!(
            shredded,
            "opened copies of deleted customers' files shredded"
        );
    }
    Ok(shredded)
}

/// Shreds every opened copy in the data directory `data_dir` (a removed member's device, a
/// terminated workspace). Returns how many files were shredded.
pub async fn shred_all_copies(data_dir: &Path) -> usize {
    let dir = opened_dir_in(data_dir);
    if tokio::fs::symlink_metadata(&dir).await.is_err() {
        return 0;
    }
    let shredded = shred_tree(&dir).await;
    tracing::info!(shredded, "every opened copy of customers' files shredded");
    shredded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_no_invisible_or_reordering_characters() {
        assert_eq!(display_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(
            display_name(
                "a\u{200B}b\u{2066}c\u{2069}d\u{200E}e\u{200F}f\u{061C}g\u{FEFF}h\u{E0041}"
            ),
            "abcdefgh"
        );
        assert_eq!(display_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(display_name(".bashrc"), "bashrc");
        assert_eq!(display_name("x.exe. . "), "x.exe");
        assert_eq!(display_name("a\tb\n\u{00A0}c"), "a b c");
        assert_eq!(display_name("C:\\x"), "C__x");
        assert_eq!(
            display_name(&"a".repeat(500)).chars().count(),
            MAX_NAME_CHARS
        );
    }

    /// Names built at random from the characters attackers use (bidi controls, invisible and
    /// control characters, separators, dots, spaces, executable extensions, Windows device
    /// names) keep every promise: nothing invisible or reordering, no separator, no leading dot,
    /// no trailing dot or space, no device name, at most [`MAX_NAME_CHARS`], the allow-list's
    /// extension; and a name ending in a program's extension is never opened.
    #[test]
    fn random_hostile_names_keep_every_promise() {
        const PIECES: &[&str] = &[
            "\u{202E}",
            "\u{202A}",
            "\u{202D}",
            "\u{2066}",
            "\u{2067}",
            "\u{2069}",
            "\u{200E}",
            "\u{200F}",
            "\u{061C}",
            "\u{200B}",
            "\u{FEFF}",
            "\u{00AD}",
            "\u{E0041}",
            "\u{FE0F}",
            "\u{0000}",
            "\u{0007}",
            "\n",
            "\t",
            "\u{2028}",
            "\u{00A0}",
            "/",
            "\\",
            ":",
            "*",
            "?",
            "\"",
            "<",
            ">",
            "|",
            ".",
            "..",
            " ",
            "invoice",
            "fdp",
            "CON",
            "com1",
            "lpt9",
            "nul",
            "photo",
            "ملف",
            "写真",
            "exe",
            "sh",
            "desktop",
            "pdf",
            "AppImage",
            "lnk",
            "a",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % n as u64).unwrap_or(0)
        };
        let mimes = [
            "application/pdf",
            "image/jpeg",
            "application/x-msdownload",
            "",
            "text/plain",
        ];
        for round in 0..20_000 {
            let mut name: String = (0..next(12) + 1)
                .map(|_| PIECES[next(PIECES.len())])
                .collect();
            if round % 3 == 0 {
                name.push('.');
                name.push_str(EXECUTABLE_EXTENSIONS[next(EXECUTABLE_EXTENSIONS.len())]);
            }
            let mime = mimes[next(mimes.len())];
            let stored = stored_name(Some(&name), mime, 7);
            let shown = display_name(&name);
            for out in [&stored, &shown] {
                assert!(
                    !out.chars()
                        .any(|c| c.is_control() || invisible(c) || forbidden_in_names(c)),
                    "{name:?} → {out:?}"
                );
                assert!(out.chars().count() <= MAX_NAME_CHARS, "{name:?} → {out:?}");
                assert!(!out.starts_with(['.', ' ']), "{name:?} → {out:?}");
                assert!(!out.ends_with(['.', ' ']), "{name:?} → {out:?}");
            }
            assert!(
                stored.ends_with(&format!(".{}", extension_for(mime))),
                "{name:?} → {stored:?}"
            );
            assert!(!reserved_on_windows(&stored), "{name:?} → {stored:?}");
            if let Some(extension) = customer_extension(&name)
                && EXECUTABLE_EXTENSIONS.contains(&extension.as_str())
            {
                assert!(
                    refusal(Some(&name), "application/pdf", b"%PDF").is_some(),
                    "{name:?}"
                );
            }
            if round % 3 == 0 && !shown.is_empty() && shown.contains('.') {
                // The executable extension appended last survives cleaning, so it is refused.
                let last = shown
                    .rsplit_once('.')
                    .map(|(_, e)| e.to_lowercase())
                    .unwrap_or_default();
                if EXECUTABLE_EXTENSIONS.contains(&last.as_str()) {
                    assert!(
                        refusal(Some(&name), "image/jpeg", b"\xFF\xD8").is_some(),
                        "{name:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn text_keeps_no_reordering_characters_but_keeps_joiners() {
        assert_eq!(visible_text("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(visible_text("a\u{2067}b\u{200B}c\u{0007}\nd"), "abc\nd");
        assert_eq!(
            visible_text("👨\u{200D}👩\u{200D}👧 می\u{200C}خواهم"),
            "👨\u{200D}👩\u{200D}👧 می\u{200C}خواهم"
        );
    }

    #[test]
    fn stored_names_take_their_extension_from_the_allow_list() {
        assert_eq!(
            stored_name(Some("invoice\u{202E}fdp.exe"), "application/pdf", 1),
            "invoicefdp.pdf"
        );
        assert_eq!(
            stored_name(Some("receipt.pdf"), "Application/PDF; q=1", 2),
            "receipt.pdf"
        );
        assert_eq!(
            stored_name(Some("tool.exe"), "application/x-msdownload", 3),
            "tool.bin"
        );
        assert_eq!(stored_name(None, "image/jpeg", 4), "message-4.jpg");
        assert_eq!(stored_name(Some(".exe"), "text/plain", 5), "exe.txt");
        assert_eq!(
            stored_name(Some("\u{202E}"), "text/plain", 6),
            "message-6.txt"
        );
        assert_eq!(stored_name(Some("con.txt"), "text/plain", 7), "_con.txt");
        assert_eq!(stored_name(Some("COM1"), "text/plain", 8), "_COM1.txt");
        assert!(stored_name(Some(&"a".repeat(500)), "application/pdf", 9).ends_with("a.pdf"));
        assert_eq!(
            stored_name(Some(&"a".repeat(500)), "application/pdf", 9)
                .chars()
                .count(),
            MAX_NAME_CHARS
        );
    }

    #[test]
    fn programs_and_scripts_are_refused_by_type_extension_and_contents() {
        assert_eq!(
            refusal(Some("receipt.pdf"), "application/pdf", b"%PDF-1.7"),
            None
        );
        assert_eq!(refusal(None, "image/jpeg", b"\xFF\xD8\xFF"), None);
        assert!(matches!(
            refusal(Some("a.pdf"), "application/x-msdownload", b""),
            Some(Refusal::ExecutableType(_))
        ));
        for name in [
            "a.EXE",
            "a.desktop",
            "a.sh",
            "a.AppImage",
            "a.command",
            "a.ps1",
            "a.lnk",
            "a.exe.",
            "a.jar\u{200B}",
        ] {
            assert!(
                matches!(
                    refusal(Some(name), "application/pdf", b"%PDF"),
                    Some(Refusal::ExecutableExtension(_))
                ),
                "{name}"
            );
        }
        for head in [
            &b"\x7fELF\x02"[..],
            b"MZ\x90\x00",
            b"#!/bin/sh",
            &[0xCF, 0xFA, 0xED, 0xFE],
        ] {
            assert_eq!(
                refusal(Some("a.pdf"), "application/pdf", head),
                Some(Refusal::ExecutableContent)
            );
        }
        assert!(matches!(
            refusal(Some("a.zip"), "application/zip", b"PK"),
            Some(Refusal::UnknownType(_))
        ));
    }
}
