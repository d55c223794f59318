//! The relay's origin serves no active content (issue 19, item 4): shared files are only the types
//! Instagram takes, served inert (attachment or inline image, `Content-Security-Policy: sandbox`,
//! `nosniff`), bounded per workspace, and never under the signup page's path.

use reqwest::StatusCode;
use zentro_relay::credentials::hash_password;

use crate::support::{PASSWORD, ServedRelay, str_of};

const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 a JPEG's first bytes, then the rest of the photo";

async fn relay(adjust: impl FnOnce(&mut zentro_relay::Config)) -> ServedRelay {
    ServedRelay::start_on(adjust, async |store| {
        for (name, email) in [("Acme", "owner@acme.test"), ("Globex", "owner@globex.test")] {
            store
                .create_workspace(name, email, "Owner", &hash_password(PASSWORD))
                .await
                .unwrap();
        }
    })
    .await
}

async fn share(
    relay: &ServedRelay,
    token: &str,
    name: &str,
    mime: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/shared-files", relay.base))
        .query(&[("name", name)])
        .bearer_auth(token)
        .header("content-type", mime)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Shares a file that must be accepted; returns its path on the relay.
async fn shared_path(
    relay: &ServedRelay,
    token: &str,
    name: &str,
    mime: &str,
    body: &[u8],
) -> String {
    let response = share(relay, token, name, mime, body.to_vec()).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{mime}");
    let answer: serde_json::Value = response.json().await.unwrap();
    let url = answer["url"].as_str().unwrap();
    url.strip_prefix(&relay.base).unwrap().to_string()
}

async fn get(relay: &ServedRelay, path: &str) -> reqwest::Response {
    reqwest::get(format!("{}{path}", relay.base)).await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn shared_files_are_served_inert() {
    let relay = relay(|_| {}).await;
    let token = relay.sign_in("owner@acme.test").await;
    for (name, mime, body, inline) in [
        ("photo.jpg", "image/jpeg", PHOTO, true),
        (
            "invoice.pdf",
            "application/pdf",
            b"%PDF-1.7 ...".as_slice(),
            false,
        ),
        ("clip.mp4", "video/mp4", b"....ftypmp42".as_slice(), false),
        ("note.m4a", "audio/mp4", b"....ftypM4A ".as_slice(), false),
    ] {
        let path = shared_path(&relay, &token, name, mime, body).await;
        let fetched = get(&relay, &path).await;
        assert_eq!(fetched.status(), StatusCode::OK);
        assert_eq!(header(&fetched, "content-type"), mime);
        assert_eq!(header(&fetched, "content-security-policy"), "sandbox");
        assert_eq!(header(&fetched, "x-content-type-options"), "nosniff");
        let disposition = header(&fetched, "content-disposition").to_string();
        if inline {
            assert!(disposition.starts_with("inline;"), "{mime}: {disposition}");
        } else {
            assert!(
                disposition.starts_with("attachment;"),
                "{mime}: {disposition}"
            );
        }
        assert_eq!(fetched.bytes().await.unwrap(), body);
    }
}

#[tokio::test]
async fn types_instagram_does_not_take_are_refused_on_upload() {
    let relay = relay(|_| {}).await;
    let token = relay.sign_in("owner@acme.test").await;
    for mime in [
        "text/html",
        "text/html; charset=utf-8",
        "image/svg+xml",
        "IMAGE/SVG+XML",
        "application/javascript",
        "text/javascript",
        "application/xhtml+xml",
        "text/xml",
        "application/octet-stream",
        "image/gif",
        "image/webp",
        "multipart/x-mixed-replace; boundary=x",
    ] {
        let response = share(
            &relay,
            &token,
            "page.html",
            mime,
            b"<script>alert(1)</script>".to_vec(),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{mime} must be refused"
        );
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "unsupported_type", "{mime}");
        assert!(
            str_of(&answer["error"]["message"]).contains("image/jpeg"),
            "the refusal names what is taken: {answer}"
        );
    }
    // Larger than Instagram takes for its type: 413.
    let big = share(
        &relay,
        &token,
        "big.png",
        "image/png",
        vec![0u8; 8 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing refused was kept.
    assert!(
        std::fs::read_dir(
            relay
                .data_dir()
                .join(zentro_relay::http::shared_files::FOLDER)
        )
        .map(|d| d.count())
        .unwrap_or(0)
            == 0,
        "refused uploads leave no file"
    );
    let store = zentro_relay::Store::open_at(&relay.database).await.unwrap();
    assert_eq!(
        store.sweep_shared_files(i64::MAX).await.unwrap(),
        0,
        "refused uploads leave no row"
    );
}

#[tokio::test]
async fn a_workspace_quota_bounds_shared_files() {
    let relay = relay(|c| {
        c.shared_files_per_workspace = 3;
        c.shared_bytes_per_workspace = 1000;
    })
    .await;
    let acme = relay.sign_in("owner@acme.test").await;
    let globex = relay.sign_in("owner@globex.test").await;
    for i in 0..3 {
        shared_path(
            &relay,
            &acme,
            &format!("p{i}.jpg"),
            "image/jpeg",
            &[1u8; 100],
        )
        .await;
    }
    let over = share(&relay, &acme, "p3.jpg", "image/jpeg", vec![1u8; 100]).await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(&over, "retry-after").parse().unwrap();
    assert!(wait > 0 && wait <= 3600, "{wait}");
    // Another workspace has its own quota.
    shared_path(&relay, &globex, "g0.jpg", "image/jpeg", &[1u8; 600]).await;
    // Bytes: what would pass the workspace's total is refused; a file alone larger than it is 413.
    assert_eq!(
        share(&relay, &globex, "g1.jpg", "image/jpeg", vec![1u8; 500])
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        share(&relay, &globex, "g2.jpg", "image/jpeg", vec![1u8; 1001])
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    shared_path(&relay, &globex, "g3.jpg", "image/jpeg", &[1u8; 400]).await;
}

#[tokio::test]
async fn nothing_is_served_from_the_signup_pages_path() {
    let relay = relay(|_| {}).await;
    let token = relay.sign_in("owner@acme.test").await;
    for name in ["signup", "../signup/finished", "..%2Fsignup", "/signup"] {
        let path = shared_path(&relay, &token, name, "image/jpeg", PHOTO).await;
        assert!(path.starts_with("/shared/"), "{path}");
        assert!(
            !path[1..].contains('/') || path.matches('/').count() == 3,
            "{path}"
        );
    }
    for path in [
        "/signup/x",
        "/signup/shared",
        "/signup/finished/x",
        "/signup/photo.jpg",
        "/signup/..%2Fshared",
    ] {
        let response = get(&relay, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(response.bytes().await.unwrap().is_empty(), "{path}");
    }
    // The signup page itself (and where it ends) is strict.
    for path in ["/signup?t=nothing", "/signup/finished?outcome=connected"] {
        let response = get(&relay, path).await;
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        let csp = header(&response, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
    }
}
