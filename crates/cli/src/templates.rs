//! `zentro templates list`, `refresh` and `create`: the workspace's WhatsApp templates as the
//! relay keeps them, read again from Meta, or a new one submitted for Meta's review (admins).

use zentro_core::relay_client::{TemplateSubmission, WorkspaceTemplate};
use zentro_meta::graph::{NewTemplate, TemplateCategory};

use crate::cli::TemplatesCommand;
use crate::context::Context;
use crate::exit::{Exit, Failure, fail};
use crate::terminal::{print_json, print_rows};

/// Runs a `zentro templates` subcommand.
pub async fn templates(ctx: &Context, command: TemplatesCommand) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    match command {
        TemplatesCommand::List { json } => show(client.templates(&token).await?, json),
        TemplatesCommand::Refresh { json } => {
            let list = client.refresh_templates(&token).await?;
            eprintln!("Read {} template(s) from Meta.", list.len());
            show(list, json)
        }
        TemplatesCommand::Create {
            name,
            language,
            category,
            body,
            example,
            footer,
            channel,
            json,
        } => {
            let category = TemplateCategory::parse(&category).ok_or_else(|| {
                fail(
                    Exit::Usage,
                    "--category must be marketing, utility or authentication",
                )
            })?;
            let submission = TemplateSubmission {
                channel_id: channel,
                template: NewTemplate {
                    name,
                    language,
                    category,
                    body,
                    body_examples: example,
                    header: None,
                    header_example: None,
                    footer,
                },
                variables: None,
            };
            let created = client.create_template(&token, &submission).await?;
            if json {
                return print_json(&created);
            }
            eprintln!(
                "Submitted {} ({}) to Meta: {}. Its review reaches every desk when Meta decides.",
                created.name, created.language, created.status
            );
            Ok(())
        }
    }
}

/// The templates as a table, or JSON.
fn show(list: Vec<WorkspaceTemplate>, json: bool) -> Result<(), Failure> {
    print_rows(
        list,
        json,
        "NAME                          LANGUAGE  CATEGORY        STATUS    QUALITY  BODY",
        |t| {
            format!(
                "{:<29} {:<9} {:<15} {:<9} {:<8} {}",
                t.name,
                t.language,
                t.category,
                t.status,
                t.quality,
                t.body().replace('\n', " ")
            )
        },
    )
}
