use std::path::Path;

/// The committed TypeScript bindings must be exactly what the Rust commands generate.
/// To refresh them: `ZENTRO_UPDATE_BINDINGS=1 cargo test -p zentro-desk --test it bindings`.
#[test]
fn typescript_bindings_are_up_to_date() {
    let committed_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(zentro_desk::bindings::BINDINGS_PATH);
    let dir = tempfile::tempdir().unwrap();
    let fresh_path = dir.path().join("bindings.ts");
    zentro_desk::bindings::export(&fresh_path).unwrap();
    let fresh = std::fs::read_to_string(&fresh_path).unwrap();

    if std::env::var_os("ZENTRO_UPDATE_BINDINGS").is_some() {
        std::fs::write(&committed_path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: regenerate it with `ZENTRO_UPDATE_BINDINGS=1 cargo test -p zentro-desk --test it bindings`",
        committed_path.display()
    );
}

#[test]
fn bindings_expose_the_cache_status_command_and_error_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bindings.ts");
    zentro_desk::bindings::export(&path).unwrap();
    let ts = std::fs::read_to_string(path).unwrap();
    assert!(ts.contains("cacheStatus"), "{ts}");
    assert!(ts.contains("\"cache_unavailable\""), "{ts}");
    assert!(ts.contains("schemaVersion"), "{ts}");
}
