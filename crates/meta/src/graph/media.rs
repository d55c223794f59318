//! Which hosts media may be downloaded from: Meta's media hosts, on public addresses only.

use std::net::IpAddr;

use url::Url;

use super::MediaError;
use crate::platform;

/// The allow-list for media downloads (no SSRF through a URL in a webhook).
#[derive(Debug, Clone)]
pub struct MediaHostPolicy {
    suffixes: Vec<String>,
    /// Exact `scheme://host:port` origins allowed as well, on any address (the Meta stand-in on
    /// loopback, in tests and the sandbox).
    extra_origins: Vec<String>,
}

impl Default for MediaHostPolicy {
    fn default() -> Self {
        Self::meta()
    }
}

impl MediaHostPolicy {
    /// Meta's media hosts over HTTPS, public addresses only.
    pub fn meta() -> Self {
        Self {
            suffixes: platform::MEDIA_HOST_SUFFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            extra_origins: Vec::new(),
        }
    }

    /// Also allows one exact origin (scheme, host and port of `base`), e.g. a loopback stand-in.
    pub fn allow_origin(mut self, base: &Url) -> Self {
        self.extra_origins.push(base.origin().ascii_serialization());
        self
    }

    fn is_extra(&self, url: &Url) -> bool {
        self.extra_origins
            .contains(&url.origin().ascii_serialization())
    }

    /// Checks the URL's scheme and host; returns whether its addresses must also be checked.
    pub(crate) fn check_url(&self, url: &Url) -> Result<bool, MediaError> {
        if self.is_extra(url) {
            return Ok(false);
        }
        let refused = || MediaError::HostNotAllowed(url.host_str().unwrap_or("?").to_string());
        if url.scheme() != "https" {
            return Err(refused());
        }
        let host = url.host_str().ok_or_else(refused)?.to_ascii_lowercase();
        let allowed = self.suffixes.iter().any(|s| {
            if let Some(rest) = s.strip_prefix('.') {
                host.ends_with(s.as_str()) && host.len() > rest.len() + 1
            } else {
                host == *s
            }
        });
        if allowed { Ok(true) } else { Err(refused()) }
    }

    /// Resolves the host and refuses private, loopback and link-local addresses.
    pub(crate) async fn check_addresses(
        &self,
        url: &Url,
    ) -> Result<Vec<std::net::SocketAddr>, MediaError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| MediaError::HostNotAllowed(host.clone()))?
            .collect();
        if addrs.is_empty() || addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(MediaError::HostNotAllowed(host));
        }
        Ok(addrs)
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // carrier-grade NAT
                || o[0] >= 224)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_metas_https_media_hosts_pass() {
        let p = MediaHostPolicy::meta();
        let ok = |u: &str| p.check_url(&Url::parse(u).unwrap()).is_ok();
        assert!(ok(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
        ));
        assert!(ok("https://scontent.xx.fbcdn.net/v/t1/abc.jpg"));
        assert!(!ok("http://lookaside.fbsbx.com/x"), "plain HTTP is refused");
        assert!(!ok("https://evil.example/lookaside.fbsbx.com"));
        assert!(!ok("https://fbcdn.net.evil.example/x"));
        assert!(!ok("https://127.0.0.1/x"));
    }

    #[test]
    fn an_allowed_origin_is_exact() {
        let base = Url::parse("http://127.0.0.1:4000/").unwrap();
        let p = MediaHostPolicy::meta().allow_origin(&base);
        assert!(
            p.check_url(&Url::parse("http://127.0.0.1:4000/media/1").unwrap())
                .is_ok()
        );
        assert!(
            p.check_url(&Url::parse("http://127.0.0.1:4001/media/1").unwrap())
                .is_err()
        );
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "10.0.0.1",
            "172.16.3.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "100.64.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("157.240.1.1".parse().unwrap()));
    }
}
