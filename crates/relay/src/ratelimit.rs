//! Fixed-window attempt counters (sign-in per address and per address and account, Meta's refused
//! callbacks per address, writes per session), and the client's address as the limits see it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use zentro_events::clock::now_ms;

use crate::Store;
use crate::http::{ApiError, AppState};

/// The longest window of the relay's limiters (sign-in per address and account): counters of
/// windows that started longer ago than this are of no use and are pruned.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Counts attempts per key in a window; refuses past the limit until the window ends.
///
/// In memory ([`RateLimiter::new`]): the window starts at a key's first attempt, and each relay
/// process counts for itself. Shared ([`RateLimiter::shared`] on PostgreSQL): every instance on
/// the database counts in one `rate_limits` row per key (its window, which starts at the key's
/// first attempt as in memory, and its count), one upsert per attempt. The per-session write limiter stays in
/// memory on both backends: a database round trip per authenticated write is too costly on that
/// hot path, so with several instances a session may write up to the limit on each of them.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    counts: Counts,
}

/// Where a [`RateLimiter`] counts.
#[derive(Debug)]
enum Counts {
    /// In this process: each key's window start and count.
    Memory(Mutex<HashMap<String, (Instant, u32)>>),
    /// In the database's `rate_limits`, keys prefixed with the limiter's name.
    Shared { name: &'static str, store: Store },
}

impl RateLimiter {
    /// At most `limit` attempts per `window` for each key, counted in this process.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            counts: Counts::Memory(Mutex::new(HashMap::new())),
        }
    }

    /// At most `limit` attempts per `window` for each key, counted by every relay instance on
    /// `store`'s database when it is PostgreSQL (under `name`, which sets this limiter's keys
    /// apart from other limiters'); in memory on SQLite, where one process owns the database.
    pub fn shared(name: &'static str, limit: u32, window: Duration, store: &Store) -> Self {
        if !store.is_postgres() {
            return Self::new(limit, window);
        }
        Self {
            limit,
            window,
            counts: Counts::Shared {
                name,
                store: store.clone(),
            },
        }
    }

    /// Whether this limiter counts in the database (shared by relay instances).
    pub fn is_shared(&self) -> bool {
        matches!(self.counts, Counts::Shared { .. })
    }

    /// Records an attempt; `Err(retry_after)` when the key is over its limit. A shared limiter
    /// whose database cannot be reached lets the attempt through (and logs it): the request
    /// then meets the same database.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        match &self.counts {
            Counts::Memory(entries) => self.check_in_memory(entries, key),
            Counts::Shared { name, store } => self.check_shared(name, store, key).await,
        }
    }

    fn check_in_memory(
        &self,
        entries: &Mutex<HashMap<String, (Instant, u32)>>,
        key: &str,
    ) -> Result<(), Duration> {
        let Ok(mut entries) = entries.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if entries.len() > 100_000 {
            let window = self.window;
            entries.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = entries.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return Err(self
                .window
                .saturating_sub(now.duration_since(entry.0))
                .max(Duration::from_secs(1)));
        }
        entry.1 += 1;
        Ok(())
    }

    async fn check_shared(&self, name: &str, store: &Store, key: &str) -> Result<(), Duration> {
        let window = i64::try_from(self.window.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let now = now_ms();
        match store
            .count_attempt(&format!("{name} {key}"), now, window)
            .await
        {
            Ok((count, start)) if count > i64::from(self.limit) => Err(Duration::from_millis(
                u64::try_from(start + window - now).unwrap_or(0),
            )
            .max(Duration::from_secs(1))),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, limiter = name, "an attempt could not be counted");
                Ok(())
            }
        }
    }

    /// Forgets a key (after a successful sign-in).
    pub async fn reset(&self, key: &str) {
        match &self.counts {
            Counts::Memory(entries) => {
                if let Ok(mut entries) = entries.lock() {
                    entries.remove(key);
                }
            }
            Counts::Shared { name, store } => {
                if let Err(error) = store.forget_attempts(&format!("{name} {key}")).await {
                    tracing::warn!(%error, limiter = name, "counted attempts could not be forgotten");
                }
            }
        }
    }
}

/// The client's address as the limits and the audit log see it: the TCP peer, or what a trusted
/// proxy says ([`TrustedProxies::client`]); `local` when the relay is driven without a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<ClientAddress>() {
            Some(known) => known.clone(),
            None => Self(address_of(state, &parts.extensions, &parts.headers)),
        })
    }
}

fn address_of(
    state: &AppState,
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
) -> String {
    let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() else {
        return "local".into();
    };
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    state
        .config
        .trusted_proxies
        .client(peer.ip(), &forwarded)
        .to_string()
}

/// Writes of a device session that count against [`crate::Config::writes_per_session`]: every
/// `/v1` change (team events, shared files, channel checks, audit reports, …) but signing in and
/// out, accepting an invitation and acknowledging the cursor.
fn is_session_write(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && path.starts_with("/v1/")
        && !matches!(
            path,
            "/v1/sessions" | "/v1/sessions/current" | "/v1/invitations/accept" | "/v1/cursor"
        )
}

/// Runs before every handler: resolves the client's address once (a [`ClientAddress`] in the
/// request's extensions) and limits each bearer token's writes per minute (keyed by the token's
/// hash; a forged token only spends its own budget, then gets 401 from the handler).
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let address = address_of(&state, request.extensions(), request.headers());
    request.extensions_mut().insert(ClientAddress(address));
    if is_session_write(request.method(), request.uri().path())
        && let Some(token) = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
        && let Err(wait) = state
            .write_limiter
            .check(&hex::encode(crate::credentials::token_hash(token.trim())))
            .await
    {
        return ApiError::TooManyRequests(wait).into_response();
    }
    next.run(request).await
}

/// A refused Meta callback (bad signature): `refusal`, or 429 once the address refused too often.
pub async fn meta_refusal(
    state: &AppState,
    address: &ClientAddress,
    refusal: Response,
) -> Response {
    match state.meta_limiter.check(&address.0).await {
        Ok(()) => refusal,
        Err(wait) => ApiError::TooManyRequests(wait).into_response(),
    }
}

/// A network: an address and a prefix length (`10.0.0.0/8`; a bare address is the whole length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` is in the network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(Self { address, prefix })
    }
}

/// The reverse proxies whose `X-Forwarded-For` the relay believes
/// (`ZENTRO_RELAY_TRUSTED_PROXIES`: addresses or CIDRs, comma-separated). Empty: the header is
/// ignored and the TCP peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the TCP `peer`, unless it is a trusted proxy; then the rightmost
    /// address of `X-Forwarded-For` (all its lines, in order) that is not a trusted proxy (the
    /// leftmost one when all are). Anything left of an address that does not parse is ignored.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Network::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limit_applies_per_key() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.check("a").await.is_ok());
        assert!(limiter.check("a").await.is_ok());
        let wait = limiter.check("a").await.unwrap_err();
        assert!(wait > Duration::from_secs(50));
        assert!(limiter.check("b").await.is_ok());
        limiter.reset("a").await;
        assert!(limiter.check("a").await.is_ok());
    }

    #[test]
    fn forwarded_for_is_read_from_trusted_proxies_only() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.1, fd00::/8".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            proxies.client(ip("203.0.113.1"), &["198.51.100.1"]),
            ip("203.0.113.1")
        );
        assert_eq!(
            proxies.client(ip("192.0.2.1"), &["198.51.100.1"]),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &["1.1.1.1, 198.51.100.1", "10.2.2.2"]),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &["10.3.3.3"]),
            ip("10.3.3.3")
        );
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &["junk, 10.3.3.3"]),
            ip("10.3.3.3")
        );
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &["198.51.100.9, junk"]),
            ip("10.1.1.1")
        );
        assert_eq!(proxies.client(ip("10.1.1.1"), &[]), ip("10.1.1.1"));
        assert_eq!(
            proxies.client(ip("::ffff:10.1.1.1"), &["2001:db8::1"]),
            ip("2001:db8::1")
        );
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("nonsense".parse::<TrustedProxies>().is_err());
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::default()
        );
        let all: TrustedProxies = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
    }
}
