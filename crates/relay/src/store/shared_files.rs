//! Files shared with Meta by link, in the database (ADR 0012 §7): on PostgreSQL, so that every
//! instance serves `/shared/…`. On SQLite the relay keeps them in its data directory instead
//! (`crate::http::shared_files`); see [`Store::keeps_shared_files`].

use super::{Result, Store};
use crate::{read, sql};

pub use zentro_relay_store::shared_files::{SharedFile, SharedUsage};

impl Store {
    /// Whether shared files live in the database (PostgreSQL: several instances serve them) rather
    /// than in the data directory's folder (SQLite: one process, and a 25 MB body must not hold
    /// the one writer's lock).
    pub fn keeps_shared_files(&self) -> bool {
        self.is_postgres()
    }

    /// Keeps `file` if its workspace's files not expired at `now` (UTC ms) stay within `fits`;
    /// otherwise keeps nothing and returns what the workspace uses (`Err`). The check and the
    /// insert run in one transaction, under a lock on the workspace's shared files (never its
    /// counter row), so two uploads cannot both take the last place.
    pub async fn share_file(
        &self,
        file: &SharedFile,
        now: i64,
        fits: impl FnOnce(&SharedUsage) -> bool,
    ) -> Result<std::result::Result<(), SharedUsage>> {
        let mut tx = self.begin().await?;
        sql!(
            tx.conn(),
            shared_files::lock_shared_files(&file.workspace_id)
        )?;
        let usage = sql!(
            tx.conn(),
            shared_files::shared_usage(&file.workspace_id, now)
        )?;
        if !fits(&usage) {
            return Ok(Err(usage));
        }
        sql!(tx.conn(), shared_files::keep_shared_file(file))?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// The shared file of `token`, unless it expired at `now` (UTC ms).
    pub async fn shared_file(&self, token: &str, now: i64) -> Result<Option<SharedFile>> {
        Ok(read!(self, shared_files::shared_file(token, now))?)
    }

    /// Deletes the shared files expired at `now` (UTC ms); returns how many.
    pub async fn sweep_shared_files(&self, now: i64) -> Result<u64> {
        Ok(read!(self, shared_files::sweep_shared_files(now))?)
    }
}
