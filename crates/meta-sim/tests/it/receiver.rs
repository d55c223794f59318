//! A webhook receiver on 127.0.0.1 that checks signatures the way the relay does.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use zentro_meta::AppSecret;
use zentro_meta::signature::verify_webhook;
use zentro_meta::webhook::{self, WebhookItem};
use zentro_meta_sim::{Customer, MetaSim, SimConfig};

#[derive(Clone, Default)]
pub struct Received {
    pub bodies: Arc<Mutex<Vec<Bytes>>>,
    pub bad_signatures: Arc<Mutex<u32>>,
    /// Statuses to answer with, in order; 200 once exhausted.
    pub script: Arc<Mutex<Vec<u16>>>,
}

impl Received {
    pub fn items(&self) -> Vec<WebhookItem> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| webhook::parse(b).unwrap())
            .collect()
    }
}

pub async fn start(secret: AppSecret) -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route(
            "/webhooks/meta",
            post(
                |State((secret, received)): State<(AppSecret, Received)>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let signature = headers
                        .get("x-hub-signature-256")
                        .and_then(|h| h.to_str().ok());
                    if verify_webhook(&secret, &body, signature).is_err() {
                        *received.bad_signatures.lock().unwrap() += 1;
                        return StatusCode::UNAUTHORIZED;
                    }
                    let scripted = {
                        let mut script = received.script.lock().unwrap();
                        if script.is_empty() {
                            200
                        } else {
                            script.remove(0)
                        }
                    };
                    if scripted == 200 {
                        received.bodies.lock().unwrap().push(body);
                    }
                    StatusCode::from_u16(scripted).unwrap()
                },
            ),
        )
        .with_state((secret, received.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/meta", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// Starts the stand-in with `config` and a receiver for its webhooks, checking them with the
/// config's app secret.
pub async fn sim_with_receiver(config: SimConfig) -> (MetaSim, Received) {
    let sim = MetaSim::start(config.clone()).await.unwrap();
    let (url, received) = start(config.app_secret).await;
    sim.set_webhook_url(url);
    (sim, received)
}

/// A customer who does not show a phone number (a BSUID, PSID or IGSID `id`).
pub fn customer(id: &str, name: &str) -> Customer {
    Customer {
        id: id.into(),
        phone: None,
        name: name.into(),
    }
}
