//! The engine: the workspace's automation as a deterministic state machine. Fed the log's events
//! in order ([`Input`], see [`crate::inputs`]) with the time each happened, it keeps what it needs
//! of every conversation and returns what to do ([`Action`]). The same events and setup give the
//! same actions, which is what lets the relay re-decide after a crash without doubling anything
//! and a desk preview a setup on its own history.
//!
//! Its own actions come back to it as events of the log (a `team.assigned` under
//! `automation:round_robin`, …): applying them again changes nothing, and whatever the log holds
//! between deciding and that echo wins in log order, as on every desk.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use zentro_events::{ContactRef, ConversationStatus};

use crate::csat::{self, Reply, Survey};
use crate::hours;
use crate::setup::{Assignment, Hours, Setup, Texts};

/// A member's presence: whether automation may give them conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Desk open and signed in, and the member says so.
    Available,
    /// Desk open, but the member stepped away.
    Away,
    /// No desk of theirs is connected.
    Offline,
}

/// Something that happened in the workspace, as the engine needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A customer wrote (any content).
    CustomerMessage {
        /// The conversation (its customer on a channel).
        contact: ContactRef,
        /// When Meta says it was sent (UTC ms): opens the 24-hour window.
        at: i64,
        /// The text, if it has one (a quick reply's or button's title included).
        text: Option<String>,
        /// The id of the menu option the customer tapped (an interactive reply's id, a quick
        /// reply's payload), if any.
        choice: Option<String>,
        /// The customer's language, when the channel tells it.
        language: Option<String>,
    },
    /// A member sent a reply (not the automation).
    PersonReplied {
        /// The conversation.
        contact: ContactRef,
    },
    /// The conversation was assigned (or unassigned).
    Assigned {
        /// The conversation.
        contact: ContactRef,
        /// The member now responsible.
        assignee: Option<String>,
    },
    /// The conversation was given to a team (or taken from any).
    Routed {
        /// The conversation.
        contact: ContactRef,
        /// The team.
        team: Option<String>,
        /// Whether the automation did it (then it is the echo of its own action).
        by_automation: bool,
    },
    /// The conversation's status changed.
    StatusChanged {
        /// The conversation.
        contact: ContactRef,
        /// The new status.
        status: ConversationStatus,
        /// Whether the automation changed it (a person's resolution is what asks the survey).
        by_automation: bool,
    },
    /// A customer's processing was restricted (P14: nothing automated) or the restriction lifted.
    Restricted {
        /// The customer.
        contact: ContactRef,
        /// Restricted from now on.
        restricted: bool,
    },
    /// A customer was erased: the salt and hash of the `contact.erased` event.
    Erased {
        /// The event's salt.
        salt: String,
        /// `zentro_events::erasure_hash` of the customer under the salt.
        hash: String,
    },
    /// A member's presence changed.
    Presence {
        /// The member.
        member: String,
        /// Their presence from now on.
        presence: Presence,
    },
    /// The agents allowed on a channel changed (`channel.changed`; empty: every member).
    ChannelAgents {
        /// `<kind>:<Meta id>` of the channel.
        channel: String,
        /// The agents allowed on it; empty when every member is.
        agents: Vec<String>,
    },
    /// An admin saved a new setup.
    SetupChanged(Box<Setup>),
    /// Time passed (for hand-backs after a member went offline).
    Tick,
}

/// What the automation does, and under which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// The rule's name: the log's author is `automation:<rule>` (`greeting`, `away`, `menu`,
    /// `menu_retry`, `handoff`, `keyword`, `channel_team`, `round_robin`, `least_busy`,
    /// `hand_back`, `csat`, `csat_comment`, `csat_thanks`).
    pub rule: String,
    /// What it does.
    pub effect: Effect,
}

/// The effect of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// Send the customer a message (through the relay's outbox, inside the 24-hour window).
    Send {
        /// The conversation.
        contact: ContactRef,
        /// What to send.
        message: Outgoing,
        /// When the customer's last message was sent (UTC ms): the window closes 24 h later.
        window_opened_at: i64,
    },
    /// Give the conversation to a team.
    Route {
        /// The conversation.
        contact: ContactRef,
        /// The team.
        team: Option<String>,
    },
    /// Give the conversation to a member (or take it back, `None`).
    Assign {
        /// The conversation.
        contact: ContactRef,
        /// The member.
        member: Option<String>,
    },
    /// Record the customer's answer to the satisfaction survey (a `team.rated` event; the
    /// comment, when it comes, records the same survey again with it).
    Rate {
        /// The conversation.
        contact: ContactRef,
        /// 1 to 5.
        rating: u8,
        /// The customer's comment, once given.
        comment: Option<String>,
        /// The conversation's assignee when it was resolved.
        agent: Option<String>,
        /// The conversation's team when it was resolved.
        team: Option<String>,
        /// When it was resolved (UTC ms): names the survey.
        resolved_at: i64,
        /// When the customer rated (UTC ms).
        rated_at: i64,
    },
}

/// An automated message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// A plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A question with choices: WhatsApp reply buttons (up to 3) or a list (more), Messenger and
    /// Instagram quick replies.
    Menu {
        /// The question.
        text: String,
        /// `(id, title)` of each choice.
        options: Vec<(String, String)>,
        /// The label of the button that opens a WhatsApp list.
        button: String,
    },
}

impl Outgoing {
    /// The message as the thread shows it (a menu lists its choices).
    pub fn thread_text(&self) -> String {
        match self {
            Self::Text { text } => text.clone(),
            Self::Menu { text, options, .. } => {
                let mut shown = text.clone();
                for (i, (_, title)) in options.iter().enumerate() {
                    shown.push_str(&format!("\n{}. {title}", i + 1));
                }
                shown
            }
        }
    }
}

/// Where the menu bot is in a conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bot {
    /// Not started (a new conversation starts it).
    #[default]
    Idle,
    /// Asked; `retried` once the question was asked again.
    Asked {
        /// The question was asked a second time.
        retried: bool,
    },
    /// Done: answered, given up, skipped, or a person replied.
    Done,
}

/// What the engine keeps of a conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Open (the customer is waiting or being served); resolved conversations start anew.
    pub open: bool,
    /// Its team.
    pub team: Option<String>,
    /// Its member.
    pub assignee: Option<String>,
    /// The menu bot's progress.
    pub bot: Bot,
    /// A person replied since it (re)opened: the bot stays silent.
    pub person_replied: bool,
    /// Restricted customer (P14): nothing automated.
    pub restricted: bool,
    /// The customer's last message (UTC ms).
    pub last_customer_at: i64,
    /// Waiting for a member since (UTC ms): in a team that assigns, open, unassigned, bot done.
    pub waiting_since: Option<i64>,
    /// The closed period (its start, UTC ms) the away message was sent in.
    pub away_sent_for: Option<i64>,
    /// The satisfaction survey waiting for the customer's answer, if one is.
    #[serde(default)]
    pub survey: Option<Survey>,
}

/// What the engine keeps of the workspace beside its conversations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// The setup in force.
    pub setup: Setup,
    /// Members' presence, as last announced.
    pub presence: BTreeMap<String, Presence>,
    /// When each offline member went offline (UTC ms), for hand-backs.
    pub offline_since: BTreeMap<String, i64>,
    /// Per team, the member round robin gave the last conversation to.
    pub last_assigned: BTreeMap<String, String>,
    /// Channels open to some agents only (`<kind>:<Meta id>` → those agents): the automation
    /// gives their conversations only to members on the list.
    #[serde(default)]
    pub channel_agents: BTreeMap<String, BTreeSet<String>>,
}

/// The engine: a workspace's automation state and the rules that move it.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    workspace: Workspace,
    conversations: HashMap<ContactRef, Conversation>,
    /// Open conversations per member (kept in step with `conversations`).
    load: HashMap<String, u32>,
    /// Conversations waiting for a member, oldest first.
    waiting: BTreeSet<(i64, ContactRef)>,
    /// Conversations changed since [`Engine::take_changes`].
    changed: BTreeSet<ContactRef>,
}

/// Why saved state could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("the automation's saved state is unreadable: {0}")]
pub struct Unreadable(#[from] serde_json::Error);

impl Engine {
    /// An engine with nothing seen yet, under `setup`.
    pub fn new(setup: Setup) -> Self {
        Self {
            workspace: Workspace {
                setup,
                ..Workspace::default()
            },
            ..Self::default()
        }
    }

    /// An engine from what [`Engine::workspace_json`] and [`Engine::take_changes`] saved.
    pub fn restore(
        workspace: &str,
        conversations: impl IntoIterator<Item = (ContactRef, String)>,
    ) -> Result<Self, Unreadable> {
        let mut engine = Self {
            workspace: serde_json::from_str(workspace)?,
            ..Self::default()
        };
        for (contact, json) in conversations {
            let conversation: Conversation = serde_json::from_str(&json)?;
            engine.index(&contact, &conversation, 1);
            engine.conversations.insert(contact, conversation);
        }
        Ok(engine)
    }

    /// The workspace's part of the state, to save.
    pub fn workspace_json(&self) -> String {
        serde_json::to_string(&self.workspace).unwrap_or_default()
    }

    /// The setup in force.
    pub fn setup(&self) -> &Setup {
        &self.workspace.setup
    }

    /// A conversation's state, if the engine has seen it.
    pub fn conversation(&self, contact: &ContactRef) -> Option<&Conversation> {
        self.conversations.get(contact)
    }

    /// Open conversations assigned to `member`.
    pub fn load_of(&self, member: &str) -> u32 {
        self.load.get(member).copied().unwrap_or(0)
    }

    /// The conversations changed since the last call, with their state to save (`None`: forget).
    pub fn take_changes(&mut self) -> Vec<(ContactRef, Option<String>)> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|contact| {
                let json = self
                    .conversations
                    .get(&contact)
                    .and_then(|c| serde_json::to_string(c).ok());
                (contact, json)
            })
            .collect()
    }

    /// Applies what happened at `now` (UTC ms; for a log event, when it happened) and returns
    /// what the automation does about it, already reflected in its state.
    pub fn apply(&mut self, input: &Input, now: i64) -> Vec<Action> {
        let mut actions = Vec::new();
        match input {
            Input::CustomerMessage {
                contact,
                at,
                text,
                choice,
                language,
            } => {
                let message = Incoming {
                    at: *at,
                    text: text.as_deref(),
                    choice: choice.as_deref(),
                    language: language.as_deref(),
                };
                self.customer_wrote(contact, &message, now, &mut actions);
            }
            Input::PersonReplied { contact } => self.update(contact, |c| {
                c.person_replied = true;
                c.bot = Bot::Done;
                // A person wrote after the survey: its answer would no longer be one.
                c.survey = None;
            }),
            Input::Assigned { contact, assignee } => {
                let assignee = assignee.clone();
                self.update(contact, |c| c.assignee = assignee);
                self.refresh_waiting(contact, now);
                self.assign_waiting(&mut actions);
            }
            Input::Routed {
                contact,
                team,
                by_automation,
            } => self.routed(contact, team.as_deref(), *by_automation, now, &mut actions),
            Input::StatusChanged {
                contact,
                status,
                by_automation,
            } => {
                self.status_changed(contact, *status, *by_automation, now, &mut actions);
                self.refresh_waiting(contact, now);
                self.assign_waiting(&mut actions);
            }
            Input::Restricted {
                contact,
                restricted,
            } => {
                let restricted = *restricted;
                self.update(contact, |c| c.restricted = restricted);
                self.refresh_waiting(contact, now);
            }
            Input::Erased { salt, hash } => self.erase(salt, hash),
            Input::Presence { member, presence } => {
                self.presence_changed(member, *presence, now);
                self.assign_waiting(&mut actions);
            }
            Input::ChannelAgents { channel, agents } => {
                self.channel_agents_changed(channel, agents);
                self.assign_waiting(&mut actions);
            }
            Input::SetupChanged(setup) => {
                self.workspace.setup = (**setup).clone();
                let contacts: Vec<ContactRef> = self.conversations.keys().cloned().collect();
                for contact in contacts {
                    self.refresh_waiting(&contact, now);
                }
                self.assign_waiting(&mut actions);
            }
            Input::Tick => {
                self.hand_back(now, &mut actions);
                self.assign_waiting(&mut actions);
            }
        }
        actions
    }

    /// When the next [`Input::Tick`] has something to do (a hand-back falls due), if ever.
    pub fn next_tick(&self) -> Option<i64> {
        let minutes = self.workspace.setup.hand_back_after_minutes?;
        self.workspace
            .offline_since
            .iter()
            .filter(|(member, _)| self.load_of(member) > 0)
            .map(|(_, since)| since + i64::from(minutes) * 60_000)
            .min()
    }

    /// A status change; a person resolving a conversation a person answered asks the survey.
    fn status_changed(
        &mut self,
        contact: &ContactRef,
        status: ConversationStatus,
        by_automation: bool,
        now: i64,
        actions: &mut Vec<Action>,
    ) {
        let before = self.conversations.get(contact).cloned().unwrap_or_default();
        let open = !matches!(status, ConversationStatus::Resolved);
        let setup = &self.workspace.setup;
        let survey = match &setup.csat {
            Some(csat)
                if before.open
                    && !open
                    && !by_automation
                    && setup.enabled
                    && before.person_replied
                    && !before.restricted =>
            {
                let waiting = Survey {
                    resolved_at: now,
                    agent: before.assignee.clone(),
                    team: before.team.clone(),
                    rating: None,
                    rated_at: None,
                };
                let (survey, ask) = csat::ask(csat, contact, waiting, before.last_customer_at);
                actions.push(ask);
                Some(survey)
            }
            // Resolved again without a survey, or reopened: no answer is awaited.
            _ if before.open != open => None,
            _ => before.survey.clone(),
        };
        self.update(contact, |c| {
            if c.open && !open {
                // Resolved: the next message starts a new conversation for the bot.
                c.bot = Bot::Idle;
                c.person_replied = false;
            }
            c.open = open;
            c.survey = survey;
        });
    }

    /// A customer's message that answers the survey waiting in their conversation: recorded,
    /// and nothing else happens (the conversation stays resolved, no greeting, no menu). `false`
    /// when it is not an answer: the survey ends and the message is the customer writing again.
    fn answered_survey(
        &mut self,
        contact: &ContactRef,
        before: &Conversation,
        message: &Incoming<'_>,
        actions: &mut Vec<Action>,
    ) -> bool {
        let Some(survey) = before.survey.as_ref().filter(|_| !before.open) else {
            return false;
        };
        let reply = Reply {
            at: message.at,
            text: message.text,
            choice: message.choice,
            language: message.language,
        };
        let answer = (!before.restricted)
            .then(|| csat::answer(self.workspace.setup.csat.as_ref(), contact, survey, &reply))
            .flatten();
        let Some((next, answered)) = answer else {
            self.update(contact, |c| c.survey = None);
            return false;
        };
        self.update(contact, |c| {
            c.survey = next;
            c.last_customer_at = c.last_customer_at.max(message.at);
        });
        actions.extend(answered);
        true
    }

    fn customer_wrote(
        &mut self,
        contact: &ContactRef,
        message: &Incoming<'_>,
        now: i64,
        actions: &mut Vec<Action>,
    ) {
        let before = self.conversations.get(contact).cloned().unwrap_or_default();
        if self.answered_survey(contact, &before, message, actions) {
            return;
        }
        let fresh = !before.open;
        self.update(contact, |c| {
            c.open = true;
            c.last_customer_at = c.last_customer_at.max(message.at);
        });
        // A stop or start keyword is the relay's to answer (crate::consent), never the bot's.
        let keyword = message
            .text
            .is_some_and(|t| crate::consent::is_keyword(&self.workspace.setup.consent, t));
        if before.restricted || !self.workspace.setup.enabled || keyword {
            self.refresh_waiting(contact, now);
            return;
        }
        let setup = &self.workspace.setup;
        // Judged at the moment the customer wrote (Meta's time), as a desk replaying it judges.
        let closed = hours::closed_since(self.hours_for(before.team.as_deref()), message.at);
        let mut sends = Vec::new();
        let kind = contact.channel_kind.as_str();
        if fresh {
            match (closed, &setup.away, &setup.greeting) {
                (Some(_), Some(away), _) => sends.push(("away", text(away, kind, message))),
                (None, _, Some(greeting)) => {
                    sends.push(("greeting", text(greeting, kind, message)))
                }
                _ => {}
            }
        } else if let (Some(period), Some(away)) = (closed, &setup.away)
            && before.away_sent_for != Some(period)
        {
            sends.push(("away", text(away, kind, message)));
        }
        if sends.iter().any(|(rule, _)| *rule == "away") {
            self.update(contact, |c| c.away_sent_for = closed);
        }
        for (rule, message_out) in sends {
            actions.push(send(rule, contact, message_out, message.at));
        }
        self.run_bot(contact, message, fresh, now, actions);
        self.refresh_waiting(contact, now);
        self.assign_waiting(actions);
    }

    /// The menu bot's turn after a customer's message.
    fn run_bot(
        &mut self,
        contact: &ContactRef,
        message: &Incoming<'_>,
        fresh: bool,
        now: i64,
        actions: &mut Vec<Action>,
    ) {
        let state = self.conversations.get(contact).cloned().unwrap_or_default();
        // Decided on a borrow of the setup (cloning it for every message was a good part of
        // what a message cost), then carried out.
        let step = {
            let setup = &self.workspace.setup;
            let kind = contact.channel_kind.as_str();
            let asks_for_person = message.text.is_some_and(|t| {
                setup
                    .agent_keywords
                    .iter()
                    .any(|k| k.trim().eq_ignore_ascii_case(t.trim()))
            });
            let Some(menu) = setup.menu.as_ref().filter(|_| !state.person_replied) else {
                if fresh && state.team.is_none() {
                    self.hand_to_people(contact, "channel_team", None, message, now, actions);
                }
                return;
            };
            match state.bot {
                Bot::Done => return,
                _ if asks_for_person => BotStep::HandOff("keyword", menu.handoff.clone()),
                Bot::Idle if fresh || state.team.is_none() => BotStep::Ask {
                    retried: false,
                    rule: "menu",
                    out: menu_message(menu, &menu.prompt, kind, message),
                },
                Bot::Idle => return,
                Bot::Asked { retried } => match chosen_option(menu, message) {
                    Some(team) => BotStep::Route(team),
                    None if !retried => BotStep::Ask {
                        retried: true,
                        rule: "menu_retry",
                        out: menu_message(menu, &menu.retry, kind, message),
                    },
                    None => BotStep::HandOff("handoff", menu.handoff.clone()),
                },
            }
        };
        match step {
            BotStep::HandOff(rule, handoff) => {
                self.hand_to_people(contact, rule, handoff.as_ref(), message, now, actions);
            }
            BotStep::Ask { retried, rule, out } => {
                self.update(contact, |c| c.bot = Bot::Asked { retried });
                actions.push(send(rule, contact, out, message.at));
            }
            BotStep::Route(team) => {
                self.update(contact, |c| c.bot = Bot::Done);
                self.route(contact, Some(team), "menu", now, actions);
            }
        }
    }

    /// The bot steps aside: the conversation goes to its channel's default team (if it has none
    /// yet), with the hand-off text if there is one.
    fn hand_to_people(
        &mut self,
        contact: &ContactRef,
        rule: &str,
        handoff: Option<&Texts>,
        message: &Incoming<'_>,
        now: i64,
        actions: &mut Vec<Action>,
    ) {
        self.update(contact, |c| c.bot = Bot::Done);
        if let Some(texts) = handoff {
            let out = text(texts, &contact.channel_kind, message);
            actions.push(send(rule, contact, out, message.at));
        }
        let has_team = self
            .conversations
            .get(contact)
            .is_some_and(|c| c.team.is_some());
        let default = self
            .workspace
            .setup
            .channel_team(&contact.channel_kind, &contact.channel_external_id)
            .map(str::to_string);
        if !has_team && default.is_some() {
            self.route(contact, default, "channel_team", now, actions);
        }
    }

    fn route(
        &mut self,
        contact: &ContactRef,
        team: Option<String>,
        rule: &str,
        now: i64,
        actions: &mut Vec<Action>,
    ) {
        let current = self.conversations.get(contact).and_then(|c| c.team.clone());
        if current == team {
            return;
        }
        self.update(contact, |c| c.team = team.clone());
        actions.push(Action {
            rule: rule.into(),
            effect: Effect::Route {
                contact: contact.clone(),
                team,
            },
        });
        self.refresh_waiting(contact, now);
        self.assign_waiting(actions);
    }

    fn routed(
        &mut self,
        contact: &ContactRef,
        team: Option<&str>,
        by_automation: bool,
        now: i64,
        actions: &mut Vec<Action>,
    ) {
        let team = team.map(str::to_string);
        self.update(contact, |c| {
            if !by_automation && c.team != team {
                // A person routed it: the bot has nothing more to ask.
                c.bot = Bot::Done;
            }
            c.team = team;
        });
        self.refresh_waiting(contact, now);
        self.assign_waiting(actions);
    }

    fn channel_agents_changed(&mut self, channel: &str, agents: &[String]) {
        if agents.is_empty() {
            self.workspace.channel_agents.remove(channel);
        } else {
            let agents = agents.iter().cloned().collect();
            self.workspace
                .channel_agents
                .insert(channel.to_string(), agents);
        }
    }

    fn presence_changed(&mut self, member: &str, presence: Presence, now: i64) {
        let ws = &mut self.workspace;
        let was = ws.presence.insert(member.to_string(), presence);
        match presence {
            Presence::Offline if was != Some(Presence::Offline) => {
                ws.offline_since.insert(member.to_string(), now);
            }
            Presence::Offline => {}
            _ => {
                ws.offline_since.remove(member);
            }
        }
    }

    /// Hands back the open conversations of members offline longer than the setup allows.
    fn hand_back(&mut self, now: i64, actions: &mut Vec<Action>) {
        let Some(minutes) = self.workspace.setup.hand_back_after_minutes else {
            return;
        };
        if !self.workspace.setup.enabled {
            return;
        }
        let due: Vec<String> = self
            .workspace
            .offline_since
            .iter()
            .filter(|(_, since)| now - **since >= i64::from(minutes) * 60_000)
            .map(|(member, _)| member.clone())
            .collect();
        for member in due {
            // Nothing of theirs is open (the usual case once handed back): no need to look.
            if self.load_of(&member) == 0 {
                continue;
            }
            let mut theirs: Vec<ContactRef> = self
                .conversations
                .iter()
                .filter(|(_, c)| c.open && !c.restricted && c.assignee.as_deref() == Some(&member))
                .map(|(k, _)| k.clone())
                .collect();
            theirs.sort();
            for contact in theirs {
                self.update(&contact, |c| c.assignee = None);
                actions.push(Action {
                    rule: "hand_back".into(),
                    effect: Effect::Assign {
                        contact: contact.clone(),
                        member: None,
                    },
                });
                self.refresh_waiting(&contact, now);
            }
        }
    }

    /// Whether a conversation waits for a member, kept in `waiting` (oldest first).
    fn refresh_waiting(&mut self, contact: &ContactRef, now: i64) {
        let Some(c) = self.conversations.get(contact) else {
            return;
        };
        let assigns = c
            .team
            .as_deref()
            .and_then(|t| self.workspace.setup.team(t))
            .is_some_and(|t| t.assignment != Assignment::Manual);
        let waits = c.open
            && !c.restricted
            && c.assignee.is_none()
            && !matches!(c.bot, Bot::Asked { .. })
            && assigns;
        let since = c.waiting_since;
        match (waits, since) {
            (true, None) => self.update(contact, |c| c.waiting_since = Some(now)),
            (false, Some(_)) => self.update(contact, |c| c.waiting_since = None),
            _ => {}
        }
    }

    /// Gives waiting conversations, oldest first, to available members under their capacity.
    fn assign_waiting(&mut self, actions: &mut Vec<Action>) {
        if !self.workspace.setup.enabled || self.waiting.is_empty() {
            return;
        }
        // Only the conversations of teams someone can take one in now: the queue may hold
        // thousands while everyone is away or full, and this runs on every event.
        let open_teams: HashSet<&str> = self
            .workspace
            .setup
            .teams
            .iter()
            .filter(|t| t.assignment != Assignment::Manual)
            .filter(|t| t.members.iter().any(|m| self.can_take(m)))
            .map(|t| t.id.as_str())
            .collect();
        if open_teams.is_empty() {
            return;
        }
        let waiting: Vec<ContactRef> = self
            .waiting
            .iter()
            .filter(|(_, k)| {
                let team = self.conversations.get(k).and_then(|c| c.team.as_deref());
                team.is_some_and(|t| open_teams.contains(t))
            })
            .map(|(_, k)| k.clone())
            .collect();
        for contact in waiting {
            let Some(team_id) = self
                .conversations
                .get(&contact)
                .and_then(|c| c.team.clone())
            else {
                continue;
            };
            let Some(team) = self.workspace.setup.team(&team_id).cloned() else {
                continue;
            };
            let Some(member) = self.pick_member(&team, &contact) else {
                continue;
            };
            self.workspace
                .last_assigned
                .insert(team.id.clone(), member.clone());
            self.update(&contact, |c| {
                c.assignee = Some(member.clone());
                c.waiting_since = None;
            });
            actions.push(Action {
                rule: team.assignment.rule().into(),
                effect: Effect::Assign {
                    contact,
                    member: Some(member),
                },
            });
        }
    }

    /// The member a team's next conversation goes to, by its assignment mode: available, under
    /// capacity, and allowed on the conversation's channel.
    fn pick_member(&self, team: &crate::setup::Team, contact: &ContactRef) -> Option<String> {
        let channel = format!("{}:{}", contact.channel_kind, contact.channel_external_id);
        let allowed = self.workspace.channel_agents.get(&channel);
        let n = team.members.len();
        let after = self
            .workspace
            .last_assigned
            .get(&team.id)
            .and_then(|last| team.members.iter().position(|m| m == last))
            .map_or(0, |i| i + 1);
        // Members in turn, starting after the last one given a conversation.
        let in_turn = (0..n).map(|i| &team.members[(after + i) % n]);
        let mut eligible = in_turn
            .filter(|m| allowed.is_none_or(|agents| agents.contains(*m)) && self.can_take(m));
        match team.assignment {
            Assignment::Manual => None,
            Assignment::RoundRobin => eligible.next().cloned(),
            // The first of the least loaded, in turn (ties go round).
            Assignment::LeastBusy => eligible
                .enumerate()
                .min_by_key(|(i, m)| (self.load_of(m), *i))
                .map(|(_, m)| m.clone()),
        }
    }

    /// Whether a member can be given a conversation now: available and under their capacity.
    fn can_take(&self, member: &str) -> bool {
        self.workspace.presence.get(member) == Some(&Presence::Available)
            && self
                .workspace
                .setup
                .capacities
                .get(member)
                .is_none_or(|cap| self.load_of(member) < *cap)
    }

    fn erase(&mut self, salt: &str, hash: &str) {
        let erased: Vec<ContactRef> = self
            .conversations
            .keys()
            .filter(|k| {
                let channel = format!("{}:{}", k.channel_kind, k.channel_external_id);
                zentro_events::erasure_hash(salt, &channel, &k.customer_id) == hash
            })
            .cloned()
            .collect();
        for contact in erased {
            if let Some(c) = self.conversations.get(&contact).cloned() {
                self.index(&contact, &c, -1);
            }
            self.conversations.remove(&contact);
            self.changed.insert(contact);
        }
    }

    /// Changes a conversation (created on first sight), keeping the load and the queue in step.
    fn update(&mut self, contact: &ContactRef, change: impl FnOnce(&mut Conversation)) {
        let mut c = self.conversations.remove(contact).unwrap_or_default();
        self.index(contact, &c, -1);
        change(&mut c);
        self.index(contact, &c, 1);
        self.conversations.insert(contact.clone(), c);
        self.changed.insert(contact.clone());
    }

    fn index(&mut self, contact: &ContactRef, c: &Conversation, sign: i32) {
        if let (true, Some(member)) = (c.open, &c.assignee) {
            let load = self.load.entry(member.clone()).or_default();
            *load = load.saturating_add_signed(sign);
        }
        if let Some(since) = c.waiting_since {
            if sign > 0 {
                self.waiting.insert((since, contact.clone()));
            } else {
                self.waiting.remove(&(since, contact.clone()));
            }
        }
    }

    fn hours_for(&self, team: Option<&str>) -> Option<&Hours> {
        let setup = &self.workspace.setup;
        team.and_then(|t| setup.team(t))
            .and_then(|t| t.hours.as_ref())
            .or(setup.hours.as_ref())
    }
}

/// A customer's message, as the bot reads it.
struct Incoming<'a> {
    at: i64,
    text: Option<&'a str>,
    choice: Option<&'a str>,
    language: Option<&'a str>,
}

fn text(texts: &Texts, kind: &str, message: &Incoming<'_>) -> Outgoing {
    Outgoing::Text {
        text: texts.pick(kind, message.language).to_string(),
    }
}

fn menu_message(
    menu: &crate::setup::Menu,
    question: &Texts,
    kind: &str,
    message: &Incoming<'_>,
) -> Outgoing {
    Outgoing::Menu {
        text: question.pick(kind, message.language).to_string(),
        options: menu
            .options
            .iter()
            .map(|o| (o.id.clone(), o.title.clone()))
            .collect(),
        button: menu.button.clone(),
    }
}

fn send(rule: &str, contact: &ContactRef, message: Outgoing, window_opened_at: i64) -> Action {
    Action {
        rule: rule.into(),
        effect: Effect::Send {
            contact: contact.clone(),
            message,
            window_opened_at,
        },
    }
}

/// What the menu bot does after a customer's message, decided before it is carried out.
enum BotStep {
    /// Steps aside under this rule, with the hand-off text if there is one.
    HandOff(&'static str, Option<Texts>),
    /// Asks (again, when `retried`) under this rule.
    Ask {
        retried: bool,
        rule: &'static str,
        out: Outgoing,
    },
    /// The customer chose this team.
    Route(String),
}

/// The team of the option a customer chose: by the tapped option's id, else by a typed title or
/// number.
fn chosen_option(menu: &crate::setup::Menu, message: &Incoming<'_>) -> Option<String> {
    if let Some(choice) = message.choice
        && let Some(option) = menu.options.iter().find(|o| o.id == choice)
    {
        return Some(option.team.clone());
    }
    let typed = message.text?.trim();
    menu.options
        .iter()
        .enumerate()
        .find(|(i, o)| o.title.trim().eq_ignore_ascii_case(typed) || typed == (i + 1).to_string())
        .map(|(_, o)| o.team.clone())
}
