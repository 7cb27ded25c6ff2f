//! `sendid health`: exit 0 when a running sendid's `GET /health` answers 200 — the container
//! image's HEALTHCHECK, which has no shell and no curl (the image is the static binary alone).
//!
//! A plain HTTP/1.1 request over a TCP connection, bounded by one deadline; the address is the
//! server's `--bind` / `SENDID_BIND` (a wildcard address means this host's loopback).
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::config::{BIND_ENV, DEFAULT_BIND};

#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// The address the server listens on (its --bind); 0.0.0.0 or [::] ask this host's loopback.
    #[arg(long, env = BIND_ENV, hide_env_values = true, default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_seconds: u64,
}

/// What `/health` said, or why it said nothing.
pub fn check(args: &HealthArgs) -> Result<String, String> {
    let addr = loopback_for(args.bind);
    let deadline = Instant::now() + Duration::from_secs(args.timeout_seconds);
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let mut stream = TcpStream::connect_timeout(&addr, left())
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let io = |e: std::io::Error| format!("{addr}: {e}");
    stream.set_write_timeout(Some(left())).map_err(io)?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: sendid-health\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    // The status line and the small JSON body are all that is read, at most 64 KiB.
    while answer.len() < 64 * 1024 {
        stream.set_read_timeout(Some(left())).map_err(io)?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let status_line = text.lines().next().unwrap_or_default();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().trim();
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(format!("http://{addr}/health: 200 {body}")),
        Some(code) => Err(format!("http://{addr}/health: {code} {body}")),
        None => Err(format!("http://{addr}/health: no HTTP answer")),
    }
}

/// The address to ask: the bound one, with a wildcard IP replaced by loopback.
fn loopback_for(bind: SocketAddr) -> SocketAddr {
    match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bind.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bind.port())
        }
        _ => bind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_bind_is_asked_on_loopback() {
        let at = |s: &str| loopback_for(s.parse().unwrap()).to_string();
        assert_eq!(at("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(at("[::]:9000"), "[::1]:9000");
        assert_eq!(at("10.1.2.3:80"), "10.1.2.3:80");
    }
}
