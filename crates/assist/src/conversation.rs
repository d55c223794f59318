//! The conversation a feature works on, as the caller (the desk, the CLI) hands it over: who the
//! customer is, whether they are restricted, and the messages in order.

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    /// The customer.
    Customer,
    /// A member of the team, by the name the team sees.
    Agent(String),
    /// The workspace's automation (greeting, away message, menu bot).
    Automation,
}

/// One message of the thread (private notes are not passed: they are the team's, not the
/// customer's conversation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub author: Author,
    /// Its text (a caption for media; a placeholder such as `[image]` when it has none).
    pub text: String,
}

/// What the caller knows of the customer: their identifiers are masked wherever they appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Customer {
    /// The name they go by.
    pub name: String,
    /// Their id on the channel (a WhatsApp number, a Messenger PSID).
    pub customer_id: String,
    /// Their phone, when known.
    pub phone: Option<String>,
    /// Their email, when known.
    pub email: Option<String>,
    /// Their username, when known.
    pub username: Option<String>,
}

/// A conversation handed to a feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The conversation's id where the caller keeps it (recorded in the audit, never sent).
    pub id: i64,
    /// Restricted (privacy promise P14): kept, but no processing beyond storage. A restricted
    /// conversation is refused before anything is built.
    pub restricted: bool,
    /// The customer.
    pub customer: Customer,
    /// The messages, oldest first.
    pub messages: Vec<Message>,
}

impl Conversation {
    /// The last `n` messages (all of them when there are fewer).
    pub fn last_messages(&self, n: usize) -> &[Message] {
        &self.messages[self.messages.len().saturating_sub(n)..]
    }

    /// The customer's latest message, if they wrote any.
    pub fn last_customer_message(&self) -> Option<&Message> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.author == Author::Customer)
    }
}
