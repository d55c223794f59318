//! The sandbox's customers: who they are, what they write first, and how they answer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zentro_meta_sim::{Customer, Inbound, MetaSim, SentMessage};

use crate::{INSTAGRAM, PAGE, WHATSAPP_NUMBER, automation, picture};

/// A customer and the channel they write on.
#[derive(Debug, Clone)]
pub struct Regular {
    /// The channel's Meta id (phone_number_id, Page id or Instagram account id).
    pub channel: &'static str,
    /// Their id, number (WhatsApp only) and name, as meta-sim sends them.
    pub customer: Customer,
    /// What they might say later.
    pub chatter: &'static [&'static str],
    /// What they write about: the menu option they tap (a team of [`automation::TEAMS`]).
    pub topic: &'static str,
}

fn customer(id: &str, phone: Option<&str>, name: &str) -> Customer {
    Customer {
        id: id.into(),
        phone: phone.map(str::to_string),
        name: name.into(),
    }
}

/// The regulars who keep writing in on the three channels: each with the channel they use and
/// the lines they pick their next message from.
pub fn cast() -> Vec<Regular> {
    vec![
        Regular {
            channel: WHATSAPP_NUMBER,
            customer: customer("BR.11987654321", Some("5511987654321"), "Ana Souza"),
            chatter: &[
                "Any news on the parcel?",
                "The tracking page still says 'in transit' 🤔",
            ],
            topic: "support",
        },
        Regular {
            channel: INSTAGRAM,
            customer: customer("IGSID.17841400000001", None, "Bruno Costa"),
            chatter: &[
                "Also, do you sell gift cards?",
                "How long does shipping take to Porto?",
            ],
            topic: "sales",
        },
        Regular {
            channel: PAGE,
            customer: customer("PSID.24000000000001", None, "Chen Wei"),
            chatter: &[
                "Can I book the tasting room for 6 people?",
                "Is there parking nearby?",
            ],
            topic: "sales",
        },
        Regular {
            channel: WHATSAPP_NUMBER,
            customer: customer("US.4155550123", Some("14155550123"), "Dara Okafor"),
            chatter: &[
                "The grinder makes a clicking noise now",
                "Should I send it back or can it be fixed?",
            ],
            topic: "support",
        },
        Regular {
            channel: WHATSAPP_NUMBER,
            customer: customer("GB.447700900123", Some("447700900123"), "Eli Marsh"),
            chatter: &[
                "I paid twice for order #2231",
                "Here is my bank reference: ZX-55-201",
            ],
            topic: "billing",
        },
        Regular {
            channel: INSTAGRAM,
            customer: customer("IGSID.17841400000002", None, "Fatima Zahra"),
            chatter: &[
                "Is the Ethiopia roast back in stock?",
                "Do you have decaf beans?",
            ],
            topic: "sales",
        },
    ]
}

/// What the customers write when the sandbox opens, in order.
pub fn opening(cast: &[Regular]) -> Vec<(usize, Inbound)> {
    vec![
        (
            0,
            Inbound::Text("Hi! My order #4821 still hasn't arrived 📦".into()),
        ),
        (
            0,
            Inbound::Image {
                bytes: picture::parcel_label(),
                caption: Some("This is the tracking label".into()),
            },
        ),
        (1, Inbound::Text("Do you ship to Portugal? 🇵🇹".into())),
        (
            2,
            Inbound::Location {
                latitude: 38.7139,
                longitude: -9.1394,
                name: "Sandbox Coffee, Rua Augusta".into(),
            },
        ),
        (2, Inbound::Text("Is this store open on Sundays?".into())),
        (
            3,
            Inbound::Voice {
                bytes: b"OggS\0\x02sandbox voice note".to_vec(),
            },
        ),
        (
            3,
            Inbound::Text("Sent you a voice note about my grinder".into()),
        ),
        (
            4,
            Inbound::Document {
                bytes: b"%PDF-1.4 sandbox receipt".to_vec(),
                filename: "receipt-2231.pdf".into(),
            },
        ),
        (4, Inbound::Text("Can I get a refund for this?".into())),
        (
            5,
            Inbound::Text(format!(
                "Love the new roast ☕ — {}",
                cast[5].customer.name.split(' ').next().unwrap_or_default()
            )),
        ),
    ]
}

/// The canned replies the sandbox's team has saved (typed as `/shortcut`).
pub const CANNED_REPLIES: &[(&str, &str)] = &[
    (
        "thanks",
        "Thank you for reaching out! We'll get back to you shortly.",
    ),
    (
        "shipping",
        "Orders ship within 1–2 working days; tracking arrives by email as soon as the parcel leaves.",
    ),
    (
        "refund",
        "Refunds go back to the original payment method within 3–5 working days.",
    ),
    (
        "hours",
        "We're open Monday to Saturday, 8:00–18:00, and Sundays 9:00–14:00.",
    ),
];

/// The WhatsApp templates approved for the sandbox's number.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "order_update",
        "Hi {{1}}, your order {{2}} has shipped and should arrive by {{3}}.",
    ),
    (
        "follow_up",
        "Hi {{1}}, just checking in: is there anything else we can help you with?",
    ),
];

/// How a customer answers the agent.
const ANSWERS: &[&str] = &[
    "Thank you so much! 🙏",
    "Great, that helps.",
    "Perfect, I'll wait then.",
    "Ok! One more question: do you have it in a bigger size?",
    "👍",
];

/// What a customer adds when the survey asks for a comment.
const COMMENTS: &[&str] = &[
    "Quick and friendly, thanks!",
    "Took a while, but you sorted it out.",
    "Very helpful 🙂",
];

/// How long a customer waits for the menu bot before going on with what they came to say.
const MENU_WAIT: Duration = Duration::from_secs(10);

/// The customers who tapped an option of a menu the bot sent them, by customer id.
type AnsweredMenus = Arc<Mutex<HashSet<String>>>;

/// Plays the customers until `stop`: the opening, the menu bot's questions tapped after 1.5–3 s,
/// answers to the agent's replies after 2–4 s, and every `pace` or so a follow-up from someone.
pub async fn play(sim: Arc<MetaSim>, pace: Duration, stop: CancellationToken) {
    let cast = cast();
    let answered = AnsweredMenus::default();
    // Who was asked the satisfaction survey before (everyone answers their first).
    let mut rated = HashSet::new();
    play_opening(&sim, &cast, &answered, &stop);
    // Every message since the sandbox started gets its answer, even one sent during the opening.
    let mut seen = 0;
    let mut next_chatter = tokio::time::Instant::now() + pace;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(400)) => {}
        }
        for sent in replies_since(&sim, &mut seen) {
            let Some(regular) = addressee(&cast, &sent) else {
                continue;
            };
            if is_survey(&sent) {
                let first = rated.insert(regular.customer.id.clone());
                answer_survey_later(sim.clone(), regular.clone(), sent, first, stop.clone());
            } else if !sent.options().is_empty() {
                let answered = answered.clone();
                answer_menu_later(sim.clone(), regular.clone(), sent, answered, stop.clone());
            } else if sent.text().as_deref() == Some(automation::CSAT_COMMENT) {
                comment_later(sim.clone(), regular.clone(), stop.clone());
            } else if !sent
                .text()
                .is_some_and(|t| automation::is_automated_text(&t))
            {
                answer_later(sim.clone(), regular.clone(), sent, stop.clone());
            }
        }
        if tokio::time::Instant::now() >= next_chatter {
            chatter(&sim, &cast).await;
            next_chatter = tokio::time::Instant::now() + pace.mul_f64(0.5 + fastrand::f64());
        }
    }
}

/// Starts the opening: the customers start their conversations a quarter of a second apart,
/// each on their own (see [`open_conversation`]).
fn play_opening(
    sim: &Arc<MetaSim>,
    cast: &[Regular],
    answered: &AnsweredMenus,
    stop: &CancellationToken,
) {
    let mut by_customer: Vec<(usize, Vec<Inbound>)> = Vec::new();
    for (who, message) in opening(cast) {
        match by_customer.iter_mut().find(|(w, _)| *w == who) {
            Some((_, messages)) => messages.push(message),
            None => by_customer.push((who, vec![message])),
        }
    }
    for (turn, (who, messages)) in by_customer.into_iter().enumerate() {
        let start_after = Duration::from_millis(250).saturating_mul(turn as u32);
        tokio::spawn(open_conversation(
            sim.clone(),
            cast[who].clone(),
            messages,
            start_after,
            answered.clone(),
            stop.clone(),
        ));
    }
}

/// After `start_after`, a customer writes their first message and, as people do, answers the
/// menu bot before going on with the rest (or goes on after [`MENU_WAIT`] without a menu), a
/// quarter of a second apart.
async fn open_conversation(
    sim: Arc<MetaSim>,
    regular: Regular,
    messages: Vec<Inbound>,
    start_after: Duration,
    answered: AnsweredMenus,
    stop: CancellationToken,
) {
    let mut messages = messages.into_iter();
    let Some(first) = messages.next() else { return };
    if !pause(&stop, start_after).await {
        return;
    }
    sim.customer_writes(regular.channel, &regular.customer, first)
        .await;
    let rest: Vec<Inbound> = messages.collect();
    let deadline = tokio::time::Instant::now() + MENU_WAIT;
    while !rest.is_empty()
        && !has_answered(&answered, &regular.customer.id)
        && tokio::time::Instant::now() < deadline
    {
        if !pause(&stop, Duration::from_millis(100)).await {
            return;
        }
    }
    for message in rest {
        if !pause(&stop, Duration::from_millis(250)).await {
            return;
        }
        sim.customer_writes(regular.channel, &regular.customer, message)
            .await;
    }
}

/// Waits `duration`; `false` when stopped first.
async fn pause(stop: &CancellationToken, duration: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(duration) => true,
    }
}

/// Whether the customer tapped an option of a menu the bot sent them.
fn has_answered(answered: &AnsweredMenus, customer_id: &str) -> bool {
    answered
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(customer_id)
}

/// The messages sent to customers (the agent's replies, the automation's) since the first `seen`
/// (which moves past them).
fn replies_since(sim: &MetaSim, seen: &mut usize) -> Vec<SentMessage> {
    let state = sim.state();
    let new = state.sent[(*seen).min(state.sent.len())..].to_vec();
    *seen = state.sent.len();
    new
}

/// The customer a reply went to, when it is one of the cast.
fn addressee<'a>(cast: &'a [Regular], reply: &SentMessage) -> Option<&'a Regular> {
    cast.iter().find(|r| {
        r.channel == reply.channel_id
            && (r.customer.id == reply.to || r.customer.phone.as_deref() == Some(reply.to.as_str()))
    })
}

/// After 2–4 s (unless stopped), the customer answers `reply`: a heart, a quoted answer or a
/// plain one.
fn answer_later(sim: Arc<MetaSim>, regular: Regular, reply: SentMessage, stop: CancellationToken) {
    tokio::spawn(async move {
        let delay = Duration::from_millis(2_000 + fastrand::u64(..2_000));
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        let answer = ANSWERS[fastrand::usize(..ANSWERS.len())].to_string();
        let message = match fastrand::u8(..4) {
            0 => Inbound::Reaction {
                message_id: reply.id.clone(),
                emoji: Some("❤️".into()),
            },
            1 => Inbound::Reply {
                quoted_id: reply.id.clone(),
                text: answer,
            },
            _ => Inbound::Text(answer),
        };
        sim.customer_writes(regular.channel, &regular.customer, message)
            .await;
    });
}

/// After 1.5–3 s (unless stopped), the customer answers the menu bot's `menu` as Meta's apps let
/// them: they tap the option of their [`Regular::topic`] (any option if it has none such), a
/// WhatsApp reply button or list row, or a Messenger or Instagram quick reply.
fn answer_menu_later(
    sim: Arc<MetaSim>,
    regular: Regular,
    menu: SentMessage,
    answered: AnsweredMenus,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let delay = Duration::from_millis(1_500 + fastrand::u64(..1_500));
        let options = menu.options();
        if options.is_empty() || !pause(&stop, delay).await {
            return;
        }
        let choice = options
            .iter()
            .find(|o| o.id == regular.topic)
            .unwrap_or(&options[fastrand::usize(..options.len())]);
        let (channel, customer) = (regular.channel, &regular.customer);
        match menu.kind().as_str() {
            "list" => {
                sim.customer_picks_list_row(channel, customer, &choice.id, &choice.title)
                    .await
            }
            "quick_replies" => {
                sim.customer_taps_quick_reply(channel, customer, &choice.title, &choice.id)
                    .await
            }
            _ => {
                sim.customer_taps_button(channel, customer, &choice.id, &choice.title)
                    .await
            }
        };
        answered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(customer.id.clone());
    });
}

/// Whether a message is the satisfaction survey (its choices are `csat:1` to `csat:5`).
fn is_survey(sent: &SentMessage) -> bool {
    sent.options()
        .first()
        .is_some_and(|o| o.id.starts_with("csat:"))
}

/// After 2–5 s (unless stopped), the customer rates the help — always the `first` time they are
/// asked, two times in three after that: mostly 4 or 5, now and then 3, by tapping the row or
/// quick reply as Meta's apps let them.
fn answer_survey_later(
    sim: Arc<MetaSim>,
    regular: Regular,
    survey: SentMessage,
    first: bool,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let delay = Duration::from_millis(2_000 + fastrand::u64(..3_000));
        if (!first && fastrand::u8(..3) == 0) || !pause(&stop, delay).await {
            return;
        }
        let rating = [5, 5, 4, 4, 3][fastrand::usize(..5)];
        let options = survey.options();
        let Some(choice) = options.iter().find(|o| o.id == format!("csat:{rating}")) else {
            return;
        };
        let (channel, customer) = (regular.channel, &regular.customer);
        match survey.kind().as_str() {
            "list" => {
                sim.customer_picks_list_row(channel, customer, &choice.id, &choice.title)
                    .await
            }
            "quick_replies" => {
                sim.customer_taps_quick_reply(channel, customer, &choice.title, &choice.id)
                    .await
            }
            _ => {
                sim.customer_taps_button(channel, customer, &choice.id, &choice.title)
                    .await
            }
        };
    });
}

/// After 3–6 s (unless stopped), one customer in two answers the survey's comment question.
fn comment_later(sim: Arc<MetaSim>, regular: Regular, stop: CancellationToken) {
    tokio::spawn(async move {
        let delay = Duration::from_millis(3_000 + fastrand::u64(..3_000));
        if fastrand::bool() || !pause(&stop, delay).await {
            return;
        }
        let comment = COMMENTS[fastrand::usize(..COMMENTS.len())];
        sim.customer_writes(
            regular.channel,
            &regular.customer,
            Inbound::Text(comment.into()),
        )
        .await;
    });
}

/// Someone of the cast, at random, says one of their lines.
async fn chatter(sim: &MetaSim, cast: &[Regular]) {
    let regular = &cast[fastrand::usize(..cast.len())];
    let line = regular.chatter[fastrand::usize(..regular.chatter.len())];
    sim.customer_writes(
        regular.channel,
        &regular.customer,
        Inbound::Text(line.into()),
    )
    .await;
}
