//! Stop and start keywords: a customer who writes STOP (or UNSUBSCRIBE, or a localised word the
//! workspace configures) is opted out of marketing messages at once and told so; START opts them
//! back in.
//!
//! The relay decides with [`decide`] on every customer's text, whether or not the workspace's
//! automation is switched on (consent is the law, not a feature); the keywords and the
//! confirmations are part of the workspace's [`crate::Setup`] ([`ConsentKeywords`]). A keyword
//! counts only as the whole message: trimmed, compared ignoring case and accents ("Arrêt",
//! "ARRET" and "arret" are the same word), never found inside a sentence ("please stop calling
//! me at work" is a message for a person, not an opt-out).

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::setup::{Invalid, MAX_TEXT, Texts};

/// Most keywords of each kind.
pub const MAX_KEYWORDS: usize = 30;

/// The longest keyword (bytes).
pub const MAX_KEYWORD: usize = 32;

/// The workspace's stop and start keywords and what the customer is told after each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default, deny_unknown_fields)]
pub struct ConsentKeywords {
    /// Words that opt the customer out (STOP, UNSUBSCRIBE, ABMELDEN, BAJA, ARRET…).
    pub stop: Vec<String>,
    /// Words that opt the customer back in (START…).
    pub start: Vec<String>,
    /// Sent once the customer opted out (never again while they stay out).
    pub stopped_reply: Texts,
    /// Sent once the customer opted back in.
    pub started_reply: Texts,
}

impl Default for ConsentKeywords {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|w| w.to_string()).collect();
        Self {
            stop: words(&[
                "STOP",
                "UNSUBSCRIBE",
                "STOPP",
                "ABMELDEN",
                "BAJA",
                "ARRET",
                "DESCADASTRAR",
            ]),
            start: words(&["START", "ANMELDEN", "ALTA", "SUBSCRIBE"]),
            stopped_reply: Texts {
                text: "You will no longer receive marketing messages from us. Reply START to \
                       receive them again."
                    .into(),
                ..Texts::default()
            },
            started_reply: Texts {
                text: "You will receive our marketing messages again. Reply STOP to stop them."
                    .into(),
                ..Texts::default()
            },
        }
    }
}

impl ConsentKeywords {
    /// Checks what an admin saved: at least one stop keyword (a customer must always be able to
    /// opt out), keywords of 1 to [`MAX_KEYWORD`] bytes, none both a stop and a start keyword,
    /// confirmations within Meta's limits.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.stop.is_empty() {
            return Err(Invalid(
                "keep at least one stop keyword: customers must always be able to opt out".into(),
            ));
        }
        for words in [&self.stop, &self.start] {
            if words.len() > MAX_KEYWORDS
                || words
                    .iter()
                    .any(|w| folded(w).is_empty() || w.len() > MAX_KEYWORD)
            {
                return Err(Invalid(format!(
                    "at most {MAX_KEYWORDS} stop and {MAX_KEYWORDS} start keywords, each of 1 to \
                     {MAX_KEYWORD} characters"
                )));
            }
        }
        if let Some(both) = self
            .start
            .iter()
            .find(|w| self.stop.iter().any(|s| folded(s) == folded(w)))
        {
            return Err(Invalid(format!(
                "{both:?} is both a stop and a start keyword"
            )));
        }
        for reply in [&self.stopped_reply, &self.started_reply] {
            let texts = std::iter::once(&reply.text)
                .chain(reply.by_language.values())
                .chain(reply.by_channel.values());
            for text in texts {
                if text.trim().is_empty() || text.len() > MAX_TEXT {
                    return Err(Invalid(format!(
                        "a consent confirmation has 1 to {MAX_TEXT} characters"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// What a customer's message means for their consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordDecision {
    /// Not a keyword (or one that changes nothing): nothing to record, nothing to send.
    Nothing,
    /// Opt the customer out and confirm it.
    OptOut,
    /// Opt the customer back in and confirm it.
    OptIn,
}

/// What the customer's message `text` decides, given whether they are opted in now
/// (`currently_opted_in`: `None` when no consent was ever recorded). A stop keyword from a
/// customer already opted out, or a start keyword from one already in, decides nothing: the
/// customer is told once, not every time they repeat it. A customer never recorded who writes
/// STOP is opted out (and told); one who writes START is opted in.
pub fn decide(
    keywords: &ConsentKeywords,
    text: &str,
    currently_opted_in: Option<bool>,
) -> KeywordDecision {
    let said = folded(text);
    if said.is_empty() || said.len() > 4 * MAX_KEYWORD {
        return KeywordDecision::Nothing;
    }
    let (stop, start) = with_folded(keywords, |folded| {
        let (stop, start) = folded.split_at(keywords.stop.len());
        (stop.contains(&said), start.contains(&said))
    });
    if stop && currently_opted_in != Some(false) {
        KeywordDecision::OptOut
    } else if start && currently_opted_in != Some(true) {
        KeywordDecision::OptIn
    } else {
        KeywordDecision::Nothing
    }
}

thread_local! {
    /// The keywords last folded on this thread, as written and folded (stop words, then start
    /// words): a workspace's keywords change rarely, and folding each of them again for every
    /// customer's message was most of what checking a message cost.
    static FOLDED: std::cell::RefCell<(Vec<String>, Vec<String>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` on `keywords`' stop words then start words, folded ([`folded`]), folding them only
/// when they differ from the last ones folded on this thread.
fn with_folded<R>(keywords: &ConsentKeywords, f: impl FnOnce(&[String]) -> R) -> R {
    FOLDED.with(|cache| {
        let mut cache = cache.borrow_mut();
        let written = || keywords.stop.iter().chain(&keywords.start);
        if !written().eq(cache.0.iter()) {
            cache.0 = written().cloned().collect();
            cache.1 = written().map(|w| folded(w)).collect();
        }
        f(&cache.1)
    })
}

/// Whether `text` is one of the workspace's stop or start keywords (whatever the customer's
/// consent now): the automation's bot leaves such a message to the consent worker.
pub fn is_keyword(keywords: &ConsentKeywords, text: &str) -> bool {
    let said = folded(text);
    !said.is_empty() && with_folded(keywords, |folded| folded.contains(&said))
}

/// A text as keywords are compared: trimmed (spaces and punctuation customers add around a
/// word, "Stop!" or "stop."), lower case, accents removed (canonical decomposition without its
/// combining marks), inner runs of spaces made one.
pub fn folded(text: &str) -> String {
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
    let plain: String = trimmed
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a character is a combining mark (the accents NFD splits off letters).
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The folded keywords are kept between messages on a thread: another workspace's (or a
    /// changed setup's) keywords are folded again, never mistaken for the last ones.
    #[test]
    fn changed_keywords_are_seen_at_once() {
        let default = ConsentKeywords::default();
        assert!(is_keyword(&default, "Stop!"));
        let mut changed = default.clone();
        changed.stop = vec!["Halt".into()];
        changed.start = vec!["Weiter".into()];
        assert!(!is_keyword(&changed, "stop"));
        assert!(is_keyword(&changed, "HALT"));
        assert_eq!(decide(&changed, "halt", None), KeywordDecision::OptOut);
        assert_eq!(decide(&changed, "stop", None), KeywordDecision::Nothing);
        // The same words moved from stop to start count as start words.
        let mut swapped = changed.clone();
        swapped.stop = vec![];
        swapped.start = vec!["Halt".into(), "Weiter".into()];
        assert_eq!(
            decide(&swapped, "halt", Some(false)),
            KeywordDecision::OptIn
        );
        assert!(is_keyword(&default, "stop"));
    }

    #[test]
    fn a_keyword_counts_as_the_whole_message_ignoring_case_accents_and_spaces() {
        let k = ConsentKeywords::default();
        for text in [
            "STOP",
            "stop",
            "  Stop!  ",
            "Arrêt",
            "ARRÊT",
            "arret",
            "Baja.",
            "abmelden",
        ] {
            assert_eq!(decide(&k, text, None), KeywordDecision::OptOut, "{text:?}");
            assert_eq!(
                decide(&k, text, Some(true)),
                KeywordDecision::OptOut,
                "{text:?}"
            );
        }
        for text in [
            "please stop calling me",
            "stopping by tomorrow",
            "STOPSTOP",
            "",
            "   ",
            "I want to unsubscribe",
        ] {
            assert_eq!(
                decide(&k, text, Some(true)),
                KeywordDecision::Nothing,
                "{text:?}"
            );
        }
        assert_eq!(decide(&k, "Start", Some(false)), KeywordDecision::OptIn);
        assert_eq!(decide(&k, "start", None), KeywordDecision::OptIn);
    }

    #[test]
    fn repeating_a_keyword_changes_nothing() {
        let k = ConsentKeywords::default();
        assert_eq!(decide(&k, "STOP", Some(false)), KeywordDecision::Nothing);
        assert_eq!(decide(&k, "START", Some(true)), KeywordDecision::Nothing);
    }

    #[test]
    fn the_workspaces_own_keywords_replace_the_defaults() {
        let k = ConsentKeywords {
            stop: vec!["Parar".into(), "sair já".into()],
            start: vec!["Voltar".into()],
            ..ConsentKeywords::default()
        };
        assert_eq!(decide(&k, "PARAR", None), KeywordDecision::OptOut);
        assert_eq!(decide(&k, "Sair  ja", None), KeywordDecision::OptOut);
        assert_eq!(decide(&k, "STOP", None), KeywordDecision::Nothing);
        assert_eq!(decide(&k, "voltar", Some(false)), KeywordDecision::OptIn);
        assert!(k.validate().is_ok());
    }

    #[test]
    fn a_setup_without_a_stop_keyword_or_with_overlaps_is_refused() {
        let none = ConsentKeywords {
            stop: vec![],
            ..ConsentKeywords::default()
        };
        assert!(none.validate().unwrap_err().0.contains("at least one stop"));
        let both = ConsentKeywords {
            start: vec!["stop".into()],
            ..ConsentKeywords::default()
        };
        assert!(both.validate().unwrap_err().0.contains("both"));
        let blank = ConsentKeywords {
            stop: vec!["  ".into()],
            ..ConsentKeywords::default()
        };
        assert!(blank.validate().is_err());
        let mut empty_reply = ConsentKeywords::default();
        empty_reply.stopped_reply.text = " ".into();
        assert!(empty_reply.validate().is_err());
        assert!(ConsentKeywords::default().validate().is_ok());
    }
}
