//! Meta's side of Embedded Signup: a stand-in for the login dialog and for the JavaScript SDK's
//! `FB.init` / `FB.login`, so the signup flow can run end to end on loopback.
//!
//! - `GET /sim/sdk.js`: defines `FB.init` and `FB.login(callback, options)`; `FB.login` opens
//!   the dialog in a popup and calls back with `{authResponse: {code}}` (or `null` on cancel).
//! - `GET /dialog/oauth`: the dialog. Its buttons finish (new number, or the WhatsApp Business app
//!   coexistence flow), cancel, or fail, and post the `WA_EMBEDDED_SIGNUP` message events to the
//!   opener exactly as Meta's dialog does (JSON strings with `type`, `event`, `data`).
//! - `POST /sim/signup/finish`: issues the 30-second code for a new WABA and number.
//! - `POST /sim/login/finish`: issues a Facebook Login code sharing the user's Pages.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::SimState;

/// The signup routes.
pub fn router(state: Arc<Mutex<SimState>>) -> Router {
    Router::new()
        .route("/sim/sdk.js", get(sdk))
        .route("/dialog/oauth", get(dialog))
        .route("/sim/signup/finish", post(finish))
        .route("/sim/login/finish", post(login_finish))
        .with_state(state)
}

#[derive(Deserialize)]
struct FinishQuery {
    #[serde(default)]
    coexistence: bool,
}

async fn finish(
    State(state): State<Arc<Mutex<SimState>>>,
    Query(q): Query<FinishQuery>,
) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let (code, waba_id, phone_number_id) = state.issue_signup_code();
    if q.coexistence
        && let Some(n) = state.numbers.get_mut(&phone_number_id)
    {
        // Coexistence numbers stay registered with the WhatsApp Business app.
        n.registered = true;
    }
    axum::Json(json!({ "code": code, "waba_id": waba_id, "phone_number_id": phone_number_id, "business_id": "998877665544" })).into_response()
}

async fn login_finish(State(state): State<Arc<Mutex<SimState>>>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let code = state.issue_login_code();
    axum::Json(json!({ "code": code })).into_response()
}

async fn sdk() -> Response {
    ([(header::CONTENT_TYPE, "application/javascript")], SDK_JS).into_response()
}

async fn dialog() -> Html<&'static str> {
    Html(DIALOG_HTML)
}

const SDK_JS: &str = r#"// meta-sim: a stand-in for Meta's JavaScript SDK (FB.init / FB.login) in tests and the sandbox.
(function () {
  var base = document.currentScript ? new URL(document.currentScript.src).origin : '';
  var options = {};
  window.FB = {
    init: function (o) { options = o || {}; },
    login: function (callback, loginOptions) {
      var params = new URLSearchParams({
        client_id: options.appId || '',
        config_id: (loginOptions && loginOptions.config_id) || '',
        response_type: (loginOptions && loginOptions.response_type) || 'token',
        extras: JSON.stringify((loginOptions && loginOptions.extras) || {})
      });
      var popup = window.open(base + '/dialog/oauth?' + params.toString(), 'fb-login', 'width=600,height=700');
      function onMessage(e) {
        if (e.origin !== base) return;
        var d; try { d = typeof e.data === 'string' ? JSON.parse(e.data) : e.data; } catch (_) { return; }
        if (!d || d.type !== 'SIM_FB_LOGIN') return;
        window.removeEventListener('message', onMessage);
        callback(d.code ? { status: 'connected', authResponse: { code: d.code } } : { status: 'unknown', authResponse: null });
      }
      window.addEventListener('message', onMessage);
      return popup;
    }
  };
  if (typeof window.fbAsyncInit === 'function') window.fbAsyncInit();
})();
"#;

const DIALOG_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect WhatsApp (Meta stand-in)</title>
<style>body{font-family:system-ui,sans-serif;max-width:28em;margin:2em auto;padding:0 1em}button{display:block;width:100%;margin:.5em 0;padding:.6em;font-size:1em}</style>
</head><body>
<h1>Connect your WhatsApp Business account</h1>
<p>This is meta-sim's stand-in for Meta's Embedded Signup dialog.</p>
<button id="finish">Finish</button>
<button id="finish-coexistence">Finish with the WhatsApp Business app</button>
<button id="cancel">Cancel</button>
<button id="error">Fail with an error</button>
<hr>
<p>Facebook Login for Business (Pages and Instagram):</p>
<button id="share-pages">Share my Pages</button>
<script>
const params = new URLSearchParams(location.search);
const redirect = params.get('redirect_uri');
function post(message) { if (window.opener) window.opener.postMessage(JSON.stringify(message), '*'); }
function done(code) {
  post({ type: 'SIM_FB_LOGIN', code: code || null });
  if (redirect && code) { location.href = redirect + (redirect.includes('?') ? '&' : '?') + 'code=' + encodeURIComponent(code); return; }
  setTimeout(() => window.close(), 50);
}
async function finish(coexistence) {
  const r = await fetch('/sim/signup/finish?coexistence=' + coexistence, { method: 'POST' });
  const d = await r.json();
  const event = coexistence ? 'FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING' : 'FINISH';
  const data = coexistence ? { waba_id: d.waba_id, business_id: d.business_id }
                           : { phone_number_id: d.phone_number_id, waba_id: d.waba_id, business_id: d.business_id };
  post({ type: 'WA_EMBEDDED_SIGNUP', event, data, version: 3 });
  done(d.code);
}
document.getElementById('finish').onclick = () => finish(false);
document.getElementById('share-pages').onclick = async () => {
  const r = await fetch('/sim/login/finish', { method: 'POST' });
  const d = await r.json();
  done(d.code);
};
document.getElementById('finish-coexistence').onclick = () => finish(true);
document.getElementById('cancel').onclick = () => { post({ type: 'WA_EMBEDDED_SIGNUP', event: 'CANCEL', data: { current_step: 'PHONE_NUMBER_SETUP' }, version: 3 }); done(null); };
document.getElementById('error').onclick = () => { post({ type: 'WA_EMBEDDED_SIGNUP', event: 'ERROR', data: { error_message: 'Something went wrong', error_id: '524126', session_id: 'sim-session', timestamp: String(Date.now()) }, version: 3 }); done(null); };
</script>
</body></html>
"#;
