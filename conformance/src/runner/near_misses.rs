//! Requests a step before the body refuses, each carrying the run's existing pair so that none
//! costs a unit even on a server that wrongly serves it: near misses of the path (contract §1
//! step 1: an unknown path is 404), a JSON body without `Content-Type` (step 4: 415), and the
//! forbidden key with bodies the body step would refuse (step 3 comes before step 4: 403).
use super::Runner;
use crate::classes::wire::{RawAnswer, RawRequest};
use crate::http::quote;
use crate::oracle::CheckId;
use crate::spec::OPERATION_PATH;
use crate::strategies::MAX_BODY;

/// Paths a lenient router could take for the operation's: none of them is it.
pub fn near_misses(path: &str) -> Vec<String> {
    let mut out = vec![
        format!("{path}/"),
        format!("/{path}"),
        format!("{path}/x"),
        path.to_ascii_uppercase(),
        title_case(path),
    ];
    if let Some((parent, _)) = path.rsplit_once('/') {
        if !parent.is_empty() {
            out.push(parent.to_string());
        }
    }
    out.retain(|p| p != path);
    out.dedup();
    out
}

fn title_case(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let mut c = seg.chars();
            c.next().map_or(String::new(), |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn post(path: &str, content_type: Option<&str>, body: Vec<u8>) -> RawRequest {
    let mut headers = vec![("Authorization".to_string(), "Bearer {secret}".to_string())];
    if let Some(ct) = content_type {
        headers.push(("Content-Type".to_string(), ct.to_string()));
    }
    RawRequest {
        method: "POST".into(),
        path: path.to_string(),
        headers,
        body,
        chunked: false,
    }
}

/// The answer has `status` and is JSON `{"message": ...}`.
pub fn refused_with(status: u16, why: &str, a: &RawAnswer) -> Result<(), String> {
    let r = &a.response;
    let json = r
        .content_type()
        .is_some_and(|ct| crate::spec::essence(ct) == "application/json");
    let message = r
        .json
        .as_ref()
        .and_then(|j| j.get("message"))
        .is_some_and(serde_json::Value::is_string);
    if r.status != status || !json || !message {
        return Err(format!(
            "{why}: answered {} (Content-Type {}, body {}), not {status} with JSON {{\"message\"}}",
            r.status,
            quote(r.content_type().unwrap_or("none")),
            crate::http::excerpt(&r.body, 120)
        ));
    }
    Ok(())
}

impl Runner {
    /// Near misses of the path, each a POST of the existing pair: 404. Returns the failing.
    pub(super) async fn near_miss_paths(&mut self, name: &'static str, body: &[u8]) -> u64 {
        let mut failing = 0;
        for path in near_misses(OPERATION_PATH) {
            let req = post(&path, Some("application/json"), body.to_vec());
            let label = format!("near miss of the path {}", quote(&path));
            let Some(a) = self.raw(name, &label, &req).await else {
                failing += 1;
                continue;
            };
            let verdict = refused_with(
                404,
                &format!(
                    "{} is not the operation's path (contract §1 step 1)",
                    quote(&path)
                ),
                &a,
            );
            failing += u64::from(verdict.is_err());
            self.class_verdict(CheckId::NearMissPathIs404, name, verdict, &label, &req, &a);
        }
        failing
    }

    /// The existing pair without `Content-Type` (415), and with the forbidden key, bodies the
    /// body step refuses (403). Returns (cases, failing).
    pub(super) async fn refused_earlier(
        &mut self,
        name: &'static str,
        existing: &str,
    ) -> (u64, u64) {
        let body = serde_json::json!({
            "campaign_id": self.rctx.campaign_id(),
            "send_id": existing,
        })
        .to_string()
        .into_bytes();
        let (mut cases, mut failing) = (0, 0);
        let req = post(OPERATION_PATH, None, body.clone());
        let label = "a repeat of the existing pair without Content-Type";
        if let Some(a) = self.raw(name, label, &req).await {
            cases += 1;
            let verdict = refused_with(415, "a body without Content-Type (contract §1 step 4)", &a);
            failing += u64::from(verdict.is_err());
            self.class_verdict(
                CheckId::InvalidRequestGetsItsStatus,
                name,
                verdict,
                label,
                &req,
                &a,
            );
        }
        let Some(forbidden) = self.config.forbidden_api_key.clone() else {
            return (cases, failing);
        };
        let mut over = body.clone();
        over.truncate(over.len() - 1);
        over.extend(b",\"pad\":\"");
        over.resize(MAX_BODY + 16, b'a');
        over.extend(b"\"}");
        let variants: [(&str, Option<&str>, Vec<u8>); 4] = [
            (
                "a body that is not an object",
                Some("application/json"),
                b"[]".to_vec(),
            ),
            (
                "a body of malformed JSON",
                Some("application/json"),
                b"{\"campaign_id\":".to_vec(),
            ),
            ("a text/plain body", Some("text/plain"), body.clone()),
            ("a body over 64 KiB", Some("application/json"), over),
        ];
        for (what, ct, b) in variants {
            let req = post(OPERATION_PATH, ct, b);
            let label = format!("the forbidden key with {what}");
            let Some(a) = self.raw_as(name, &label, &req, &forbidden).await else {
                continue;
            };
            cases += 1;
            let verdict = refused_with(
                403,
                "the forbidden key is refused before the body is read (contract §1 step 3 before step 4)",
                &a,
            );
            failing += u64::from(verdict.is_err());
            self.class_verdict(CheckId::ForbiddenKeyIs403, name, verdict, &label, &req, &a);
        }
        (cases, failing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_other_paths() {
        let got = near_misses("/sends/id/create");
        for p in [
            "/sends/id/create/",
            "//sends/id/create",
            "/sends/id/create/x",
            "/SENDS/ID/CREATE",
            "/Sends/Id/Create",
            "/sends/id",
        ] {
            assert!(got.iter().any(|g| g == p), "{p}: {got:?}");
        }
        assert!(!got.iter().any(|g| g == "/sends/id/create"));
    }
}
