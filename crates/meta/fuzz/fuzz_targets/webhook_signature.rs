//! Signature checks must never panic on any header, and never accept a body they did not sign.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zentro_meta::AppSecret;
use zentro_meta::signature::{sign_webhook, verify_webhook};

fuzz_target!(|data: &[u8]| {
    let secret = AppSecret::new("fuzz-secret");
    let split = data.len() / 2;
    let (header, body) = data.split_at(split);
    let header = String::from_utf8_lossy(header);
    if verify_webhook(&secret, body, Some(&header)).is_ok() {
        assert_eq!(header.trim(), sign_webhook(&secret, body));
    }
    let signed = sign_webhook(&secret, body);
    assert!(verify_webhook(&secret, body, Some(&signed)).is_ok());
});
