//! Masking identifiers before text leaves the desk (on by default, per workspace setting).
//!
//! Emails, phone numbers, long numbers (cards, accounts, order numbers of seven digits or more),
//! IBANs and the customer's own identifiers (their name, channel id, phone, email, username) are
//! replaced by placeholders such as `[email 1]`, `[phone 2]`, `[number 1]`, `[id 1]` and
//! `[customer]`; the same value always gets the same placeholder within one request, so the model
//! can still tell them apart.
//!
//! Reversal: the map from placeholders back to values ([`MaskMap`]) stays on the desk and is never
//! sent. It is applied only to text the agent may send to the same customer — reply drafts and
//! rewrites ([`crate::Feature::unmasks_answer`]) — because a reply must carry the real order number
//! the customer gave. Summaries and labels are kept masked: they are stored as a note or labels
//! the whole team sees, and the model's own wording should not be the place identifiers spread.
//! Placeholders the desk did not create are left as written.

use std::sync::LazyLock;

use regex::Regex;

use crate::conversation::Customer;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
        .expect("valid")
});
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b").expect("valid")
});
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?[0-9][0-9 ().\-]{4,}[0-9]").expect("valid"));

/// Placeholders and the values they stand for, in one request. Stays on the desk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskMap {
    entries: Vec<(String, String)>,
}

impl MaskMap {
    /// How many values were masked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was masked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The placeholders, in the order they were made (for showing what was masked, without the
    /// values).
    pub fn placeholders(&self) -> Vec<&str> {
        self.entries.iter().map(|(p, _)| p.as_str()).collect()
    }

    fn placeholder_for(&mut self, kind: &str, value: &str) -> String {
        if let Some((p, _)) = self.entries.iter().find(|(_, v)| v == value) {
            return p.clone();
        }
        let placeholder = if kind == "customer" {
            "[customer]".to_string()
        } else {
            let n = self
                .entries
                .iter()
                .filter(|(p, _)| p.starts_with(&format!("[{kind} ")))
                .count();
            format!("[{kind} {}]", n + 1)
        };
        self.entries.push((placeholder.clone(), value.to_string()));
        placeholder
    }

    /// Puts the values back in place of their placeholders.
    pub fn unmask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (placeholder, value) in &self.entries {
            out = out.replace(placeholder, value);
        }
        out
    }

    /// The longest placeholder, in characters (how much a streaming unmask may hold back).
    fn longest(&self) -> usize {
        self.entries
            .iter()
            .map(|(p, _)| p.chars().count())
            .max()
            .unwrap_or(0)
    }
}

/// Masks texts of one request, remembering each value's placeholder.
#[derive(Debug, Clone)]
pub struct Masker {
    known: Vec<(&'static str, String)>,
    map: MaskMap,
}

impl Masker {
    /// A masker that knows the customer's own identifiers (masked wherever they appear, even
    /// where no pattern would catch them).
    pub fn new(customer: &Customer) -> Self {
        let mut known: Vec<(&'static str, String)> = Vec::new();
        let mut add = |kind: &'static str, value: Option<&str>| {
            if let Some(value) = value.map(str::trim).filter(|v| v.chars().count() >= 3) {
                known.push((kind, value.to_string()));
            }
        };
        add("email", customer.email.as_deref());
        add("phone", customer.phone.as_deref());
        add("id", Some(&customer.customer_id));
        add("id", customer.username.as_deref());
        add("customer", Some(&customer.name));
        known.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        Self {
            known,
            map: MaskMap::default(),
        }
    }

    /// `text` with every identifier replaced by its placeholder.
    pub fn mask(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        for (kind, value) in self.known.clone() {
            if out.contains(&value) {
                let placeholder = self.map.placeholder_for(kind, &value);
                out = out.replace(&value, &placeholder);
            }
        }
        out = self.replace_all(&EMAIL, &out, |_| "email");
        out = self.replace_all(&IBAN, &out, |_| "number");
        self.replace_all(&NUMBER, &out, |found| {
            let digits = found.chars().filter(char::is_ascii_digit).count();
            if digits < 7 {
                ""
            } else if found.starts_with('+')
                || (digits <= 15 && found.contains([' ', '-', '(', '.']))
            {
                "phone"
            } else {
                "number"
            }
        })
    }

    fn replace_all(
        &mut self,
        pattern: &Regex,
        text: &str,
        kind: impl Fn(&str) -> &'static str,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for found in pattern.find_iter(text) {
            let kind = kind(found.as_str());
            if kind.is_empty() {
                continue;
            }
            out.push_str(&text[last..found.start()]);
            out.push_str(&self.map.placeholder_for(kind, found.as_str()));
            last = found.end();
        }
        out.push_str(&text[last..]);
        out
    }

    /// The placeholders made so far and their values.
    pub fn into_map(self) -> MaskMap {
        self.map
    }
}

/// Unmasks a streamed answer piece by piece: a placeholder split across tokens (`[pho`, `ne 1]`)
/// is held back until it is complete, and nothing else is delayed.
#[derive(Debug, Clone)]
pub struct StreamUnmask {
    map: MaskMap,
    held: String,
}

impl StreamUnmask {
    /// Unmasks with `map` (an empty map passes text through unchanged).
    pub fn new(map: MaskMap) -> Self {
        Self {
            map,
            held: String::new(),
        }
    }

    /// The text that can be shown now, after `piece` arrived.
    pub fn push(&mut self, piece: &str) -> String {
        self.held.push_str(piece);
        if self.map.is_empty() {
            return std::mem::take(&mut self.held);
        }
        let cut = match self.held.rfind('[') {
            Some(open)
                if !self.held[open..].contains(']')
                    && self.held[open..].chars().count() < self.map.longest() =>
            {
                open
            }
            _ => self.held.len(),
        };
        let ready: String = self.held.drain(..cut).collect();
        self.map.unmask(&ready)
    }

    /// Whatever is still held back, at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.held);
        self.map.unmask(&rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer() -> Customer {
        Customer {
            name: "Maria Lopez".into(),
            customer_id: "34611222333".into(),
            phone: Some("+34 611 222 333".into()),
            email: None,
            username: None,
        }
    }

    #[test]
    fn masks_patterns_and_known_identifiers() {
        let mut masker = Masker::new(&customer());
        let original = "Hi, I'm Maria Lopez, mail me at maria.l@example.co.uk or call +44 20 7946 0958; order 88812345, card 4111111111111111, IBAN DE89 3704 0044 0532 0130 00, my WhatsApp 34611222333. Size 42.";
        let text = masker.mask(original);
        for secret in [
            "Maria",
            "maria.l@",
            "7946",
            "88812345",
            "4111",
            "DE89",
            "34611222333",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(
            text.contains("[customer]") && text.contains("[email 1]") && text.contains("[phone 1]"),
            "{text}"
        );
        assert!(text.contains("Size 42."), "short numbers stay: {text}");
        let again = masker.mask("Reach maria.l@example.co.uk");
        assert_eq!(again, "Reach [email 1]", "same value, same placeholder");
        let map = masker.into_map();
        assert_eq!(
            map.unmask(&text),
            original,
            "every placeholder goes back to its value"
        );
        assert_eq!(map.unmask("Dear [customer]"), "Dear Maria Lopez");
    }

    #[test]
    fn streaming_unmask_holds_split_placeholders_only() {
        let mut masker = Masker::new(&customer());
        masker.mask("order 88812345");
        let mut unmask = StreamUnmask::new(masker.into_map());
        let pieces = ["Your ord", "er [num", "ber", " 1] is", " on its way [sic"];
        let shown: Vec<String> = pieces.iter().map(|p| unmask.push(p)).collect();
        assert_eq!(shown[0], "Your ord");
        assert_eq!(shown[1], "er ");
        assert_eq!(shown[2], "");
        assert_eq!(shown[3], "88812345 is");
        assert_eq!(
            format!("{}{}", shown[4], unmask.finish()),
            " on its way [sic"
        );
    }
}
