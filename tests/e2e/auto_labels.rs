//! Automatic intent and sentiment labels for the whole inbox (issue 25), with two desks open and
//! nobody looking at the conversation: once an owner turned automatic labels on, a new customer
//! message is labelled by exactly one desk (one request to the provider), and both desks show the
//! labels. The history from before is not labelled.

use std::time::Duration;

use zentro_assist_sim::{AssistSim, AssistSimConfig};
use zentro_core::relay_client::{AssistChange, RelayClient};
use zentro_core::vault::Secret;
use zentro_core::{Cache, inbox};
use zentro_meta_sim::SimConfig;
use zentro_tests::team::fresh_token_keys;

use crate::support::{PASSWORD, customer, wait_for, world_with};
use crate::team::keychain_desk;

/// Numbers no other test uses.
const PHONE: &str = "106540350009025";
const PHONE_FAILING: &str = "106540350009026";

/// The labels of the cache's only conversation.
async fn labels(cache: &Cache) -> Vec<String> {
    let Some(conversation) = inbox::conversations(cache, None, 1).await.unwrap().pop() else {
        return Vec::new();
    };
    let mut labels: Vec<String> = sqlx::query_scalar(
        "SELECT l.name FROM conversation_labels c JOIN labels l ON l.id = c.label_id
         WHERE c.conversation_id = ?",
    )
    .bind(conversation.id)
    .fetch_all(cache.pool())
    .await
    .unwrap();
    labels.sort();
    labels
}

/// Members `cache` knows as available.
async fn available(cache: &Cache) -> usize {
    zentro_core::teams::presence(cache)
        .await
        .unwrap()
        .iter()
        .filter(|p| p.presence == "available")
        .count()
}

/// Two open desks (the owner's and an agent's) of a workspace whose owner turned automatic labels
/// on with the provider's stand-in; Ana wrote once before (never labelled).
struct LabellingTeam {
    w: crate::support::World,
    ai: AssistSim,
    ana: zentro_meta_sim::Customer,
    desks: [(zentro_core::desk::Desk, Cache, tempfile::TempDir); 2],
}

async fn labelling_team(phone: &str) -> LabellingTeam {
    let keys = fresh_token_keys();
    let w = world_with(SimConfig::default(), phone, |c| c.token_keys = Some(keys)).await;
    let ai = AssistSim::start(AssistSimConfig::default()).await.unwrap();
    let ana = customer(25);
    // Written before automatic labels were on: never labelled.
    w.text_from(&ana, "Hello, are you open on Sundays?").await;

    let relay = RelayClient::new(&w.relay.url).unwrap();
    let (owner_token, owner) = relay
        .sign_in("owner@acme.test", &Secret::new(PASSWORD), "owner laptop")
        .await
        .unwrap();
    let invitation = relay
        .invite(
            &owner_token,
            "agent@acme.test",
            "Agent",
            zentro_core::members::Role::Agent,
        )
        .await
        .unwrap();
    let (agent_token, agent) = relay
        .accept_invitation(&invitation.code, &Secret::new(PASSWORD), "agent laptop")
        .await
        .unwrap();
    let (owner_dir, agent_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let graph = w.sim.base_url();
    let (owner_desk, owner_cache) =
        keychain_desk(&relay, &owner_token, &owner, &graph, owner_dir.path(), None).await;
    let (agent_desk, agent_cache) =
        keychain_desk(&relay, &agent_token, &agent, &graph, agent_dir.path(), None).await;
    wait_for("both desks to see both members available", || async {
        available(&owner_cache).await == 2 && available(&agent_cache).await == 2
    })
    .await;
    wait_for("the first message on both desks", || async {
        !inbox::conversations(&agent_cache, None, 1)
            .await
            .unwrap()
            .is_empty()
            && !inbox::conversations(&owner_cache, None, 1)
                .await
                .unwrap()
                .is_empty()
    })
    .await;

    relay
        .save_assist_settings(
            &owner_token,
            &AssistChange {
                enabled: true,
                base_url: Some(ai.base_url()),
                model: Some("sim-small".into()),
                masking: true,
                auto_labels: true,
                monthly_budget_tokens: Some(100_000),
                api_key: Some(ai.api_key()),
                remove_key: false,
                expected_version: None,
            },
        )
        .await
        .unwrap();
    wait_for("both desks to know automatic labels are on", || async {
        let on = |s: Option<zentro_core::assist::AssistAnnouncement>| {
            s.is_some_and(|s| s.is_on() && s.auto_labels)
        };
        on(zentro_core::assist::announced_settings(&owner_cache)
            .await
            .unwrap())
            && on(zentro_core::assist::announced_settings(&agent_cache)
                .await
                .unwrap())
    })
    .await;
    LabellingTeam {
        w,
        ai,
        ana,
        desks: [
            (owner_desk, owner_cache, owner_dir),
            (agent_desk, agent_cache, agent_dir),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_open_desk_labels_each_new_customer_message_and_every_desk_shows_it() {
    let LabellingTeam { w, ai, ana, desks } = labelling_team(PHONE).await;
    let [(owner_desk, owner_cache, _o), (agent_desk, agent_cache, _a)] = desks;
    ai.answer_next("intent: refund\nsentiment: negative");
    w.text_from(&ana, "The blender arrived broken. I want my money back.")
        .await;
    let expected = ["intent:refund", "sentiment:negative"].map(String::from);
    wait_for("the labels on both desks", || async {
        labels(&owner_cache).await == expected && labels(&agent_cache).await == expected
    })
    .await;
    // The other desk's turn (one stagger later) comes and goes: it sees the labels and asks
    // nothing.
    tokio::time::sleep(Duration::from_millis(
        zentro_core::auto_labels::STAGGER_MS as u64 + 3_000,
    ))
    .await;
    let requests = ai.requests();
    // One request: one desk asked, once, and the message from before was not labelled.
    assert_eq!(requests.len(), 1, "one desk asked, once");
    assert!(
        requests[0].text().contains("money back"),
        "about the new message"
    );
    owner_desk.stop().await;
    agent_desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_labelled_once_the_provider_answers_again_after_failing_for_now() {
    let LabellingTeam { w, ai, ana, desks } = labelling_team(PHONE_FAILING).await;
    let [(owner_desk, owner_cache, _o), (agent_desk, _, _a)] = desks;
    // Only the owner's desk stays open: no other desk covers for it.
    agent_desk.stop().await;
    // The provider is busy once (429, retry after 2 s), then answers.
    ai.fail_next(zentro_assist_sim::Fault::RateLimited {
        retry_after_secs: 2,
    });
    ai.answer_next("intent: delivery\nsentiment: neutral");
    w.text_from(&ana, "Where is my order? It was due yesterday.")
        .await;
    let expected = ["intent:delivery", "sentiment:neutral"].map(String::from);
    wait_for("the labels after the provider's refusal", || async {
        labels(&owner_cache).await == expected
    })
    .await;
    let requests = ai.requests();
    assert_eq!(requests.len(), 2, "refused once, asked again once");
    assert!(requests.iter().all(|r| r.text().contains("due yesterday")));
    owner_desk.stop().await;
}
