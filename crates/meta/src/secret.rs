//! Secrets that never print: the app secret (relay only) and access tokens.
//!
//! Both zeroize their memory on drop and show as `[redacted]` in `Debug` and `Display`, so a secret
//! that slips into a log line or an error message reveals nothing.

use std::fmt;

use zeroize::Zeroizing;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
            }

            /// The secret itself, for the one place that must send or use it.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// Whether the secret is empty (a configuration mistake).
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}([redacted])", stringify!($name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

secret_type!(
    /// The Meta app secret: the webhook HMAC key and the key for code exchanges. Lives only on the
    /// relay; never ships in a desktop binary.
    AppSecret
);
secret_type!(
    /// A Meta access token (a business integration system user token or a Page token).
    AccessToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = AppSecret::new("s3cr3t-value");
        let token = AccessToken::new("EAAG-token");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{secret:?}"), "AppSecret([redacted])");
        assert!(!format!("{token:?} {token}").contains("EAAG"));
        assert_eq!(token.expose(), "EAAG-token");
    }
}
