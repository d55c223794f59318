//! WhatsApp message templates as the relay keeps them for each workspace (issue 24): Meta's
//! description of each (refreshed, created, or changed by a status webhook) and the workspace's
//! own choices (variables, what each stands in for).

pub use zentro_relay_store::templates::TemplateRow;

use super::{Result, Store};
use crate::read;

impl Store {
    /// A workspace's templates, by account, name and language.
    pub async fn templates(&self, workspace_id: &str) -> Result<Vec<TemplateRow>> {
        Ok(read!(self, templates::templates(workspace_id))?)
    }

    /// Keeps what Meta lists for account `account_id` (new ones with their default variables) and
    /// forgets what it no longer lists there.
    pub async fn save_templates_from_meta(
        &self,
        workspace_id: &str,
        account_id: &str,
        rows: &[TemplateRow],
    ) -> Result<()> {
        let kept = self.templates(workspace_id).await?;
        for old in kept.iter().filter(|t| t.account_id == account_id) {
            if !rows
                .iter()
                .any(|r| r.name == old.name && r.language == old.language)
            {
                read!(
                    self,
                    templates::remove(workspace_id, account_id, &old.name, &old.language)
                )?;
            }
        }
        for row in rows {
            read!(self, templates::save_from_meta(workspace_id, row))?;
        }
        Ok(())
    }

    /// Keeps one template as Meta described it (with `row`'s variables and use when new).
    pub async fn save_template(&self, workspace_id: &str, row: &TemplateRow) -> Result<()> {
        Ok(read!(self, templates::save_from_meta(workspace_id, row))?)
    }

    /// Sets a template's variables and what it stands in for (from `row`); whether the
    /// workspace has it.
    pub async fn set_template_uses(&self, workspace_id: &str, row: &TemplateRow) -> Result<bool> {
        Ok(read!(self, templates::set_uses(workspace_id, row))?)
    }

    /// A status Meta announced for a template of account `account_id` (in `row`), in every
    /// workspace keeping it; the workspaces it changed.
    pub async fn set_template_status(
        &self,
        account_id: &str,
        row: &TemplateRow,
    ) -> Result<Vec<String>> {
        Ok(read!(self, templates::set_status(account_id, row))?)
    }
}
