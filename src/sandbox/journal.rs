//! The request journal: the last public requests as the sandbox saw them, newest first, bounded
//! in memory. A journal is read by other teams' tests and printed in their CI logs, so it never
//! holds a secret: the `Authorization` header is replaced by the key's `key_id` (or a note that
//! the key was not one of this store's), and bodies are cut at [`MAX_BODY_CHARS`].
use std::collections::VecDeque;
use std::sync::Mutex;

use poem_openapi::Object;
use serde_json::Value;

use super::faults::When;

/// How many requests the journal keeps; the oldest goes first.
pub const JOURNAL_CAPACITY: usize = 1000;
/// Longest request body kept, in characters; a longer one is kept cut, as a string.
pub const MAX_BODY_CHARS: usize = 4096;

// The journal keeps it and its view (`GET /admin/requests`) shows it as it is.
/// What a fault did to a journaled request.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "FaultApplied")]
pub struct FaultNote {
    /// The rule's id.
    #[oai(rename = "id")]
    pub rule_id: String,
    pub when: When,
    /// What it did: `status 503`, `delay 1500 ms`, `close`, or several.
    pub action: String,
    /// What the request got before the fault replaced or dropped it: for an `after` fault, and
    /// for a request refused before the fault layer (no key, another path), which any rule
    /// without `match` faults too.
    #[oai(nullable)]
    pub original_status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub at_millis: i64,
    pub method: String,
    /// The path with its query, as sent.
    pub path: String,
    /// Header names lowercased, in the order sent; `authorization` masked.
    pub headers: Vec<(String, String)>,
    /// The body as JSON when it is JSON, else as text; `None` when it was not read (a request
    /// refused before its body mattered, or one without a body).
    pub body: Option<Value>,
    /// The status the client received; `None` when the connection was closed without an answer.
    pub status: Option<u16>,
    /// The send_id asked for, or the one the service answered with.
    pub send_id: Option<String>,
    pub key_id: Option<String>,
    pub fault: Option<FaultNote>,
    /// The client had closed its connection (or dropped its request) before the answer was
    /// ready: `status` is what sendid answered, and nobody received it.
    pub client_gone: bool,
}

pub struct Journal {
    capacity: usize,
    entries: Mutex<VecDeque<JournalEntry>>,
}

impl Default for Journal {
    fn default() -> Self {
        Self::with_capacity(JOURNAL_CAPACITY)
    }
}

impl Journal {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn record(&self, entry: JournalEntry) {
        let mut entries = self.lock();
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The last `limit` requests, newest first.
    pub fn recent(&self, limit: usize) -> Vec<JournalEntry> {
        self.lock().iter().rev().take(limit).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) -> usize {
        std::mem::take(&mut *self.lock()).len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<JournalEntry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The headers of a request (name, value) as the journal shows them: `authorization` never as
/// sent.
pub fn masked_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    key_id: Option<&str>,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let shown = if name == "authorization" || name == "proxy-authorization" {
                mask_credentials(value, key_id)
            } else {
                String::from_utf8_lossy(value).into_owned()
            };
            (name, shown)
        })
        .collect()
}

fn mask_credentials(value: &[u8], key_id: Option<&str>) -> String {
    let text = String::from_utf8_lossy(value);
    let scheme = text.split_whitespace().next().unwrap_or("");
    match key_id {
        Some(id) if scheme.eq_ignore_ascii_case("bearer") => format!("Bearer key_id:{id}"),
        _ if scheme.eq_ignore_ascii_case("bearer") => "Bearer (not a key of this store)".into(),
        _ if scheme.is_empty() => "(empty)".into(),
        // Another scheme: its name is useful ("my client sent Basic"), its credentials are not.
        _ => format!("{} (credentials hidden)", sanitize_scheme(scheme)),
    }
}

fn sanitize_scheme(scheme: &str) -> String {
    scheme
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect()
}

/// A request body as the journal keeps it: JSON when it parses, else (lossy) text, cut at
/// [`MAX_BODY_CHARS`].
pub fn body_value(bytes: &[u8]) -> Value {
    if bytes.len() <= MAX_BODY_CHARS {
        if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
            return value;
        }
    }
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= MAX_BODY_CHARS {
        return Value::String(text.into_owned());
    }
    let cut: String = text.chars().take(MAX_BODY_CHARS).collect();
    Value::String(format!("{cut}… (cut; {} bytes in all)", bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> JournalEntry {
        JournalEntry {
            at_millis: n,
            method: "POST".into(),
            path: "/sends/id/create".into(),
            headers: vec![],
            body: None,
            status: Some(200),
            send_id: Some(format!("s-{n}")),
            key_id: None,
            fault: None,
            client_gone: false,
        }
    }

    #[test]
    fn keeps_the_newest_within_its_bound() {
        let journal = Journal::with_capacity(3);
        for n in 0..5 {
            journal.record(entry(n));
        }
        assert_eq!(journal.len(), 3);
        let at: Vec<i64> = journal.recent(10).iter().map(|e| e.at_millis).collect();
        assert_eq!(at, vec![4, 3, 2]);
        assert_eq!(journal.recent(1)[0].at_millis, 4);
        assert_eq!(journal.clear(), 3);
        assert!(journal.is_empty());
    }

    #[test]
    fn the_key_is_shown_as_its_key_id_and_never_as_sent() {
        let secret = "sk-very-secret-0123456789abcdef";
        let bearer = format!("Bearer {secret}");
        let headers = [
            ("authorization", bearer.as_bytes()),
            ("content-type", b"application/json".as_slice()),
        ];
        let shown = masked_headers(headers, Some("key-7"));
        assert!(shown.contains(&("authorization".into(), "Bearer key_id:key-7".into())));
        assert!(shown.contains(&("content-type".into(), "application/json".into())));
        let unknown = masked_headers(headers, None);
        assert!(!format!("{shown:?}{unknown:?}").contains(secret));
        assert!(unknown[0].1.contains("not a key"), "{unknown:?}");
    }

    #[test]
    fn other_schemes_keep_their_name_only() {
        let headers = [("authorization", b"Basic dXNlcjpwYXNzd29yZA==".as_slice())];
        let shown = masked_headers(headers, Some("key-7"));
        assert_eq!(shown[0].1, "Basic (credentials hidden)");
    }

    #[test]
    fn bodies_are_json_when_they_parse_and_cut_when_long() {
        assert_eq!(
            body_value(br#"{"campaign_id":"c"}"#),
            serde_json::json!({"campaign_id": "c"})
        );
        assert_eq!(body_value(b"not json"), Value::String("not json".into()));
        let long = "x".repeat(MAX_BODY_CHARS * 2);
        let Value::String(kept) = body_value(long.as_bytes()) else {
            panic!("a long body is kept as text");
        };
        assert!(kept.len() < MAX_BODY_CHARS + 64);
        assert!(kept.contains("8192 bytes"), "{kept}");
    }
}
