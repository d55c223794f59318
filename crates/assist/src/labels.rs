//! Intent and sentiment of an incoming message, from fixed sets, parsed strictly from the model's
//! answer: anything but the two expected lines with known values is refused, never guessed.

use crate::AssistError;

/// What the customer wants, from a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Asking for information.
    Question,
    /// Placing or changing an order.
    Order,
    /// Asking where an order or delivery is.
    Delivery,
    /// Wanting money back or a return.
    Refund,
    /// Cancelling an order, a booking or a subscription.
    Cancellation,
    /// Booking or rescheduling an appointment.
    Booking,
    /// Unhappy about something.
    Complaint,
    /// Praise or a suggestion.
    Feedback,
    /// Unsolicited or abusive.
    Spam,
    /// None of the above.
    Other,
}

/// How the customer feels, from a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sentiment {
    /// Pleased.
    Positive,
    /// Neither.
    Neutral,
    /// Unhappy.
    Negative,
}

impl Intent {
    /// Every intent, in the order the prompt lists them.
    pub const ALL: [Intent; 10] = [
        Intent::Question,
        Intent::Order,
        Intent::Delivery,
        Intent::Refund,
        Intent::Cancellation,
        Intent::Booking,
        Intent::Complaint,
        Intent::Feedback,
        Intent::Spam,
        Intent::Other,
    ];

    /// Its name in prompts and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Question => "question",
            Intent::Order => "order",
            Intent::Delivery => "delivery",
            Intent::Refund => "refund",
            Intent::Cancellation => "cancellation",
            Intent::Booking => "booking",
            Intent::Complaint => "complaint",
            Intent::Feedback => "feedback",
            Intent::Spam => "spam",
            Intent::Other => "other",
        }
    }
}

impl Sentiment {
    /// Every sentiment.
    pub const ALL: [Sentiment; 3] = [Sentiment::Positive, Sentiment::Neutral, Sentiment::Negative];

    /// Its name in prompts and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Positive => "positive",
            Sentiment::Neutral => "neutral",
            Sentiment::Negative => "negative",
        }
    }
}

/// The labels suggested for a message: shown as suggestions, applied only if an admin turned
/// automatic labels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestedLabels {
    /// What the customer wants.
    pub intent: Intent,
    /// How they feel.
    pub sentiment: Sentiment,
}

impl SuggestedLabels {
    /// The conversation labels these become: `intent:refund`, `sentiment:negative`.
    pub fn labels(&self) -> [String; 2] {
        [
            format!("intent:{}", self.intent.as_str()),
            format!("sentiment:{}", self.sentiment.as_str()),
        ]
    }

    /// Parses the model's answer: exactly the lines `intent: <one of the intents>` and
    /// `sentiment: <one of the sentiments>` (in this order; case and surrounding spaces aside).
    pub fn parse(answer: &str) -> Result<Self, AssistError> {
        let unreadable =
            || AssistError::UnreadableAnswer("the labels were not in the expected form".into());
        let lines: Vec<&str> = answer
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let [intent, sentiment] = lines.as_slice() else {
            return Err(unreadable());
        };
        let value = |line: &str, key: &str| -> Option<String> {
            let (k, v) = line.split_once(':')?;
            (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().to_ascii_lowercase())
        };
        let intent = value(intent, "intent").ok_or_else(unreadable)?;
        let sentiment = value(sentiment, "sentiment").ok_or_else(unreadable)?;
        Ok(Self {
            intent: *Intent::ALL
                .iter()
                .find(|i| i.as_str() == intent)
                .ok_or_else(unreadable)?,
            sentiment: *Sentiment::ALL
                .iter()
                .find(|s| s.as_str() == sentiment)
                .ok_or_else(unreadable)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_the_exact_form() {
        let labels = SuggestedLabels::parse("intent: Refund\n sentiment: negative \n").expect("ok");
        assert_eq!(labels.intent, Intent::Refund);
        assert_eq!(
            labels.labels(),
            [
                "intent:refund".to_string(),
                "sentiment:negative".to_string()
            ]
        );
        for bad in [
            "",
            "intent: refund",
            "intent: refund\nsentiment: furious",
            "intent: refunds\nsentiment: negative",
            "sentiment: negative\nintent: refund",
            "Sure! intent: refund\nsentiment: negative",
            "intent: refund\nsentiment: negative\nconfidence: high",
        ] {
            assert!(SuggestedLabels::parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
