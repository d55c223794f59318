//! Leases on background work (ADR 0012 §5): pruning, quarantine trimming, idle-session expiry and
//! channel checks run on one relay instance at a time; when it dies, its lease expires and another
//! instance takes the work over.

use std::time::Duration;

use super::{Result, Store};
use crate::read;

/// A lease one instance holds on a job, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job (`prune`, `channel_health`).
    pub name: String,
    /// The instance holding it.
    pub holder: String,
    /// When it expires unless renewed (UTC ms, by the database's clock).
    pub expires_at: i64,
}

impl Store {
    /// Takes or renews the lease on `name` for `holder` for `ttl`: `true` when `holder` may run
    /// the job now. Jobs stay idempotent: a lease can expire in the middle of a run.
    pub async fn take_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        Ok(read!(self, leases::take_lease(name, holder, ttl_ms))?)
    }

    /// Gives up the lease on `name` if `holder` holds it (a stopping instance).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        Ok(read!(self, leases::release_lease(name, holder))?)
    }

    /// Every lease, by job name.
    pub async fn leases(&self) -> Result<Vec<Lease>> {
        let rows = read!(self, leases::leases())?;
        Ok(rows
            .into_iter()
            .map(|(name, holder, expires_at)| Lease {
                name,
                holder,
                expires_at,
            })
            .collect())
    }
}
