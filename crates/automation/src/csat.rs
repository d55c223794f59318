//! The satisfaction survey (CSAT): asked when a person resolves a conversation a person
//! answered, answered by the customer tapping (or typing) 1 to 5, optionally followed by a
//! comment. The engine keeps a conversation's [`Survey`] while it waits for the answer; the
//! answer becomes an [`Effect::Rate`] the relay writes as a `team.rated` event.
//!
//! An answer is not the customer writing again: it does not reopen the conversation, and the
//! greeting and the menu do not run on it. Every desk recognises the same answers from its cache
//! (the migration `csat_ratings`): the first customer message after the survey in the log,
//! within a day, that is a tapped choice starting with its digit or a typed digit from 1 to 5;
//! and the first text within an hour after the comment question.

use serde::{Deserialize, Serialize};
use zentro_events::{ContactRef, MAX_COMMENT};

use crate::engine::{Action, Effect, Outgoing};
use crate::setup::{Csat, Texts};

/// How long a survey waits for its answer (ms): a later message is the customer writing again.
pub const SURVEY_EXPIRES_AFTER: i64 = 24 * 60 * 60 * 1000;

/// How long after the rating the customer's next text is its comment (ms).
pub const COMMENT_WITHIN: i64 = 60 * 60 * 1000;

/// The rule the survey's question and its answers (`team.rated`) are taken under.
pub const RULE: &str = "csat";

/// The rule the comment question is sent under.
pub const COMMENT_RULE: &str = "csat_comment";

/// The rule the thanks is sent under.
pub const THANKS_RULE: &str = "csat_thanks";

/// The id a rating's choice carries (the WhatsApp list row's id, the quick reply's payload).
pub fn choice_id(rating: u8) -> String {
    format!("csat:{rating}")
}

/// What the customer sees for a rating: its digit first (how desks recognise a tapped answer),
/// then stars, the same in every language.
pub fn choice_title(rating: u8) -> String {
    format!("{rating} {}", "★".repeat(usize::from(rating)))
}

/// A survey waiting for the customer, and what it will record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    /// When the conversation was resolved (UTC ms): the survey was asked then.
    pub resolved_at: i64,
    /// The conversation's assignee when it was resolved.
    pub agent: Option<String>,
    /// The conversation's team when it was resolved.
    pub team: Option<String>,
    /// The rating, once given (the survey then waits for the comment).
    pub rating: Option<u8>,
    /// When the rating was given (Meta's time of the answer, UTC ms).
    pub rated_at: Option<i64>,
}

/// A customer's message as the survey reads it.
pub(crate) struct Reply<'a> {
    /// Meta's time of the message (UTC ms).
    pub at: i64,
    /// Its text (a tapped choice's title included).
    pub text: Option<&'a str>,
    /// The id of the choice tapped, if any.
    pub choice: Option<&'a str>,
    /// The customer's language, when the channel tells it.
    pub language: Option<&'a str>,
}

/// The survey's question for a conversation just resolved, and the survey that waits for its
/// answer. `window_opened_at`: the customer's last message.
pub(crate) fn ask(
    csat: &Csat,
    contact: &ContactRef,
    survey: Survey,
    window_opened_at: i64,
) -> (Survey, Action) {
    let message = Outgoing::Menu {
        text: csat.question.pick(&contact.channel_kind, None).to_string(),
        options: (1..=5).map(|r| (choice_id(r), choice_title(r))).collect(),
        button: csat.button.clone(),
    };
    let action = send(RULE, contact, message, window_opened_at);
    (survey, action)
}

/// What a customer's message does to the survey waiting in their conversation: `None` when it
/// is not an answer (the survey ends and the message is the customer writing again), else the
/// survey from now on (`None`: done) and the actions (the rating, the comment question, the
/// thanks).
pub(crate) fn answer(
    csat: Option<&Csat>,
    contact: &ContactRef,
    survey: &Survey,
    reply: &Reply<'_>,
) -> Option<(Option<Survey>, Vec<Action>)> {
    let thanks = |actions: &mut Vec<Action>| {
        if let Some(texts) = csat.and_then(|c| c.thanks.as_ref()) {
            actions.push(send(
                THANKS_RULE,
                contact,
                text(texts, contact, reply),
                reply.at,
            ));
        }
    };
    match (survey.rating, survey.rated_at) {
        (Some(rating), Some(rated_at)) => {
            if reply.choice.is_some() || reply.at > rated_at + COMMENT_WITHIN {
                return None;
            }
            let comment = reply.text.map(str::trim).filter(|t| !t.is_empty())?;
            let mut actions = vec![rate(contact, survey, rating, rated_at, Some(comment))];
            thanks(&mut actions);
            Some((None, actions))
        }
        _ => {
            // After the survey in the log; Meta's time, in whole seconds, may fall before it.
            if reply.at > survey.resolved_at + SURVEY_EXPIRES_AFTER {
                return None;
            }
            let rating = rating_of(reply)?;
            let mut actions = vec![rate(contact, survey, rating, reply.at, None)];
            match csat.and_then(|c| c.comment_prompt.as_ref()) {
                Some(prompt) => {
                    let question = text(prompt, contact, reply);
                    actions.push(send(COMMENT_RULE, contact, question, reply.at));
                    let waiting = Survey {
                        rating: Some(rating),
                        rated_at: Some(reply.at),
                        ..survey.clone()
                    };
                    Some((Some(waiting), actions))
                }
                None => {
                    thanks(&mut actions);
                    Some((None, actions))
                }
            }
        }
    }
}

/// The rating a message gives: a tapped `csat:<n>`, or a typed digit 1 to 5 (nothing else
/// typed). A tapped choice of something else (an old menu's) is not a rating.
fn rating_of(reply: &Reply<'_>) -> Option<u8> {
    let digit = match reply.choice {
        Some(choice) => choice.strip_prefix("csat:")?,
        None => reply.text?.trim(),
    };
    match digit.parse::<u8>() {
        Ok(n @ 1..=5) if digit.len() == 1 => Some(n),
        _ => None,
    }
}

fn rate(
    contact: &ContactRef,
    survey: &Survey,
    rating: u8,
    rated_at: i64,
    comment: Option<&str>,
) -> Action {
    Action {
        rule: RULE.into(),
        effect: Effect::Rate {
            contact: contact.clone(),
            rating,
            comment: comment.map(|c| cut(c, MAX_COMMENT).to_string()),
            agent: survey.agent.clone(),
            team: survey.team.clone(),
            resolved_at: survey.resolved_at,
            rated_at,
        },
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn text(texts: &Texts, contact: &ContactRef, reply: &Reply<'_>) -> Outgoing {
    Outgoing::Text {
        text: texts
            .pick(&contact.channel_kind, reply.language)
            .to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: Option<&'static str>, choice: Option<&'static str>) -> Reply<'static> {
        Reply {
            at: 0,
            text,
            choice,
            language: None,
        }
    }

    #[test]
    fn a_rating_is_a_tapped_choice_or_a_typed_digit() {
        assert_eq!(rating_of(&reply(Some("4 ★★★★"), Some("csat:4"))), Some(4));
        assert_eq!(rating_of(&reply(Some(" 2 "), None)), Some(2));
        assert_eq!(rating_of(&reply(Some("6"), None)), None);
        assert_eq!(rating_of(&reply(Some("0"), None)), None);
        assert_eq!(rating_of(&reply(Some("5 stars!"), None)), None);
        assert_eq!(rating_of(&reply(Some("Buying"), Some("sales"))), None);
        assert_eq!(rating_of(&reply(Some("5"), Some("csat:55"))), None);
        assert_eq!(choice_title(3), "3 ★★★");
        assert!(choice_title(5).chars().count() <= 20, "Meta's title limit");
    }

    #[test]
    fn a_long_comment_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_COMMENT);
        let cut = cut(&long, MAX_COMMENT);
        assert!(cut.len() <= MAX_COMMENT);
        assert_eq!(cut.chars().count(), MAX_COMMENT / 2);
    }
}
