//! Concurrent bursts: requests sent truly at once, each over a connection of its own (opened
//! and warmed first, then released together), and the verdicts on what came back, decided from
//! counts.
use std::collections::HashSet;
use std::sync::Arc;

use crate::http::{Request, Response, Target, TransportError};

pub type Answer = Result<Response, TransportError>;

/// Sends `requests` at once. Every request gets a client (a connection) of its own, warmed with
/// `warmup` (a request that cannot create anything); then all are released by one barrier.
/// Returns the warm-up answers and the burst's answers, in the order of `requests`.
pub async fn at_once(
    target: &Target,
    warmup: &Request,
    requests: Vec<Request>,
) -> (Vec<Answer>, Vec<Answer>) {
    let n = requests.len();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::with_capacity(n);
    for request in requests {
        let own = target.with_own_connection();
        let warmup = warmup.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let warmed = own.send(&warmup).await;
            barrier.wait().await;
            (warmed, own.send(&request).await)
        }));
    }
    let mut warm = Vec::with_capacity(n);
    let mut answers = Vec::with_capacity(n);
    for t in tasks {
        match t.await {
            Ok((w, a)) => {
                warm.push(w);
                answers.push(a);
            }
            Err(e) => {
                let err = TransportError {
                    reason: format!("the sending task failed: {e}"),
                    connect: false,
                };
                warm.push(Err(err.clone()));
                answers.push(Err(err));
            }
        }
    }
    (warm, answers)
}

/// The burst as a shell command: `k` copies of `curl` (or the given ones) in the background,
/// each printing its status and rate-limit headers (curl 7.84 or later), then `wait`.
pub fn replay(curls: &[String], k: usize) -> String {
    let quiet = |c: &str| {
        c.replacen(
            "curl -sS -i ",
            "curl -sS -o /dev/null -w '%{http_code} X-RateLimit-Remaining: \
             %header{x-ratelimit-remaining} X-RateLimit-Limit: %header{x-ratelimit-limit} \
             Retry-After: %header{retry-after}\\n' ",
            1,
        )
    };
    let distinct: HashSet<&String> = curls.iter().collect();
    if distinct.len() == 1 {
        format!("for i in $(seq {k}); do {} & done; wait", quiet(&curls[0]))
    } else {
        let mut out: Vec<String> = curls.iter().map(|c| format!("{} &", quiet(c))).collect();
        out.push("wait".into());
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_replays_as_a_shell_loop() {
        let r = replay(&vec!["curl -sS -i -X POST 'u'".to_string(); 3], 3);
        assert!(
            r.starts_with("for i in $(seq 3); do curl -sS -o /dev/null"),
            "{r}"
        );
        assert!(r.ends_with("& done; wait"), "{r}");
    }
}
