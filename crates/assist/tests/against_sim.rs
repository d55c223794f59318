//! Every feature, failure, the masking and the restricted refusal, against the OpenAI-compatible
//! stand-in on loopback (`zentro-assist-sim`), as the desk and the CLI call them.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use zentro_assist::features::{self, RequestOptions};
use zentro_assist::{
    ApiKey, AssistClient, AssistError, Author, Budget, Conversation, Customer, Feature, Intent,
    Message, PreparedRequest, ProviderSettings, RewriteStyle, Sentiment, StreamEvent,
    SuggestedLabels, Timeouts, Usage,
};
use zentro_assist_sim::{AssistSim, AssistSimConfig, Fault};

fn conversation() -> Conversation {
    let say = |author: Author, text: &str| Message {
        author,
        text: text.into(),
    };
    Conversation {
        id: 42,
        restricted: false,
        customer: Customer {
            name: "Maria Lopez".into(),
            customer_id: "34611222333".into(),
            phone: Some("34611222333".into()),
            email: Some("maria@example.com".into()),
            username: None,
        },
        messages: vec![
            say(Author::Automation, "Hello! Which team do you need?"),
            say(
                Author::Customer,
                "Hola, soy Maria Lopez. My order 88812345 never arrived",
            ),
            say(
                Author::Agent("Ana".into()),
                "Sorry to hear that, checking now.",
            ),
            say(
                Author::Customer,
                "Write to maria@example.com or call +34 611 222 333 please",
            ),
        ],
    }
}

async fn sim() -> AssistSim {
    AssistSim::start(AssistSimConfig::default())
        .await
        .expect("the stand-in starts")
}

fn client_with(sim: &AssistSim, key: &str, timeouts: Timeouts) -> AssistClient {
    let provider = ProviderSettings::new(&sim.base_url(), "sim-small", Some(ApiKey::new(key)))
        .expect("settings");
    AssistClient::new(provider, timeouts).expect("client")
}

fn client(sim: &AssistSim) -> AssistClient {
    client_with(sim, &sim.api_key(), Timeouts::default())
}

/// Streams `request` to its end: the text shown, and how it ended.
async fn run(
    client: &AssistClient,
    request: &PreparedRequest,
) -> Result<(Vec<String>, Option<Usage>), AssistError> {
    let mut stream = client.stream(request).await?;
    let mut pieces = Vec::new();
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Text(text) => pieces.push(text),
            StreamEvent::Done { usage, .. } => return Ok((pieces, usage)),
        }
    }
    panic!("the stream ended without Done");
}

const IDENTIFIERS: [&str; 5] = [
    "Maria",
    "maria@example.com",
    "611 222 333",
    "34611222333",
    "88812345",
];

#[tokio::test]
async fn a_draft_streams_masked_out_and_unmasked_back() -> anyhow::Result<()> {
    let sim = sim().await;
    let client = client(&sim);
    let request = features::draft(&conversation(), &RequestOptions::default())?;
    let before = request.what_is_sent(client.provider());
    let (pieces, usage) = run(&client, &request).await?;
    assert!(pieces.len() > 5, "the answer arrives in pieces: {pieces:?}");
    let draft = pieces.concat();
    assert!(
        draft.contains("Write to maria@example.com or call +34 611 222 333"),
        "unmasked for the agent: {draft}"
    );
    let received = &sim.requests()[0];
    for identifier in IDENTIFIERS {
        assert!(
            !received.text().contains(identifier),
            "{identifier} was sent: {}",
            received.text()
        );
    }
    assert!(
        received
            .text()
            .contains("Customer: Write to [email 1] or call [phone 1] please"),
        "{}",
        received.text()
    );
    assert!(received.text().contains("Agent (Ana): Sorry to hear that"));
    assert_eq!(received.bearer.as_deref(), Some(sim.api_key().as_str()));
    let shown: Value = serde_json::from_str(&before.body)?;
    assert_eq!(
        shown, received.body,
        "what the agent is shown is exactly what was sent"
    );
    assert!(
        !before.body.contains(&sim.api_key()),
        "the key is not in what is shown"
    );
    let usage = usage.expect("usage reported");
    let masked_answer = format!("Reply to: {}", received.contents()[1]);
    assert_eq!(
        usage.completion_tokens,
        masked_answer.chars().count().div_ceil(3) as u64,
        "as the provider counted them"
    );
    assert_eq!(usage.prompt_tokens, request.estimated_prompt_tokens());
    Ok(())
}

#[tokio::test]
async fn a_summary_stays_masked_and_masking_can_be_off() -> anyhow::Result<()> {
    let sim = sim().await;
    let client = client(&sim);
    let request = features::summary(&conversation(), &RequestOptions::default())?;
    assert_eq!(request.feature, Feature::Summary);
    let summary = run(&client, &request).await?.0.concat();
    assert!(
        summary.contains("[email 1]") && !summary.contains("maria@example.com"),
        "{summary}"
    );
    assert!(sim.requests()[0].contents()[0].contains("summarise"));

    let unmasked = features::summary(
        &conversation(),
        &RequestOptions {
            masking: false,
            ..RequestOptions::default()
        },
    )?;
    run(&client, &unmasked).await?;
    assert!(
        sim.requests()[1].text().contains("maria@example.com"),
        "the workspace turned masking off"
    );
    Ok(())
}

#[tokio::test]
async fn rewrites_send_the_draft_and_the_style() -> anyhow::Result<()> {
    let sim = sim().await;
    let client = client(&sim);
    let styles = [
        (RewriteStyle::Shorter, "shorter"),
        (RewriteStyle::Friendlier, "friendlier"),
        (RewriteStyle::MoreFormal, "formal"),
        (
            RewriteStyle::CustomersLanguage,
            "language the customer writes in",
        ),
    ];
    for (i, (style, words)) in styles.into_iter().enumerate() {
        let request = features::rewrite(
            &conversation(),
            "We will refund order 88812345 today.",
            style,
            &RequestOptions::default(),
        )?;
        let text = run(&client, &request).await?.0.concat();
        let sent = &sim.requests()[i];
        assert!(
            sent.contents()[0].contains(words),
            "{style:?}: {}",
            sent.contents()[0]
        );
        assert!(
            sent.text()
                .contains("The draft:\nWe will refund order [number 1] today."),
            "{}",
            sent.text()
        );
        assert!(
            sent.text().contains("Customer: Hola"),
            "the customer's messages go for the language"
        );
        assert!(
            !sent.text().contains("Agent (Ana)"),
            "only the customer's messages go with a rewrite"
        );
        assert!(
            text.contains("order 88812345 today"),
            "unmasked back: {text}"
        );
    }
    assert!(matches!(
        features::rewrite(
            &conversation(),
            "  ",
            RewriteStyle::Shorter,
            &RequestOptions::default()
        ),
        Err(AssistError::NothingToSend(_))
    ));
    Ok(())
}

#[tokio::test]
async fn labels_are_parsed_strictly() -> anyhow::Result<()> {
    let sim = sim().await;
    let client = client(&sim);
    let request = features::labels(&conversation(), &RequestOptions::default())?;
    assert!(!request.streams());
    sim.answer_next("intent: delivery\nsentiment: negative");
    let answer = client.complete(&request).await?;
    let labels = SuggestedLabels::parse(&answer.text)?;
    assert_eq!(
        (labels.intent, labels.sentiment),
        (Intent::Delivery, Sentiment::Negative)
    );
    let sent = &sim.requests()[0];
    assert_eq!(sent.body["stream"], false);
    assert_eq!(
        sent.contents()[1],
        "Customer: Write to [email 1] or call [phone 1] please",
        "only the latest message"
    );
    sim.answer_next("The customer seems upset about a delivery.");
    let answer = client.complete(&request).await?;
    assert!(matches!(
        SuggestedLabels::parse(&answer.text),
        Err(AssistError::UnreadableAnswer(_))
    ));
    Ok(())
}

#[tokio::test]
async fn restricted_customers_are_never_sent() -> anyhow::Result<()> {
    let sim = sim().await;
    let restricted = Conversation {
        restricted: true,
        ..conversation()
    };
    let options = RequestOptions::default();
    assert_eq!(
        features::summary(&restricted, &options),
        Err(AssistError::Restricted)
    );
    assert_eq!(
        features::draft(&restricted, &options),
        Err(AssistError::Restricted)
    );
    assert_eq!(
        features::labels(&restricted, &options),
        Err(AssistError::Restricted)
    );
    assert_eq!(
        features::rewrite(&restricted, "Hi", RewriteStyle::Shorter, &options),
        Err(AssistError::Restricted)
    );
    assert!(sim.requests().is_empty());
    assert!(
        AssistError::Restricted
            .user_message()
            .contains("restricted")
    );
    Ok(())
}

#[tokio::test]
async fn providers_failures_are_typed() -> anyhow::Result<()> {
    let sim = AssistSim::start(AssistSimConfig {
        context_window: 200,
        ..AssistSimConfig::default()
    })
    .await?;
    let client = client(&sim);
    let request = features::summary(&conversation(), &RequestOptions::default())?;
    sim.fail_next(Fault::RateLimited {
        retry_after_secs: 7,
    });
    let limited = run(&client, &request).await.expect_err("429");
    assert_eq!(
        limited,
        AssistError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(limited.user_message().contains("7 seconds") && limited.is_transient());
    sim.fail_next(Fault::ServerError);
    let error = run(&client, &request).await.expect_err("500");
    assert!(
        matches!(&error, AssistError::Provider { status: 500, message } if message.contains("server had an error")),
        "{error:?}"
    );
    assert!(error.is_transient());

    let long = Conversation {
        messages: vec![Message {
            author: Author::Customer,
            text: "a very long message ".repeat(60),
        }],
        ..conversation()
    };
    let error = run(
        &client,
        &features::summary(&long, &RequestOptions::default())?,
    )
    .await
    .expect_err("too long");
    assert_eq!(error, AssistError::ContextTooLong);
    assert!(!error.is_transient());
    Ok(())
}

#[tokio::test]
async fn a_wrong_key_is_rejected_and_never_shown() -> anyhow::Result<()> {
    let sim = sim().await;
    let client = client_with(&sim, "sk-wrong-secret-key", Timeouts::default());
    let error = run(
        &client,
        &features::draft(&conversation(), &RequestOptions::default())?,
    )
    .await
    .expect_err("401");
    assert_eq!(error, AssistError::KeyRejected);
    let shown = format!("{error} {error:?} {} {client:?}", error.user_message());
    assert!(!shown.contains("sk-wrong"), "{shown}");
    Ok(())
}

#[tokio::test]
async fn stalls_time_out() -> anyhow::Result<()> {
    let sim = sim().await;
    let short = Timeouts {
        connect: Duration::from_secs(5),
        first_answer: Duration::from_millis(300),
        between_pieces: Duration::from_millis(300),
    };
    let client = client_with(&sim, &sim.api_key(), short);
    let request = features::draft(&conversation(), &RequestOptions::default())?;
    sim.fail_next(Fault::StallBeforeAnswer);
    assert_eq!(
        run(&client, &request).await.expect_err("stall"),
        AssistError::Timeout
    );
    sim.fail_next(Fault::StallAfterTokens(4));
    let mut stream = client.stream(&request).await?;
    let mut text = String::new();
    let error = loop {
        match stream.next().await.expect("ends with an error") {
            Ok(StreamEvent::Text(piece)) => text.push_str(&piece),
            Ok(StreamEvent::Done { .. }) => panic!("a stalled stream cannot finish"),
            Err(error) => break error,
        }
    };
    assert_eq!(
        text, "Reply to: Co",
        "what arrived before the stall was shown"
    );
    assert_eq!(error, AssistError::Timeout);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_provider_says_so() -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/v1", listener.local_addr()?);
    drop(listener);
    let provider = ProviderSettings::new(&url, "sim-small", None)?;
    let client = AssistClient::new(provider, Timeouts::default())?;
    let error = run(
        &client,
        &features::draft(&conversation(), &RequestOptions::default())?,
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(&error, AssistError::Unreachable { provider } if provider.starts_with("127.0.0.1:")),
        "{error:?}"
    );
    assert!(error.user_message().contains("cannot be reached"));
    Ok(())
}

#[tokio::test]
async fn a_spent_budget_stops_requests_before_sending() -> anyhow::Result<()> {
    let request = features::draft(&conversation(), &RequestOptions::default())?;
    let needed = request.estimated_prompt_tokens() + u64::from(request.max_tokens);
    let room = Budget {
        monthly_tokens: Some(10_000),
        spent_this_month: 10_000 - needed,
    };
    assert_eq!(room.check(&request), Ok(()));
    let spent = Budget {
        monthly_tokens: Some(10_000),
        spent_this_month: 10_000 - needed + 1,
    };
    assert!(matches!(
        spent.check(&request),
        Err(AssistError::BudgetSpent { limit: 10_000, .. })
    ));
    assert_eq!(
        Budget {
            monthly_tokens: None,
            spent_this_month: u64::MAX
        }
        .check(&request),
        Ok(())
    );
    Ok(())
}
