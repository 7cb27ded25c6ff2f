//! The client address that IP allow-lists are checked against.
//!
//! It is the socket peer, unless that peer is one of `--trusted-proxies`: then it comes from the
//! `Forwarded` (RFC 7239) or `X-Forwarded-For` header the proxy passed on — the rightmost address
//! that is not itself a trusted proxy. Each proxy appends the peer it saw, so everything left of
//! that address was written by the client and is ignored; from an untrusted peer both headers
//! are ignored entirely. So a client can never choose the address it is judged by.
//!
//! Two rules keep the answer on the safe side: an entry that is not an address (`unknown`, an
//! obfuscated identifier, garbage) stops the walk and leaves the client unknown, and when both
//! headers are present and name different clients (a proxy that appends to one while the client
//! forged the other) the client is unknown too. An unknown client fails every allow-list.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use poem::http::HeaderMap;
use poem::Request;

/// `--trusted-proxies`: the peers whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

/// One entry of a forwarding chain: an address, or `None` for anything else.
type Hop = Option<IpAddr>;

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The address the request's allow-list decision is made on; `None` when it is unknown.
    pub fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        let peer = req.remote_addr().as_socket_addr()?.ip().to_canonical();
        self.client_ip_from(peer, req.headers())
    }

    fn client_ip_from(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        if !self.contains(peer) {
            return Some(peer);
        }
        let forwarded = chain(headers, "forwarded", parse_forwarded);
        let xff = chain(headers, "x-forwarded-for", parse_x_forwarded_for);
        match (forwarded, xff) {
            (None, None) => Some(peer),
            (Some(c), None) | (None, Some(c)) => self.rightmost_untrusted(&c),
            (Some(a), Some(b)) => {
                let (a, b) = (self.rightmost_untrusted(&a), self.rightmost_untrusted(&b));
                if a == b {
                    a
                } else {
                    None
                }
            }
        }
    }

    fn rightmost_untrusted(&self, chain: &[Hop]) -> Option<IpAddr> {
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) if self.contains(*ip) => continue,
                other => return *other,
            }
        }
        // Every hop is a trusted proxy: the first of them is the client.
        chain.first().copied().flatten()
    }
}

/// All lines of a header, in order, as one chain; `None` when the header is absent or empty.
fn chain(headers: &HeaderMap, name: &str, parse: fn(&str) -> Vec<Hop>) -> Option<Vec<Hop>> {
    let mut hops = Vec::new();
    for value in headers.get_all(name) {
        match value.to_str() {
            Ok(text) => hops.extend(parse(text)),
            Err(_) => hops.push(None),
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// `X-Forwarded-For: client, proxy1, proxy2` (entries may carry a port).
fn parse_x_forwarded_for(value: &str) -> Vec<Hop> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_node)
        .collect()
}

/// `Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8::1]:4711"`.
fn parse_forwarded(value: &str) -> Vec<Hop> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
        })
        .collect()
}

/// An address, with or without a port, IPv6 with or without brackets.
fn parse_node(node: &str) -> Hop {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip().to_canonical());
    }
    node.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// `--trusted-proxies` items: a CIDR, or a bare address meaning just that address.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR like 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| parse_net(s).unwrap()).collect())
    }

    fn decide(t: &TrustedProxies, peer: &str, headers: &[(&str, &str)]) -> Option<IpAddr> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                poem::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        t.client_ip_from(peer.parse().unwrap(), &map)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let t = proxies(&["10.0.0.0/8"]);
        let forged = [
            ("x-forwarded-for", "10.1.1.1"),
            ("forwarded", "for=10.1.1.1"),
        ];
        assert_eq!(decide(&t, "203.0.113.9", &forged), ip("203.0.113.9"));
        assert_eq!(decide(&proxies(&[]), "127.0.0.1", &forged), ip("127.0.0.1"));
    }

    #[test]
    fn through_trusted_proxies_the_rightmost_untrusted_address_is_the_client() {
        let t = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        // The client forged the leftmost entry; the proxies appended the rest.
        let h = [("x-forwarded-for", "1.1.1.1, 198.51.100.7, 192.168.1.1")];
        assert_eq!(decide(&t, "10.0.0.2", &h), ip("198.51.100.7"));
        let h = [
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.7:5555"),
        ];
        assert_eq!(decide(&t, "10.0.0.2", &h), ip("198.51.100.7"));
        let h = [(
            "forwarded",
            "for=1.1.1.1, For=\"[2001:db8::7]:4711\";proto=https, for=10.3.3.3;by=10.0.0.2",
        )];
        assert_eq!(decide(&t, "10.0.0.2", &h), ip("2001:db8::7"));
        // No header from a trusted peer: the peer itself.
        assert_eq!(decide(&t, "10.0.0.2", &[]), ip("10.0.0.2"));
        // Only proxies in the chain: the first of them.
        let h = [("x-forwarded-for", "10.9.9.9, 10.8.8.8")];
        assert_eq!(decide(&t, "10.0.0.2", &h), ip("10.9.9.9"));
        // IPv4-mapped IPv6 peers and entries are their IPv4 addresses.
        let h = [("x-forwarded-for", "::ffff:198.51.100.7")];
        assert_eq!(decide(&t, "::ffff:10.0.0.2", &h), ip("198.51.100.7"));
    }

    #[test]
    fn anything_but_an_address_or_a_disagreement_leaves_the_client_unknown() {
        let t = proxies(&["10.0.0.0/8"]);
        for h in [
            [("x-forwarded-for", "198.51.100.7, unknown")],
            [("forwarded", "for=198.51.100.7, for=_hidden")],
            [("forwarded", "for=198.51.100.7, proto=https")],
            [("x-forwarded-for", "198.51.100.7, not-an-ip")],
        ] {
            assert_eq!(decide(&t, "10.0.0.2", &h), None, "{h:?}");
        }
        // A proxy appending to X-Forwarded-For while the client forged `Forwarded`.
        let h = [
            ("forwarded", "for=10.7.7.7"),
            ("x-forwarded-for", "198.51.100.7"),
        ];
        assert_eq!(decide(&t, "10.0.0.2", &h), None);
        let h = [
            ("forwarded", "for=198.51.100.7"),
            ("x-forwarded-for", "198.51.100.7"),
        ];
        assert_eq!(decide(&t, "10.0.0.2", &h), ip("198.51.100.7"));
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses() {
        assert_eq!(parse_net("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            parse_net(" 127.0.0.2 ").unwrap().to_string(),
            "127.0.0.2/32"
        );
        assert_eq!(parse_net("::1").unwrap().to_string(), "::1/128");
        assert!(parse_net("proxy.local").is_err());
    }
}
