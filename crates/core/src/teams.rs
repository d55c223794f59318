//! Teams, presence and first-response targets as this desk knows them from the log: the
//! workspace's automation setup as its latest `workspace.automation` event carried it, members'
//! presence from `workspace.presence` events, where a conversation stands against its team's
//! first-response target (SLA), and how an action the automation took is shown.

use std::collections::BTreeMap;

use serde::Deserialize;
use zentro_automation::Setup;

use crate::cache::{Cache, CacheError};

/// The presences the relay announces: available, away (the member said so), offline (no live
/// session).
pub const PRESENCES: [&str; 3] = ["available", "away", "offline"];

/// A conversation within this much of its first-response target is `due_soon`: a fifth of the
/// target, or ten minutes, whichever is smaller.
pub const DUE_SOON_AT_MOST_MS: i64 = 10 * 60_000;

/// The payload of a `workspace.automation` event: a setup an admin saved.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SavedSetup {
    /// The relay's version of the setup (each save adds one).
    pub(crate) version: i64,
    /// The setup itself.
    pub(crate) setup: Setup,
    /// The admin who saved it.
    pub(crate) saved_by: String,
}

/// The payload of a `workspace.presence` event.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PresenceChange {
    /// Whose presence changed.
    pub(crate) member_id: String,
    /// One of [`PRESENCES`].
    pub(crate) presence: String,
}

/// The workspace's automation setup as the log last carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedSetup {
    /// The relay's version of it.
    pub version: i64,
    /// The setup.
    pub setup: Setup,
    /// When the admin saved it (UTC ms).
    pub saved_at: i64,
    /// The admin who saved it.
    pub saved_by: String,
}

/// The setup this cache last received, or `None` before any was saved (or when the kept one
/// no longer reads).
pub async fn cached_setup(cache: &Cache) -> Result<Option<CachedSetup>, CacheError> {
    let row = sqlx::query!(
        "SELECT version, setup, saved_at, saved_by FROM automation_setup WHERE id = 1"
    )
    .fetch_optional(cache.pool())
    .await?;
    Ok(row.and_then(|r| {
        let setup = serde_json::from_str(&r.setup).ok()?;
        Some(CachedSetup {
            version: r.version,
            setup,
            saved_at: r.saved_at,
            saved_by: r.saved_by,
        })
    }))
}

/// A member's presence as the log last announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPresence {
    /// The member.
    pub member_id: String,
    /// available, away or offline.
    pub presence: String,
    /// When it changed (UTC ms).
    pub changed_at: i64,
}

/// Every member's presence this cache heard of, by member id.
pub async fn presence(cache: &Cache) -> Result<Vec<KnownPresence>, CacheError> {
    Ok(sqlx::query_as!(
        KnownPresence,
        "SELECT member_id, presence, changed_at FROM presence ORDER BY member_id"
    )
    .fetch_all(cache.pool())
    .await?)
}

/// How an author who is the workspace's automation is shown: `Automation (<rule>)`; `None` for
/// a member (the UI names members from the team list) or no author.
pub fn automation_label(author: Option<&str>) -> Option<String> {
    zentro_events::automation_rule(author).map(|rule| format!("Automation ({rule})"))
}

/// Each team's first-response target (ms), by team id: what the inbox marks conversations
/// against. Read leniently from the kept setup (only team ids and targets), so a setup with
/// parts this version does not know still yields its targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstResponseTargets(BTreeMap<String, i64>);

impl FirstResponseTargets {
    /// The targets of the setup kept in `cache` (none before a setup was saved).
    pub async fn of(cache: &Cache) -> Result<Self, CacheError> {
        let setup = sqlx::query_scalar!("SELECT setup FROM automation_setup WHERE id = 1")
            .fetch_optional(cache.pool())
            .await?;
        Ok(setup.map(|s| Self::from_json(&s)).unwrap_or_default())
    }

    /// The targets a setup's JSON names (none when it does not read).
    pub fn from_json(setup: &str) -> Self {
        #[derive(Deserialize)]
        struct Teams {
            #[serde(default)]
            teams: Vec<TeamTarget>,
        }
        #[derive(Deserialize)]
        struct TeamTarget {
            id: String,
            #[serde(default)]
            first_response_minutes: Option<u32>,
        }
        let teams = serde_json::from_str::<Teams>(setup).map_or_else(|_| Vec::new(), |t| t.teams);
        Self(
            teams
                .into_iter()
                .filter_map(|t| Some((t.id, i64::from(t.first_response_minutes?) * 60_000)))
                .collect(),
        )
    }

    /// Team `team`'s target (ms), if it has one.
    pub fn of_team(&self, team: &str) -> Option<i64> {
        self.0.get(team).copied()
    }

    /// Teams with a target, and their targets (ms).
    pub fn iter(&self) -> impl Iterator<Item = (&str, i64)> {
        self.0.iter().map(|(team, ms)| (team.as_str(), *ms))
    }

    /// Where a conversation stands: when its first response is due and its [`Sla`] at `now`;
    /// `None` when it is not open, has no team or its team no target, or nothing waits for a
    /// person's answer (`awaiting_since`: the customer's first message since a person last wrote).
    pub fn standing(
        &self,
        status: &str,
        team: Option<&str>,
        awaiting_since: Option<i64>,
        now: i64,
    ) -> Option<(i64, Option<Sla>)> {
        if status != "open" {
            return None;
        }
        let target = self.of_team(team?)?;
        let due_at = awaiting_since?.saturating_add(target);
        Some((due_at, Sla::at(due_at, target, now)))
    }
}

/// Where a conversation waiting for its first response stands against its team's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    /// Due within a fifth of the target or ten minutes, whichever is smaller.
    DueSoon,
    /// Past due.
    Breached,
}

impl Sla {
    /// At `now`, for a response due at `due_at` under a target of `target` ms; `None` while
    /// there is time.
    pub fn at(due_at: i64, target: i64, now: i64) -> Option<Self> {
        let margin = (target / 5).min(DUE_SOON_AT_MOST_MS);
        if now >= due_at {
            Some(Self::Breached)
        } else if now >= due_at - margin {
            Some(Self::DueSoon)
        } else {
            None
        }
    }

    /// `due_soon` or `breached`, as the inbox's list carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DueSoon => "due_soon",
            Self::Breached => "breached",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_soon_is_a_fifth_of_the_target_or_ten_minutes_whichever_is_smaller() {
        let minute = 60_000;
        // 30 minutes: a fifth is 6 minutes.
        assert_eq!(Sla::at(30 * minute, 30 * minute, 24 * minute - 1), None);
        assert_eq!(
            Sla::at(30 * minute, 30 * minute, 24 * minute),
            Some(Sla::DueSoon)
        );
        // 2 hours: a fifth is 24 minutes, ten minutes is smaller.
        let due = 120 * minute;
        assert_eq!(Sla::at(due, due, due - 10 * minute - 1), None);
        assert_eq!(Sla::at(due, due, due - 10 * minute), Some(Sla::DueSoon));
        assert_eq!(Sla::at(due, due, due), Some(Sla::Breached));
    }

    #[test]
    fn targets_read_leniently_and_only_teams_with_one_count() {
        let targets = FirstResponseTargets::from_json(
            r#"{"teams":[{"id":"billing","name":"B","first_response_minutes":15,"new_part":1},{"id":"sales","name":"S"}],"unknown":true}"#,
        );
        assert_eq!(targets.of_team("billing"), Some(15 * 60_000));
        assert_eq!(targets.of_team("sales"), None);
        assert_eq!(
            FirstResponseTargets::from_json("not json"),
            FirstResponseTargets::default()
        );
    }

    #[test]
    fn the_automation_is_named_by_its_rule_and_members_are_not_labelled() {
        assert_eq!(
            automation_label(Some("automation:greeting")).as_deref(),
            Some("Automation (greeting)")
        );
        assert_eq!(automation_label(Some("m_ana")), None);
        assert_eq!(automation_label(None), None);
    }
}
