//! Known answers computed outside this crate: the signature checks must agree with HMAC-SHA256 as
//! specified (RFC 4231's test vectors) and with what Meta sends, not only with our own signer.
//!
//! The webhook signature and the `signed_request` below were computed once with Python's
//! `hmac`/`hashlib` (and the webhook's checked with `openssl dgst -sha256 -hmac`), e.g.
//! `python3 -c 'import hmac,hashlib;print(hmac.new(KEY,BODY,hashlib.sha256).hexdigest())'`,
//! over exactly the bytes written here; the signed request Facebook published is Meta's own.

use zentro_meta::AppSecret;
use zentro_meta::signature::{
    SignatureError, SignedRequest, SignedRequestError, hmac_sha256, hmac_sha256_matches,
    verify_signed_request, verify_webhook,
};
use zentro_meta::webhook::{self, Content, Event};

fn unhex(hex: &str) -> Vec<u8> {
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 4231 section 4: `(test case, key, data, HMAC-SHA-256)`, keys and data in hex as printed
/// there. Case 5 (a tag truncated to 128 bits) is checked on its own below.
const RFC_4231: [(u8, &str, &str, &str); 6] = [
    (
        1,
        "0b0b0b0b 0b0b0b0b 0b0b0b0b 0b0b0b0b 0b0b0b0b",
        "48692054 68657265", // "Hi There"
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        2,
        "4a656665",                                                 // "Jefe"
        "7768617420646f2079612077616e7420666f72206e6f7468696e673f", // "what do ya want for nothing?"
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        3,
        "aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa",
        "dddddddd dddddddd dddddddd dddddddd dddddddd dddddddd dddddddd dddddddd dddddddd \
         dddddddd dddddddd dddddddd dddd",
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ),
    (
        4,
        "01020304 05060708 090a0b0c 0d0e0f10 11121314 15161718 19",
        "cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd \
         cdcdcdcd cdcdcdcd cdcdcdcd cdcd",
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        6,
        "aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa \
         aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa \
         aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa \
         aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaa",
        // "Test Using Larger Than Block-Size Key - Hash Key First"
        "54657374 20557369 6e67204c 61726765 72205468 616e2042 6c6f636b 2d53697a \
         65204b65 79202d20 48617368 204b6579 20466972 7374",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        7,
        "aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa \
         aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa \
         aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa \
         aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaaaa aaaaaa",
        // "This is a test using a larger than block-size key and a larger than block-size data.
        // The key needs to be hashed before being used by the HMAC algorithm."
        "54686973 20697320 61207465 73742075 73696e67 2061206c 61726765 72207468 \
         616e2062 6c6f636b 2d73697a 65206b65 7920616e 64206120 6c617267 65722074 \
         68616e20 626c6f63 6b2d7369 7a652064 6174612e 20546865 206b6579 206e6565 \
         64732074 6f206265 20686173 68656420 6265666f 72652062 65696e67 20757365 \
         64206279 20746865 20484d41 4320616c 676f7269 74686d2e",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
];

#[test]
fn hmac_sha256_gives_the_rfc_4231_answers() {
    for (case, key, data, expected) in RFC_4231 {
        let (key, data, expected) = (unhex(key), unhex(data), unhex(expected));
        assert_eq!(
            hmac_sha256(&key, &data).as_slice(),
            expected.as_slice(),
            "RFC 4231 test case {case}"
        );
        assert!(
            hmac_sha256_matches(&key, &data, &expected),
            "RFC 4231 test case {case} verifies"
        );
        let mut flipped = expected.clone();
        flipped[31] ^= 1;
        assert!(
            !hmac_sha256_matches(&key, &data, &flipped),
            "RFC 4231 test case {case} with one bit changed is refused"
        );
    }
    // The sizes of the vectors, so a mis-typed line cannot pass as another vector.
    assert_eq!(unhex(RFC_4231[3].1).len(), 25);
    assert_eq!(unhex(RFC_4231[4].1).len(), 131);
    assert_eq!(unhex(RFC_4231[5].2).len(), 152);
}

#[test]
fn a_tag_truncated_as_in_rfc_4231_case_5_is_the_right_prefix_but_never_matches() {
    let key = unhex("0c0c0c0c 0c0c0c0c 0c0c0c0c 0c0c0c0c 0c0c0c0c");
    let data = b"Test With Truncation";
    let truncated = unhex("a3b6167473100ee06e0c796c2955552b");
    assert_eq!(&hmac_sha256(&key, data)[..16], truncated.as_slice());
    assert!(!hmac_sha256_matches(&key, data, &truncated));
}

#[test]
fn webhook_signatures_over_the_rfc_4231_vectors_verify() {
    // Cases whose keys are text can be app secrets: the public check agrees with the RFC.
    for (case, key, data, expected) in [RFC_4231[0], RFC_4231[1], RFC_4231[3]] {
        let secret = AppSecret::new(String::from_utf8(unhex(key)).unwrap());
        let header = format!("sha256={}", expected);
        assert_eq!(
            verify_webhook(&secret, &unhex(data), Some(&header)),
            Ok(()),
            "RFC 4231 test case {case}"
        );
    }
}

/// A Meta app secret for these tests (made up; 32 hex digits like a real one).
const APP_SECRET: &str = "6f2c1a9e0b7d4c3f8a5e2d1b0c9f8e7d";

/// A WhatsApp message webhook as Meta sends it: non-ASCII and `/` escaped, no spaces.
const META_BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"J\u00fcrgen M\u00fcller"},"wa_id":"4915112345678"}],"messages":[{"from":"4915112345678","id":"wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFDNBQjQ4RjE2QjFENTg2QkE3QTY3AA==","timestamp":"1765000000","type":"text","text":{"body":"Gr\u00fc\u00dfe \ud83d\ude00 https:\/\/example.com\/a"}}]},"field":"messages"}]}]}"#;
/// Its `X-Hub-Signature-256`, computed outside this code over exactly these bytes.
const META_SIGNATURE: &str =
    "sha256=505529fb4140cc0faadabf088d3b95f35bb45e5ae2a6e306f84f206735a7d23c";

#[test]
fn a_meta_shaped_webhook_verifies_with_its_signature_written_out() {
    let secret = AppSecret::new(APP_SECRET);
    assert_eq!(
        META_BODY.len(),
        540,
        "the body is byte for byte the one signed"
    );
    assert_eq!(
        verify_webhook(&secret, META_BODY, Some(META_SIGNATURE)),
        Ok(())
    );
    // And it is the message Meta meant.
    let items = webhook::parse(META_BODY).unwrap();
    assert_eq!(items.len(), 1);
    let Event::Message(message) = &items[0].event else {
        panic!("a message: {:?}", items[0].event);
    };
    assert_eq!(
        message.content,
        Content::Text {
            body: "Grüße 😀 https://example.com/a".into()
        }
    );
}

#[test]
fn a_tampered_webhook_or_signature_is_refused() {
    let secret = AppSecret::new(APP_SECRET);
    // The same JSON re-encoded (ü as UTF-8 instead of \u00fc): what a proxy that re-serializes does.
    let body = std::str::from_utf8(META_BODY).unwrap();
    let reencoded = body.replacen(r"J\u00fcrgen", "Jürgen", 1);
    assert_ne!(reencoded.as_bytes(), META_BODY);
    assert_eq!(
        verify_webhook(&secret, reencoded.as_bytes(), Some(META_SIGNATURE)),
        Err(SignatureError::Mismatch)
    );
    // Another message text, same length.
    let forged = body.replacen("example.com", "example.net", 1);
    assert_eq!(
        verify_webhook(&secret, forged.as_bytes(), Some(META_SIGNATURE)),
        Err(SignatureError::Mismatch)
    );
    // One hex digit of the signature changed.
    let wrong = META_SIGNATURE.replacen("sha256=5055", "sha256=5056", 1);
    assert_eq!(
        verify_webhook(&secret, META_BODY, Some(&wrong)),
        Err(SignatureError::Mismatch)
    );
    // Another app's secret.
    assert_eq!(
        verify_webhook(
            &AppSecret::new("6f2c1a9e0b7d4c3f8a5e2d1b0c9f8e7e"),
            META_BODY,
            Some(META_SIGNATURE)
        ),
        Err(SignatureError::Mismatch)
    );
}

/// A data-deletion `signed_request` for [`APP_SECRET`], computed outside this code:
/// base64url (unpadded) of HMAC-SHA256 over the base64url payload segment, a dot, the payload
/// `{"user_id":"10229900000000001","algorithm":"HMAC-SHA256","issued_at":1765000000,"expires":1765003600}`.
const SIGNED_REQUEST: &str = "GZPnKgLnoih0Z28nWJ-vb43j9u5STbQHtiTsgA51WjM.eyJ1c2VyX2lkIjoiMTAyMjk5MDAwMDAwMDAwMDEiLCJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsImlzc3VlZF9hdCI6MTc2NTAwMDAwMCwiZXhwaXJlcyI6MTc2NTAwMzYwMH0";

#[test]
fn a_signed_request_computed_outside_verifies_and_parses() {
    let secret = AppSecret::new(APP_SECRET);
    assert_eq!(
        verify_signed_request(&secret, SIGNED_REQUEST, 1_765_000_100),
        Ok(SignedRequest {
            algorithm: "HMAC-SHA256".into(),
            user_id: "10229900000000001".into(),
            issued_at: Some(1_765_000_000),
            expires: Some(1_765_003_600),
        })
    );
}

#[test]
fn a_tampered_signed_request_is_refused() {
    let secret = AppSecret::new(APP_SECRET);
    let (signature, _) = SIGNED_REQUEST.split_once('.').unwrap();
    // The same payload with user_id ...002: the signature of ...001 does not cover it.
    let other_user = "eyJ1c2VyX2lkIjoiMTAyMjk5MDAwMDAwMDAwMDIiLCJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsImlzc3VlZF9hdCI6MTc2NTAwMDAwMCwiZXhwaXJlcyI6MTc2NTAwMzYwMH0";
    assert_eq!(
        verify_signed_request(&secret, &format!("{signature}.{other_user}"), 1_765_000_100),
        Err(SignedRequestError::Mismatch)
    );
    // One character of the signature changed.
    let wrong = SIGNED_REQUEST.replacen("GZPn", "GZPm", 1);
    assert_eq!(
        verify_signed_request(&secret, &wrong, 1_765_000_100),
        Err(SignedRequestError::Mismatch)
    );
    assert_eq!(
        verify_signed_request(
            &AppSecret::new("6f2c1a9e0b7d4c3f8a5e2d1b0c9f8e7e"),
            SIGNED_REQUEST,
            1_765_000_100
        ),
        Err(SignedRequestError::Mismatch)
    );
    // Genuine but past its `expires`.
    assert_eq!(
        verify_signed_request(&secret, SIGNED_REQUEST, 1_765_003_601),
        Err(SignedRequestError::Expired)
    );
}

/// The example Facebook published with its canvas-app docs
/// (developers.facebook.com/docs/authentication/canvas), for the app secret `secret`; its payload
/// is `{"algorithm":"HMAC-SHA256","0":"payload"}`.
const FACEBOOK_EXAMPLE: &str = "vlXgu64BQGFSQrY0ZcJBZASMvYvTHu9GQ0YM9rjPSso.eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsIjAiOiJwYXlsb2FkIn0";

#[test]
fn facebooks_published_signed_request_example_has_a_signature_we_accept() {
    let (signature, payload) = FACEBOOK_EXAMPLE.split_once('.').unwrap();
    let tag = unhex("be55e0bbae0140615242b63465c24164048cbd8bd31eef4643460cf6b8cf4aca");
    assert_eq!(
        hmac_sha256(b"secret", payload.as_bytes()).as_slice(),
        tag.as_slice()
    );
    assert_eq!(signature, "vlXgu64BQGFSQrY0ZcJBZASMvYvTHu9GQ0YM9rjPSso");
    // Past the signature check (it has no user_id, so it is not a deletion request) with the
    // right secret; refused at the signature with another.
    assert_eq!(
        verify_signed_request(&AppSecret::new("secret"), FACEBOOK_EXAMPLE, 0),
        Err(SignedRequestError::Malformed)
    );
    assert_eq!(
        verify_signed_request(&AppSecret::new("wrong-secret"), FACEBOOK_EXAMPLE, 0),
        Err(SignedRequestError::Mismatch)
    );
}
