//! `signed_request` verification must never panic, and only accept what the secret signed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zentro_meta::AppSecret;
use zentro_meta::signature::{sign_signed_request, verify_signed_request};

fuzz_target!(|data: &[u8]| {
    let secret = AppSecret::new("fuzz-secret");
    let raw = String::from_utf8_lossy(data);
    if let Ok(request) = verify_signed_request(&secret, &raw, 0) {
        // Whatever verified must re-sign to something that verifies to the same content.
        let again = sign_signed_request(&secret, &request);
        assert_eq!(verify_signed_request(&secret, &again, 0).ok(), Some(request));
    }
});
