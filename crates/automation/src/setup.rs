//! The workspace's automation setup, as admins edit it on Team → Automation and the relay keeps
//! it: teams and their members, how each team assigns, capacities, business hours, the greeting,
//! the away message, the menu bot, the satisfaction survey and the stop and start keywords.
//!
//! One JSON document per workspace, versioned by the relay; every save is a
//! `workspace.automation` event in the log, so every desk knows the teams and can replay the rules.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::consent::ConsentKeywords;
use crate::hours::Span;

/// The longest automated text (bytes): WhatsApp's limit for an interactive body is 1,024
/// characters, Instagram's for a text 1,000 bytes; the smallest wins.
pub const MAX_TEXT: usize = 1_000;

/// Most teams in a workspace.
pub const MAX_TEAMS: usize = 50;

/// Most menu options: Messenger and Instagram allow 13 quick replies, WhatsApp 10 list rows; the
/// smallest wins.
pub const MAX_MENU_OPTIONS: usize = 10;

/// The longest menu option title: a WhatsApp list row title has at most 24 characters, a reply
/// button 20, a quick reply 20.
pub const MAX_OPTION_TITLE: usize = 20;

/// The workspace's automation: what runs on the relay while every desk may be closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default, deny_unknown_fields)]
pub struct Setup {
    /// The automation runs (`false`: nothing automated happens; teams still route by hand).
    pub enabled: bool,
    /// The workspace's business hours (`None`: always open).
    pub hours: Option<Hours>,
    /// The teams (departments).
    pub teams: Vec<Team>,
    /// Members' capacities: open conversations at most (a member not listed has no limit).
    pub capacities: BTreeMap<String, u32>,
    /// A channel's default team, by `"<kind>:<Meta id>"` (e.g. `whatsapp:1065…`): where its
    /// conversations go when no menu runs or the customer asks for a person.
    pub channel_teams: BTreeMap<String, String>,
    /// Sent on a new conversation while open (outside hours the away message is sent instead).
    pub greeting: Option<Texts>,
    /// Sent outside business hours, once per conversation per closed period.
    pub away: Option<Texts>,
    /// The menu bot asking which team (`None`: no bot).
    pub menu: Option<Menu>,
    /// Words that skip the bot and go to a person (compared ignoring case and spaces around).
    pub agent_keywords: Vec<String>,
    /// Conversations of a member who has been offline this long (minutes) go back to their team
    /// to be assigned again (`None`: they stay).
    pub hand_back_after_minutes: Option<u32>,
    /// The satisfaction survey sent when a person resolves a conversation (`None`: no survey).
    pub csat: Option<Csat>,
    /// Stop and start keywords and their confirmations: honoured by the relay even while
    /// `enabled` is off ([`crate::consent`]).
    pub consent: ConsentKeywords,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            enabled: false,
            hours: None,
            teams: Vec::new(),
            capacities: BTreeMap::new(),
            channel_teams: BTreeMap::new(),
            greeting: None,
            away: None,
            menu: None,
            agent_keywords: vec!["agent".into()],
            hand_back_after_minutes: None,
            csat: None,
            consent: ConsentKeywords::default(),
        }
    }
}

/// The satisfaction survey (CSAT): asked when a person resolves a conversation a person
/// answered; the customer taps (or types) 1 to 5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Csat {
    /// The question (e.g. "How would you rate our help?"); the five choices follow it.
    pub question: Texts,
    /// Asked after the rating; the customer's next text (within an hour) is the rating's comment
    /// (`None`: no comment is asked).
    #[serde(default)]
    pub comment_prompt: Option<Texts>,
    /// Sent once the customer rated (after the comment, when one is asked); `None`: nothing.
    #[serde(default)]
    pub thanks: Option<Texts>,
    /// The label of the button that opens the WhatsApp list of ratings (at most 20 characters).
    #[serde(default = "Csat::default_button")]
    pub button: String,
}

impl Csat {
    fn default_button() -> String {
        "Rate".into()
    }

    fn validate(&self) -> Result<(), Invalid> {
        self.question.validate("the survey's question")?;
        if let Some(prompt) = &self.comment_prompt {
            prompt.validate("the survey's comment question")?;
        }
        if let Some(thanks) = &self.thanks {
            thanks.validate("the survey's thanks")?;
        }
        if self.button.trim().is_empty() || self.button.chars().count() > 20 {
            return Err(Invalid(
                "the survey's list button has 1 to 20 characters".into(),
            ));
        }
        Ok(())
    }
}

/// A team (department): its members and how it assigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Stable id (letters, digits, `-`, `_`; 1 to 32), what conversations and events name.
    pub id: String,
    /// What people see.
    pub name: String,
    /// Member ids, in the order round robin goes through them.
    #[serde(default)]
    pub members: Vec<String>,
    /// How new conversations find a member.
    #[serde(default)]
    pub assignment: Assignment,
    /// The team's own hours (`None`: the workspace's).
    #[serde(default)]
    pub hours: Option<Hours>,
    /// The first-response target (minutes) the inbox marks conversations against.
    #[serde(default)]
    pub first_response_minutes: Option<u32>,
}

/// How a team's new conversations find a member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// People take them.
    #[default]
    Manual,
    /// In turn, among available members under their capacity.
    RoundRobin,
    /// To the available member with the fewest open conversations (ties in turn).
    LeastBusy,
}

impl Assignment {
    /// The rule's name an assignment is made under (`automation:<name>` in the log).
    pub fn rule(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::RoundRobin => "round_robin",
            Self::LeastBusy => "least_busy",
        }
    }
}

/// Weekly hours in a named time zone, with holidays (closed all day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// An IANA time zone, e.g. `Europe/Lisbon`.
    pub time_zone: String,
    /// Seven days, Monday first: the open spans of each (`[]`: closed that day).
    pub weekly: Vec<Vec<Span>>,
    /// Dates closed all day (`YYYY-MM-DD`, in the time zone).
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// A text in several versions: the default, and overrides per language (e.g. `pt`) and per
/// channel kind (`whatsapp`, `messenger`, `instagram`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Texts {
    /// The text when no override fits.
    pub text: String,
    /// By language code (the customer's language, when a channel tells it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_language: BTreeMap<String, String>,
    /// By channel kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_channel: BTreeMap<String, String>,
}

impl Texts {
    /// The version for a customer: their language first, then the channel's, then the default.
    pub fn pick(&self, channel_kind: &str, language: Option<&str>) -> &str {
        language
            .and_then(|l| {
                self.by_language.get(l).or_else(|| {
                    self.by_language
                        .get(l.split(['_', '-']).next().unwrap_or(l))
                })
            })
            .or_else(|| self.by_channel.get(channel_kind))
            .map_or(self.text.as_str(), String::as_str)
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.text)
            .chain(self.by_language.values())
            .chain(self.by_channel.values())
    }
}

/// The menu bot: asks which team, routes by the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Menu {
    /// The question (e.g. "What can we help you with?").
    pub prompt: Texts,
    /// The choices, in order (a customer may also answer with a choice's number or title).
    pub options: Vec<MenuOption>,
    /// Asked once more after an answer the bot did not recognise.
    pub retry: Texts,
    /// Sent when the bot gives up (a second unrecognised answer) or the customer asks for a
    /// person (`None`: nothing is sent).
    #[serde(default)]
    pub handoff: Option<Texts>,
    /// The label of the button that opens a WhatsApp list (more than 3 options; at most 20
    /// characters).
    #[serde(default = "Menu::default_button")]
    pub button: String,
}

impl Menu {
    fn default_button() -> String {
        "Choose".into()
    }
}

/// A menu choice: a title the customer taps and the team it routes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    /// Stable id, sent to Meta as the button's or quick reply's payload.
    pub id: String,
    /// What the customer sees (at most 20 characters).
    pub title: String,
    /// The team it routes to.
    pub team: String,
}

/// Why a setup cannot be saved; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Setup {
    /// The team with this id.
    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    /// The default team of a channel (`kind`, Meta id), if it has one.
    pub fn channel_team(&self, kind: &str, external_id: &str) -> Option<&str> {
        self.channel_teams
            .get(&format!("{kind}:{external_id}"))
            .map(String::as_str)
    }

    /// Checks everything the engine relies on: ids, names, hours, texts within Meta's limits,
    /// and that every member named is one of `members` (the workspace's member ids).
    pub fn validate(&self, members: &BTreeSet<String>) -> Result<(), Invalid> {
        if self.teams.len() > MAX_TEAMS {
            return Err(Invalid(format!(
                "a workspace has at most {MAX_TEAMS} teams"
            )));
        }
        let mut ids = BTreeSet::new();
        for team in &self.teams {
            team.validate(members)?;
            if !ids.insert(team.id.as_str()) {
                return Err(Invalid(format!("two teams have the id {:?}", team.id)));
            }
        }
        for member in self.capacities.keys() {
            known_member(members, member)?;
        }
        for (channel, team) in &self.channel_teams {
            if !channel.contains(':') {
                return Err(Invalid(format!(
                    "a channel is named \"<kind>:<Meta id>\", not {channel:?}"
                )));
            }
            known_team(&ids, team)?;
        }
        if let Some(hours) = &self.hours {
            hours.validate()?;
        }
        for texts in [&self.greeting, &self.away].into_iter().flatten() {
            texts.validate("an automated message")?;
        }
        if let Some(menu) = &self.menu {
            menu.validate(&ids)?;
        }
        if self.agent_keywords.len() > 20
            || self
                .agent_keywords
                .iter()
                .any(|k| k.trim().is_empty() || k.len() > 32)
        {
            return Err(Invalid(
                "at most 20 keywords, each of 1 to 32 characters".into(),
            ));
        }
        if let Some(csat) = &self.csat {
            csat.validate()?;
        }
        self.consent.validate()?;
        if self.hand_back_after_minutes == Some(0) {
            return Err(Invalid(
                "hand back after at least one minute offline (or never)".into(),
            ));
        }
        Ok(())
    }
}

impl Team {
    fn validate(&self, members: &BTreeSet<String>) -> Result<(), Invalid> {
        if !is_id(&self.id) {
            return Err(Invalid(format!(
                "a team's id has 1 to 32 letters, digits, '-' or '_', not {:?}",
                self.id
            )));
        }
        if self.name.trim().is_empty() || self.name.len() > 64 {
            return Err(Invalid("a team's name has 1 to 64 characters".into()));
        }
        let mut seen = BTreeSet::new();
        for member in &self.members {
            known_member(members, member)?;
            if !seen.insert(member) {
                return Err(Invalid(format!(
                    "team {:?} lists a member twice",
                    self.name
                )));
            }
        }
        if let Some(hours) = &self.hours {
            hours.validate()?;
        }
        if self.first_response_minutes == Some(0) {
            return Err(Invalid(
                "a first-response target is at least one minute".into(),
            ));
        }
        Ok(())
    }
}

impl Hours {
    /// The time zone, parsed.
    pub fn zone(&self) -> Option<chrono_tz::Tz> {
        self.time_zone.parse().ok()
    }

    /// The holidays, parsed (invalid dates were refused by `validate`).
    pub fn holiday_dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays
            .iter()
            .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.zone().is_none() {
            return Err(Invalid(format!(
                "{:?} is not a time zone (use an IANA name such as Europe/Lisbon)",
                self.time_zone
            )));
        }
        if self.weekly.len() != 7 {
            return Err(Invalid("weekly hours list seven days, Monday first".into()));
        }
        for day in &self.weekly {
            if day.len() > 8 {
                return Err(Invalid("at most 8 open spans a day".into()));
            }
            for span in day {
                span.validate()?;
            }
        }
        if self.holidays.len() > 366 {
            return Err(Invalid("at most 366 holidays".into()));
        }
        for date in &self.holidays {
            if NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                return Err(Invalid(format!("{date:?} is not a date (YYYY-MM-DD)")));
            }
        }
        Ok(())
    }
}

impl Texts {
    fn validate(&self, what: &str) -> Result<(), Invalid> {
        for text in self.all() {
            if text.trim().is_empty() {
                return Err(Invalid(format!("{what} can't be empty")));
            }
            if text.len() > MAX_TEXT {
                return Err(Invalid(format!(
                    "{what} has at most {MAX_TEXT} bytes (Meta's limit)"
                )));
            }
        }
        for kind in self.by_channel.keys() {
            if !["whatsapp", "messenger", "instagram"].contains(&kind.as_str()) {
                return Err(Invalid(format!(
                    "{kind:?} is not a channel kind (whatsapp, messenger or instagram)"
                )));
            }
        }
        Ok(())
    }
}

impl Menu {
    fn validate(&self, teams: &BTreeSet<&str>) -> Result<(), Invalid> {
        self.prompt.validate("the menu's question")?;
        self.retry.validate("the menu's second question")?;
        if let Some(handoff) = &self.handoff {
            handoff.validate("the menu's hand-off message")?;
        }
        if self.options.is_empty() || self.options.len() > MAX_MENU_OPTIONS {
            return Err(Invalid(format!(
                "a menu has 1 to {MAX_MENU_OPTIONS} options"
            )));
        }
        let mut ids = BTreeSet::new();
        for option in &self.options {
            if !is_id(&option.id) {
                return Err(Invalid(format!(
                    "a menu option's id has 1 to 32 letters, digits, '-' or '_', not {:?}",
                    option.id
                )));
            }
            if !ids.insert(option.id.as_str()) {
                return Err(Invalid(format!(
                    "two menu options have the id {:?}",
                    option.id
                )));
            }
            let title = option.title.trim();
            if title.is_empty() || option.title.chars().count() > MAX_OPTION_TITLE {
                return Err(Invalid(format!(
                    "a menu option's title has 1 to {MAX_OPTION_TITLE} characters (Meta's limit)"
                )));
            }
            known_team(teams, &option.team)?;
        }
        if self.button.trim().is_empty() || self.button.chars().count() > 20 {
            return Err(Invalid(
                "the menu's list button has 1 to 20 characters".into(),
            ));
        }
        Ok(())
    }
}

fn known_member(members: &BTreeSet<String>, member: &str) -> Result<(), Invalid> {
    if members.contains(member) {
        Ok(())
    } else {
        Err(Invalid(format!(
            "{member:?} is not a member of the workspace"
        )))
    }
}

fn known_team(teams: &BTreeSet<&str>, team: &str) -> Result<(), Invalid> {
    if teams.contains(team) {
        Ok(())
    } else {
        Err(Invalid(format!("there is no team {team:?}")))
    }
}

/// A stable id: 1 to 32 letters, digits, `-` or `_`.
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
