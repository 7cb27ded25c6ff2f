//! Requests for people: described with the key masked, and as the `curl` command that sends
//! them again (keys read from the environment).
use std::fmt::Write as _;

use super::client::Target;
use super::text::excerpt;
use super::wire::{Auth, Request};
use crate::shell::shell_quote;

impl Request {
    /// The request for people, with the key masked.
    pub fn describe(&self, target: &Target) -> String {
        let mut out = format!("{} {}", self.method, target.url(&self.path));
        match &self.auth {
            Auth::None => out.push_str("\n  (no Authorization)"),
            Auth::Secret { scheme, secret } => {
                let _ = write!(
                    out,
                    "\n  Authorization: {scheme} **** (${})",
                    secret.env_var()
                );
            }
            Auth::Literal(v) => {
                let _ = write!(out, "\n  Authorization: {}", excerpt(v.as_bytes(), 200));
            }
        }
        if let Some(ct) = &self.content_type {
            let _ = write!(out, "\n  Content-Type: {}", excerpt(ct.as_bytes(), 200));
        }
        match &self.body {
            Some(body) => {
                let _ = write!(out, "\n  body: {}", excerpt(body, 300));
            }
            None => out.push_str("\n  (no body)"),
        }
        out
    }

    /// A `curl` command that sends this request again; keys come from the environment.
    pub fn curl(&self, target: &Target) -> String {
        let mut prefix = String::new();
        let mut cmd = format!(
            "curl -sS -i -X {} {}",
            self.method,
            shell_quote(target.url(&self.path).as_bytes())
        );
        match &self.auth {
            Auth::None => {}
            Auth::Secret { scheme, secret } => {
                let _ = write!(cmd, " -H \"Authorization: {scheme} ${}\"", secret.env_var());
            }
            Auth::Literal(v) => {
                let _ = write!(
                    cmd,
                    " -H {}",
                    shell_quote(format!("Authorization: {v}").as_bytes())
                );
            }
        }
        match &self.content_type {
            Some(ct) => {
                let _ = write!(
                    cmd,
                    " -H {}",
                    shell_quote(format!("Content-Type: {ct}").as_bytes())
                );
            }
            // curl would add a form content type of its own.
            None if self.body.is_some() => cmd.push_str(" -H 'Content-Type:'"),
            None => {}
        }
        if let Some(body) = &self.body {
            match long_space_run(body) {
                Some((start, len)) if body.len() > 1024 => {
                    // Oversized bodies: generate the padding instead of printing it.
                    let _ = write!(
                        prefix,
                        "printf '%s%*s%s' {} {len} '' {} | ",
                        shell_quote(&body[..start]),
                        shell_quote(&body[start + len..])
                    );
                    cmd.push_str(" --data-binary @-");
                }
                _ => {
                    let _ = write!(cmd, " --data-binary {}", shell_quote(body));
                }
            }
        }
        format!("{prefix}{cmd}")
    }
}

fn long_space_run(body: &[u8]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < body.len() {
        if body[i] == b' ' {
            let start = i;
            while i < body.len() && body[i] == b' ' {
                i += 1;
            }
            let len = i - start;
            if best.is_none_or(|(_, l)| len > l) {
                best = Some((start, len));
            }
        } else {
            i += 1;
        }
    }
    best.filter(|(_, len)| *len >= 512)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::http::Secret;
    #[test]
    fn curl_masks_the_key() {
        let target = Target::new(
            url::Url::parse("http://h:1").expect("url"),
            Duration::from_secs(1),
            "SECRET".into(),
            None,
        );
        let req = Request {
            method: "POST".into(),
            path: "/sends/id/create".into(),
            auth: Auth::Secret {
                scheme: "Bearer".into(),
                secret: Secret::ApiKey,
            },
            content_type: Some("application/json".into()),
            body: Some(br#"{"campaign_id":"c"}"#.to_vec()),
        };
        let curl = req.curl(&target);
        assert!(!curl.contains("SECRET"), "{curl}");
        assert!(curl.contains("$SENDID_API_KEY"), "{curl}");
        assert!(!req.describe(&target).contains("SECRET"));
    }
}
