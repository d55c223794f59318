//! Reaching Meta from the command line: the Graph API client and the channel tokens it uses.

use zentro_core::vault::Vault;

use crate::exit::{Failure, other};

/// The Graph API client (`ZENTRO_GRAPH_URL` points it at a stand-in, for tests and the sandbox).
pub fn graph_client() -> Result<zentro_meta::graph::GraphClient, Failure> {
    let graph_url = std::env::var("ZENTRO_GRAPH_URL")
        .unwrap_or_else(|_| zentro_meta::platform::GRAPH_BASE_URL.to_string());
    let graph = zentro_meta::graph::GraphClient::new(&graph_url).map_err(other)?;
    Ok(match url::Url::parse(&graph_url) {
        // A stand-in serves its media itself.
        Ok(base) if std::env::var_os("ZENTRO_GRAPH_URL").is_some() => {
            graph.with_media_policy(zentro_meta::graph::MediaHostPolicy::meta().allow_origin(&base))
        }
        _ => graph,
    })
}

/// Channel tokens from the keychain, by cache channel id.
pub fn channel_tokens(
    vault: &Vault,
) -> impl Fn(&str) -> Option<zentro_meta::AccessToken> + Sync + use<> {
    let vault = vault.clone();
    move |channel: &str| {
        vault
            .read(&Vault::channel_entry(channel))
            .ok()
            .flatten()
            .map(|s| zentro_meta::AccessToken::new(s.expose()))
    }
}
