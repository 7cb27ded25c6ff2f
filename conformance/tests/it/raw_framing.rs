//! The raw-socket path reads an answer as sent, so what a framework will not let a server do
//! (the mutants' proxy is one) is still checked: a HEAD answered with a body, a Content-Length
//! that disagrees with the body, both Content-Length and Transfer-Encoding. A server over a bare
//! socket writes each answer; the checker's own request and verdict functions judge it.
use std::time::Duration;

use sendid_conformance::classes::methods::{head_verdict, probe};
use sendid_conformance::classes::wire::send;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server answering every request with `answer`, then closing: its base URL.
async fn answering(answer: &'static str) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                // The head is enough: these answers do not depend on the body.
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    url::Url::parse(&format!("http://{addr}")).expect("url")
}

const BODY: &str = "{\"message\":\"m\"}";

#[tokio::test]
async fn a_head_answered_with_a_body_is_seen() {
    let base = answering(
        "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Type: application/json\r\n\
         Content-Length: 15\r\nConnection: close\r\n\r\n{\"message\":\"m\"}",
    )
    .await;
    let req = probe("HEAD", "/sends/id/create", b"");
    let a = send(&base, Duration::from_secs(5), &req, "key")
        .await
        .expect("an answer");
    assert!(head_verdict(&a).is_err(), "{:?}", a.framing);
}

#[tokio::test]
async fn a_content_length_that_disagrees_with_the_body_is_seen() {
    let base = answering(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\
         Connection: close\r\n\r\n{\"message\":\"m\"}",
    )
    .await;
    let req = probe("PUT", "/sends/id/create", BODY.as_bytes());
    let a = send(&base, Duration::from_secs(5), &req, "key")
        .await
        .expect("an answer");
    assert!(
        a.framing.iter().any(|f| f.contains("Content-Length 40")),
        "{:?}",
        a.framing
    );
}

#[tokio::test]
async fn both_content_length_and_chunked_is_seen() {
    let base = answering(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nf\r\n{\"message\":\"m\"}\r\n0\r\n\r\n",
    )
    .await;
    let req = probe("PUT", "/sends/id/create", BODY.as_bytes());
    let a = send(&base, Duration::from_secs(5), &req, "key")
        .await
        .expect("an answer");
    assert!(
        a.framing.iter().any(|f| f.contains("both Content-Length")),
        "{:?}",
        a.framing
    );
}

#[tokio::test]
async fn a_well_framed_answer_passes() {
    let base = answering(
        "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Type: application/json\r\n\
         Content-Length: 15\r\nConnection: close\r\n\r\n{\"message\":\"m\"}",
    )
    .await;
    let req = probe("PUT", "/sends/id/create", BODY.as_bytes());
    let a = send(&base, Duration::from_secs(5), &req, "key")
        .await
        .expect("an answer");
    assert!(a.framing.is_empty(), "{:?}", a.framing);
}
