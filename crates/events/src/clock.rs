//! The log's clock and its random ids: the one `now_ms` and the one source of random bytes every
//! crate of the workspace uses (the relay, the desk's core, the CLI and the shell).

/// Milliseconds since the Unix epoch (UTC), as every event, row and timestamp here carries them.
/// A clock set before 1970 reads as 0.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `N` bytes from the operating system's random source, for keys, salts, nonces and tokens.
///
/// # Panics
/// When the OS has no random source at all (nothing secret can be made then).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes
}

/// A random id of 128 bits, as 32 lowercase hex digits.
pub fn random_id() -> String {
    random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_of_128_bits_and_differ() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn now_is_after_2026() {
        assert!(now_ms() > 1_767_225_600_000);
    }
}
