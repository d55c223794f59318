//! What can go wrong talking to the Graph API, classified by what the caller should do.

use std::time::Duration;

use crate::platform::codes;

/// A failed Graph API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The request was refused before sending: it breaks a documented limit.
    #[error("the request is invalid: {0}")]
    InvalidInput(String),
    /// WhatsApp 131047: more than 24 hours since the customer's last message; only a template
    /// can be sent. Do not retry.
    #[error("the 24-hour customer-service window is closed; send an approved template instead")]
    WindowClosed {
        /// Meta's explanation.
        details: Option<String>,
    },
    /// WhatsApp 131026: the message cannot be delivered to this customer. Do not retry.
    #[error("the message cannot be delivered to this customer")]
    Undeliverable {
        /// Meta's explanation.
        details: Option<String>,
    },
    /// WhatsApp 131056: too many messages to this customer in a short time. Wait, then retry.
    #[error("too many messages to this customer in a short time; retry in {retry_after:?}")]
    PairRateLimited {
        /// How long to wait.
        retry_after: Duration,
    },
    /// WhatsApp 130429: the number's throughput limit. Wait, then retry.
    #[error("the phone number's throughput limit was reached; retry in {retry_after:?}")]
    ThroughputLimited {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A business-use-case or app rate limit (4, 17, 32, 613, 80001–80007). Calling again before
    /// `retry_after` extends the penalty.
    #[error("Meta is throttling this business (code {code}); retry in {retry_after:?}")]
    Throttled {
        /// Meta's code.
        code: i64,
        /// How long to wait (from `X-Business-Use-Case-Usage` when Meta says).
        retry_after: Duration,
    },
    /// A quality-related limit (131048 spam, 131049 marketing): stop and tell an admin.
    #[error("Meta limited sending for quality reasons (code {code}): {message}")]
    QualityLimited {
        /// Meta's code.
        code: i64,
        /// Meta's message.
        message: String,
    },
    /// A template problem (1320xx): wrong parameters, unknown, paused or disabled template.
    #[error("the template was refused (code {code}): {message}")]
    Template {
        /// Meta's code.
        code: i64,
        /// Meta's message and details.
        message: String,
    },
    /// 190: the access token is invalid, expired or revoked. The channel is disconnected until
    /// an owner reconnects it; do not retry.
    #[error("the channel's access token is no longer valid; reconnect the channel")]
    TokenInvalid,
    /// 10 or 200–299: a permission is missing or was revoked.
    #[error("a permission is missing or was revoked (code {code}); reconnect the channel")]
    PermissionDenied {
        /// Meta's code.
        code: i64,
    },
    /// Meta refused the request as invalid (100, 131009, 133010, 137000…). Fix, do not retry.
    #[error("Meta refused the request (code {code}): {message}")]
    Rejected {
        /// Meta's code.
        code: i64,
        /// Meta's message and details.
        message: String,
    },
    /// A temporary failure on Meta's side, known not to have sent anything; retry with backoff.
    #[error("Meta had a temporary failure{}; retry later", code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Transient {
        /// Meta's code, when it gave one.
        code: Option<i64>,
        /// HTTP status.
        status: u16,
        /// Meta's words (with its details), or the HTTP status when it said none.
        message: String,
    },
    /// Meta could not be reached; nothing was sent. Retry when the network is back.
    #[error("Meta could not be reached ({0}); nothing was sent")]
    Unreachable(String),
    /// The request may or may not have been carried out (a timeout after sending). Never retry
    /// blindly: reconcile from status webhooks.
    #[error("no answer from Meta ({0}); the message may have been sent — wait for its status")]
    Ambiguous(String),
    /// The Embedded Signup / Facebook Login code was refused (subcodes 36007 expired, 36009
    /// used or malformed): the owner must go through Meta's dialog again.
    #[error("Meta refused the login code: {}", if *expired { "it expired (codes live 30 seconds)" } else { "it was already used or is not valid" })]
    CodeRefused {
        /// Whether it expired (rather than being used or malformed).
        expired: bool,
    },
    /// Meta answered with something this client cannot read.
    #[error("unexpected answer from Meta: {0}")]
    InvalidResponse(String),
    /// Media download or upload failed.
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// What went wrong with a media file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The URL is not on Meta's media hosts, or resolves to a private address.
    #[error("refused to fetch media from {0}: not one of Meta's media hosts")]
    HostNotAllowed(String),
    /// The file is larger than allowed.
    #[error("the media file is larger than {limit} bytes")]
    TooLarge {
        /// The largest size allowed, in bytes (the caller's `max_bytes`).
        limit: u64,
    },
    /// The downloaded bytes do not match Meta's SHA-256.
    #[error("the downloaded media does not match its SHA-256; it was discarded")]
    ChecksumMismatch,
    /// The download URL expired (they live 5 minutes); look the media up again.
    #[error("the media URL expired or was refused (HTTP {0}); look the media up again")]
    UrlExpired(u16),
}

impl GraphError {
    /// Classifies a Graph error body (`{"error": {...}}`) with its HTTP status and the
    /// business-use-case throttling estimate, when Meta sent one.
    pub fn from_response(
        status: u16,
        code: Option<i64>,
        message: String,
        details: Option<String>,
        regain: Option<Duration>,
    ) -> Self {
        let full = match &details {
            Some(d) if !message.contains(d.as_str()) => format!("{message} ({d})"),
            _ => message.clone(),
        };
        let Some(code) = code else {
            return if status >= 500 {
                Self::Transient {
                    code: None,
                    status,
                    message: full,
                }
            } else {
                Self::Rejected {
                    code: i64::from(status),
                    message: full,
                }
            };
        };
        if let Some(limited) = Self::rate_limited(code, regain) {
            return limited;
        }
        match code {
            codes::WINDOW_CLOSED => Self::WindowClosed { details },
            codes::UNDELIVERABLE => Self::Undeliverable { details },
            codes::SPAM_RATE_LIMIT | codes::MARKETING_LIMIT | codes::POLICY_BLOCK => {
                Self::QualityLimited {
                    code,
                    message: full,
                }
            }
            132_000..=132_999 => Self::Template {
                code,
                message: full,
            },
            codes::TOKEN_INVALID => Self::TokenInvalid,
            codes::PERMISSION | 200..=299 => Self::PermissionDenied { code },
            codes::UNKNOWN
            | codes::TEMPORARY
            | codes::WHATSAPP_SERVER_ERROR
            | codes::SERVICE_UNAVAILABLE
            | codes::NUMBER_MAINTENANCE => Self::Transient {
                code: Some(code),
                status,
                message: full,
            },
            _ if status >= 500 => Self::Transient {
                code: Some(code),
                status,
                message: full,
            },
            _ => Self::Rejected {
                code,
                message: full,
            },
        }
    }

    /// The rate limits: per customer, per number, per app, user, Page or business use case;
    /// each waits Meta's estimate when it sent one.
    fn rate_limited(code: i64, regain: Option<Duration>) -> Option<Self> {
        let limited = match code {
            codes::PAIR_RATE_LIMIT => Self::PairRateLimited {
                retry_after: regain.unwrap_or(Duration::from_secs(6)),
            },
            codes::THROUGHPUT_LIMIT => Self::ThroughputLimited {
                retry_after: regain.unwrap_or(Duration::from_secs(1)),
            },
            codes::APP_RATE_LIMIT
            | codes::USER_RATE_LIMIT
            | codes::PAGES_RATE_LIMIT
            | codes::CUSTOM_RATE_LIMIT => Self::Throttled {
                code,
                retry_after: regain.unwrap_or(Duration::from_secs(60)),
            },
            c if codes::BUSINESS_USE_CASE_LIMITS.contains(&c) => Self::Throttled {
                code,
                retry_after: regain.unwrap_or(Duration::from_secs(60)),
            },
            _ => return None,
        };
        Some(limited)
    }

    /// Meta's error code, when there is one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::WindowClosed { .. } => Some(codes::WINDOW_CLOSED),
            Self::Undeliverable { .. } => Some(codes::UNDELIVERABLE),
            Self::PairRateLimited { .. } => Some(codes::PAIR_RATE_LIMIT),
            Self::ThroughputLimited { .. } => Some(codes::THROUGHPUT_LIMIT),
            Self::TokenInvalid => Some(codes::TOKEN_INVALID),
            Self::Throttled { code, .. }
            | Self::QualityLimited { code, .. }
            | Self::Template { code, .. }
            | Self::PermissionDenied { code }
            | Self::Rejected { code, .. } => Some(*code),
            Self::Transient { code, .. } => *code,
            _ => None,
        }
    }

    /// How long to wait before the same request may be tried again; `None` when it must not be
    /// retried as is (fix it, reconnect, or reconcile first).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::PairRateLimited { retry_after }
            | Self::ThroughputLimited { retry_after }
            | Self::Throttled { retry_after, .. } => Some(*retry_after),
            Self::Transient { .. } | Self::Unreachable(_) => Some(Duration::from_secs(2)),
            _ => None,
        }
    }

    /// Whether the channel should be marked disconnected.
    pub fn disconnects_channel(&self) -> bool {
        matches!(self, Self::TokenInvalid | Self::PermissionDenied { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, code: i64) -> GraphError {
        GraphError::from_response(status, Some(code), "m".into(), None, None)
    }

    #[test]
    fn codes_map_to_what_the_caller_should_do() {
        assert!(matches!(
            classify(400, 131047),
            GraphError::WindowClosed { .. }
        ));
        assert!(matches!(
            classify(400, 131026),
            GraphError::Undeliverable { .. }
        ));
        assert_eq!(
            classify(400, 131056).retry_after(),
            Some(Duration::from_secs(6))
        );
        assert!(matches!(
            classify(400, 130429),
            GraphError::ThroughputLimited { .. }
        ));
        assert!(matches!(
            classify(400, 132000),
            GraphError::Template { code: 132000, .. }
        ));
        assert!(matches!(classify(400, 132016), GraphError::Template { .. }));
        assert!(classify(401, 190).disconnects_channel());
        assert_eq!(classify(401, 190).retry_after(), None);
        assert!(matches!(
            classify(500, 131000),
            GraphError::Transient { .. }
        ));
        assert!(matches!(
            classify(400, 100),
            GraphError::Rejected { code: 100, .. }
        ));
        assert!(matches!(
            classify(400, 80007),
            GraphError::Throttled { code: 80007, .. }
        ));
        assert!(matches!(
            classify(503, 999_999),
            GraphError::Transient { .. }
        ));
    }

    #[test]
    fn business_use_case_estimates_set_the_wait() {
        let e = GraphError::from_response(
            400,
            Some(80007),
            "m".into(),
            None,
            Some(Duration::from_secs(600)),
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(600)));
    }
}
