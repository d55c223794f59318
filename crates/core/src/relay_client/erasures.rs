//! Erasing a customer everywhere, and the erasures the relay remembers.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{RelayClient, SyncError, read, send};
use crate::rights::ErasureNotice;
use crate::vault::Secret;

impl RelayClient {
    /// Asks the relay to purge every event naming `identifiers` and to tell every device of the
    /// erasure (`notice`); returns how many events it purged. The relay keeps no identifier.
    pub async fn erase(
        &self,
        token: &Secret,
        identifiers: &[String],
        notice: &ErasureNotice,
        details: Value,
    ) -> Result<i64, SyncError> {
        let body: Value = self
            .send_json(
                Method::POST,
                "/v1/erasures",
                token,
                json!({
                    "identifiers": identifiers,
                    "salt": notice.salt,
                    "hash": notice.hash,
                    "details": details,
                }),
            )
            .await?;
        Ok(body
            .get("events_purged")
            .and_then(Value::as_i64)
            .unwrap_or(0))
    }

    /// Every erasure of the workspace the relay remembers (`GET /v1/erasures`): salts and salted
    /// hashes only.
    pub async fn erasures(&self, token: &Secret) -> Result<Vec<ErasureNotice>, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            erasures: Vec<ErasureNotice>,
        }
        let request = self
            .request(Method::GET, "/v1/erasures", Some(token))
            .timeout(Duration::from_secs(60));
        let body: Body = read(send(request).await?).await?;
        Ok(body.erasures)
    }
}
