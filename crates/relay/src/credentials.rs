//! Passwords (argon2id) and device tokens (256 random bits, stored as SHA-256).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use zentro_events::clock::random_bytes;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters"),
    )
}

/// Checks a new password against the policy.
pub fn check_password_policy(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (slow by design: call it off the async threads).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes encode as a salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid parameters")
        .to_string()
}

/// Verifies a password against a stored argon2 hash (slow: call it off the async threads).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to verify against when the account does not exist, so timing does not reveal it.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("zentro-relay-dummy-password"))
}

/// A new device token (256 random bits, base64url) and the hash to store.
pub fn new_token() -> (String, Vec<u8>) {
    let token = format!("zdt_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
    let hash = token_hash(&token);
    (token, hash)
}

/// Letters of invitation codes: no 0/O, 1/I/L, so a code read aloud or retyped survives.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A new invitation code (20 characters in groups of 4, about 99 bits) and the hash to store.
pub fn new_invitation_code() -> (String, Vec<u8>) {
    let bytes = random_bytes::<20>();
    let mut code = String::with_capacity(24);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        // 256 is not a multiple of 31; the bias (at most 1/256 per letter) costs well under a bit.
        code.push(CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char);
    }
    let hash = invitation_code_hash(&code);
    (code, hash)
}

/// The stored form of an invitation code: case, spaces and dashes do not matter.
pub fn invitation_code_hash(code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    token_hash(&format!("invitation:{normal}"))
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves_and_hashes_are_argon2id() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert_ne!(hash, hash_password("correct horse battery"), "salted");
    }

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let (a, hash) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert!(a.len() >= 40);
        assert_eq!(hash, token_hash(&a));
        assert_eq!(hash.len(), 32);
    }

    #[test]
    fn invitation_codes_are_random_and_forgiving_to_type() {
        let (code, hash) = new_invitation_code();
        assert_eq!(code.len(), 24);
        assert_ne!(code, new_invitation_code().0);
        assert_eq!(
            invitation_code_hash(&code.to_lowercase().replace('-', " ")),
            hash
        );
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("long enough!").is_ok());
    }
}
