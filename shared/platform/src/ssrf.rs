//! The SSRF guard for URLs customers give us (webhook endpoints): https only, the host
//! resolved here and every address it resolves to checked against the ranges a server must
//! never be made to call (loopback, link-local and the cloud metadata address, RFC 1918,
//! CGNAT, unique-local, IPv4-mapped and -translated IPv6, multicast, unspecified,
//! documentation and benchmarking ranges). The caller then connects to the vetted address
//! (never resolving again) and follows no redirect. Checked at registration and again at
//! every delivery, since DNS answers change.
//!
//! Local development and tests may allow plain http to loopback (`allow_loopback`), and
//! nothing else.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an absolute http(s) URL with a host.
    #[error("not an absolute https URL")]
    NotHttps,
    /// Credentials in the URL would travel to the receiver in every request's logs.
    #[error("the URL must not carry a user name or password")]
    Credentials,
    /// The host resolves to an address in a forbidden range (the address itself stays out
    /// of the message: it would map the internal network for the caller).
    #[error("{host} resolves to a {range} address")]
    Forbidden {
        /// The host as given.
        host: String,
        /// The offending address.
        address: IpAddr,
        /// Which range.
        range: &'static str,
    },
    /// The host does not resolve.
    #[error("{0} does not resolve")]
    Unresolvable(String),
    /// Webhooks go to port 443 only (any port on loopback, where the local stack allows it).
    #[error("port {0} is not allowed: use https on port 443")]
    Port(u16),
}

/// The range `ip` falls in if a webhook must never reach it.
pub fn forbidden_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified (0.0.0.0/8)",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_link_local() => "link-local (169.254.0.0/16, cloud metadata)",
        _ if ip.is_private() => "private (RFC 1918)",
        (100, 64..=127, _) => "shared (CGNAT, 100.64.0.0/10)",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (192, 88, 99) => "6to4 relay anycast (192.88.99.0/24)",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        // ::ffff:a.b.c.d reaches the IPv4 address: judge that one, and refuse the form anyway.
        return Some(forbidden_v4(v4).unwrap_or("IPv4-mapped IPv6"));
    }
    let segments = ip.segments();
    Some(match segments[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        // ::a.b.c.d (deprecated IPv4-compatible) and 64:ff9b::/96 (NAT64) reach IPv4 too.
        0 if segments[1..6].iter().all(|s| *s == 0) => "IPv4-compatible IPv6",
        // ::ffff:0:a.b.c.d (SIIT, IPv4-translated).
        0 if segments[1..4].iter().all(|s| *s == 0)
            && segments[4] == 0xffff
            && segments[5] == 0 =>
        {
            "IPv4-translated IPv6 (::ffff:0:0/96)"
        }
        // 64:ff9b::/96 (NAT64) and 64:ff9b:1::/48 (local-use NAT64) reach IPv4.
        0x64 if segments[1] == 0xff9b => "IPv4-translated IPv6 (NAT64)",
        0x2001 if segments[1] == 0 => "Teredo (2001::/32)",
        0xfec0..=0xfeff => "site-local (fec0::/10)",
        0xfc00..=0xfdff => "unique-local (fc00::/7)",
        0xfe80..=0xfebf => "link-local (fe80::/10)",
        0xff00..=0xffff => "multicast",
        0x2001 if segments[1] == 0x0db8 => "documentation (2001:db8::/32)",
        0x2002 => "6to4 (2002::/16)",
        _ => return None,
    })
}

/// Checks the form of `url`: https (or, with `allow_loopback`, http), a host, no
/// credentials. Resolution comes later ([`vet`]).
pub fn check_form(url: &Url, allow_loopback: bool) -> Result<(), Refusal> {
    let scheme_ok = url.scheme() == "https" || (allow_loopback && url.scheme() == "http");
    if !scheme_ok || url.host_str().is_none() || url.cannot_be_a_base() {
        return Err(Refusal::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    Ok(())
}

/// Resolves `url`'s host and vets every address; returns the address to connect to. With
/// `allow_loopback` (local development and tests only) a loopback address is accepted, and
/// plain http only to loopback.
pub async fn vet(url: &Url, allow_loopback: bool) -> Result<SocketAddr, Refusal> {
    vet_with(url, allow_loopback, false).await
}

/// [`vet`] for fetching signed public data (a CRL from a certificate's distribution point):
/// plain http is allowed to any public address too, as RFC 5280 advises for distribution
/// points (the data carries its own signature); the address and port rules stay.
pub async fn vet_signed_data(url: &Url, allow_loopback: bool) -> Result<SocketAddr, Refusal> {
    vet_with(url, allow_loopback, true).await
}

async fn vet_with(url: &Url, allow_loopback: bool, any_http: bool) -> Result<SocketAddr, Refusal> {
    if any_http && url.scheme() == "http" {
        check_form(url, true)?;
    } else {
        check_form(url, allow_loopback)?;
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        _ => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| Refusal::Unresolvable(host.clone()))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(Refusal::Unresolvable(host));
    }
    // Every answer must be acceptable: DNS may hand out a different one next time.
    for address in &addresses {
        let ip = address.ip();
        let loopback_allowed = allow_loopback && ip.is_loopback();
        if let Some(range) = forbidden_range(ip).filter(|_| !loopback_allowed) {
            return Err(Refusal::Forbidden {
                host,
                address: ip,
                range,
            });
        }
        if url.scheme() == "http" && !ip.is_loopback() && !any_http {
            return Err(Refusal::NotHttps);
        }
    }
    // Port 443 only, after the addresses (their refusal says more); any port on loopback
    // where the local stack allows it.
    let loopback = addresses.iter().all(|a| a.ip().is_loopback());
    let standard = port == 443 || (any_http && port == 80);
    let local = allow_loopback && loopback;
    if !(standard || local) {
        return Err(Refusal::Port(port));
    }
    Ok(addresses[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn every_range_a_server_must_not_call_is_forbidden() {
        for address in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:0:7f00:1",
            "64:ff9b:1::a00:1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "192.88.99.1",
        ] {
            let ip: IpAddr = address.parse().expect("ip");
            assert!(forbidden_range(ip).is_some(), "{address} must be refused");
        }
        for address in ["8.8.8.8", "1.1.1.1", "100.128.0.1", "2606:4700::1111"] {
            let ip: IpAddr = address.parse().expect("ip");
            assert_eq!(forbidden_range(ip), None, "{address} is public");
        }
    }

    #[tokio::test]
    async fn literal_private_and_loopback_urls_are_refused_without_the_local_setting() {
        for target in [
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://localhost/hook",
        ] {
            assert!(
                matches!(
                    vet(&url(target), false).await,
                    Err(Refusal::Forbidden { .. })
                ),
                "{target}"
            );
        }
        assert_eq!(
            vet(&url("http://example.com/hook"), false).await,
            Err(Refusal::NotHttps)
        );
        assert_eq!(
            vet(&url("https://user:pw@example.com/hook"), false).await,
            Err(Refusal::Credentials)
        );
        assert_eq!(
            vet(&url("ftp://example.com/hook"), true).await,
            Err(Refusal::NotHttps)
        );
    }

    #[tokio::test]
    async fn only_port_443_is_called_and_refusals_do_not_echo_internal_addresses() {
        assert_eq!(
            vet(&url("https://93.184.216.34:8443/hook"), false).await,
            Err(Refusal::Port(8443))
        );
        assert_eq!(
            vet(&url("https://93.184.216.34:22/hook"), true).await,
            Err(Refusal::Port(22)),
            "the loopback exception is for loopback only"
        );
        // The caller named a host; what it resolves to inside is not theirs to learn.
        let refusal = vet(&url("https://localhost/hook"), false)
            .await
            .expect_err("loopback");
        assert!(!refusal.to_string().contains("127.0.0.1"), "{refusal}");
        assert!(!refusal.to_string().contains("::1"), "{refusal}");
    }

    #[tokio::test]
    async fn the_local_setting_allows_loopback_and_nothing_else() {
        let vetted = vet(&url("http://127.0.0.1:9000/hook"), true)
            .await
            .expect("loopback allowed locally");
        assert_eq!(vetted, "127.0.0.1:9000".parse().expect("addr"));
        assert!(matches!(
            vet(&url("http://10.0.0.1/hook"), true).await,
            Err(Refusal::Forbidden { .. })
        ));
        assert!(matches!(
            vet(&url("https://169.254.169.254/"), true).await,
            Err(Refusal::Forbidden { .. })
        ));
    }

    #[tokio::test]
    async fn signed_data_may_come_over_http_but_never_from_a_private_address() {
        let public = url("http://93.184.216.34/crls/ca.crl");
        assert!(matches!(vet(&public, false).await, Err(Refusal::NotHttps)));
        assert!(vet_signed_data(&public, false).await.is_ok());
        assert!(matches!(
            vet_signed_data(&url("http://10.0.0.8/ca.crl"), false).await,
            Err(Refusal::Forbidden { .. })
        ));
        assert!(matches!(
            vet_signed_data(&url("http://93.184.216.34:8080/ca.crl"), false).await,
            Err(Refusal::Port(8080))
        ));
        let local = url("http://127.0.0.1:4000/root.crl");
        assert!(vet_signed_data(&local, false).await.is_err());
        assert!(vet_signed_data(&local, true).await.is_ok());
    }
}
