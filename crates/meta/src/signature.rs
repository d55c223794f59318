//! Signature checks for what Meta sends us.
//!
//! - Webhooks carry `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the **raw body bytes**
//!   keyed with the app secret. Verify before parsing: re-serialized JSON differs from what Meta
//!   signed (it escapes non-ASCII as `\u00e4`), so only the bytes as received verify.
//! - The data-deletion and deauthorize callbacks carry a `signed_request`:
//!   `base64url(signature).base64url(payload)`, the HMAC-SHA256 of the payload segment *as
//!   received*, keyed with the app secret.
//!
//! Both are HMAC-SHA256 (RFC 2104; test vectors in RFC 4231), computed and checked by
//! [`hmac_sha256`] and [`hmac_sha256_matches`]. Comparisons are constant-time
//! (`hmac::Mac::verify_slice`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::AppSecret;

type HmacSha256 = Hmac<Sha256>;

/// The webhook signature header.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Why a webhook signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    #[error("the request has no X-Hub-Signature-256 header")]
    Missing,
    /// The header is not `sha256=<64 hex digits>`.
    #[error("the X-Hub-Signature-256 header is not of the form sha256=<hex>")]
    Malformed,
    /// The signature does not match the body: a forged request, or the app secret changed.
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    Mismatch,
}

fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac
}

/// The HMAC-SHA256 of `data` keyed with `key`: what Meta signs webhooks and `signed_request`s
/// with (the key is the app secret's bytes).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    mac(key, data).finalize().into_bytes().into()
}

/// Whether `tag` is the full HMAC-SHA256 of `data` keyed with `key`, compared in constant time.
/// Every signature check of this module comes down to this; a truncated tag never matches.
pub fn hmac_sha256_matches(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    mac(key, data).verify_slice(tag).is_ok()
}

/// Checks `header` (the value of `X-Hub-Signature-256`, if any) against the raw `body`.
pub fn verify_webhook(
    secret: &AppSecret,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_digest = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    if hex_digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    if hmac_sha256_matches(secret.expose().as_bytes(), body, &expected) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `X-Hub-Signature-256` value Meta would send with `body` (for the Meta stand-in and tests).
pub fn sign_webhook(secret: &AppSecret, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.expose().as_bytes(), body))
    )
}

/// Why a `signed_request` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    /// Not two base64url segments joined by a dot, or the payload is not the expected JSON.
    #[error("the signed_request is malformed")]
    Malformed,
    /// The algorithm is not HMAC-SHA256.
    #[error("the signed_request uses an unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The signature does not match.
    #[error("the signed_request signature does not match")]
    Mismatch,
    /// The request's `expires` time has passed.
    #[error("the signed_request has expired")]
    Expired,
}

/// The verified content of a `signed_request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRequest {
    /// Always `HMAC-SHA256` once verified.
    pub algorithm: String,
    /// The app-scoped id of the Facebook user (the business admin who connected channels).
    pub user_id: String,
    /// When Meta issued the request (Unix seconds).
    #[serde(default)]
    pub issued_at: Option<i64>,
    /// When the request stops being valid (Unix seconds); absent or 0 means no expiry.
    #[serde(default)]
    pub expires: Option<i64>,
}

/// Verifies a `signed_request` and returns its payload. `now` is Unix seconds.
pub fn verify_signed_request(
    secret: &AppSecret,
    raw: &str,
    now: i64,
) -> Result<SignedRequest, SignedRequestError> {
    let (signature_b64, payload_b64) = raw
        .trim()
        .split_once('.')
        .ok_or(SignedRequestError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64.trim_end_matches('='))
        .map_err(|_| SignedRequestError::Malformed)?;
    let payload_bytes = URL_SAFE_NO_PAD
        .decode(payload_b64.trim_end_matches('='))
        .map_err(|_| SignedRequestError::Malformed)?;
    let payload: serde_json::Value =
        serde_json::from_slice(&payload_bytes).map_err(|_| SignedRequestError::Malformed)?;
    let algorithm = payload
        .get("algorithm")
        .and_then(|a| a.as_str())
        .unwrap_or_default();
    if !algorithm.eq_ignore_ascii_case("HMAC-SHA256") {
        return Err(SignedRequestError::UnsupportedAlgorithm);
    }
    // The HMAC covers the payload segment exactly as received, before decoding.
    if !hmac_sha256_matches(
        secret.expose().as_bytes(),
        payload_b64.as_bytes(),
        &signature,
    ) {
        return Err(SignedRequestError::Mismatch);
    }
    let mut request: SignedRequest = serde_json::from_value(normalise_user_id(payload))
        .map_err(|_| SignedRequestError::Malformed)?;
    if let Some(expires) = request.expires.filter(|e| *e > 0)
        && expires < now
    {
        return Err(SignedRequestError::Expired);
    }
    request.algorithm = "HMAC-SHA256".into();
    Ok(request)
}

/// Meta sends `user_id` as a string; tolerate a number.
fn normalise_user_id(mut payload: serde_json::Value) -> serde_json::Value {
    if let Some(id) = payload.get("user_id").and_then(|v| v.as_i64()) {
        payload["user_id"] = serde_json::Value::String(id.to_string());
    }
    payload
}

/// Makes a `signed_request` the way Meta does (for the Meta stand-in and tests).
pub fn sign_signed_request(secret: &AppSecret, request: &SignedRequest) -> String {
    let payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(request).expect("a signed request serializes"));
    let signature =
        URL_SAFE_NO_PAD.encode(hmac_sha256(secret.expose().as_bytes(), payload.as_bytes()));
    format!("{signature}.{payload}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> AppSecret {
        AppSecret::new("app-secret-for-tests")
    }

    #[test]
    fn a_signature_made_over_the_raw_bytes_verifies() {
        let body = br#"{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"J\u00e4 \ud83d\ude00"}}]}]}"#;
        let header = sign_webhook(&secret(), body);
        assert_eq!(verify_webhook(&secret(), body, Some(&header)), Ok(()));
    }

    #[test]
    fn re_serialized_json_with_escaped_unicode_does_not_verify() {
        let body = br#"{"text":"J\u00e4 \ud83d\ude00"}"#;
        let header = sign_webhook(&secret(), body);
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        let reserialized = serde_json::to_vec(&value).unwrap();
        assert_ne!(reserialized.as_slice(), body.as_slice());
        assert_eq!(
            verify_webhook(&secret(), &reserialized, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_malformed_and_wrong_signatures_are_refused() {
        let body = b"{}";
        assert_eq!(
            verify_webhook(&secret(), body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_webhook(&secret(), body, Some("sha1=abc")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_webhook(&secret(), body, Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
        let other = sign_webhook(&AppSecret::new("rotated"), body);
        assert_eq!(
            verify_webhook(&secret(), body, Some(&other)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn signed_requests_round_trip_and_fail_when_tampered_or_expired() {
        let request = SignedRequest {
            algorithm: "HMAC-SHA256".into(),
            user_id: "1234567890".into(),
            issued_at: Some(1_750_000_000),
            expires: Some(1_750_003_600),
        };
        let raw = sign_signed_request(&secret(), &request);
        assert_eq!(
            verify_signed_request(&secret(), &raw, 1_750_000_100),
            Ok(request.clone())
        );
        assert_eq!(
            verify_signed_request(&secret(), &raw, 1_750_003_601),
            Err(SignedRequestError::Expired)
        );
        assert_eq!(
            verify_signed_request(&AppSecret::new("other"), &raw, 1_750_000_100),
            Err(SignedRequestError::Mismatch)
        );
        let (sig, _) = raw.split_once('.').unwrap();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(br#"{"algorithm":"HMAC-SHA256","user_id":"666"}"#);
        assert_eq!(
            verify_signed_request(&secret(), &format!("{sig}.{forged_payload}"), 0),
            Err(SignedRequestError::Mismatch)
        );
        assert_eq!(
            verify_signed_request(&secret(), "no-dot", 0),
            Err(SignedRequestError::Malformed)
        );
    }

    #[test]
    fn a_signed_request_with_another_algorithm_is_refused() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"algorithm":"HMAC-SHA1","user_id":"1"}"#);
        let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(
            secret().expose().as_bytes(),
            payload.as_bytes(),
        ));
        assert_eq!(
            verify_signed_request(&secret(), &format!("{signature}.{payload}"), 0),
            Err(SignedRequestError::UnsupportedAlgorithm)
        );
    }
}
