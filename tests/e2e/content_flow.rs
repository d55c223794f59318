//! Where content goes (privacy promise P1): message text leaves the app and the relay only
//! towards Meta's Graph API and the team's own relay.
//!
//! The test runs a whole sandbox session in a child process whose `HTTP_PROXY`, `HTTPS_PROXY`
//! and `ALL_PROXY` name a recording proxy (`proxy.rs`) and whose `NO_PROXY` is unset: the
//! sandbox's relay (its Graph client included), meta-sim (its webhooks to the relay are Meta's
//! traffic), the simulated customers, the desk (sync, sends, media, team events), an
//! export of a customer and an update check. Every HTTP client of ours is reqwest's, built with
//! the system proxy (none calls `.no_proxy()` or sets a proxy of its own, and reqwest has no
//! loopback exception), so every request of the session passes through the recorder. The parent
//! then checks that each request carrying a marker the customers or the agent wrote went to
//! meta-sim's Graph port or the relay's port, that both really received marked content, and that
//! nothing at all went anywhere but the ports the session started.
//!
//! A child process because the proxy variables must be in the environment before any client is
//! built, and this workspace forbids `unsafe` (`std::env::set_var`).

mod proxy;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zentro_core::export::{Scope, export_recorded};
use zentro_core::inbox;
use zentro_core::outbox::Attachment;
use zentro_meta_sim::{Customer, Inbound};
use zentro_sandbox::{Sandbox, WHATSAPP_NUMBER};

use crate::support::wait_for;
use proxy::RecordingProxy;

/// Set only in the child: where it writes the ports it started.
const SESSION: &str = "ZENTRO_P1_SESSION";
/// Set only in the child: the nonce every marker carries.
const NONCE: &str = "ZENTRO_P1_NONCE";
/// This test's name inside the test binary.
const NAME: &str = "content_flow::message_text_goes_only_to_metas_graph_api_and_the_teams_relay";

/// The distinctive words of the session; each holds the nonce.
struct Markers {
    /// A customer's text message.
    text: String,
    /// The caption of a customer's photo.
    caption: String,
    /// Bytes inside that photo.
    photo: String,
    /// The agent's reply.
    reply: String,
    /// The caption of the agent's attachment.
    attachment: String,
    /// Bytes inside that attachment.
    file: String,
}

impl Markers {
    fn new(nonce: &str) -> Self {
        let marker = |what: &str| format!("zp1{what}{nonce}");
        Self {
            text: marker("text"),
            caption: marker("caption"),
            photo: marker("photo"),
            reply: marker("reply"),
            attachment: marker("attachment"),
            file: marker("file"),
        }
    }
}

fn png(marker: &str) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(format!(" pixels {marker} pixels").as_bytes());
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_text_goes_only_to_metas_graph_api_and_the_teams_relay() {
    if let Ok(report) = std::env::var(SESSION) {
        let nonce = std::env::var(NONCE).unwrap();
        return session(Path::new(&report), &nonce).await;
    }
    let proxy = RecordingProxy::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("ports.json");
    let nonce = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let status = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([NAME, "--exact", "--nocapture", "--test-threads", "1"])
        .env(SESSION, &report)
        .env(NONCE, &nonce)
        .env("HTTP_PROXY", proxy.url())
        .env("http_proxy", proxy.url())
        .env("HTTPS_PROXY", proxy.url())
        .env("https_proxy", proxy.url())
        .env("ALL_PROXY", proxy.url())
        .env("all_proxy", proxy.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("REQUEST_METHOD")
        .status()
        .await
        .unwrap();
    assert!(status.success(), "the session failed: {status}");

    let ports: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let [relay, graph, updates] =
        ["relay", "graph", "updates"].map(|k| ports[k].as_str().unwrap().to_string());
    let seen = proxy.requests();
    let m = Markers::new(&nonce);
    let list = |requests: Vec<&proxy::Recorded>| {
        requests
            .iter()
            .map(|r| format!("\n  {r}"))
            .collect::<String>()
    };

    eprintln!(
        "{} requests through the proxy:{}",
        seen.len(),
        list(seen.iter().collect())
    );

    // Nothing went anywhere but what the session started.
    let elsewhere: Vec<_> = seen
        .iter()
        .filter(|r| ![&relay, &graph, &updates].contains(&&r.destination))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "requests to other places than the relay ({relay}), meta-sim ({graph}) and the update \
         server ({updates}):{}",
        list(elsewhere)
    );
    // Content went only to Meta's Graph API and the team's relay.
    let stray: Vec<_> = seen
        .iter()
        .filter(|r| r.carries(&nonce) && r.destination != relay && r.destination != graph)
        .collect();
    assert!(
        stray.is_empty(),
        "message content sent elsewhere than Meta and the relay:{}",
        list(stray)
    );
    // …and it did go there, through the proxy: each route of the session was seen carrying it.
    let carried = |to: &str, marker: &str| {
        seen.iter()
            .any(|r| r.destination == to && r.carries(marker))
    };
    for (what, to, marker) in [
        (
            "the customer's text in Meta's webhook to the relay",
            &relay,
            &m.text,
        ),
        (
            "the photo's caption in Meta's webhook to the relay",
            &relay,
            &m.caption,
        ),
        ("the reply sent to Meta", &graph, &m.reply),
        ("the attachment uploaded to Meta", &graph, &m.file),
        (
            "the attachment's caption sent to Meta",
            &graph,
            &m.attachment,
        ),
        (
            "the reply announced to the team (message.sent)",
            &relay,
            &m.reply,
        ),
    ] {
        assert!(carried(to, marker), "not seen by the proxy: {what}");
    }
    // Every client of the session went through it (one bypassing the proxy would be missing).
    for (what, to, path) in [
        ("meta-sim's webhooks", &relay, "/webhooks/meta"),
        (
            "the relay's Graph client (its token check)",
            &graph,
            "/debug_token",
        ),
        ("the desk's media download", &graph, "/media-download/"),
        ("the desk's sync", &relay, "/v1/events?after="),
        ("the update check", &updates, "/desk/linux/"),
    ] {
        assert!(
            seen.iter()
                .any(|r| &r.destination == to && r.path.contains(path)),
            "not seen by the proxy: {what}"
        );
    }
    assert!(
        seen.iter().all(|r| r.method != "CONNECT"),
        "a tunnel nobody expected (everything here is plain HTTP on loopback):{}",
        list(seen.iter().filter(|r| r.method == "CONNECT").collect())
    );
}

/// The child: a whole session, every client of it configured from the proxy variables.
async fn session(report: &Path, nonce: &str) {
    let m = Markers::new(nonce);
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(&dir.path().join("sandbox")).await.unwrap();
    sandbox.start_customers(Duration::from_secs(2));
    let desk = sandbox.start_desk().await.unwrap();
    let sim = sandbox.sim();
    let pat = Customer {
        id: "US.7007007007".into(),
        phone: Some("16505557007".into()),
        name: "Pat Marker".into(),
    };

    // Customers write: text and a captioned photo.
    sim.customer_writes(
        WHATSAPP_NUMBER,
        &pat,
        Inbound::Text(format!("Where is my order? {}", m.text)),
    )
    .await;
    sim.customer_writes(
        WHATSAPP_NUMBER,
        &pat,
        Inbound::Image {
            bytes: png(&m.photo),
            caption: Some(format!("the label {}", m.caption)),
        },
    )
    .await;

    // Search finds them (locally).
    let cache = desk.cache().clone();
    wait_for("the customer's words in search", || async {
        !inbox::search(&cache, &m.caption, 5)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let conversation = inbox::search(&cache, &m.text, 5).await.unwrap()[0].conversation_id;
    wait_for("the photo downloaded", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM messages WHERE conversation_id = ? AND media_path IS NOT NULL",
        )
        .bind(conversation)
        .fetch_one(cache.pool())
        .await
        .unwrap()
            > 0
    })
    .await;

    // The agent replies, and sends a file.
    desk.reply(conversation, &format!("It ships today {}", m.reply), None)
        .await
        .unwrap();
    desk.attach(
        conversation,
        Attachment {
            file_name: "label.png".into(),
            mime: "image/png".into(),
            bytes: png(&m.file),
        },
        &format!("your label {}", m.attachment),
    )
    .await
    .unwrap();
    let at_meta = |marker: &str| {
        sim.state()
            .sent
            .iter()
            .any(|s| s.body.to_string().contains(marker))
    };
    wait_for("the reply and the file at Meta", || async {
        at_meta(&m.reply) && at_meta(&m.attachment)
    })
    .await;
    let (relay, token) = desk.relay_access();
    wait_for("the reply announced to the team", || async {
        let mut after = 0;
        loop {
            let page = relay.page(token, after).await.unwrap();
            let Some(last) = page.events.last() else {
                return false;
            };
            if page
                .events
                .iter()
                .any(|e| e.kind == "message.sent" && e.payload.to_string().contains(&m.reply))
            {
                return true;
            }
            after = last.seq;
        }
    })
    .await;

    // An export of the customer (recorded at the relay, written locally) holds their words.
    let contact = inbox::contacts(&cache)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.phone.as_deref() == pat.phone.as_deref() || c.customer_id == pat.id)
        .expect("the customer's contact")
        .id;
    let out = dir.path().join("pat.zip");
    let summary = export_recorded(
        &cache,
        relay,
        token,
        Scope::Contact(contact),
        &out,
        0,
        &mut |_| {},
    )
    .await
    .unwrap();
    assert!(summary.media_files >= 1, "{summary:?}");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut holds_text = false;
    for i in 0..archive.len() {
        let mut bytes = Vec::new();
        archive
            .by_index(i)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        holds_text |= bytes.windows(m.text.len()).any(|w| w == m.text.as_bytes());
    }
    assert!(holds_text, "the export holds the customer's words");

    // An update check, with the client the updater builds (tauri-plugin-updater: a reqwest
    // ClientBuilder with the system proxy, and the timeouts src-tauri/src/lib.rs sets).
    let updates = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let updates_at = updates.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = updates.accept().await {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    let endpoint = zentro_core::updates::endpoint(
        &format!("http://{updates_at}/desk/linux/x86_64/0.1.0"),
        true,
    )
    .unwrap();
    let checked = reqwest::Client::builder()
        .user_agent("tauri-plugin-updater")
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .get(endpoint)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status(), reqwest::StatusCode::NO_CONTENT);

    desk.stop().await;
    sandbox.stop().await;
    let address = |url: &str| {
        url::Url::parse(url)
            .map(|u| format!("{}:{}", u.host_str().unwrap(), u.port().unwrap()))
            .unwrap()
    };
    std::fs::write(
        report,
        json!({
            "relay": address(sandbox.relay_url()),
            "graph": address(&sim.base_url()),
            "updates": updates_at.to_string(),
        })
        .to_string(),
    )
    .unwrap();
}
