//! Trying an automation setup before it is saved: the last 7 days of this desk's own cache
//! replayed through the same engine the relay runs ([`zentro_automation::Engine`]), and what it
//! would have done — the team and member each conversation would have got, the messages that
//! would have gone out.
//!
//! What is replayed, in time order: customers' messages, people's replies (the automation's own
//! messages are left out: the setup under trial decides those), and what people did — assignments,
//! status changes and moves to a team (the automation's own are left out too). Restricted
//! customers are restricted from the start. The cache keeps each member's latest presence only:
//! a member counts as available until the moment that presence was announced, and as it said from
//! then on. Hand-backs of an offline member's conversations fall due as the engine asks.

use std::collections::BTreeMap;

use serde::Serialize;
use zentro_automation::{Effect, Engine, Input, Presence, Setup};
use zentro_events::{ContactRef, ConversationStatus};

use crate::cache::{Cache, CacheError};

/// How far back a preview replays the cache.
pub const PREVIEW_DAYS: i64 = 7;

/// An automated message the setup would have sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PreviewMessage {
    /// The rule that sends it (`greeting`, `away`, `menu`, `menu_retry`, `handoff`, …).
    pub rule: String,
    /// The message as the thread would show it (a menu lists its choices).
    pub text: String,
    /// When (UTC ms): as the customer's message it answers arrived.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub at: i64,
}

/// What the setup would have done in one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PreviewConversation {
    /// The conversation in this cache (to open it).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub conversation_id: i64,
    /// The customer's name (or id).
    pub contact_name: String,
    /// whatsapp, messenger or instagram.
    pub channel_kind: String,
    /// The team the automation would have given it last (`None`: it would not have routed it).
    pub team: Option<String>,
    /// The member the automation would have assigned it to last (`None`: nobody, or it would
    /// have taken it back).
    pub assignee: Option<String>,
    /// The automated messages, oldest first.
    pub messages: Vec<PreviewMessage>,
}

/// What a setup would have done over the last [`PREVIEW_DAYS`] days of this cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AutomationPreview {
    /// From when the cache was replayed (UTC ms).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub since: i64,
    /// Conversations where a customer wrote in that time.
    pub conversations_replayed: u32,
    /// Conversations the automation would have acted in, most recently active first.
    pub conversations: Vec<PreviewConversation>,
    /// Automated messages in all.
    pub messages_sent: u32,
    /// Conversations the automation would have given a team.
    pub routed: u32,
    /// Conversations the automation would have assigned to a member.
    pub assigned: u32,
}

/// Something that happened in the cache, as the engine takes it, with its conversation.
struct Happening {
    at: i64,
    conversation_id: i64,
    input: Input,
}

/// A conversation the replay touched: who it is with.
struct Seen {
    contact_name: String,
    channel_kind: String,
    last_activity_at: i64,
}

/// Replays the last [`PREVIEW_DAYS`] days before `now_ms` through `setup` (see the module's
/// documentation for what is replayed) and says what the automation would have done.
pub async fn preview(
    cache: &Cache,
    setup: &Setup,
    now_ms: i64,
) -> Result<AutomationPreview, CacheError> {
    let since = now_ms - PREVIEW_DAYS * 24 * 3_600_000;
    let mut seen = BTreeMap::new();
    let mut happenings = messages_since(cache, since, &mut seen).await?;
    happenings.extend(activity_since(cache, since).await?);
    happenings.extend(presence_since(cache, since).await?);
    // Messages first at equal times (a reply answers what came before it); stable otherwise.
    happenings.sort_by_key(|h| h.at);
    let mut engine = Engine::new(setup.clone());
    for member in setup.teams.iter().flat_map(|t| &t.members) {
        let available = Input::Presence {
            member: member.clone(),
            presence: Presence::Available,
        };
        engine.apply(&available, since);
    }
    let mut outcome: BTreeMap<i64, PreviewConversation> = BTreeMap::new();
    let mut by_contact: BTreeMap<ContactRef, i64> = BTreeMap::new();
    for happening in &happenings {
        if let Some(contact) = contact_of(&happening.input) {
            by_contact.insert(contact.clone(), happening.conversation_id);
        }
        let mut actions = ticks_until(&mut engine, happening.at);
        actions.extend(engine.apply(&happening.input, happening.at));
        for action in actions {
            record(&mut outcome, &by_contact, &seen, action, happening.at);
        }
    }
    Ok(summary(since, seen.len(), outcome, &seen))
}

/// The hand-backs due up to `at`, in order.
fn ticks_until(engine: &mut Engine, at: i64) -> Vec<zentro_automation::Action> {
    let mut actions = Vec::new();
    let mut last = None;
    while let Some(tick) = engine.next_tick().filter(|t| *t <= at && Some(*t) != last) {
        actions.extend(engine.apply(&Input::Tick, tick));
        last = Some(tick);
    }
    actions
}

/// The conversation an input is about.
fn contact_of(input: &Input) -> Option<&ContactRef> {
    match input {
        Input::CustomerMessage { contact, .. }
        | Input::PersonReplied { contact }
        | Input::Assigned { contact, .. }
        | Input::Routed { contact, .. }
        | Input::StatusChanged { contact, .. }
        | Input::Restricted { contact, .. } => Some(contact),
        _ => None,
    }
}

/// Notes what an action would have done in its conversation.
fn record(
    outcome: &mut BTreeMap<i64, PreviewConversation>,
    by_contact: &BTreeMap<ContactRef, i64>,
    seen: &BTreeMap<i64, Seen>,
    action: zentro_automation::Action,
    at: i64,
) {
    let contact = match &action.effect {
        Effect::Send { contact, .. }
        | Effect::Route { contact, .. }
        | Effect::Assign { contact, .. }
        | Effect::Rate { contact, .. } => contact,
    };
    let Some((&id, who)) = by_contact
        .get(contact)
        .and_then(|id| Some((id, seen.get(id)?)))
    else {
        return;
    };
    let entry = outcome.entry(id).or_insert_with(|| PreviewConversation {
        conversation_id: id,
        contact_name: who.contact_name.clone(),
        channel_kind: who.channel_kind.clone(),
        team: None,
        assignee: None,
        messages: Vec::new(),
    });
    match action.effect {
        Effect::Send { message, .. } => entry.messages.push(PreviewMessage {
            rule: action.rule,
            text: message.thread_text(),
            at,
        }),
        Effect::Route { team, .. } => entry.team = team,
        Effect::Assign { member, .. } => entry.assignee = member,
        // A rating is the customer's, not something the preview shows the setup doing.
        Effect::Rate { .. } => {}
    }
}

/// The totals and the conversations, most recently active first.
fn summary(
    since: i64,
    replayed: usize,
    outcome: BTreeMap<i64, PreviewConversation>,
    seen: &BTreeMap<i64, Seen>,
) -> AutomationPreview {
    let mut conversations: Vec<PreviewConversation> = outcome.into_values().collect();
    conversations.sort_by_key(|c| {
        std::cmp::Reverse((
            seen.get(&c.conversation_id)
                .map_or(0, |s| s.last_activity_at),
            c.conversation_id,
        ))
    });
    let count = |f: fn(&PreviewConversation) -> bool| {
        u32::try_from(conversations.iter().filter(|c| f(c)).count()).unwrap_or(u32::MAX)
    };
    AutomationPreview {
        since,
        conversations_replayed: u32::try_from(replayed).unwrap_or(u32::MAX),
        messages_sent: u32::try_from(
            conversations
                .iter()
                .map(|c| c.messages.len())
                .sum::<usize>(),
        )
        .unwrap_or(u32::MAX),
        routed: count(|c| c.team.is_some()),
        assigned: count(|c| c.assignee.is_some()),
        conversations,
    }
}

/// Customers' messages and people's replies since `since`, in conversations active since then;
/// notes who each conversation is with in `seen` (those where a customer wrote), and restricts
/// the restricted from the start.
async fn messages_since(
    cache: &Cache,
    since: i64,
    seen: &mut BTreeMap<i64, Seen>,
) -> Result<Vec<Happening>, CacheError> {
    let rows = sqlx::query!(
        r#"SELECT m.sent_at AS "at!: i64", m.direction AS "direction!: String", m.author_member_id,
                  coalesce(m.body, m.caption) AS "text?: String", c.id AS "conversation_id!: i64",
                  c.last_activity_at AS "last_activity_at!: i64",
                  COALESCE(NULLIF(k.display_name, ''), k.external_id) AS "contact_name!: String",
                  k.restricted AS "restricted!: bool", ch.kind AS "channel_kind!: String",
                  ch.external_id AS "channel_external_id!: String", k.external_id AS "customer_id!: String"
           FROM conversations c JOIN messages m ON m.conversation_id = c.id AND m.sent_at >= ?1
           JOIN contacts k ON k.id = c.contact_id JOIN channels ch ON ch.id = k.channel_id
           WHERE c.last_activity_at >= ?1
           ORDER BY m.sent_at, m.id"#,
        since
    )
    .fetch_all(cache.pool())
    .await?;
    let mut happenings = Vec::new();
    for r in rows {
        let contact = ContactRef {
            channel_kind: r.channel_kind.clone(),
            channel_external_id: r.channel_external_id,
            customer_id: r.customer_id,
        };
        let input = if r.direction == "inbound" {
            if !seen.contains_key(&r.conversation_id) && r.restricted {
                happenings.push(Happening {
                    at: since,
                    conversation_id: r.conversation_id,
                    input: Input::Restricted {
                        contact: contact.clone(),
                        restricted: true,
                    },
                });
            }
            seen.entry(r.conversation_id).or_insert_with(|| Seen {
                contact_name: crate::customer_files::visible_text(&r.contact_name),
                channel_kind: r.channel_kind,
                last_activity_at: r.last_activity_at,
            });
            Input::CustomerMessage {
                contact,
                at: r.at,
                text: r.text,
                choice: None,
                language: None,
            }
        } else if zentro_events::automation_rule(r.author_member_id.as_deref()).is_none() {
            Input::PersonReplied { contact }
        } else {
            continue;
        };
        happenings.push(Happening {
            at: r.at,
            conversation_id: r.conversation_id,
            input,
        });
    }
    Ok(happenings)
}

/// What people did since `since` (the automation's own lines left out): assignments, status
/// changes and moves to a team.
async fn activity_since(cache: &Cache, since: i64) -> Result<Vec<Happening>, CacheError> {
    let rows = sqlx::query!(
        r#"SELECT a.at AS "at!: i64", a.kind AS "kind!: String", a.detail AS "detail!: String",
                  c.id AS "conversation_id!: i64", ch.kind AS "channel_kind!: String",
                  ch.external_id AS "channel_external_id!: String", k.external_id AS "customer_id!: String"
           FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id AND a.at >= ?1
           JOIN contacts k ON k.id = c.contact_id JOIN channels ch ON ch.id = k.channel_id
           WHERE c.last_activity_at >= ?1 AND substr(a.actor_member_id, 1, 11) <> 'automation:'
           ORDER BY a.at, a.seq"#,
        since
    )
    .fetch_all(cache.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let contact = ContactRef {
                channel_kind: r.channel_kind,
                channel_external_id: r.channel_external_id,
                customer_id: r.customer_id,
            };
            let detail: serde_json::Value = serde_json::from_str(&r.detail).ok()?;
            let input = match r.kind.as_str() {
                "assigned" => Input::Assigned {
                    contact,
                    assignee: detail["assignee"].as_str().map(str::to_string),
                },
                "status" => Input::StatusChanged {
                    contact,
                    status: serde_json::from_value::<ConversationStatus>(detail["status"].clone())
                        .ok()?,
                    by_automation: false,
                },
                "routed" => Input::Routed {
                    contact,
                    team: detail["team"].as_str().map(str::to_string),
                    by_automation: false,
                },
                _ => return None,
            };
            Some(Happening {
                at: r.at,
                conversation_id: r.conversation_id,
                input,
            })
        })
        .collect())
}

/// Members' presence as last announced, from when it was (if in the replayed time).
async fn presence_since(cache: &Cache, since: i64) -> Result<Vec<Happening>, CacheError> {
    Ok(crate::teams::presence(cache)
        .await?
        .into_iter()
        .filter(|p| p.changed_at >= since)
        .filter_map(|p| {
            let presence = serde_json::from_value(serde_json::json!(p.presence)).ok()?;
            Some(Happening {
                at: p.changed_at,
                conversation_id: 0,
                input: Input::Presence {
                    member: p.member_id,
                    presence,
                },
            })
        })
        .collect())
}
