//! The four features as requests: a conversation's summary, a reply draft, a rewrite of the
//! agent's draft, and labels for an incoming message. Each is built on the desk, masked there,
//! and can be shown exactly as it will be sent ([`PreparedRequest::what_is_sent`]) before and after
//! it goes.

use serde_json::{Value, json};

use crate::AssistError;
use crate::conversation::{Author, Conversation, Message};
use crate::labels::{Intent, Sentiment};
use crate::masking::{MaskMap, Masker};
use crate::settings::ProviderSettings;

/// How a rewrite changes the agent's draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteStyle {
    /// Fewer words, same meaning.
    Shorter,
    /// Warmer.
    Friendlier,
    /// More formal.
    MoreFormal,
    /// In the language the customer writes in.
    CustomersLanguage,
}

impl RewriteStyle {
    fn instruction(self) -> &'static str {
        match self {
            Self::Shorter => "Make it shorter: keep every fact, drop the rest.",
            Self::Friendlier => "Make it friendlier and warmer, without adding promises.",
            Self::MoreFormal => "Make it more formal and polite.",
            Self::CustomersLanguage => {
                "Translate it into the language the customer writes in (judge from their messages)."
            }
        }
    }
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// A summary of the conversation (can be saved as a private note).
    Summary,
    /// A reply draft for the composer (never sent without the agent's action, P2).
    Draft,
    /// The agent's draft rewritten.
    Rewrite(RewriteStyle),
    /// Intent and sentiment of the customer's latest message.
    Labels,
}

impl Feature {
    /// Its name in the audit and the usage records: `summary`, `draft`, `rewrite`, `labels`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Draft => "draft",
            Self::Rewrite(_) => "rewrite",
            Self::Labels => "labels",
        }
    }

    /// Whether masked values are put back into the answer (drafts and rewrites: the agent may
    /// send them to the same customer; see [`crate::masking`]).
    pub fn unmasks_answer(self) -> bool {
        matches!(self, Self::Draft | Self::Rewrite(_))
    }
}

/// How requests are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOptions {
    /// Mask identifiers before sending (the workspace's setting; on by default).
    pub masking: bool,
    /// The most recent messages sent at most.
    pub max_messages: usize,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            masking: true,
            max_messages: 40,
        }
    }
}

/// One chat message as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system` or `user`.
    pub role: &'static str,
    /// The text (already masked).
    pub content: String,
}

/// A request ready to send: what goes to the provider, and what stays on the desk (the mask map).
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRequest {
    /// What it is for.
    pub feature: Feature,
    /// The conversation it is about (recorded in the audit; never sent).
    pub conversation_id: i64,
    /// The messages sent.
    pub messages: Vec<ChatMessage>,
    /// The answer's length limit, in tokens.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Placeholders and their values; stays on the desk.
    pub mask: MaskMap,
}

/// Exactly what a request sends, for the agent to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// Where it goes (`https://…/chat/completions`).
    pub endpoint: String,
    /// The provider's host, as the desk names it.
    pub provider: String,
    /// The body, as sent, pretty-printed (the key goes in a header and is never shown).
    pub body: String,
    /// The placeholders that replaced identifiers (the values are not shown here).
    pub masked: Vec<String>,
}

impl PreparedRequest {
    /// The JSON body sent to `{base_url}/chat/completions`.
    pub fn body(&self, model: &str, stream: bool) -> Value {
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let mut body = json!({
            "model": model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        });
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    /// Whether the client streams this request (everything but labels, which are read whole).
    pub fn streams(&self) -> bool {
        self.feature != Feature::Labels
    }

    /// What will be (or was) sent to `provider`, byte for byte apart from the key.
    pub fn what_is_sent(&self, provider: &ProviderSettings) -> SentRequest {
        let body = self.body(&provider.model, self.streams());
        SentRequest {
            endpoint: provider.endpoint(),
            provider: provider.provider_name(),
            body: serde_json::to_string_pretty(&body).unwrap_or_default(),
            masked: self
                .mask
                .placeholders()
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }

    /// Tokens the prompt is estimated at (4 per message plus one per 4 characters), for the
    /// budget check before sending.
    pub fn estimated_prompt_tokens(&self) -> u64 {
        self.messages
            .iter()
            .map(|m| 4 + (m.content.chars().count() as u64).div_ceil(4))
            .sum()
    }
}

const PLACEHOLDERS: &str = "Text in square brackets such as [customer], [email 1] or [phone 1] stands for details hidden for privacy: keep these placeholders exactly as written and never invent the values.";

fn speaker(author: &Author) -> String {
    match author {
        Author::Customer => "Customer".into(),
        Author::Agent(name) if name.trim().is_empty() => "Agent".into(),
        Author::Agent(name) => format!("Agent ({})", name.trim()),
        Author::Automation => "Automated message".into(),
    }
}

/// Turns messages into the lines of a transcript, masked when asked.
fn transcript(messages: &[Message], masker: &mut Option<Masker>) -> String {
    messages
        .iter()
        .map(|m| {
            let text = match masker {
                Some(masker) => masker.mask(&m.text),
                None => m.text.clone(),
            };
            format!("{}: {}", speaker(&m.author), text)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks what every feature checks first: not restricted (P14), something to send.
fn admit(conversation: &Conversation) -> Result<(), AssistError> {
    if conversation.restricted {
        return Err(AssistError::Restricted);
    }
    if conversation
        .messages
        .iter()
        .all(|m| m.text.trim().is_empty())
    {
        return Err(AssistError::NothingToSend(
            "the conversation has no messages",
        ));
    }
    Ok(())
}

fn prepared(
    feature: Feature,
    conversation: &Conversation,
    system: String,
    user: String,
    max_tokens: u32,
    masker: Option<Masker>,
) -> PreparedRequest {
    PreparedRequest {
        feature,
        conversation_id: conversation.id,
        messages: vec![
            ChatMessage {
                role: "system",
                content: system,
            },
            ChatMessage {
                role: "user",
                content: user,
            },
        ],
        max_tokens,
        temperature: if feature == Feature::Labels { 0.0 } else { 0.3 },
        mask: masker.map(Masker::into_map).unwrap_or_default(),
    }
}

fn masker_for(conversation: &Conversation, options: &RequestOptions) -> Option<Masker> {
    options.masking.then(|| Masker::new(&conversation.customer))
}

/// A summary of the conversation for the team.
pub fn summary(
    conversation: &Conversation,
    options: &RequestOptions,
) -> Result<PreparedRequest, AssistError> {
    admit(conversation)?;
    let mut masker = masker_for(conversation, options);
    let lines = transcript(
        conversation.last_messages(options.max_messages),
        &mut masker,
    );
    let system = format!(
        "You summarise customer support conversations for the support team. Write 2 to 5 short sentences: what the customer wants, what has been done, and what is still open. {PLACEHOLDERS}"
    );
    Ok(prepared(
        Feature::Summary,
        conversation,
        system,
        format!("Conversation:\n{lines}"),
        300,
        masker,
    ))
}

/// A draft of the agent's next reply.
pub fn draft(
    conversation: &Conversation,
    options: &RequestOptions,
) -> Result<PreparedRequest, AssistError> {
    admit(conversation)?;
    let mut masker = masker_for(conversation, options);
    let lines = transcript(
        conversation.last_messages(options.max_messages),
        &mut masker,
    );
    let system = format!(
        "You draft the support agent's next reply to the customer in the conversation below. Answer in the customer's language, briefly and politely; do not promise refunds, dates or prices that the conversation does not state. Output only the reply's text. {PLACEHOLDERS}"
    );
    Ok(prepared(
        Feature::Draft,
        conversation,
        system,
        format!("Conversation:\n{lines}"),
        400,
        masker,
    ))
}

/// The agent's draft, rewritten in `style`. Only the customer's last messages go with it (for the
/// language and the tone), not the whole thread.
pub fn rewrite(
    conversation: &Conversation,
    draft: &str,
    style: RewriteStyle,
    options: &RequestOptions,
) -> Result<PreparedRequest, AssistError> {
    if conversation.restricted {
        return Err(AssistError::Restricted);
    }
    if draft.trim().is_empty() {
        return Err(AssistError::NothingToSend("the draft is empty"));
    }
    let mut masker = masker_for(conversation, options);
    let mut customer: Vec<Message> = conversation
        .messages
        .iter()
        .rev()
        .filter(|m| m.author == Author::Customer)
        .take(3)
        .cloned()
        .collect();
    customer.reverse();
    let context = transcript(&customer, &mut masker);
    let draft = match &mut masker {
        Some(masker) => masker.mask(draft),
        None => draft.to_string(),
    };
    let system = format!(
        "You rewrite a support agent's draft reply. {} Output only the rewritten reply. {PLACEHOLDERS}",
        style.instruction()
    );
    let user = format!("The customer's latest messages:\n{context}\n\nThe draft:\n{draft}");
    Ok(prepared(
        Feature::Rewrite(style),
        conversation,
        system,
        user,
        400,
        masker,
    ))
}

/// Intent and sentiment of the customer's latest message, answered in two fixed lines.
pub fn labels(
    conversation: &Conversation,
    options: &RequestOptions,
) -> Result<PreparedRequest, AssistError> {
    if conversation.restricted {
        return Err(AssistError::Restricted);
    }
    let Some(message) = conversation
        .last_customer_message()
        .filter(|m| !m.text.trim().is_empty())
    else {
        return Err(AssistError::NothingToSend("the customer has not written"));
    };
    let mut masker = masker_for(conversation, options);
    let text = transcript(std::slice::from_ref(message), &mut masker);
    let intents: Vec<&str> = Intent::ALL.iter().map(|i| i.as_str()).collect();
    let sentiments: Vec<&str> = Sentiment::ALL.iter().map(|s| s.as_str()).collect();
    let system = format!(
        "Classify the customer's message. Answer with exactly two lines and nothing else:\nintent: <one of {}>\nsentiment: <one of {}>",
        intents.join(", "),
        sentiments.join(", ")
    );
    Ok(prepared(
        Feature::Labels,
        conversation,
        system,
        text,
        20,
        masker,
    ))
}
