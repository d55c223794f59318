//! The webhook parser must never panic, and every item's envelope must parse back to one item.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zentro_meta::webhook;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = webhook::parse(data) {
        for item in items {
            let again = webhook::parse_value(&item.envelope).expect("an envelope is a notification");
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].key, item.key);
        }
    }
});
