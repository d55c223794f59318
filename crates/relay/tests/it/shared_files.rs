//! Files a device shares for Meta to fetch by link (Instagram takes files only that way): only a
//! member's device may share, anyone with the unguessable address may fetch until it expires,
//! and expired files are gone from disk.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use zentro_relay::http::shared_files;

use crate::support::TestRelay;

const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 a JPEG's first bytes, then the rest of the photo";

async fn share(
    relay: &TestRelay,
    token: Option<&str>,
    mime: Option<&str>,
    body: &[u8],
) -> crate::support::Response {
    let mut request = Request::post("/v1/shared-files?name=order%204821.jpg");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(mime) = mime {
        request = request.header("content-type", mime);
    }
    relay
        .request(request.body(Body::from(body.to_vec())).unwrap())
        .await
}

async fn fetch(relay: &TestRelay, path: &str) -> crate::support::Response {
    relay
        .request(Request::get(path).body(Body::empty()).unwrap())
        .await
}

#[tokio::test]
async fn a_shared_file_is_fetchable_by_its_address_until_it_expires() {
    let relay =
        TestRelay::start_with(|c| c.public_url = Some("https://relay.acme.test".into())).await;
    relay.workspace("Acme", "owner@acme.test", "").await;
    let token = relay.sign_in("owner@acme.test").await;

    assert_eq!(
        share(&relay, None, Some("image/jpeg"), PHOTO).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        share(&relay, Some(&token), None, PHOTO).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        share(&relay, Some(&token), Some("image/jpeg"), b"")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let shared = share(&relay, Some(&token), Some("image/jpeg"), PHOTO).await;
    assert_eq!(
        shared.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&shared.body)
    );
    let url = shared.json()["url"].as_str().unwrap().to_string();
    let path = url
        .strip_prefix("https://relay.acme.test")
        .expect("under the public address");
    assert!(
        path.starts_with("/shared/") && path.ends_with("/order4821.jpg"),
        "{url}"
    );
    let expires_at = shared.json()["expires_at"].as_u64().unwrap();
    let now = u64::try_from(zentro_events::clock::now_ms() / 1000).unwrap();
    assert!(
        (now + 3500..=now + 3700).contains(&expires_at),
        "about an hour: {expires_at}"
    );

    // Anyone holding the address (Meta) fetches it, without credentials.
    let fetched = fetch(&relay, path).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body, PHOTO);
    assert_eq!(fetched.headers["content-type"], "image/jpeg");
    assert_eq!(fetched.headers["cache-control"], "no-store");
    // Any other address is nothing.
    let token_part = path.split('/').nth(2).unwrap();
    let mut other = token_part.to_string();
    other.replace_range(0..1, if other.starts_with('A') { "B" } else { "A" });
    assert_eq!(
        fetch(&relay, &format!("/shared/{other}/order4821.jpg"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&relay, "/shared/..%2F..%2Fstore.sqlite/x")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    if crate::support::on_postgres() {
        // In the database: once expired it is not served, and the pruner's sweep deletes it.
        let later = i64::try_from((now + 2 * 3600) * 1000).unwrap();
        assert_eq!(relay.store().sweep_shared_files(later).await.unwrap(), 1);
        assert_eq!(fetch(&relay, path).await.status, StatusCode::NOT_FOUND);
        return;
    }
    // Once expired: not served, and the file is deleted.
    let folder = relay.state.config.data_dir.join(shared_files::FOLDER);
    let meta_path = folder.join(format!("{token_part}.json"));
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["expires_at"] = serde_json::json!(now - 1);
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    assert_eq!(fetch(&relay, path).await.status, StatusCode::NOT_FOUND);
    assert!(
        !folder.join(token_part).exists(),
        "an expired file is deleted"
    );

    // The sweep deletes expired files nobody asked for again, and keeps the others.
    let second = share(&relay, Some(&token), Some("application/pdf"), b"%PDF-1.7")
        .await
        .json();
    let third = share(&relay, Some(&token), Some("video/mp4"), b"....ftypmp42")
        .await
        .json();
    let token_of = |v: &serde_json::Value| {
        v["url"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(4)
            .unwrap()
            .to_string()
    };
    let (second, third) = (token_of(&second), token_of(&third));
    let meta_path = folder.join(format!("{second}.json"));
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["expires_at"] = serde_json::json!(now - 1);
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    assert_eq!(shared_files::sweep(&relay.state.config.data_dir).await, 1);
    assert!(!folder.join(&second).exists());
    assert!(folder.join(&third).exists());
}

/// A file shared through one relay instance is served by another on the same database (on
/// PostgreSQL from the `shared_files` table; on SQLite both read the one data directory).
#[tokio::test]
async fn a_file_shared_on_one_instance_is_served_by_another() {
    let relay =
        TestRelay::start_with(|c| c.public_url = Some("https://relay.acme.test".into())).await;
    relay.workspace("Acme", "owner@acme.test", "").await;
    let token = relay.sign_in("owner@acme.test").await;
    let other = crate::support::another_instance(&relay, |_| {}).await;
    let shared = share(&relay, Some(&token), Some("image/jpeg"), PHOTO).await;
    assert_eq!(shared.status, StatusCode::CREATED);
    let url = shared.json()["url"].as_str().unwrap().to_string();
    let path = url.strip_prefix("https://relay.acme.test").unwrap();
    let served = fetch(&other, path).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, PHOTO);
    assert_eq!(
        relay.store().keeps_shared_files(),
        crate::support::on_postgres()
    );
}
