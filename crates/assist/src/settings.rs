//! Where AI assist sends text: the provider's base URL, the model, and the API key (a secret that
//! never prints).

use std::fmt;

use url::Url;
use zeroize::Zeroizing;

use crate::AssistError;

/// A provider's API key. Zeroized on drop; shows as `[redacted]` in `Debug` and `Display`, so it
/// never reaches a log line or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Wraps a key.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The key itself, for the one place that sends it (the `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An OpenAI-compatible chat completions provider: a hosted service or a model server the business
/// runs itself (llama.cpp, Ollama and vLLM serve the same API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// The API's base URL, up to and including its version (`https://api.openai.com/v1`,
    /// `http://localhost:11434/v1`); requests go to `{base_url}/chat/completions`.
    pub base_url: Url,
    /// The model to ask (`gpt-4o-mini`, `llama3.1:8b`, …).
    pub model: String,
    /// The key, when the provider needs one (a local server often does not).
    pub api_key: Option<ApiKey>,
}

impl ProviderSettings {
    /// Checks and builds settings: an `http` or `https` URL without credentials, query or
    /// fragment, and a model name.
    pub fn new(base_url: &str, model: &str, api_key: Option<ApiKey>) -> Result<Self, AssistError> {
        let base_url = parse_base_url(base_url)?;
        let model = model.trim();
        if model.is_empty() || model.len() > 200 {
            return Err(AssistError::BadSettings(
                "name the model the provider should use".into(),
            ));
        }
        Ok(Self {
            base_url,
            model: model.to_string(),
            api_key,
        })
    }

    /// Where requests go: `{base_url}/chat/completions`.
    pub fn endpoint(&self) -> String {
        format!(
            "{}/chat/completions",
            self.base_url.as_str().trim_end_matches('/')
        )
    }

    /// The provider as people see it (its host and port): what the desk shows as "where text
    /// goes" and what the audit records.
    pub fn provider_name(&self) -> String {
        provider_name(&self.base_url)
    }
}

/// The host (and port, when one is given) of a base URL.
pub fn provider_name(base_url: &Url) -> String {
    match (base_url.host_str(), base_url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => base_url.to_string(),
    }
}

/// Parses a provider's base URL as settings accept it.
pub fn parse_base_url(text: &str) -> Result<Url, AssistError> {
    let bad = |why: &str| AssistError::BadSettings(format!("the provider's address {why}"));
    let url = Url::parse(text.trim())
        .map_err(|_| bad("is not a URL (like https://api.openai.com/v1)"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if url.host_str().is_none() {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry a user name or password (the key is kept apart)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_print() {
        let key = ApiKey::new("sk-live-abcdef");
        let settings = ProviderSettings::new("https://api.example.com/v1", "m", Some(key.clone()))
            .expect("ok");
        assert!(!format!("{key} {key:?} {settings:?}").contains("sk-live"));
        assert_eq!(key.expose(), "sk-live-abcdef");
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(ProviderSettings::new("ftp://x/v1", "m", None).is_err());
        assert!(ProviderSettings::new("https://u:p@x/v1", "m", None).is_err());
        assert!(ProviderSettings::new("https://x/v1?k=1", "m", None).is_err());
        assert!(ProviderSettings::new("https://x/v1", " ", None).is_err());
        let local =
            ProviderSettings::new("http://localhost:11434/v1/", "llama3", None).expect("ok");
        assert_eq!(
            local.endpoint(),
            "http://localhost:11434/v1/chat/completions"
        );
        assert_eq!(local.provider_name(), "localhost:11434");
    }
}
