//! The Pages a Facebook Login shared (ADR 0012 §6), between `/signup/pages/accounts` and
//! `/signup/pages/connect`, so that another instance may connect what one listed. Their Page
//! tokens arrive sealed (the caller seals them under the token key, the signup id as associated
//! data); taken once, forgotten when the signup ends, pruned once expired.

use super::{Result, Store};
use crate::{read, sql};

pub use zentro_relay_store::signup_pages::SignupPage;

impl Store {
    /// Keeps the Pages a signup's login shared, replacing any it kept before, in one transaction.
    pub async fn keep_signup_pages(&self, signup_id: &str, pages: &[SignupPage]) -> Result<()> {
        let mut tx = self.begin().await?;
        sql!(tx.conn(), signup_pages::forget_signup_pages(signup_id))?;
        for page in pages {
            sql!(tx.conn(), signup_pages::keep_signup_page(signup_id, page))?;
        }
        tx.commit().await
    }

    /// Takes the Pages a signup's login shared, in Meta's order, unless their choice expired at
    /// `now` (UTC ms): `None` when there are none (never shared, taken already, or expired). Only
    /// one caller can take them.
    pub async fn take_signup_pages(
        &self,
        signup_id: &str,
        now: i64,
    ) -> Result<Option<Vec<SignupPage>>> {
        let mut pages = read!(self, signup_pages::take_signup_pages(signup_id))?;
        if pages.is_empty() || pages.iter().any(|p| p.expires_at <= now) {
            return Ok(None);
        }
        pages.sort_by_key(|p| p.position);
        Ok(Some(pages))
    }

    /// Forgets the Pages a signup's login shared (it was cancelled, failed or connected).
    pub async fn forget_signup_pages(&self, signup_id: &str) -> Result<()> {
        Ok(read!(self, signup_pages::forget_signup_pages(signup_id))?)
    }

    /// Deletes the Pages whose choice expired at `now` (UTC ms); returns how many.
    pub async fn prune_signup_pages(&self, now: i64) -> Result<u64> {
        Ok(read!(self, signup_pages::prune_signup_pages(now))?)
    }
}
