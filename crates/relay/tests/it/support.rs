//! A relay on a temporary data directory, driven through its router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zentro_meta::AppSecret;
use zentro_meta::signature::sign_webhook;
use zentro_meta_sim::{MetaSim, SimConfig};
use zentro_relay::config::{MetaApp, VerifyToken};
use zentro_relay::credentials::hash_password;
use zentro_relay::sealing::{TokenKey, TokenKeys};
use zentro_relay::store::{ChannelKind, DatabaseLocation};
use zentro_relay::{AppState, Config, Store, app};

pub const SECRET: &str = "test-app-secret";
pub const VERIFY: &str = "test-verify-token";
pub const PASSWORD: &str = "correct horse battery";

/// Which backend the suite runs on: `ZENTRO_RELAY_TEST_DATABASE=postgres` (with
/// `ZENTRO_RELAY_TEST_POSTGRES_URL`, a server where the role may create databases) or SQLite.
pub fn on_postgres() -> bool {
    std::env::var("ZENTRO_RELAY_TEST_DATABASE").as_deref() == Ok("postgres")
}

/// For a test that inspects SQLite itself (its file, its faults): `true`, after saying so, when
/// the suite runs on PostgreSQL, and the test should return. `scripts/test.sh` lists the skips.
pub fn sqlite_only(test: &str) -> bool {
    let skip = on_postgres();
    if skip {
        eprintln!("SKIPPED ON POSTGRES: {test} (it inspects SQLite itself)");
    }
    skip
}

/// A fresh, empty database for one relay on the PostgreSQL test server (`None` on SQLite): the
/// same isolation as a temporary directory per test.
pub async fn fresh_database() -> Option<String> {
    use sqlx::Connection;
    if !on_postgres() {
        return None;
    }
    let server = std::env::var("ZENTRO_RELAY_TEST_POSTGRES_URL")
        .expect("ZENTRO_RELAY_TEST_DATABASE=postgres needs ZENTRO_RELAY_TEST_POSTGRES_URL");
    let name = format!("t_{}", zentro_events::clock::random_id().to_lowercase());
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

pub struct TestRelay {
    pub state: AppState,
    pub _dir: tempfile::TempDir,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl TestRelay {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A relay whose settings `adjust` changes first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(
            dir.path().to_path_buf(),
            AppSecret::new(SECRET),
            VerifyToken::new(VERIFY),
        );
        config.database_url = fresh_database().await;
        adjust(&mut config);
        let store = Store::open_at(&config.database()).await.unwrap();
        Self {
            state: AppState::new(store, config),
            _dir: dir,
        }
    }

    /// A relay with the workspace Acme of `owner@acme.test` (a WhatsApp channel
    /// `phone_number_id` unless empty), and the token of a device the owner signed in.
    pub async fn with_owner(phone_number_id: &str) -> (Self, String) {
        let relay = Self::start().await;
        relay
            .workspace("Acme", "owner@acme.test", phone_number_id)
            .await;
        let token = relay.sign_in("owner@acme.test").await;
        (relay, token)
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Where the relay keeps its data (to open a second store on it).
    pub fn database(&self) -> DatabaseLocation {
        self.state.config.database()
    }

    pub async fn request(&self, request: Request<Body>) -> Response {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Response {
            status,
            headers,
            body,
        }
    }

    /// Calls `/v1` with a method, an optional bearer token and an optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.request(request.body(body).unwrap()).await
    }

    /// `GET path`, with the bearer token `token` when there is one.
    pub async fn get(&self, token: Option<&str>, path: &str) -> Response {
        self.call("GET", path, token, None).await
    }

    /// `POST path` with the JSON `body`, with the bearer token `token` when there is one.
    pub async fn post(&self, token: Option<&str>, path: &str, body: Value) -> Response {
        self.call("POST", path, token, Some(body)).await
    }

    /// `PUT path` with the JSON `body`, with the bearer token `token` when there is one.
    pub async fn put(&self, token: Option<&str>, path: &str, body: Value) -> Response {
        self.call("PUT", path, token, Some(body)).await
    }

    /// `PATCH path` with the JSON `body`, with the bearer token `token` when there is one.
    pub async fn patch(&self, token: Option<&str>, path: &str, body: Value) -> Response {
        self.call("PATCH", path, token, Some(body)).await
    }

    /// `DELETE path`, with the bearer token `token` when there is one.
    pub async fn delete(&self, token: Option<&str>, path: &str) -> Response {
        self.call("DELETE", path, token, None).await
    }

    /// `POST /v1/members` (an invitation: `email`, `role`, maybe `display_name`) by the member
    /// holding the token `by`.
    pub async fn invite(&self, by: &str, invitation: Value) -> Response {
        self.post(Some(by), "/v1/members", invitation).await
    }

    /// `POST /v1/invitations/accept` with `acceptance` (`code`, `password`, maybe `device_name`);
    /// no token, as the invited person has none yet.
    pub async fn accept_invitation(&self, acceptance: Value) -> Response {
        self.post(None, "/v1/invitations/accept", acceptance).await
    }

    /// GETs `path` with the bearer token `token`; the answer's JSON (null when it has none).
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        self.call("GET", path, Some(token), None).await.json()
    }

    /// GETs `path` with the bearer token `token`; the list `key` of the answer.
    pub async fn get_list(&self, token: &str, path: &str, key: &str) -> Vec<Value> {
        self.get_json(token, path).await[key]
            .as_array()
            .unwrap()
            .clone()
    }

    /// `PATCH /v1/members/{member_id}` with `change` (a role, a status), by the member holding
    /// the token `by`.
    pub async fn change_member(&self, by: &str, member_id: &str, change: Value) -> Response {
        let path = format!("/v1/members/{member_id}");
        self.patch(Some(by), &path, change).await
    }

    /// The id of the member `email`, as `GET /v1/members` lists it to the device holding `token`.
    pub async fn member_id(&self, token: &str, email: &str) -> String {
        let members = self.get_json(token, "/v1/members").await;
        members["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Invites `email` as `role` (by the member holding the token `by`) and accepts the
    /// invitation; returns the new device's token. Both steps must succeed.
    pub async fn join(&self, by: &str, email: &str, role: &str) -> String {
        let invited = self
            .invite(
                by,
                json!({ "email": email, "role": role, "display_name": email }),
            )
            .await;
        assert_eq!(invited.status, StatusCode::CREATED, "{:?}", invited.json());
        let code = invited.json()["code"].as_str().unwrap().to_string();
        let accepted = self
            .accept_invitation(json!({ "code": code, "password": PASSWORD, "device_name": format!("{role} laptop") }))
            .await;
        assert_eq!(
            accepted.status,
            StatusCode::CREATED,
            "{:?}",
            accepted.json()
        );
        assert_eq!(accepted.json()["member"]["role"], role);
        accepted.json()["token"].as_str().unwrap().to_string()
    }

    /// POSTs `body` to `/webhooks/meta` with no content type and the signature header
    /// `signature` (none: no header), for what the relay does with bodies Meta did not sign.
    pub async fn post_webhook_signed_as(
        &self,
        signature: Option<&str>,
        body: impl Into<Body>,
    ) -> Response {
        let mut request = Request::post("/webhooks/meta");
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        self.request(request.body(body.into()).unwrap()).await
    }

    /// POSTs raw bytes signed with the app secret, as Meta does.
    pub async fn post_signed(&self, body: &[u8]) -> Response {
        let signature = sign_webhook(&AppSecret::new(SECRET), body);
        self.request(
            Request::post("/webhooks/meta")
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature)
                .body(Body::from(body.to_vec()))
                .unwrap(),
        )
        .await
    }

    /// POSTs a signed WhatsApp text ([`wa_text`]) to the number `phone_number_id`, as Meta does.
    pub async fn post_wa_text(&self, phone_number_id: &str, wamid: &str, text: &str) -> Response {
        let body = wa_text(phone_number_id, wamid, text).to_string();
        self.post_signed(body.as_bytes()).await
    }

    /// Prunes the log as the relay would at `now` (ms since the epoch), with an hour's grace
    /// after every device acknowledged and 30 days' retention; how many events went.
    pub async fn prune_at(&self, now: i64) -> u64 {
        let hour = std::time::Duration::from_secs(3600);
        self.store().prune(now, hour, 30 * 24 * hour).await.unwrap()
    }

    /// POSTs signed texts to the WhatsApp number `phone_number_id`, with wamids `wamid.N` for
    /// each N in `numbers`; each must be accepted.
    pub async fn post_texts(&self, phone_number_id: &str, numbers: std::ops::Range<usize>) {
        for i in numbers {
            let wamid = format!("wamid.{i}");
            let posted = self.post_wa_text(phone_number_id, &wamid, "x").await;
            assert_eq!(posted.status, StatusCode::OK);
        }
    }

    /// A workspace with an owner and a WhatsApp channel; returns the workspace id.
    pub async fn workspace(&self, name: &str, email: &str, phone_number_id: &str) -> String {
        let hash = hash_password(PASSWORD);
        let ws = self
            .store()
            .create_workspace(name, email, "Owner", &hash)
            .await
            .unwrap();
        if !phone_number_id.is_empty() {
            self.store()
                .add_channel(
                    &ws.id,
                    ChannelKind::Whatsapp,
                    phone_number_id,
                    Some(&format!("WABA-{phone_number_id}")),
                    "",
                )
                .await
                .unwrap();
        }
        ws.id
    }

    pub async fn sign_in(&self, email: &str) -> String {
        let body = json!({ "email": email, "password": PASSWORD, "device_name": "test laptop" });
        let response = self.call("POST", "/v1/sessions", None, Some(body)).await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        response.json()["token"].as_str().unwrap().to_string()
    }

    /// Acknowledges `seq` for the device holding `token`; returns the relay's answer.
    pub async fn acknowledge(&self, token: &str, seq: i64) -> Response {
        let body = json!({ "seq": seq });
        self.call("POST", "/v1/cursor", Some(token), Some(body))
            .await
    }

    pub async fn events(&self, token: &str, after: i64) -> Vec<Value> {
        let path = format!("/v1/events?after={after}");
        let response = self.call("GET", &path, Some(token), None).await;
        assert_eq!(response.status, StatusCode::OK);
        response.json()["events"].as_array().unwrap().clone()
    }
}

/// A WhatsApp text webhook body for a phone number, as Meta would send it.
pub fn wa_text(phone_number_id: &str, wamid: &str, text: &str) -> Value {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": format!("WABA-{phone_number_id}"), "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550000000", "phone_number_id": phone_number_id },
        "contacts": [{ "profile": { "name": "Ana" }, "user_id": "US.1", "wa_id": "16505551234" }],
        "messages": [{ "from": "16505551234", "from_user_id": "US.1", "id": wamid, "timestamp": "1750000000", "type": "text", "text": { "body": text } }]
    }}]}]})
}

/// The string `value` holds; the test fails when it holds none.
pub fn str_of(value: &Value) -> &str {
    value.as_str().unwrap()
}

/// The wamids in a list of events.
pub fn wamids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| {
            e["payload"]
                .pointer("/entry/0/changes/0/value/messages/0/id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// A relay serving on a loopback socket through `zentro_relay::run`, as the binary does.
pub struct ServedRelay {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where it keeps its data.
    pub database: DatabaseLocation,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl ServedRelay {
    /// Serves a workspace whose owner signs in as `email` with [`PASSWORD`], and which has a
    /// WhatsApp channel `phone_number_id` unless that is empty.
    pub async fn start(email: &str, phone_number_id: &str) -> Self {
        Self::start_on(
            |_| {},
            async |store| {
                let workspace = store
                    .create_workspace("Acme", email, "Owner", &hash_password(PASSWORD))
                    .await
                    .unwrap();
                if !phone_number_id.is_empty() {
                    store
                        .add_channel(
                            &workspace.id,
                            ChannelKind::Whatsapp,
                            phone_number_id,
                            None,
                            "",
                        )
                        .await
                        .unwrap();
                }
            },
        )
        .await
    }

    /// Serves a relay whose settings `adjust` changes, over a store `prepare` fills first.
    pub async fn start_on(
        adjust: impl FnOnce(&mut Config),
        prepare: impl AsyncFnOnce(&Store),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(
            dir.path().to_path_buf(),
            AppSecret::new(SECRET),
            VerifyToken::new(VERIFY),
        );
        config.database_url = fresh_database().await;
        adjust(&mut config);
        let database = config.database();
        let store = Store::open_at(&database).await.unwrap();
        prepare(&store).await;
        store.close().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(zentro_relay::run(config, listener, async {
            let _ = stopped.await;
        }));
        Self {
            base,
            database,
            stop,
            server,
            _dir: dir,
        }
    }

    /// The relay's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Signs in a device as `email` ([`PASSWORD`]) over HTTP; returns its token.
    pub async fn sign_in(&self, email: &str) -> String {
        let body = json!({ "email": email, "password": PASSWORD, "device_name": "laptop" });
        let session = post_json(&format!("{}/v1/sessions", self.base), &body).await;
        session["token"].as_str().unwrap().to_string()
    }

    /// GETs `path` with the bearer token `token`; the answer's JSON.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        get_json(&self.base, token, path).await
    }

    /// Any call to `path` with the bearer token `token` and a JSON body (none when `body` is
    /// null) → (status, the answer's JSON, null when it has none).
    pub async fn call(&self, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
        call_at(&self.base, Some(token), method, path, body).await
    }

    /// Invites `email` as `role` (by the member holding the token `by`) and accepts the
    /// invitation over HTTP, the device named `device_name`; both steps must succeed.
    pub async fn join(&self, by: &str, email: &str, role: &str, device_name: &str) -> Joined {
        let (status, invited) = self
            .call(
                by,
                "POST",
                "/v1/members",
                json!({ "email": email, "role": role }),
            )
            .await;
        assert_eq!(status, 201, "{invited}");
        let accepted = reqwest::Client::new()
            .post(format!("{}/v1/invitations/accept", self.base))
            .json(&json!({ "code": invited["code"], "password": PASSWORD, "device_name": device_name }))
            .send()
            .await
            .unwrap();
        assert_eq!(accepted.status(), 201);
        let joined: Value = accepted.json().await.unwrap();
        Joined {
            token: joined["token"].as_str().unwrap().to_string(),
            member_id: joined["member"]["id"].as_str().unwrap().to_string(),
        }
    }

    /// Shuts the relay down gracefully and waits (at most 10 s) for it to return.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), self.server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// A member who joined by invitation: their device's token and their member id.
pub struct Joined {
    pub token: String,
    pub member_id: String,
}

/// Any call to `{base}{path}`, with the bearer token `token` when there is one and a JSON body
/// (none when `body` is null) → (status, the answer's JSON, null when it has none).
pub async fn call_at(
    base: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// GETs `{base}{path}` with the bearer token `token`; the answer's JSON.
pub async fn get_json(base: &str, token: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POSTs `body` to `url` (no body when it is null); the answer's JSON.
pub async fn post_json(url: &str, body: &Value) -> Value {
    let mut request = reqwest::Client::new().post(url);
    if !body.is_null() {
        request = request.json(body);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// POSTs a webhook to the relay at `base`, signed with the app secret as Meta does; it must be
/// accepted.
pub async fn post_webhook(base: &str, body: &Value) {
    let bytes = body.to_string();
    let response = reqwest::Client::new()
        .post(format!("{base}/webhooks/meta"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            sign_webhook(&AppSecret::new(SECRET), bytes.as_bytes()),
        )
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Meta's stand-in, verifying with the relay's app secret.
pub async fn start_meta_sim() -> MetaSim {
    MetaSim::start(SimConfig {
        app_secret: AppSecret::new(SECRET),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// The Meta app settings of a relay that connects channels through the stand-in `sim`.
pub fn meta_app_of(sim: &MetaSim) -> MetaApp {
    let base = sim.base_url();
    MetaApp {
        app_id: sim.state().app_id().to_string(),
        signup_config_id: "778899001122".into(),
        login_config_id: Some("880011223344".into()),
        graph_url: base.clone(),
        sdk_url: format!("{base}/sim/sdk.js"),
    }
}

/// A WhatsApp number the automation and the consent worker's tests connect.
pub struct Number<'a> {
    /// Its WhatsApp Business Account.
    pub waba: &'a str,
    /// Its phone number id.
    pub id: &'a str,
    /// How it is displayed.
    pub display: &'a str,
}

/// A served relay whose automation (and consent worker) runs every 100 ms, with `owner`'s
/// workspace Acme and its WhatsApp `number` connected to a fresh meta-sim (the token sealed on
/// the relay, as an owner's connection leaves it), meta-sim posting its webhooks to the relay;
/// `more` adds to the store before the relay starts (other workspaces). Returns meta-sim and the
/// relay, nobody signed in yet.
pub async fn relay_with_a_connected_number(
    owner: &str,
    number: Number<'_>,
    more: impl AsyncFnOnce(&Store),
) -> (MetaSim, ServedRelay) {
    let sim = start_meta_sim().await;
    let token = sim.add_whatsapp_number(number.waba, number.id, number.display);
    let keys = new_token_keys();
    let sealing = keys.current.clone();
    let meta_app = meta_app_of(&sim);
    let relay = ServedRelay::start_on(
        |c| {
            c.token_keys = Some(keys);
            c.meta_app = Some(meta_app);
            c.automation_interval = std::time::Duration::from_millis(100);
            // A campaign's temporary failures retried within a second, not half an hour.
            c.campaign_retry_first = std::time::Duration::from_millis(20);
            c.campaign_retry_most = std::time::Duration::from_millis(160);
        },
        async |store| {
            let hash = hash_password(PASSWORD);
            let ws = store
                .create_workspace("Acme", owner, "Owner", &hash)
                .await
                .unwrap();
            let (channel, _) = store
                .add_channel(
                    &ws.id,
                    ChannelKind::Whatsapp,
                    number.id,
                    Some(number.waba),
                    "",
                )
                .await
                .unwrap();
            let sealed = sealing.seal(&channel.id, token.expose());
            store
                .set_channel_token(&channel.id, &sealed, None)
                .await
                .unwrap();
            more(store).await;
        },
    )
    .await;
    sim.set_webhook_url(format!("{}/webhooks/meta", relay.base));
    (sim, relay)
}

/// Waits (polling every 50 ms) until `done`, failing the test after `seconds`.
pub async fn wait_until(seconds: u64, what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {seconds} s for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A new random key to seal channel tokens with, and no previous one.
pub fn new_token_keys() -> TokenKeys {
    TokenKeys {
        current: TokenKey::parse(&TokenKey::generate()).unwrap(),
        previous: None,
    }
}

/// A value bound to a [`RawDatabase`] statement.
pub enum Bind<'a> {
    Int(i64),
    Text(Option<&'a str>),
    Bytes(Option<&'a [u8]>),
}

/// Raw SQL on a test relay's database, whichever the backend: what a test sets up or inspects
/// behind the relay's back (a clock moved, a raced row). Placeholders are `$1`, `$2`, … (SQLite
/// reads them too).
pub enum RawDatabase {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

macro_rules! bound {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(*v),
                Bind::Bytes(v) => query.bind(*v),
            };
        }
        query
    }};
}

impl RawDatabase {
    pub async fn open(location: &DatabaseLocation) -> Self {
        match location {
            DatabaseLocation::Directory(dir) => Self::Sqlite(
                sqlx::SqlitePool::connect(&format!(
                    "sqlite://{}",
                    dir.join(zentro_relay::store::DATABASE_FILE).display()
                ))
                .await
                .unwrap(),
            ),
            DatabaseLocation::Postgres(url) => {
                Self::Postgres(sqlx::PgPool::connect(url).await.unwrap())
            }
        }
    }

    pub async fn execute(&self, sql: &str, binds: &[Bind<'_>]) {
        match self {
            Self::Sqlite(pool) => {
                bound!(sqlx::query(sql), binds).execute(pool).await.unwrap();
            }
            Self::Postgres(pool) => {
                bound!(sqlx::query(sql), binds).execute(pool).await.unwrap();
            }
        }
    }

    pub async fn fetch_i64(&self, sql: &str, binds: &[Bind<'_>]) -> i64 {
        match self {
            Self::Sqlite(pool) => bound!(sqlx::query_scalar(sql), binds)
                .fetch_one(pool)
                .await
                .unwrap(),
            Self::Postgres(pool) => bound!(sqlx::query_scalar(sql), binds)
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    }

    pub async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Whether `needle` is anywhere in the relay's stored data, in the clear: in the SQLite files of
/// the data directory, or in any row of any PostgreSQL table (as text, or as bytes within bytea).
pub async fn stored_anywhere(location: &DatabaseLocation, needle: &str) -> bool {
    match location {
        DatabaseLocation::Directory(dir) => std::fs::read_dir(dir).unwrap().any(|entry| {
            let path = entry.unwrap().path();
            path.is_file()
                && std::fs::read(&path)
                    .unwrap()
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
        }),
        DatabaseLocation::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert!(tables.len() > 10, "{tables:?}");
            let as_bytes = format!("\\x{}", hex::encode(needle));
            let mut found = false;
            for table in tables {
                let sql = format!(
                    "SELECT count(*) FROM \"{table}\" t WHERE strpos(t::text, $1) > 0 \
                     OR strpos(t::text, $2) > 0 OR strpos(t::text, $3) > 0"
                );
                let hits: i64 = sqlx::query_scalar(&sql)
                    .bind(needle)
                    .bind(&as_bytes)
                    .bind(hex::encode(needle))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                found |= hits > 0;
            }
            pool.close().await;
            found
        }
    }
}

/// A second relay instance on `first`'s database (its data directory and, on PostgreSQL, its
/// database), with `first`'s settings as `adjust` changes them: two "instances" in one test.
pub async fn another_instance(first: &TestRelay, adjust: impl FnOnce(&mut Config)) -> TestRelay {
    let mut config = (*first.state.config).clone();
    adjust(&mut config);
    let store = Store::open_at(&config.database()).await.unwrap();
    TestRelay {
        state: AppState::new(store, config),
        _dir: tempfile::tempdir().unwrap(),
    }
}
