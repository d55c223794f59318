//! The Graph API subset, under `/{version}/…`, answering as Meta does (including its errors).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use zentro_meta::platform;

use crate::SimState;
use crate::state::{SignupCode, TokenGrant};
use crate::webhooks::WebhookSender;

mod send;

use send::{messenger_send, whatsapp_send};

#[derive(Clone)]
struct Ctx {
    state: Arc<Mutex<SimState>>,
    webhooks: WebhookSender,
}

type Shared = Arc<Mutex<SimState>>;

/// The state, even if a handler panicked while holding it (the stand-in keeps serving).
fn lock(state: &Mutex<SimState>) -> std::sync::MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Graph API routes.
pub fn router(state: Shared, webhooks: WebhookSender) -> Router {
    Router::new()
        .route("/media-download/{id}", get(download))
        .route("/{version}/debug_token", get(debug_token_route))
        .route("/{version}/oauth/access_token", get(exchange_route))
        .route("/{version}/{id}", any(object_route))
        .route("/{version}/{id}/{edge}", any(edge_route))
        .with_state(Ctx { state, webhooks })
}

/// A Graph error response: `{"error": {message, type, code, error_subcode?, error_data?}}`.
fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    graph_error_with(status, code, None, message, None)
}

/// `(#100) The parameter {name} is required.`
fn required(name: &str) -> Response {
    invalid_parameter(&format!("(#100) The parameter {name} is required."))
}

/// The `(#10)` Meta answers when the token does not manage the sender.
fn no_permission() -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        10,
        "(#10) Application does not have permission for this action",
    )
}

/// The `(#200)` Meta answers when the token does not manage the account or Page.
fn permissions_error() -> Response {
    graph_error(StatusCode::FORBIDDEN, 200, "(#200) Permissions error")
}

/// Checks the token and that it manages the WhatsApp Business Account `waba_id`.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn authorize_waba(
    state: &SimState,
    token: Option<String>,
    waba_id: &str,
) -> Result<TokenGrant, Response> {
    let grant = authorize(state, token)?;
    if !grant.wabas.contains(waba_id) {
        return Err(permissions_error());
    }
    Ok(grant)
}

/// Meta's answer to a missing or malformed parameter: HTTP 400 with code 100.
fn invalid_parameter(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, 100, message)
}

fn graph_error_with(
    status: StatusCode,
    code: i64,
    subcode: Option<i64>,
    message: &str,
    details: Option<&str>,
) -> Response {
    let mut error = json!({ "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AsimTrace" });
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    if let Some(d) = details {
        error["error_data"] = json!({ "messaging_product": "whatsapp", "details": d });
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

fn bearer(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| query.get("access_token").cloned())
}

/// The token's grant, or the 190 Meta answers for a missing, unknown or revoked token.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn authorize(state: &SimState, token: Option<String>) -> Result<TokenGrant, Response> {
    let invalid = || {
        graph_error(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
    };
    let token = token.ok_or_else(|| {
        graph_error(
            StatusCode::UNAUTHORIZED,
            190,
            "An active access token must be used to query information about the current user.",
        )
    })?;
    match state.tokens.get(&token) {
        Some(grant) if grant.revoked => Err(graph_error_with(
            StatusCode::UNAUTHORIZED,
            190,
            Some(460),
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            None,
        )),
        Some(grant) => Ok(grant.clone()),
        None => Err(invalid()),
    }
}

async fn debug_token_route(
    State(ctx): State<Ctx>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    debug_token(&ctx.state, &query)
}

async fn exchange_route(
    State(ctx): State<Ctx>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    exchange_code(&ctx.state, &query)
}

/// `GET /{version}/{media-id}`.
async fn object_route(
    State(ctx): State<Ctx>,
    method: Method,
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers, &query);
    if method == Method::GET {
        if lock(&ctx.state).numbers.contains_key(&id) {
            return phone_number(&ctx.state, &id, token);
        }
        if lock(&ctx.state).profiles.contains_key(&id) {
            return user_profile(
                &ctx.state,
                &id,
                token,
                query.get("fields").map(String::as_str),
            );
        }
        return media_info(&ctx.state, &id, token);
    }
    unsupported(&method, &id)
}

fn unsupported(method: &Method, id: &str) -> Response {
    invalid_parameter(&format!(
        "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
    ))
}

/// `/{version}/{id}/{edge}`: messages, media, subscribed_apps, register.
async fn edge_route(
    State(ctx): State<Ctx>,
    Path((_version, id, edge)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let query: HashMap<String, String> = Query::try_from_uri(request.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let token = bearer(request.headers(), &query);
    match (method.as_str(), edge.as_str()) {
        ("POST", "media") => match Multipart::from_request(request, &()).await {
            Ok(multipart) => upload(&ctx, token, multipart).await,
            Err(_) => not_multipart("(#100) Upload media as multipart/form-data"),
        },
        ("POST", "message_attachments") => match Multipart::from_request(request, &()).await {
            Ok(multipart) => attachment_upload(&ctx, &id, token, multipart).await,
            Err(_) => not_multipart("(#100) Upload the attachment as multipart/form-data"),
        },
        ("POST", "messages") => post_messages(&ctx, &id, token, request).await,
        ("GET", "message_templates") => templates(&ctx.state, &id, token),
        ("POST", "message_templates") => {
            let body = axum::body::to_bytes(request.into_body(), 256 * 1024)
                .await
                .unwrap_or_default();
            create_template(&ctx.state, &id, token, &body)
        }
        ("GET", "accounts") if id == "me" => accounts(&ctx.state, token),
        ("POST", "subscribed_apps") => subscribe(&ctx.state, &id, token, Some(true)),
        ("GET", "subscribed_apps") => subscribe(&ctx.state, &id, token, None),
        ("DELETE", "subscribed_apps") => subscribe(&ctx.state, &id, token, Some(false)),
        ("GET", "phone_numbers") => phone_numbers(&ctx.state, &id, token),
        ("POST", "register") => {
            let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            register(&ctx.state, &id, token, &body)
        }
        _ => unsupported(&method, &id),
    }
}

/// The `(#100)` of an upload that is not `multipart/form-data`.
fn not_multipart(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, 100, message)
}

/// `POST /{version}/{id}/messages`: a WhatsApp send when `id` is a phone number, else a
/// Messenger or Instagram send from a Page.
async fn post_messages(ctx: &Ctx, id: &str, token: Option<String>, request: Request) -> Response {
    let body = axum::body::to_bytes(request.into_body(), 8 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return required("messaging_product");
    };
    let is_number = ctx
        .state
        .lock()
        .map(|s| s.numbers.contains_key(id))
        .unwrap_or(false);
    if is_number {
        return whatsapp_send(ctx, id, token, body);
    }
    match with_fetched_attachment(ctx, body).await {
        Ok(body) => messenger_send(ctx, id, token, body),
        Err(response) => response,
    }
}

/// A Messenger body whose attachment is given by URL, with Meta's own copy in its place: Meta
/// fetches the file before accepting the message, and the echo carries the copy, as Meta's
/// CDN would.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
async fn with_fetched_attachment(ctx: &Ctx, mut body: Value) -> Result<Value, Response> {
    let Some(url) = body
        .pointer("/message/attachment/payload/url")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(body);
    };
    let (bytes, mime) = fetch_attachment(&url).await?;
    let mut state = lock(&ctx.state);
    let media_id = state.add_media(bytes, &mime);
    body["message"]["attachment"]["payload"] = json!({
        "url": format!("{}/media-download/{media_id}", state.base_url),
        "fetched_from": url,
        "media_id": media_id,
    });
    Ok(body)
}

/// The User Profile API: a PSID's first and last name, an IGSID's name and username, readable
/// only with a token of the Page (or Instagram account) the customer wrote to.
fn user_profile(
    state: &Shared,
    user_id: &str,
    token: Option<String>,
    fields: Option<&str>,
) -> Response {
    let state = lock(state);
    let grant = match authorize(&state, token) {
        Ok(grant) => grant,
        Err(r) => return r,
    };
    let Some((page, customer)) = state.profiles.get(user_id) else {
        return unsupported(&Method::GET, user_id);
    };
    if !grant.pages.contains(page) {
        return invalid_parameter(&format!(
            "Unsupported get request. Object with ID '{user_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ));
    }
    let (first, last) = customer
        .name
        .split_once(' ')
        .unwrap_or((customer.name.as_str(), ""));
    let username = customer.name.to_lowercase().replace(' ', ".");
    let mut body = serde_json::Map::new();
    body.insert("id".into(), json!(user_id));
    for field in fields.unwrap_or("first_name,last_name").split(',') {
        let value = match field.trim() {
            "first_name" => json!(first),
            "last_name" => json!(last),
            "name" => json!(customer.name),
            "username" => json!(username),
            "profile_pic" => json!(format!("https://lookaside.fbsbx.com/profile/{user_id}")),
            _ => continue,
        };
        body.insert(field.trim().to_string(), value);
    }
    axum::Json(Value::Object(body)).into_response()
}

fn media_info(state: &Shared, media_id: &str, token: Option<String>) -> Response {
    let state = lock(state);
    if let Err(r) = authorize(&state, token) {
        return r;
    }
    let Some(file) = state.media.get(media_id) else {
        return invalid_parameter(&format!(
            "Unsupported get request. Object with ID '{media_id}' does not exist"
        ));
    };
    let expires = state.now().timestamp() + platform::MEDIA_URL_TTL.as_secs() as i64;
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/media-download/{media_id}?exp={expires}", state.base_url),
        "mime_type": file.mime_type,
        "sha256": state.media_sha256(media_id),
        "file_size": file.bytes.len().to_string(),
        "id": media_id,
    }))
    .into_response()
}

async fn download(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&ctx.state);
    // The download needs the same bearer token as the lookup.
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    if authorize(&state, token).is_err() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let expires = query
        .get("exp")
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    if state.now().timestamp() > expires {
        return StatusCode::NOT_FOUND.into_response();
    }
    if state.failing_downloads > 0 {
        state.failing_downloads -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    match state.media.get(&id) {
        Some(file) => (
            [(header::CONTENT_TYPE, file.mime_type.clone())],
            file.bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Fetches a file a Messenger or Instagram message names by URL, as Meta does before accepting
/// the message: it must answer 200 within 20 s with at most 25 MB.
async fn fetch_attachment(url: &str) -> Result<(Vec<u8>, String), Response> {
    let refused = || {
        graph_error_with(
            StatusCode::BAD_REQUEST,
            100,
            Some(2018008),
            "(#100) Failed to fetch the file from the url",
            None,
        )
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .map_err(|_| refused())?;
    let response = client.get(url).send().await.map_err(|_| refused())?;
    if !response.status().is_success() {
        return Err(refused());
    }
    let mime = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let bytes = response.bytes().await.map_err(|_| refused())?;
    if bytes.len() as u64 > platform::MESSENGER_ATTACHMENT_MAX_BYTES {
        return Err(invalid_parameter(
            "(#100) The file is larger than the attachment size limit",
        ));
    }
    Ok((bytes.to_vec(), mime))
}

/// A multipart form's text field `text_field` and its file field `file_field` (bytes and MIME
/// type); other fields are skipped, and a field that cannot be read counts as missing.
async fn read_form(
    multipart: &mut Multipart,
    text_field: &str,
    file_field: &str,
) -> (Option<String>, Option<(Vec<u8>, String)>) {
    let mut text = None;
    let mut file = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        if name == text_field {
            text = field.text().await.ok();
        } else if name == file_field {
            let mime = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            if let Ok(bytes) = field.bytes().await {
                file = Some((bytes.to_vec(), mime));
            }
        }
    }
    (text, file)
}

/// `POST /{version}/{page_id}/message_attachments`: Messenger's Attachment Upload API.
async fn attachment_upload(
    ctx: &Ctx,
    page_id: &str,
    token: Option<String>,
    mut multipart: Multipart,
) -> Response {
    let (message, file) = read_form(&mut multipart, "message", "filedata").await;
    let message: Option<Value> = message.and_then(|t| serde_json::from_str(&t).ok());
    let mut state = lock(&ctx.state);
    let grant = match authorize(&state, token) {
        Ok(g) => g,
        Err(r) => return r,
    };
    if !grant.pages.contains(page_id) || state.pages.get(page_id) == Some(&true) {
        return no_permission();
    }
    let kind = message
        .as_ref()
        .and_then(|m| m.pointer("/attachment/type"))
        .and_then(Value::as_str);
    if !matches!(kind, Some("image" | "audio" | "video" | "file")) {
        return invalid_parameter(
            "(#100) param message[attachment][type] must be one of {image, audio, video, file}",
        );
    }
    store_upload(&mut state, file, "filedata", "attachment_id")
}

/// `POST /{version}/{phone_number_id}/media` (multipart upload).
async fn upload(ctx: &Ctx, token: Option<String>, mut multipart: Multipart) -> Response {
    let (product, file) = read_form(&mut multipart, "messaging_product", "file").await;
    let mut state = lock(&ctx.state);
    if let Err(r) = authorize(&state, token) {
        return r;
    }
    if product.as_deref() != Some("whatsapp") {
        return required("messaging_product");
    }
    store_upload(&mut state, file, "file", "id")
}

/// Keeps an uploaded file (from the form's `field`) and answers with its new id under `key`;
/// without a file, Meta's "parameter required" error.
fn store_upload(
    state: &mut SimState,
    file: Option<(Vec<u8>, String)>,
    field: &str,
    key: &str,
) -> Response {
    let Some((bytes, mime)) = file else {
        return required(field);
    };
    let id = state.add_media(bytes, &mime);
    axum::Json(json!({ key: id })).into_response()
}

fn debug_token(state: &Shared, query: &HashMap<String, String>) -> Response {
    let state = lock(state);
    let app_token = format!(
        "{}|{}",
        state.config.app_id,
        state.config.app_secret.expose()
    );
    if query.get("access_token") != Some(&app_token) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            190,
            "Invalid OAuth access token signature.",
        );
    }
    let input = query.get("input_token").cloned().unwrap_or_default();
    let data = match state.tokens.get(&input) {
        Some(grant) => {
            let targets: Vec<&String> = grant.wabas.iter().collect();
            let pages: Vec<&String> = grant.pages.iter().collect();
            let granular: Vec<Value> = grant
                .scopes
                .iter()
                .map(|scope| {
                    let ids = if scope.starts_with("whatsapp") {
                        json!(targets)
                    } else if scope.starts_with("pages") || scope.starts_with("instagram") {
                        json!(pages)
                    } else {
                        json!([])
                    };
                    json!({ "scope": scope, "target_ids": ids })
                })
                .collect();
            let mut data = json!({ "app_id": state.config.app_id, "type": "SYSTEM_USER", "application": "Zentro Desk", "is_valid": !grant.revoked,
                    "expires_at": 0, "data_access_expires_at": 0, "scopes": grant.scopes, "granular_scopes": granular });
            if let Some(user) = &grant.user_id {
                data["user_id"] = json!(user);
            }
            data
        }
        None => {
            json!({ "is_valid": false, "error": { "code": 190, "message": "Invalid OAuth access token." }, "scopes": [] })
        }
    };
    axum::Json(json!({ "data": data })).into_response()
}

/// `GET /oauth/access_token`: an Embedded Signup or Facebook Login code exchanged, once and
/// within its lifetime, by the app that asked for it.
fn exchange_code(state: &Shared, query: &HashMap<String, String>) -> Response {
    let mut state = lock(state);
    if query.get("client_id") != Some(&state.config.app_id) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            101,
            "Error validating application. Invalid application ID.",
        );
    }
    if query.get("client_secret").map(String::as_str) != Some(state.config.app_secret.expose()) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            1,
            "Error validating client secret.",
        );
    }
    let code = query.get("code").cloned().unwrap_or_default();
    let grant = match redeem_code(&mut state, &code) {
        Ok(grant) => grant,
        Err(response) => return response,
    };
    let token_grant = code_token_grant(&state, grant);
    let token = state.issue_token(token_grant);
    axum::Json(json!({ "access_token": token.expose(), "token_type": "bearer" })).into_response()
}

/// The code's grant, once the code is known, unused and not expired (it is used up then).
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn redeem_code(state: &mut SimState, code: &str) -> Result<SignupCode, Response> {
    let refused = |subcode, message| {
        graph_error_with(StatusCode::BAD_REQUEST, 100, Some(subcode), message, None)
    };
    let now = state.now();
    let Some(grant) = state.codes.get(code).cloned() else {
        return Err(refused(36009, "Invalid verification code format."));
    };
    if grant.used {
        return Err(refused(36009, "This authorization code has been used."));
    }
    if now - grant.issued_at
        > chrono::Duration::from_std(platform::SIGNUP_CODE_TTL).unwrap_or_default()
    {
        return Err(refused(36007, "This authorization code has expired."));
    }
    if let Some(g) = state.codes.get_mut(code) {
        g.used = true;
    }
    Ok(grant)
}

/// What the token a code is exchanged for may do: the WABA an Embedded Signup code grants, or
/// the Pages of a Facebook Login code; with only the permissions left ticked in the dialog.
fn code_token_grant(state: &SimState, grant: SignupCode) -> TokenGrant {
    let user_id = Some(state.login_user_id().to_string());
    let mut token_grant = if grant.pages.is_empty() {
        TokenGrant {
            user_id: user_id.clone(),
            ..TokenGrant::for_waba(&grant.waba_id)
        }
    } else {
        // A Facebook Login user token: it lists the shared Pages (`/me/accounts`).
        TokenGrant {
            pages: grant.pages.iter().cloned().collect(),
            scopes: vec![
                "pages_show_list".into(),
                "pages_messaging".into(),
                "instagram_basic".into(),
                "instagram_manage_messages".into(),
                "business_management".into(),
            ],
            user_id,
            ..TokenGrant::default()
        }
    };
    // The permissions the person left ticked in the dialog, when not all of them.
    if let Some(scopes) = grant.scopes {
        token_grant.scopes = scopes;
    }
    token_grant
}

/// `GET /{waba-id}/message_templates`: the account's templates, as Meta lists them.
fn templates(state: &Shared, waba_id: &str, token: Option<String>) -> Response {
    let state = lock(state);
    if let Err(r) = authorize_waba(&state, token, waba_id) {
        return r;
    }
    let data: Vec<Value> = state
        .account_templates(waba_id)
        .into_iter()
        .map(|(name, language, t)| crate::templates::template_json(name, language, t))
        .collect();
    axum::Json(json!({ "data": data, "paging": { "cursors": { "before": "", "after": "" } } }))
        .into_response()
}

/// `POST /{waba-id}/message_templates`: a new template, checked as Meta checks it, in review
/// (`PENDING`) until a test decides ([`crate::MetaSim::review_template`]).
fn create_template(state: &Shared, waba_id: &str, token: Option<String>, body: &[u8]) -> Response {
    let mut state = lock(state);
    if let Err(r) = authorize_waba(&state, token, waba_id) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return required("name");
    };
    match state.create_template(waba_id, &body) {
        Ok(t) => axum::Json(json!({ "id": t.id, "status": t.status, "category": t.category }))
            .into_response(),
        Err(refusal) => {
            let mut error = json!({ "message": refusal.message, "type": "OAuthException", "code": 100,
                "error_user_title": "Invalid template", "error_user_msg": refusal.user_message, "fbtrace_id": "AsimTrace" });
            if let Some(subcode) = refusal.subcode {
                error["error_subcode"] = json!(subcode);
            }
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": error })),
            )
                .into_response()
        }
    }
}

/// `subscribed_apps`: add (`Some(true)`), remove (`Some(false)`) or list (`None`).
fn subscribe(
    state: &Shared,
    object_id: &str,
    token: Option<String>,
    change: Option<bool>,
) -> Response {
    let mut state = lock(state);
    let grant = match authorize(&state, token) {
        Ok(g) => g,
        Err(r) => return r,
    };
    if !grant.wabas.contains(object_id) && !grant.pages.contains(object_id) {
        return permissions_error();
    }
    let app_id = state.config.app_id.clone();
    let apps = state
        .subscriptions
        .entry(object_id.to_string())
        .or_default();
    match change {
        Some(true) => {
            apps.insert(app_id);
            return axum::Json(json!({ "success": true })).into_response();
        }
        Some(false) => {
            apps.remove(&app_id);
            return axum::Json(json!({ "success": true })).into_response();
        }
        None => {}
    }
    let data: Vec<Value> = apps
        .iter()
        .map(|id| json!({ "whatsapp_business_api_data": { "id": id, "name": "Zentro Desk" } }))
        .collect();
    axum::Json(json!({ "data": data })).into_response()
}

/// `GET /me/accounts`: the Pages a Facebook Login user token shares, with Page tokens.
fn accounts(state: &Shared, token: Option<String>) -> Response {
    let mut state = lock(state);
    let grant = match authorize(&state, token) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let data = state.accounts(&grant);
    axum::Json(json!({ "data": data, "paging": { "cursors": { "before": "", "after": "" } } }))
        .into_response()
}

fn number_json(id: &str, number: &crate::state::Number, tier: &str) -> Value {
    json!({ "whatsapp_business_manager_messaging_limit": tier, "id": id, "display_phone_number": format!("+{}", number.display), "verified_name": "Sandbox Coffee Co.",
            "quality_rating": number.quality, "code_verification_status": "VERIFIED",
            "platform_type": if number.registered { "CLOUD_API" } else { "NOT_APPLICABLE" } })
}

/// `GET /{phone-number-id}`: the number's display number, name and quality rating.
fn phone_number(state: &Shared, id: &str, token: Option<String>) -> Response {
    let state = lock(state);
    let grant = match authorize(&state, token) {
        Ok(g) => g,
        Err(r) => return r,
    };
    match state.numbers.get(id) {
        Some(n) if grant.wabas.contains(&n.waba_id) => {
            axum::Json(number_json(id, n, &state.messaging_limit(&n.waba_id))).into_response()
        }
        _ => unsupported(&Method::GET, id),
    }
}

/// `GET /{waba-id}/phone_numbers`.
fn phone_numbers(state: &Shared, waba_id: &str, token: Option<String>) -> Response {
    let state = lock(state);
    if let Err(r) = authorize_waba(&state, token, waba_id) {
        return r;
    }
    let mut data: Vec<Value> = state
        .numbers
        .iter()
        .filter(|(_, n)| n.waba_id == waba_id)
        .map(|(id, n)| number_json(id, n, &state.messaging_limit(&n.waba_id)))
        .collect();
    data.sort_by_key(|n| n["id"].as_str().unwrap_or_default().to_string());
    axum::Json(json!({ "data": data })).into_response()
}

fn register(state: &Shared, phone_number_id: &str, token: Option<String>, body: &[u8]) -> Response {
    let mut state = lock(state);
    let grant = match authorize(&state, token) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let pin = body.get("pin").and_then(Value::as_str).unwrap_or_default();
    let Some(number) = state.numbers.get_mut(phone_number_id) else {
        return invalid_parameter("Unsupported post request.");
    };
    if !grant.wabas.contains(&number.waba_id) {
        return permissions_error();
    }
    if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return invalid_parameter("(#100) Param pin must be 6 digits");
    }
    number.register_calls += 1;
    if number.register_calls > 10 {
        return graph_error(
            StatusCode::BAD_REQUEST,
            133016,
            "Account register deregister rate limit exceeded",
        );
    }
    number.registered = true;
    number.pin = Some(pin.to_string());
    axum::Json(json!({ "success": true })).into_response()
}
