//! Connecting Facebook Pages (Messenger) and their Instagram accounts from the app: Facebook
//! Login for Business in the same locked-down window as Embedded Signup.
//!
//! 1. The page calls `FB.login` with the Pages configuration and posts Meta's code to
//!    `POST /signup/pages/accounts`. The relay exchanges it for the user's token, checks it with
//!    `debug_token` (comparing the permissions granted with those asked for: privacy promise P4),
//!    lists the Pages it manages (`/me/accounts`, with Page tokens and linked
//!    Instagram accounts) and keeps them in the database for this signup for ten minutes, each
//!    Page token sealed with the relay's token key (the signup id as associated data), so that any
//!    relay instance can connect them; a relay without a token key keeps nothing (it could not
//!    store the channels either: connecting answers `token_key_missing`). The page receives names
//!    and ids, never a token. They are deleted once taken, when the signup ends, and by the pruner
//!    once expired.
//! 2. The owner ticks the Pages and Instagram accounts to connect; `POST /signup/pages/connect`
//!    subscribes the app to each Page's messaging webhooks (undoing them all if one fails), then
//!    creates the channels with their sealed Page tokens and appends `channel.connected` for each.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use zentro_events::clock::now_ms;
use zentro_meta::AccessToken;
use zentro_meta::graph::{GraphClient, PageAccount};
use zentro_meta::permissions::{LoginFlow, PermissionCheck};
use zentro_meta::platform;

use super::signup::{
    CHANNEL_CONNECTED, Connection, Failure, PAGES, begin, check_permissions, end,
    exchange_and_verify, meta, open, record_connected, undo_subscription, with_permissions,
};
use super::{ApiError, AppState};
use super::{Body, body};
use crate::store::{Channel, ChannelHealth, ChannelKind, Signup, SignupPage, SignupState};

/// How long the Pages shared by a login wait for the owner's choice.
const CHOICE_TTL: Duration = Duration::from_secs(10 * 60);

/// What one login shared: who (app-scoped user id), their Pages, and how the permissions
/// granted compare with those asked for.
struct Shared {
    user_id: Option<String>,
    pages: Vec<PageAccount>,
    permissions: PermissionCheck,
}

/// Keeps what a signup's login shared in the database, Page tokens sealed (associated data: the
/// signup id), for [`CHOICE_TTL`]; nothing without a token key.
async fn keep(state: &AppState, signup_id: &str, shared: &Shared) -> Result<(), ApiError> {
    let Some(keys) = state.config.token_keys.as_ref() else {
        tracing::warn!("the Pages a login shared are not kept: this relay has no token key");
        return Ok(());
    };
    let permissions = serde_json::to_string(&shared.permissions).map_err(ApiError::internal)?;
    let expires_at = now_ms() + i64::try_from(CHOICE_TTL.as_millis()).unwrap_or(0);
    let pages: Vec<SignupPage> = shared
        .pages
        .iter()
        .zip(0..)
        .map(|(page, position)| SignupPage {
            position,
            page_id: page.id.clone(),
            name: page.name.clone(),
            token: keys.current.seal(signup_id, page.token.expose()),
            instagram_id: page.instagram.as_ref().map(|(id, _)| id.clone()),
            instagram_username: page.instagram.as_ref().map(|(_, name)| name.clone()),
            user_id: shared.user_id.clone(),
            permissions: permissions.clone(),
            expires_at,
        })
        .collect();
    Ok(state.store.keep_signup_pages(signup_id, &pages).await?)
}

/// Takes what a signup's login shared (once: a second request finds nothing), Page tokens opened;
/// `None` when nothing is kept, the choice expired, or a token no longer opens (its key is gone).
async fn take(state: &AppState, signup_id: &str) -> Result<Option<Shared>, ApiError> {
    let keys = super::channels::keys(state)?;
    let Some(rows) = state.store.take_signup_pages(signup_id, now_ms()).await? else {
        return Ok(None);
    };
    let mut pages = Vec::with_capacity(rows.len());
    for row in &rows {
        let Ok(token) = keys.open(signup_id, &row.token) else {
            tracing::warn!(signup = %signup_id, "a shared Page token did not open");
            return Ok(None);
        };
        pages.push(PageAccount {
            id: row.page_id.clone(),
            name: row.name.clone(),
            token: AccessToken::new(token.as_str()),
            instagram: row.instagram_id.clone().zip(row.instagram_username.clone()),
        });
    }
    let first = &rows[0];
    Ok(Some(Shared {
        user_id: first.user_id.clone(),
        pages,
        permissions: serde_json::from_str(&first.permissions).unwrap_or_default(),
    }))
}

/// Forgets the Pages a signup's login shared (it ended).
pub(crate) async fn forget(state: &AppState, signup_id: &str) {
    if let Err(error) = state.store.forget_signup_pages(signup_id).await {
        tracing::warn!(%error, signup = %signup_id, "the Pages a login shared could not be forgotten");
    }
}

/// The body of `POST /signup/pages/accounts`.
#[derive(Deserialize)]
pub struct Login {
    t: String,
    #[serde(default)]
    code: String,
}

async fn fail(
    state: &AppState,
    signup: &Signup,
    failure: Failure,
) -> Result<Json<Value>, ApiError> {
    tracing::warn!(signup = %signup.id, code = failure.code, "a Pages signup failed");
    end(
        state,
        signup,
        SignupState::Failed,
        None,
        json!({ "code": failure.code, "message": failure.message }),
    )
    .await
}

/// `POST /signup/pages/accounts` `{t, code}`: the Pages the login shared, to choose from.
pub async fn accounts(
    State(state): State<AppState>,
    input: Body<Login>,
) -> Result<Json<Value>, ApiError> {
    super::signup::detached(async move { accounts_step(state, input).await }).await
}

async fn accounts_step(state: AppState, input: Body<Login>) -> Result<Json<Value>, ApiError> {
    let input = body(input, "{t, code}")?;
    let (app, graph) = meta(&state)?;
    let signup = begin(&state, &input.t, PAGES).await?;
    let (user, info) = match exchange_and_verify(&state, app, graph, &input.code).await {
        Ok(verified) => verified,
        Err(failure) => return fail(&state, &signup, failure).await,
    };
    let permissions = check_permissions(&state, &signup, LoginFlow::PagesLogin, &info).await;
    let pages = match graph.page_accounts(&user).await {
        Ok(p) => p,
        Err(e) => return fail(&state, &signup, Failure::meta("listing your Pages", &e)).await,
    };
    if pages.is_empty() {
        return fail(
            &state,
            &signup,
            Failure::new("no_pages", "Meta's login shared no Facebook Page. Start again and select the Pages (and their Instagram accounts) to connect."),
        )
        .await;
    }
    let listed = listed_pages(&state, &signup, &pages).await;
    let notice = permissions.describe();
    let answer = json!({ "state": SignupState::Working, "pages": listed, "signup_id": signup.id,
                         "permissions": permissions, "permissions_notice": notice });
    let shared = Shared {
        user_id: info.user_id,
        pages,
        permissions,
    };
    keep(&state, &signup.id, &shared).await?;
    Ok(Json(answer))
}

/// The shared Pages and their Instagram accounts as the page lists them: names and ids, and
/// whether another workspace has each already (`elsewhere`); never a token.
async fn listed_pages(state: &AppState, signup: &Signup, pages: &[PageAccount]) -> Vec<Value> {
    let mut listed = Vec::new();
    for page in pages {
        let taken = |kind, id: &str| {
            let (state, id) = (state.clone(), id.to_string());
            let workspace = signup.workspace_id.clone();
            async move {
                state
                    .store
                    .channel_by_external_id(kind, &id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|c| c.workspace_id != workspace)
            }
        };
        listed.push(json!({
            "id": page.id,
            "name": page.name,
            "elsewhere": taken(ChannelKind::Messenger, &page.id).await,
            "instagram": match &page.instagram {
                Some((id, username)) => json!({
                    "id": id, "username": username,
                    "elsewhere": taken(ChannelKind::Instagram, id).await,
                }),
                None => Value::Null,
            },
        }));
    }
    listed
}

/// The body of `POST /signup/pages/connect`.
#[derive(Deserialize)]
pub struct Choice {
    t: String,
    #[serde(default)]
    pages: Vec<String>,
    #[serde(default)]
    instagram: Vec<String>,
}

/// `POST /signup/pages/connect` `{t, pages, instagram}`: connects the chosen Pages and Instagram
/// accounts.
pub async fn connect(
    State(state): State<AppState>,
    input: Body<Choice>,
) -> Result<Json<Value>, ApiError> {
    super::signup::detached(async move { connect_step(state, input).await }).await
}

async fn connect_step(state: AppState, input: Body<Choice>) -> Result<Json<Value>, ApiError> {
    let input = body(input, "{t, pages, instagram}")?;
    let (_, graph) = meta(&state)?;
    if input.pages.is_empty() && input.instagram.is_empty() {
        return Err(ApiError::BadRequest(
            "choose at least one Page or Instagram account".into(),
        ));
    }
    let signup = open(&state, &input.t, &[SignupState::Working]).await?;
    if signup.kind != PAGES {
        return Err(ApiError::BadRequest(
            "this signup does not connect Pages".into(),
        ));
    }
    let Some(shared) = take(&state, &signup.id).await? else {
        return fail(
            &state,
            &signup,
            Failure::new("choice_expired", "The Pages Meta shared are no longer at hand (the choice took over 10 minutes). Start again."),
        )
        .await;
    };
    let connected = match connect_chosen(&state, graph, &signup, &input, &shared).await {
        Ok(connected) => connected,
        Err(Halt::Failed(failure)) => return fail(&state, &signup, failure).await,
        Err(Halt::Error(error)) => return Err(error),
    };
    let names: Vec<String> = connected.iter().map(|c| c.display_name.clone()).collect();
    let first = connected.first().map(|c| c.id.clone());
    let permissions = shared.permissions;
    end(
        &state,
        &signup,
        SignupState::Connected,
        first.as_deref(),
        json!({ "message": with_permissions(format!("Connected {}.", names.join(", ")), &permissions),
                "channel_ids": connected.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
                "permissions": permissions }),
    )
    .await
}

/// Why connecting the chosen Pages stopped: a failure the signup ends with, or an error that
/// leaves it as it is.
enum Halt {
    Failed(Failure),
    Error(ApiError),
}

impl From<Failure> for Halt {
    fn from(failure: Failure) -> Self {
        Self::Failed(failure)
    }
}

impl From<ApiError> for Halt {
    fn from(error: ApiError) -> Self {
        Self::Error(error)
    }
}

/// One channel to connect, and the Page whose token and subscription it uses.
struct Wanted<'a> {
    kind: ChannelKind,
    external_id: String,
    /// The Page an Instagram account is linked to.
    linked: Option<String>,
    name: String,
    page: &'a PageAccount,
}

/// Checks, subscribes and stores the chosen Pages and Instagram accounts, in that order.
async fn connect_chosen(
    state: &AppState,
    graph: &GraphClient,
    signup: &Signup,
    choice: &Choice,
    shared: &Shared,
) -> Result<Vec<Channel>, Halt> {
    let wanted = wanted_channels(choice, &shared.pages)?;
    let existing = existing_channels(state, signup, &wanted).await?;
    subscribe_pages(graph, &wanted, &existing).await?;
    let keys = super::channels::keys(state)?;
    let mut connected = Vec::new();
    for wanted in &wanted {
        let result = state
            .store
            .connect_channel(
                &signup.workspace_id,
                wanted.kind,
                &wanted.external_id,
                wanted.linked.as_deref(),
                &wanted.name,
                |channel_id| keys.current.seal(channel_id, wanted.page.token.expose()),
                &signup.member_id,
                &ChannelHealth::connected(None, None),
            )
            .await;
        let (channel, version, reconnected) = result.map_err(|error| {
            tracing::error!(%error, "a Page channel could not be stored");
            Failure::new("internal", format!("The relay could not store {}; what was connected before it is listed in the Channels tab. Try again.", wanted.name))
        })?;
        let connection = Connection {
            channel: &channel,
            version,
            reconnected,
            connector: shared.user_id.as_deref(),
        };
        record_connected(
            state,
            signup,
            &connection,
            json!({ "channel_id": channel.id, "version": version, "signup_id": signup.id }),
            json!({}),
            &format!("{CHANNEL_CONNECTED}:{}:{}", signup.id, channel.id),
        )
        .await?;
        connected.push(channel);
    }
    Ok(connected)
}

/// The channels chosen, Pages first, each with the shared Page it belongs to.
fn wanted_channels<'a>(
    choice: &Choice,
    shared: &'a [PageAccount],
) -> Result<Vec<Wanted<'a>>, Failure> {
    let not_shared = |what: String| {
        Failure::new(
            "not_shared",
            format!("The {what} was not shared in Meta's login. Start again."),
        )
    };
    let mut wanted = Vec::new();
    for id in &choice.pages {
        let Some(page) = shared.iter().find(|p| &p.id == id) else {
            return Err(not_shared(format!("Page {id}")));
        };
        wanted.push(Wanted {
            kind: ChannelKind::Messenger,
            external_id: page.id.clone(),
            linked: None,
            name: page.name.clone(),
            page,
        });
    }
    for id in &choice.instagram {
        let Some(page) = shared
            .iter()
            .find(|p| p.instagram.as_ref().is_some_and(|(ig, _)| ig == id))
        else {
            return Err(not_shared(format!("Instagram account {id}")));
        };
        let username = page
            .instagram
            .as_ref()
            .map(|(_, u)| u.clone())
            .unwrap_or_default();
        wanted.push(Wanted {
            kind: ChannelKind::Instagram,
            external_id: id.clone(),
            linked: Some(page.id.clone()),
            name: format!("@{username}"),
            page,
        });
    }
    Ok(wanted)
}

/// The external ids of the wanted channels this workspace has already; a failure when another
/// workspace has one.
async fn existing_channels(
    state: &AppState,
    signup: &Signup,
    wanted: &[Wanted<'_>],
) -> Result<Vec<String>, Halt> {
    let mut existing = Vec::new();
    for Wanted {
        kind, external_id, ..
    } in wanted
    {
        match state
            .store
            .channel_by_external_id(*kind, external_id)
            .await
            .map_err(ApiError::from)?
        {
            Some(c) if c.workspace_id != signup.workspace_id => {
                return Err(Failure::new("channel_taken", format!("{} {external_id} is connected to another Zentro Desk workspace; disconnect it there first.", kind.as_str())).into());
            }
            Some(c) => existing.push(c.external_id),
            None => {}
        }
    }
    Ok(existing)
}

/// Subscribes every Page involved to the messaging webhooks, once each; when one fails, undoes
/// those subscribed here that no existing channel used.
async fn subscribe_pages(
    graph: &GraphClient,
    wanted: &[Wanted<'_>],
    existing: &[String],
) -> Result<(), Failure> {
    let mut subscribed: Vec<&PageAccount> = Vec::new();
    for Wanted { page, .. } in wanted {
        if subscribed.iter().any(|p| p.id == page.id) {
            continue;
        }
        if let Err(error) = graph
            .subscribe_page(&page.id, &page.token, platform::MESSAGING_FIELDS)
            .await
        {
            for done in &subscribed {
                if !existing.contains(&done.id) {
                    undo_subscription(graph, &done.id, &done.token).await;
                }
            }
            return Err(Failure::meta(
                &format!("subscribing to the Page {}", page.name),
                &error,
            ));
        }
        subscribed.push(page);
    }
    Ok(())
}
