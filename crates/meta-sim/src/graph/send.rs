//! `POST /{version}/{id}/messages`: sending on WhatsApp (from a phone number) and on Messenger or
//! Instagram (from a Page), checked as Meta checks it. Each send runs the same steps: who may
//! send → what is sent → the customer-service window → record it → schedule its webhooks →
//! answer with its id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use zentro_meta::platform;

use super::{
    Ctx, authorize, graph_error, graph_error_with, invalid_parameter, lock, no_permission, required,
};
use crate::SimState;
use crate::limits::{Fate, Refusal};
use crate::state::{Number, SentMessage};

/// A message the stand-in accepted, as its webhooks describe it.
struct Accepted<'a> {
    /// The wamid or mid it answered with.
    id: String,
    /// The phone number id or Page id it was sent from.
    channel_id: &'a str,
    /// The customer it went to.
    to: &'a str,
    /// The request's body.
    body: &'a Value,
    /// When it was accepted, by the stand-in's clock.
    at: DateTime<Utc>,
}

/// The next failure a test injected, if any (it is used up).
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn take_injected_failure(state: &mut SimState) -> Result<(), Response> {
    if state.injected.is_empty() {
        return Ok(());
    }
    let (status, code) = state.injected.remove(0);
    Err(graph_error(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        code,
        "Injected failure",
    ))
}

/// Keeps the message among those sent and gives it its id (`{prefix}…`).
fn record_sent<'a>(
    state: &mut SimState,
    prefix: &str,
    channel_id: &'a str,
    to: &'a str,
    body: &'a Value,
    at: DateTime<Utc>,
) -> Accepted<'a> {
    let id = state.next_id(prefix);
    state.sent.push(SentMessage {
        id: id.clone(),
        channel_id: channel_id.to_string(),
        to: to.to_string(),
        body: body.clone(),
        at,
    });
    Accepted {
        id,
        channel_id,
        to,
        body,
        at,
    }
}

/// Whether `customer` wrote to `channel_id` less than `window` before `now`.
fn window_open(
    state: &SimState,
    channel_id: &str,
    customer: &str,
    window: std::time::Duration,
    now: DateTime<Utc>,
) -> bool {
    state
        .last_inbound(channel_id, customer)
        .is_some_and(|at| now - at < chrono::Duration::from_std(window).unwrap_or_default())
}

fn len_chars(v: Option<&Value>) -> usize {
    v.and_then(Value::as_str)
        .map(|s| s.chars().count())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// WhatsApp
// ---------------------------------------------------------------------------------------------

/// `POST /{phone_number_id}/messages`: a WhatsApp message (or a read receipt).
pub(super) fn whatsapp_send(
    ctx: &Ctx,
    phone_number_id: &str,
    token: Option<String>,
    body: Value,
) -> Response {
    let mut state = lock(&ctx.state);
    let number = match whatsapp_sender(&mut state, phone_number_id, token) {
        Ok(number) => number,
        Err(response) => return response,
    };
    if body.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return required("messaging_product");
    }
    if body.get("status").and_then(Value::as_str) == Some("read") {
        return mark_read(&body);
    }
    if !number.registered {
        return not_registered();
    }
    let Some(customer) = customer_key(&body) else {
        return required("to");
    };
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("text");
    let part = body.get(kind).cloned().unwrap_or(Value::Null);
    if let Err(response) = check_whatsapp_content(&state, &number.waba_id, kind, &part) {
        return response;
    }
    // The 24-hour customer-service window: only templates outside it.
    let now = state.now();
    let outside_window = kind != "template"
        && !window_open(
            &state,
            phone_number_id,
            &customer,
            platform::WHATSAPP_SERVICE_WINDOW,
            now,
        );
    if outside_window && state.config.reject_outside_window {
        return re_engagement_required();
    }
    if let Err(refusal) = state.check_rate(phone_number_id, &customer, now) {
        return rate_refusal(refusal);
    }
    // A template to a customer whose window is closed is business-initiated: it counts against
    // the portfolio's messaging limit.
    let business_initiated = kind == "template"
        && !window_open(
            &state,
            phone_number_id,
            &customer,
            platform::WHATSAPP_SERVICE_WINDOW,
            now,
        );
    let fate = if outside_window {
        Fate::Delivered
    } else {
        state.fate(&number.waba_id, &customer, business_initiated, now)
    };
    let sent = record_sent(
        &mut state,
        "wamid.OUT",
        phone_number_id,
        &customer,
        &body,
        now,
    );
    schedule_whatsapp_statuses(ctx, &state, &number, &sent, outside_window, fate);
    whatsapp_accepted(&sent)
}

/// The 130429 of a number past its throughput, or the 131056 of a customer messaged too often.
fn rate_refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Throughput => graph_error_with(
            StatusCode::BAD_REQUEST,
            130429,
            None,
            "(#130429) Rate limit hit",
            Some("Cloud API message throughput has been reached."),
        ),
        Refusal::PairRate => graph_error_with(
            StatusCode::BAD_REQUEST,
            131056,
            None,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            Some(
                "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
            ),
        ),
    }
}

/// The phone number a WhatsApp send comes from, once the token may send from it.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn whatsapp_sender(
    state: &mut SimState,
    phone_number_id: &str,
    token: Option<String>,
) -> Result<Number, Response> {
    let grant = authorize(state, token)?;
    let Some(number) = state.numbers.get(phone_number_id).cloned() else {
        return Err(invalid_parameter("Unsupported post request."));
    };
    if !grant.wabas.contains(&number.waba_id) {
        return Err(no_permission());
    }
    take_injected_failure(state)?;
    Ok(number)
}

/// A read receipt (`"status": "read"`): accepted when it names the message.
fn mark_read(body: &Value) -> Response {
    if body.get("message_id").and_then(Value::as_str).is_some() {
        axum::Json(json!({ "success": true })).into_response()
    } else {
        required("message_id")
    }
}

/// The 133010 of a number not registered on the Cloud API.
fn not_registered() -> Response {
    graph_error_with(
        StatusCode::BAD_REQUEST,
        133010,
        None,
        "Account not registered",
        Some("The phone number is not registered on the Cloud API."),
    )
}

/// The 131047 of a message (not a template) outside the 24-hour window.
fn re_engagement_required() -> Response {
    graph_error_with(
        StatusCode::BAD_REQUEST,
        131047,
        None,
        "Re-engagement message",
        Some(
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        ),
    )
}

/// The customer a WhatsApp send goes to: `recipient` (a BSUID) or `to` (a phone number,
/// without its `+`).
fn customer_key(body: &Value) -> Option<String> {
    body.get("recipient")
        .and_then(Value::as_str)
        .or_else(|| body.get("to").and_then(Value::as_str))
        .map(|s| s.trim_start_matches('+').to_string())
}

/// Meta's checks of the message's `kind` part: lengths, media, buttons, templates.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_whatsapp_content(
    state: &SimState,
    waba_id: &str,
    kind: &str,
    part: &Value,
) -> Result<(), Response> {
    match kind {
        "text" => check_text(part),
        "image" | "video" | "document" | "audio" | "sticker" => check_media(part),
        "interactive" => check_interactive(part),
        "template" => check_template(state, waba_id, part),
        "reaction" => Ok(()),
        other => Err(invalid_parameter(&format!(
            "(#100) Param type must be one of {{text, image, ...}}, got {other}"
        ))),
    }
}

#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_text(part: &Value) -> Result<(), Response> {
    let n = len_chars(part.get("body"));
    if n == 0 {
        return Err(invalid_parameter("(#100) Param text['body'] is required."));
    }
    if n > platform::WHATSAPP_TEXT_MAX_CHARS {
        return Err(invalid_parameter(
            "(#100) Param text['body'] must be at most 4096 characters long.",
        ));
    }
    Ok(())
}

#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_media(part: &Value) -> Result<(), Response> {
    if len_chars(part.get("caption")) > platform::WHATSAPP_CAPTION_MAX_CHARS {
        return Err(invalid_parameter(
            "(#100) Param caption must be at most 1024 characters long.",
        ));
    }
    if part.get("id").is_none() && part.get("link").is_none() {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            131009,
            "(#131009) Parameter value is not valid",
        ));
    }
    Ok(())
}

/// An interactive message: reply buttons or a list, with a body within its limit.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_interactive(part: &Value) -> Result<(), Response> {
    let body = len_chars(part.pointer("/body/text"));
    if body == 0 {
        return Err(invalid_parameter(
            "(#100) The parameter interactive['body']['text'] is required.",
        ));
    }
    if body > platform::WHATSAPP_INTERACTIVE_BODY_MAX_CHARS {
        return Err(parameter_value_not_valid(&format!(
            "Body text length is too long. Max length is {}",
            platform::WHATSAPP_INTERACTIVE_BODY_MAX_CHARS
        )));
    }
    if len_chars(part.pointer("/footer/text")) > platform::WHATSAPP_INTERACTIVE_FOOTER_MAX_CHARS {
        return Err(parameter_value_not_valid(&format!(
            "Footer text length is too long. Max length is {}",
            platform::WHATSAPP_INTERACTIVE_FOOTER_MAX_CHARS
        )));
    }
    match part.get("type").and_then(Value::as_str) {
        Some("button") => check_buttons(part),
        Some("list") => check_list(part),
        Some(_) => Ok(()),
        None => Err(invalid_parameter(
            "(#100) The parameter interactive['type'] is required.",
        )),
    }
}

/// The 131009 Meta answers an interactive message that breaks a limit, with its details.
fn parameter_value_not_valid(details: &str) -> Response {
    graph_error_with(
        StatusCode::BAD_REQUEST,
        131009,
        None,
        "(#131009) Parameter value is not valid",
        Some(details),
    )
}

/// Reply buttons: one to three, each with an id and a title within its limit.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_buttons(part: &Value) -> Result<(), Response> {
    let buttons = part
        .pointer("/action/buttons")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !(1..=platform::WHATSAPP_MAX_REPLY_BUTTONS).contains(&buttons.len()) {
        return Err(parameter_value_not_valid(
            "Buttons count should be between 1 and 3",
        ));
    }
    for button in &buttons {
        let title = len_chars(button.pointer("/reply/title"));
        if title == 0 || len_chars(button.pointer("/reply/id")) == 0 {
            return Err(invalid_parameter(
                "(#100) The parameter interactive['action']['buttons'][0]['reply'] needs an id and a title.",
            ));
        }
        if title > platform::WHATSAPP_BUTTON_TITLE_MAX_CHARS {
            return Err(parameter_value_not_valid(&format!(
                "Button title length is too long. Max length is {}",
                platform::WHATSAPP_BUTTON_TITLE_MAX_CHARS
            )));
        }
        if len_chars(button.pointer("/reply/id")) > platform::WHATSAPP_BUTTON_ID_MAX_CHARS {
            return Err(parameter_value_not_valid(&format!(
                "Button id length is too long. Max length is {}",
                platform::WHATSAPP_BUTTON_ID_MAX_CHARS
            )));
        }
    }
    Ok(())
}

/// A list: a button label within its limit, one to ten sections, one to ten rows in all, each
/// row with an id and a title (and description) within their limits.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_list(part: &Value) -> Result<(), Response> {
    let button = len_chars(part.pointer("/action/button"));
    if button == 0 {
        return Err(invalid_parameter(
            "(#100) The parameter interactive['action']['button'] is required.",
        ));
    }
    if button > platform::WHATSAPP_LIST_BUTTON_MAX_CHARS {
        return Err(parameter_value_not_valid(&format!(
            "Button title length is too long. Max length is {}",
            platform::WHATSAPP_LIST_BUTTON_MAX_CHARS
        )));
    }
    let sections = part
        .pointer("/action/sections")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !(1..=platform::WHATSAPP_LIST_MAX_SECTIONS).contains(&sections.len()) {
        return Err(parameter_value_not_valid(&format!(
            "Sections count should be between 1 and {}",
            platform::WHATSAPP_LIST_MAX_SECTIONS
        )));
    }
    let rows: Vec<&Value> = sections
        .iter()
        .filter_map(|s| s.get("rows").and_then(Value::as_array))
        .flatten()
        .collect();
    if !(1..=platform::WHATSAPP_LIST_MAX_ROWS).contains(&rows.len()) {
        return Err(parameter_value_not_valid(&format!(
            "Total row count exceed max allowed count: {}",
            platform::WHATSAPP_LIST_MAX_ROWS
        )));
    }
    rows.into_iter().try_for_each(check_list_row)
}

/// One row of a list: an id and a title, each within its limit, and a description within its.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_list_row(row: &Value) -> Result<(), Response> {
    let title = len_chars(row.get("title"));
    if title == 0 || len_chars(row.get("id")) == 0 {
        return Err(invalid_parameter(
            "(#100) Each row of interactive['action']['sections'] needs an id and a title.",
        ));
    }
    let limits = [
        (
            "Row title",
            title,
            platform::WHATSAPP_LIST_ROW_TITLE_MAX_CHARS,
        ),
        (
            "Row id",
            len_chars(row.get("id")),
            platform::WHATSAPP_LIST_ROW_ID_MAX_CHARS,
        ),
        (
            "Row description",
            len_chars(row.get("description")),
            platform::WHATSAPP_LIST_ROW_DESCRIPTION_MAX_CHARS,
        ),
    ];
    for (what, length, limit) in limits {
        if length > limit {
            return Err(parameter_value_not_valid(&format!(
                "{what} length is too long. Max length is {limit}"
            )));
        }
    }
    Ok(())
}

/// A template: it exists in that language, is approved, and gets as many body parameters as it
/// has variables.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_template(state: &SimState, waba_id: &str, part: &Value) -> Result<(), Response> {
    let text_at = |pointer: &str| {
        part.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (name, language) = (text_at("/name"), text_at("/language/code"));
    let Some(template) = state.template(waba_id, &name, &language) else {
        return Err(graph_error_with(
            StatusCode::NOT_FOUND,
            132001,
            None,
            "(#132001) Template name does not exist in the translation",
            Some(&format!(
                "template name ({name}) does not exist in {language}"
            )),
        ));
    };
    check_template_status(&template.status)?;
    let given = body_parameter_count(part);
    if given != template.body_parameters {
        return Err(graph_error_with(
            StatusCode::BAD_REQUEST,
            132000,
            None,
            "(#132000) Number of parameters does not match the expected number of params",
            Some(&format!(
                "body: number of localizable_params ({given}) does not match the expected number of params ({})",
                template.body_parameters
            )),
        ));
    }
    Ok(())
}

/// Only an approved template sends.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_template_status(status: &str) -> Result<(), Response> {
    match status {
        "APPROVED" => Ok(()),
        "PAUSED" => Err(graph_error(
            StatusCode::BAD_REQUEST,
            132015,
            "(#132015) Template is paused",
        )),
        "DISABLED" => Err(graph_error(
            StatusCode::BAD_REQUEST,
            132016,
            "(#132016) Template is disabled",
        )),
        _ => Err(graph_error(
            StatusCode::NOT_FOUND,
            132001,
            "(#132001) Template name does not exist in the translation",
        )),
    }
}

/// How many parameters the template's body component gets.
fn body_parameter_count(part: &Value) -> usize {
    part.get("components")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("body"))
        })
        .and_then(|c| c.get("parameters"))
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0)
}

/// Statuses: sent, delivered, read (or failed), each later than the last.
fn schedule_whatsapp_statuses(
    ctx: &Ctx,
    state: &SimState,
    number: &Number,
    sent: &Accepted<'_>,
    outside_window: bool,
    fate: Fate,
) {
    let step = state.config.status_delay;
    let states: &[&str] = if outside_window || fate != Fate::Delivered {
        &["failed"]
    } else if state.config.customers_read_messages {
        &["sent", "delivered", "read"]
    } else {
        &["sent"]
    };
    for (i, s) in states.iter().enumerate() {
        let mut status = status_json(sent, s, sent.at + chrono::Duration::seconds(i as i64));
        if *s == "failed" && !outside_window {
            status["errors"] = fate_errors(fate, &state.messaging_limit(&number.waba_id));
        }
        let payload = json!({ "object": "whatsapp_business_account", "entry": [{ "id": number.waba_id, "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": number.display, "phone_number_id": sent.channel_id },
            "statuses": [status],
        }}]}]});
        ctx.webhooks.deliver_later(payload, step * (i as u32 + 1));
    }
}

/// One status of a sent WhatsApp message, as its webhook carries it.
fn status_json(sent: &Accepted<'_>, status: &str, at: DateTime<Utc>) -> Value {
    let mut s = json!({ "id": sent.id, "status": status, "timestamp": at.timestamp().to_string(), "recipient_type": "individual" });
    if sent.body.get("recipient").is_some() {
        s["recipient_user_id"] = json!(sent.to);
    } else {
        s["recipient_id"] = json!(sent.to);
    }
    if let Some(cb) = sent.body.get("biz_opaque_callback_data").cloned() {
        s["biz_opaque_callback_data"] = cb;
    }
    if status == "sent" {
        s["pricing"] = json!({ "billable": false, "pricing_model": "PMP", "category": "service", "type": "free_customer_service" });
    }
    if status == "failed" {
        s["errors"] = json!([{ "code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
            "error_data": { "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number." } }]);
    }
    s
}

/// The errors of a message that failed after it was accepted: undeliverable (131026), or past
/// the portfolio's messaging limit (Meta documents no code of its own for it).
fn fate_errors(fate: Fate, tier: &str) -> Value {
    match fate {
        Fate::Undeliverable => json!([{ "code": 131026, "title": "Message undeliverable",
            "message": "Message undeliverable",
            "error_data": { "details": "Message Undeliverable." } }]),
        _ => json!([{ "code": 131000, "title": "Something went wrong",
            "message": "Something went wrong",
            "error_data": { "details": format!("The business portfolio reached its messaging limit ({tier}) of unique customers in 24 hours.") } }]),
    }
}

/// The answer to an accepted WhatsApp send: the contact and the wamid.
fn whatsapp_accepted(sent: &Accepted<'_>) -> Response {
    let mut contact = json!({ "input": sent.to });
    if sent.body.get("recipient").is_some() {
        contact["user_id"] = json!(sent.to);
    } else {
        contact["wa_id"] = json!(sent.to);
    }
    axum::Json(json!({ "messaging_product": "whatsapp", "contacts": [contact], "messages": [{ "id": sent.id, "message_status": "accepted" }] })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Messenger and Instagram
// ---------------------------------------------------------------------------------------------

/// `POST /{page_id}/messages`: a Messenger or Instagram message from a Page.
pub(super) fn messenger_send(
    ctx: &Ctx,
    page_id: &str,
    token: Option<String>,
    body: Value,
) -> Response {
    let mut state = lock(&ctx.state);
    let instagram = match messenger_sender(&mut state, page_id, token) {
        Ok(instagram) => instagram,
        Err(response) => return response,
    };
    let Some(recipient) = body.pointer("/recipient/id").and_then(Value::as_str) else {
        return invalid_parameter("(#100) param recipient must be non-empty.");
    };
    if let Err(response) = check_messenger_content(&body, instagram) {
        return response;
    }
    let human_agent = body.get("tag").and_then(Value::as_str) == Some("HUMAN_AGENT");
    let window = if human_agent {
        platform::MESSENGER_HUMAN_AGENT_WINDOW
    } else {
        platform::MESSENGER_STANDARD_WINDOW
    };
    let now = state.now();
    if !window_open(&state, page_id, recipient, window, now) {
        return graph_error_with(
            StatusCode::BAD_REQUEST,
            10,
            Some(2018278),
            "(#10) This message is sent outside of allowed window.",
            None,
        );
    }
    let sent = record_sent(&mut state, "m_OUT", page_id, recipient, &body, now);
    schedule_messenger_webhooks(ctx, &state, &sent, instagram);
    axum::Json(json!({ "recipient_id": sent.to, "message_id": sent.id })).into_response()
}

/// Whether the Page a Messenger send comes from is an Instagram account, once the token may send
/// from it.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn messenger_sender(
    state: &mut SimState,
    page_id: &str,
    token: Option<String>,
) -> Result<bool, Response> {
    let grant = authorize(state, token)?;
    let Some(instagram) = state.pages.get(page_id).copied() else {
        return Err(invalid_parameter(&format!(
            "Unsupported post request. Object with ID '{page_id}' does not exist"
        )));
    };
    if !grant.pages.contains(page_id) {
        return Err(no_permission());
    }
    take_injected_failure(state)?;
    Ok(instagram)
}

/// A text within the platform's limit or an attachment, and no tag but `HUMAN_AGENT`.
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_messenger_content(body: &Value, instagram: bool) -> Result<(), Response> {
    if let Some(text) = body.pointer("/message/text").and_then(Value::as_str) {
        let too_long = if instagram {
            text.len() > platform::INSTAGRAM_TEXT_MAX_BYTES
        } else {
            text.chars().count() > platform::MESSENGER_TEXT_MAX_CHARS
        };
        if too_long {
            return Err(invalid_parameter(
                "(#100) Length of param message[text] must be less than or equal to the limit",
            ));
        }
    } else if body.pointer("/message/attachment").is_none() {
        return Err(invalid_parameter(
            "(#100) Must send either message or state",
        ));
    }
    if let Some(replies) = body.pointer("/message/quick_replies") {
        check_quick_replies(replies)?;
    }
    if body.get("messaging_type").and_then(Value::as_str) == Some("MESSAGE_TAG")
        && let Some(tag) = body.get("tag").and_then(Value::as_str)
        && tag != "HUMAN_AGENT"
    {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            100,
            &format!("(#100) Tag {tag} is no longer supported"),
        ));
    }
    Ok(())
}

/// Quick replies: an array of 1 to 13; a `text` one has a title and a payload within their
/// limits (`user_phone_number` and `user_email` ones carry neither).
#[allow(clippy::result_large_err)] // a Response is what axum handlers return
fn check_quick_replies(replies: &Value) -> Result<(), Response> {
    let Some(replies) = replies.as_array() else {
        return Err(invalid_parameter(
            "(#100) param message[quick_replies] must be an array.",
        ));
    };
    if !(1..=platform::MESSENGER_MAX_QUICK_REPLIES).contains(&replies.len()) {
        return Err(invalid_parameter(&format!(
            "(#100) param message[quick_replies] must have between 1 and {} elements.",
            platform::MESSENGER_MAX_QUICK_REPLIES
        )));
    }
    for (i, reply) in replies.iter().enumerate() {
        match reply.get("content_type").and_then(Value::as_str) {
            Some("text") => {}
            Some("user_phone_number" | "user_email") => continue,
            _ => {
                return Err(invalid_parameter(&format!(
                    "(#100) param message[quick_replies][{i}][content_type] must be one of {{text, user_phone_number, user_email}}."
                )));
            }
        }
        let title = len_chars(reply.get("title"));
        if title == 0 {
            return Err(invalid_parameter(&format!(
                "(#100) param message[quick_replies][{i}][title] must be non-empty."
            )));
        }
        if title > platform::MESSENGER_QUICK_REPLY_TITLE_MAX_CHARS {
            return Err(invalid_parameter(&format!(
                "(#100) Length of param message[quick_replies][{i}][title] must be less than or equal to {}",
                platform::MESSENGER_QUICK_REPLY_TITLE_MAX_CHARS
            )));
        }
        let payload = len_chars(reply.get("payload"));
        if payload == 0 {
            return Err(invalid_parameter(&format!(
                "(#100) param message[quick_replies][{i}][payload] must be non-empty."
            )));
        }
        if payload > platform::MESSENGER_QUICK_REPLY_PAYLOAD_MAX_CHARS {
            return Err(invalid_parameter(&format!(
                "(#100) Length of param message[quick_replies][{i}][payload] must be less than or equal to {}",
                platform::MESSENGER_QUICK_REPLY_PAYLOAD_MAX_CHARS
            )));
        }
    }
    Ok(())
}

/// The echo of a sent message, then (when customers read) its delivery (Messenger only) and
/// read receipts.
fn schedule_messenger_webhooks(ctx: &Ctx, state: &SimState, sent: &Accepted<'_>, instagram: bool) {
    let object = if instagram { "instagram" } else { "page" };
    let ms = sent.at.timestamp_millis();
    let mut echo_message = sent.body.get("message").cloned().unwrap_or(json!({}));
    echo_message["mid"] = json!(sent.id);
    echo_message["is_echo"] = json!(true);
    echo_message["app_id"] = json!(state.config.app_id.parse::<u64>().unwrap_or(0));
    let echo = json!({ "object": object, "entry": [{ "id": sent.channel_id, "time": ms, "messaging": [{
        "sender": { "id": sent.channel_id }, "recipient": { "id": sent.to }, "timestamp": ms, "message": echo_message }] }] });
    let step = state.config.status_delay;
    ctx.webhooks.deliver_later(echo, step);
    if state.config.customers_read_messages {
        if !instagram {
            let delivery = messenger_receipt(sent, "delivery", 1, instagram);
            ctx.webhooks.deliver_later(delivery, step * 2);
        }
        ctx.webhooks
            .deliver_later(messenger_receipt(sent, "read", 2, instagram), step * 3);
    }
}

/// A `delivery` or `read` receipt of a sent message, `ms_after` milliseconds after it.
fn messenger_receipt(sent: &Accepted<'_>, key: &str, ms_after: i64, instagram: bool) -> Value {
    let object = if instagram { "instagram" } else { "page" };
    let ms = sent.at.timestamp_millis();
    let mut event = json!({ "sender": { "id": sent.to }, "recipient": { "id": sent.channel_id }, "timestamp": ms + ms_after });
    event[key] = if key == "delivery" && !instagram {
        json!({ "mids": [sent.id], "watermark": ms })
    } else if instagram {
        json!({ "mid": sent.id })
    } else {
        json!({ "watermark": ms })
    };
    json!({ "object": object, "entry": [{ "id": sent.channel_id, "time": ms + ms_after, "messaging": [event] }] })
}
