//! Channel tokens at rest: sealed with XChaCha20-Poly1305 under a key from the environment or a
//! key file — never from the relay's own database, so a copy of the database alone reveals no
//! token. The channel's id is the associated data: a sealed token moved to another channel does
//! not open.
//!
//! Key rotation: start the relay with the new key as the key and the old one as the previous key;
//! tokens sealed under the previous key still open, and `zentro-relay channel reseal` seals them
//! all again under the new key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zentro_events::clock::random_bytes;
use zeroize::Zeroizing;

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;

/// Why a key or a sealed token could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealingError {
    /// The configured key is not 32 bytes in base64 or hex.
    #[error(
        "the token key must be 32 random bytes written as base64 or 64 hex digits (make one with `zentro-relay key generate`)"
    )]
    BadKey,
    /// The token was sealed under a key this relay does not have.
    #[error(
        "the channel token was sealed under another key ({0}); start the relay with that key as ZENTRO_RELAY_TOKEN_KEY_PREVIOUS"
    )]
    UnknownKey(String),
    /// The ciphertext does not open (altered, or moved from another channel).
    #[error("the sealed channel token does not open: it was altered or belongs to another channel")]
    Tampered,
}

/// A 256-bit sealing key. Never printed.
#[derive(Clone)]
pub struct TokenKey {
    key: Zeroizing<[u8; KEY_BYTES]>,
    id: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({} [redacted])", self.id)
    }
}

pub use zentro_relay_store::Sealed;

impl TokenKey {
    /// Parses a key written as base64 or hex (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, SealingError> {
        let text = Zeroizing::new(text.trim().to_string());
        let bytes = Zeroizing::new(if text.len() == 2 * KEY_BYTES {
            hex::decode(text.as_bytes()).map_err(|_| SealingError::BadKey)?
        } else {
            STANDARD
                .decode(text.as_bytes())
                .map_err(|_| SealingError::BadKey)?
        });
        let key: [u8; KEY_BYTES] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SealingError::BadKey)?;
        Ok(Self::from_bytes(key))
    }

    fn from_bytes(key: [u8; KEY_BYTES]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"zentro-relay token key id\0")
            .chain_update(key)
            .finalize();
        Self {
            key: Zeroizing::new(key),
            id: format!("k-{}", hex::encode(&digest[..6])),
        }
    }

    /// A new random key, written as base64 (for `zentro-relay key generate`).
    pub fn generate() -> String {
        let key = Zeroizing::new(random_bytes::<KEY_BYTES>());
        STANDARD.encode(key.as_ref())
    }

    /// The key's fingerprint (safe to store and print).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `token` for `channel_id`.
    pub fn seal(&self, channel_id: &str, token: &str) -> Sealed {
        let cipher = XChaCha20Poly1305::new(self.key.as_ref().into());
        let nonce = random_bytes::<24>();
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: token.as_bytes(),
                    aad: channel_id.as_bytes(),
                },
            )
            .expect("sealing a token cannot fail");
        Sealed {
            key_id: self.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    fn open(&self, channel_id: &str, sealed: &Sealed) -> Result<Zeroizing<String>, SealingError> {
        if sealed.nonce.len() != 24 {
            return Err(SealingError::Tampered);
        }
        let cipher = XChaCha20Poly1305::new(self.key.as_ref().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&sealed.nonce),
                    Payload {
                        msg: &sealed.ciphertext,
                        aad: channel_id.as_bytes(),
                    },
                )
                .map_err(|_| SealingError::Tampered)?,
        );
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| SealingError::Tampered)
    }
}

/// The relay's keys: the one that seals, and the previous one during a rotation.
#[derive(Debug, Clone)]
pub struct TokenKeys {
    /// Seals new tokens and opens its own.
    pub current: TokenKey,
    /// Opens tokens sealed before the rotation.
    pub previous: Option<TokenKey>,
}

impl TokenKeys {
    /// Opens a sealed token with whichever key sealed it.
    pub fn open(
        &self,
        channel_id: &str,
        sealed: &Sealed,
    ) -> Result<Zeroizing<String>, SealingError> {
        let key = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SealingError::UnknownKey(sealed.key_id.clone()))?;
        key.open(channel_id, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_with_its_key_and_its_channel() {
        let key = TokenKey::parse(&TokenKey::generate()).unwrap();
        let keys = TokenKeys {
            current: key.clone(),
            previous: None,
        };
        let sealed = key.seal("ch1", "EAAG-secret");
        assert!(
            !sealed
                .ciphertext
                .windows(b"EAAG-secret".len())
                .any(|w| w == b"EAAG-secret")
        );
        assert_eq!(keys.open("ch1", &sealed).unwrap().as_str(), "EAAG-secret");
        assert_eq!(keys.open("ch2", &sealed), Err(SealingError::Tampered));
        let mut altered = sealed.clone();
        altered.ciphertext[0] ^= 1;
        assert_eq!(keys.open("ch1", &altered), Err(SealingError::Tampered));
        let other = TokenKeys {
            current: TokenKey::parse(&TokenKey::generate()).unwrap(),
            previous: None,
        };
        assert!(matches!(
            other.open("ch1", &sealed),
            Err(SealingError::UnknownKey(_))
        ));
        let rotated = TokenKeys {
            current: other.current.clone(),
            previous: Some(key),
        };
        assert_eq!(
            rotated.open("ch1", &sealed).unwrap().as_str(),
            "EAAG-secret"
        );
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_never_print() {
        let hex_key = "00".repeat(32);
        let key = TokenKey::parse(&hex_key).unwrap();
        assert!(!format!("{key:?}").contains("0000"));
        assert_eq!(TokenKey::parse("short").unwrap_err(), SealingError::BadKey);
        assert_eq!(
            TokenKey::parse(&STANDARD.encode([1u8; 16])).unwrap_err(),
            SealingError::BadKey
        );
    }
}
