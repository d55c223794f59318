//! The state every command can reach.

use std::path::Path;

use zentro_core::LazyCache;

/// Shared app state, managed once at start-up.
#[derive(Debug)]
pub struct AppState {
    /// The local cache, opened on first use.
    pub cache: LazyCache,
}

impl AppState {
    /// State for an app whose data lives in `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            cache: LazyCache::in_dir(data_dir),
        }
    }
}
