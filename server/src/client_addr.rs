//! The client's address when Latchkey runs behind reverse proxies.
//!
//! Every real deployment sits behind a TLS proxy, so the TCP peer is the
//! proxy. Only when the peer is one of `TRUSTED_PROXIES` is the forwarding
//! header read, from the right (the hops our own proxies appended) to the
//! first address that is not a trusted proxy: everything left of it was
//! written by the client and may be forged.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The client's address, as a request extension for the layers inside.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// Middleware: resolves the client's address once per request.
pub async fn resolve(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(peer) = peer {
        let client = proxies.client(peer, req.headers());
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.run(req).await
}

/// The one header the proxies in front set. Only one is read: a proxy
/// passes the other through untouched, so a client could write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx, Caddy, Traefik, HAProxy, cloud balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// Who may tell us a client's address, and how.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub networks: Vec<IpNet>,
    pub header: ForwardedHeader,
}

impl TrustedProxies {
    /// A comma-separated list of CIDR blocks or single addresses.
    pub fn parse_list(raw: &str) -> Result<Vec<IpNet>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| s.to_owned())
            })
            .collect()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request that reached us from `peer`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
            ForwardedHeader::Forwarded => forwarded(headers),
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(*ip);
                    if !self.trusts(client) {
                        break;
                    }
                }
                // A hop we cannot read ("unknown", an obfuscated name): the
                // last address we can vouch for is the answer.
                None => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, from a dual-stack listener) as the
/// IPv4 address it is, so one client has one key.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Every `X-Forwarded-For` header, in order, split into hops. Bytes that
/// are not text only spoil their own hop: a proxy appends the address it
/// saw to the client's header line, and that address must stay readable.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    hops(headers, "x-forwarded-for", |hop| parse_hop(hop.trim()))
}

/// Every `Forwarded` element's `for=`, in order; an unreadable element is
/// an unreadable hop, so the walk stops there.
fn forwarded(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    use forwarded_header_value::ForwardedHeaderValue;
    hops(headers, "forwarded", |element| {
        ForwardedHeaderValue::from_forwarded(element.trim())
            .ok()
            .and_then(|value| value.proximate().forwarded_for_ip())
    })
}

fn hops(
    headers: &HeaderMap,
    name: &str,
    parse: impl Fn(&str) -> Option<IpAddr>,
) -> Vec<Option<IpAddr>> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .split(',')
                .map(&parse)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One `X-Forwarded-For` hop: an address, perhaps with a port
/// (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &str, header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies {
            networks: TrustedProxies::parse_list(list).unwrap(),
            header,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let p = proxies("10.0.0.0/8", ForwardedHeader::XForwardedFor);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(p.client(ip("198.51.100.7"), &h), ip("198.51.100.7"));
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn the_walk_stops_at_the_first_untrusted_hop_from_the_right() {
        let p = proxies("10.0.0.0/8, 192.0.2.1", ForwardedHeader::XForwardedFor);
        // The client forged the first entry; our proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 192.0.2.1")]);
        assert_eq!(p.client(ip("10.1.2.3"), &h), ip("203.0.113.9"));
        // Several headers are one list.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9:4711"),
        ]);
        assert_eq!(p.client(ip("10.1.2.3"), &h), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(p.client(ip("10.1.2.3"), &headers(&[])), ip("10.1.2.3"));
        // Garbage stops the walk at the last hop we can vouch for.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, unknown")]);
        assert_eq!(p.client(ip("10.1.2.3"), &h), ip("10.1.2.3"));
        // Bytes that are not text, forged on the left, spoil only their hop.
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xe9, 203.0.113.9").unwrap(),
        );
        assert_eq!(p.client(ip("10.1.2.3"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn forwarded_is_read_only_when_chosen() {
        let p = proxies("127.0.0.1", ForwardedHeader::Forwarded);
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            (
                "forwarded",
                "for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https",
            ),
        ]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("2001:db8::7"));
        let xff = proxies("127.0.0.1", ForwardedHeader::XForwardedFor);
        assert_eq!(xff.client(ip("127.0.0.1"), &h), ip("1.1.1.1"));
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let p = proxies("127.0.0.1/32", ForwardedHeader::XForwardedFor);
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(p.client(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn bad_lists_name_the_bad_entry() {
        assert_eq!(
            TrustedProxies::parse_list("10.0.0.0/8, nope").unwrap_err(),
            "nope"
        );
        assert!(TrustedProxies::parse_list("").unwrap().is_empty());
    }
}
