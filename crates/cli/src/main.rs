//! `zentro`: the headless companion of Zentro Desk, over the same core as the app.
//!
//! Exit codes ([`exit::Exit`]): 0 success; 2 usage error; 3 not signed in or the relay refused
//! the credentials (sign in again); 4 network failure (check the address and the network); 5 no
//! keychain; 1 any other failure; 6 the member's role does not allow it. Output for people is
//! aligned text; `--json` gives scripts JSON. Progress goes to standard error.
//!
//! One module per command group: [`account`] (login, join, logout), [`inbox`] (sync,
//! conversations, show, search, send), [`team`] (team, devices, audit), [`channels`] (channels,
//! channel-token), [`automation`] (teams, automation, presence), [`assist`] (assist),
//! [`consent`] (consent), [`templates`] (templates), [`rights`] (contacts, export, erase) and
//! [`report`] (report). [`cli`] is the command line's shape,
//! [`context`] what every command works with, [`terminal`] and [`graph`] what several share.

mod account;
mod assist;
mod automation;
mod broadcasts;
mod channels;
mod cli;
mod consent;
mod context;
mod exit;
mod graph;
mod inbox;
mod report;
mod rights;
mod team;
mod templates;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::exit::{Exit, Failure};

/// Runs the command the command line names.
async fn run(cli: Cli) -> Result<(), Failure> {
    let ctx = Context::new(cli.data_dir, cli.kernel_keyring)?;
    match cli.command {
        Command::Login {
            relay,
            email,
            device_name,
        } => account::login(&ctx, &relay, &email, &device_name).await,
        Command::Join {
            relay,
            code,
            device_name,
        } => account::join(&ctx, &relay, &code, &device_name).await,
        Command::Logout => account::logout(&ctx).await,
        Command::Team(command) => team::team(&ctx, command).await,
        Command::Devices(command) => team::devices(&ctx, command).await,
        Command::Audit {
            limit,
            before,
            json,
        } => team::audit(&ctx, limit, before, json).await,
        Command::Channels(command) => channels::channels(&ctx, command).await,
        Command::Teams { json } => automation::teams(&ctx, json).await,
        Command::Automation(command) => automation::automation(&ctx, command).await,
        Command::Assist(command) => assist::assist(&ctx, command).await,
        Command::Presence { status, json } => automation::presence(&ctx, status, json).await,
        Command::ChannelToken { channel } => channels::store_token(&ctx, &channel).await,
        Command::Contacts { json } => rights::contacts(&ctx, json).await,
        Command::Consent(command) => consent::consent(&ctx, command).await,
        Command::Templates(command) => templates::templates(&ctx, command).await,
        Command::Broadcasts(command) => broadcasts::broadcasts(&ctx, command).await,
        Command::Export { contact, all, out } => rights::export(&ctx, contact, all, &out).await,
        Command::Erase { contact, yes } => rights::erase(&ctx, contact, yes).await,
        Command::Sync { follow } => inbox::sync(&ctx, follow).await,
        Command::Conversations { limit, json } => inbox::conversations(&ctx, limit, json).await,
        Command::Show {
            conversation,
            limit,
            json,
        } => inbox::show(&ctx, conversation, limit, json).await,
        Command::Send { conversation, text } => inbox::send(&ctx, conversation, &text).await,
        Command::Search { query, limit, json } => inbox::search(&ctx, &query, limit, json).await,
        Command::Report {
            since,
            until,
            channel,
            team,
            agent,
            business_hours,
            json,
        } => {
            let args = report::ReportArgs {
                since,
                until,
                channel,
                team,
                agent,
                json,
                business_hours,
            };
            report::report(&ctx, args).await
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => Exit::Ok.into(),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            failure.exit.into()
        }
    }
}
