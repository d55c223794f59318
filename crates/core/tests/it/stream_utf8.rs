//! The live stream over a real socket: a character split across two TCP writes arrives whole.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use zentro_core::Cache;
use zentro_core::inbox;
use zentro_core::relay_client::RelayClient;
use zentro_core::sync::follow;
use zentro_core::vault::Secret;

use crate::support::wa_text;

const TEXT: &str = "Olá 👋 o pedido chegou 🎉";

/// Reads one request's head and body (by `Content-Length`); returns the request line.
async fn read_request(socket: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before sending a request");
        bytes.extend_from_slice(&buf[..n]);
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0);
        bytes.extend_from_slice(&buf[..n]);
    }
    head.lines().next().unwrap_or_default().to_string()
}

async fn json(socket: &mut TcpStream, body: &str) {
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await.unwrap();
    socket.flush().await.unwrap();
}

/// A relay-like server: JSON pages are empty, acknowledgements succeed, and the event stream sends
/// one event whose bytes are cut in the middle of an emoji, in two writes with a pause between.
async fn serve(listener: TcpListener) {
    loop {
        let (mut socket, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let line = read_request(&mut socket).await;
            if line.starts_with("GET /v1/events") && !line.contains("limit=") {
                let webhook = wa_text(1, "US.7", "Ana", "wamid.S1", TEXT, 1_750_000_000);
                let event = serde_json::json!({
                    "seq": webhook.seq, "kind": webhook.kind, "at": 0, "payload": webhook.payload,
                })
                .to_string();
                let sse = format!(": keep-alive\n\nid: 1\nevent: event\ndata: {event}\n\n");
                let bytes = sse.as_bytes();
                let emoji = sse.find('👋').unwrap();
                let cut = emoji + 2; // inside the four bytes of 👋
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n")
                    .await
                    .unwrap();
                socket.write_all(&bytes[..cut]).await.unwrap();
                socket.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
                socket.write_all(&bytes[cut..]).await.unwrap();
                socket.flush().await.unwrap();
                // Keep the stream open, as the relay does.
                tokio::time::sleep(Duration::from_secs(30)).await;
            } else if line.starts_with("GET /v1/events") {
                json(&mut socket, r#"{"events":[],"head":0}"#).await;
            } else if line.starts_with("POST /v1/cursor") {
                json(&mut socket, "{}").await;
            } else {
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            }
        });
    }
}

#[tokio::test]
async fn an_emoji_split_across_two_chunks_of_the_stream_arrives_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(serve(listener));

    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let client = RelayClient::new(&format!("http://{address}")).unwrap();
    let token = Secret::new("device-token");
    let stop = CancellationToken::new();

    let following = {
        let (cache, client, stop) = (cache.clone(), client.clone(), stop.clone());
        tokio::spawn(async move { follow(&cache, &client, &token, "ws", &stop, &mut |_| {}).await })
    };

    let mut body = None;
    for _ in 0..200 {
        if let Some(conversation) = inbox::conversations(&cache, None, 1).await.unwrap().first() {
            let messages = inbox::messages(&cache, conversation.id, None, 10)
                .await
                .unwrap();
            if let Some(message) = messages.first() {
                body = message.body.clone();
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    following.await.unwrap().unwrap();
    server.abort();

    let body = body.expect("the streamed event was applied");
    assert!(
        !body.contains('\u{FFFD}'),
        "a split character became U+FFFD: {body:?}"
    );
    assert_eq!(body, TEXT);
}
