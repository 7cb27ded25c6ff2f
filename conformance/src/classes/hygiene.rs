//! Error hygiene (contract §1 "Responses": no stack traces, never the API key): a passive check
//! over every answer of the run. An answer must not show how the server is built — a stack
//! trace, a source path, panic text, an internal exception's name, a framework's error page —
//! nor any of the run's keys, whole, in part, or encoded (base64, hex).

/// Marks of an implementation's insides, with what each one is. Matched case-sensitively in the
/// body (raw, and every string of it once JSON-decoded, so `\/` and `\n` escapes do not hide
/// them) and in every header value.
const MARKS: &[(&str, &str)] = &[
    ("panicked at", "Rust panic text"),
    ("stack backtrace:", "a stack trace"),
    ("RUST_BACKTRACE", "Rust panic text"),
    ("Traceback (most recent call last)", "a Python traceback"),
    (".py\", line ", "a Python source path"),
    ("Exception in thread", "a Java stack trace"),
    ("at java.", "a Java stack trace"),
    ("at org.springframework", "a Java stack trace"),
    ("at sun.", "a Java stack trace"),
    ("java.lang.", "a Java exception name"),
    ("node_modules/", "a Node.js source path"),
    ("goroutine ", "a Go stack trace"),
    ("[running]:", "a Go stack trace"),
    (".cs:line ", "a .NET stack trace"),
    ("at System.", "a .NET stack trace"),
    ("System.Private.CoreLib", "a .NET stack trace"),
    ("Microsoft.AspNetCore", "a .NET framework's name"),
    ("at Object.<anonymous>", "a Node.js stack trace"),
    ("at Module._compile", "a Node.js stack trace"),
    ("(node:internal", "a Node.js stack trace"),
    ("runtime error: ", "a Go runtime error"),
    ("#0 /", "a PHP stack trace"),
    ("org.apache.", "a Java class name"),
    ("com.fasterxml.", "a Java class name"),
    ("javax.", "a Java class name"),
    ("Stack trace:", "a stack trace"),
    ("stack trace:", "a stack trace"),
    (".php on line", "a PHP source path"),
    ("Fatal error: ", "a PHP fatal error"),
    ("Whitelabel Error Page", "a framework's error page"),
    ("Werkzeug", "a framework's error page"),
    ("SQLSTATE", "a database error"),
    ("syntax error at or near", "a database error"),
];

/// Source file extensions that, followed by `:<line>`, make a source location.
const SOURCE_EXTENSIONS: &[&str] = &[
    ".rs", ".py", ".java", ".js", ".ts", ".go", ".rb", ".cs", ".php", ".kt", ".scala", ".ex",
];

/// What the first mark found in `text` is, with an excerpt around it.
fn mark_in(text: &str) -> Option<String> {
    for (mark, what) in MARKS {
        if let Some(at) = text.find(mark) {
            return Some(format!("{what} ({})", around(text, at, mark.len())));
        }
    }
    if let Some(at) = source_location(text) {
        return Some(format!("a source location ({})", around(text, at.0, at.1)));
    }
    if let Some(at) = exception_name(text) {
        return Some(format!(
            "an internal exception's name ({})",
            around(text, at.0, at.1)
        ));
    }
    let lower = text.to_ascii_lowercase();
    for page in ["<!doctype html", "<html", "<body", "<pre>"] {
        if let Some(at) = lower.find(page) {
            return Some(format!(
                "an HTML error page ({})",
                around(text, at, page.len())
            ));
        }
    }
    None
}

/// `name.rs:12` and the like (`/src/main.rs:12:5`, `Create.java:42`): (start, length).
fn source_location(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    for ext in SOURCE_EXTENSIONS {
        let mut from = 0;
        while let Some(i) = text[from..].find(ext) {
            let at = from + i;
            let end = at + ext.len();
            from = end;
            // A file name before (a letter, digit or _ right before the dot), `:` and a digit after.
            let named = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            let line =
                bytes.get(end) == Some(&b':') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            if named && line {
                let start = text[..at]
                    .rfind(|c: char| c.is_whitespace() || c == '"' || c == '(')
                    .map_or(0, |s| s + 1);
                return Some((start, end + 2 - start));
            }
        }
    }
    None
}

/// A CamelCase name ending in `Exception` or `Error` (`NullPointerException`, `KeyError`,
/// `TypeError`) or the bare word `Exception`: (start, length).
fn exception_name(text: &str) -> Option<(usize, usize)> {
    for suffix in ["Exception", "Error"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(suffix) {
            let at = from + i;
            let end = at + suffix.len();
            from = end;
            let after_ok = text[end..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            if !after_ok {
                continue;
            }
            let start = text[..at]
                .rfind(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '.')
                .map_or(0, |s| s + 1);
            let name = &text[start..at];
            // A dotted class name (`com.x.JsonParseException`, `System.IO.IOException`): its
            // last segment is the class, the segments before it its package or namespace.
            let class = name.rsplit('.').next().unwrap_or(name);
            let dotted = class.len() < name.len();
            // `Exception` alone is a name; `Error` alone is an ordinary word.
            let camel = class.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if (suffix == "Exception" && (class.is_empty() || camel))
                || (!class.is_empty() && camel)
                || (dotted && class.is_empty())
            {
                return Some((start, end - start));
            }
        }
    }
    None
}

fn around(text: &str, at: usize, len: usize) -> String {
    let start = floor(text, at.saturating_sub(20));
    let end = floor(text, (at + len + 20).min(text.len()));
    crate::http::quote(&text[start..end])
}

fn floor(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Every string in a JSON value (keys and values), for scanning as written before escaping.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(o) => {
            for (k, v) in o {
                out.push(k.clone());
                // A send_id is the client's own text, or one the server generated.
                if k != "send_id" {
                    strings(v, out);
                }
            }
        }
        _ => {}
    }
}

/// The run's secrets, with the forms in which an answer could show them.
pub struct Secrets {
    /// (needle, what it is).
    needles: Vec<(String, &'static str)>,
}

/// Characters in a row of a key (or of its encoding) that count as showing it.
const WINDOW: usize = 16;

impl Secrets {
    /// The run's key and, when given, its forbidden key.
    pub fn of(api_key: &str, forbidden: Option<&str>) -> Self {
        let mut keys = vec![(api_key, "the API key (--api-key)")];
        if let Some(k) = forbidden {
            keys.push((k, "the forbidden API key (--forbidden-api-key)"));
        }
        Self::new(&keys)
    }

    /// `keys`: (key, what it is, e.g. "the API key (--api-key)").
    pub fn new(keys: &[(&str, &'static str)]) -> Self {
        let mut needles = Vec::new();
        for (key, what) in keys {
            if key.len() < 8 {
                continue;
            }
            let forms = [
                key.to_string(),
                base64(key.as_bytes(), STANDARD),
                base64(key.as_bytes(), URL_SAFE),
                hex(key.as_bytes()),
            ];
            for form in forms {
                let form = form.trim_end_matches('=').to_string();
                if form.len() >= 24 && form.is_ascii() {
                    // Skip the first and last windows of an encoding: their edges depend on
                    // the bytes around the key.
                    for i in 0..=form.len() - WINDOW {
                        needles.push((form[i..i + WINDOW].to_string(), *what));
                    }
                } else {
                    needles.push((form, *what));
                }
            }
        }
        needles.sort();
        needles.dedup();
        Self { needles }
    }

    fn shown_in(&self, text: &str) -> Option<&'static str> {
        self.needles
            .iter()
            .find(|(n, _)| text.contains(n.as_str()))
            .map(|(_, w)| *w)
    }
}

/// Why an answer breaks hygiene, if it does: the first mark of the server's insides or of a
/// key, in the body or a header.
pub fn leaks(headers: &[(String, String)], body: &[u8], secrets: &Secrets) -> Option<String> {
    // A JSON body is read string by string (as written, escapes undone); any other as text.
    let mut texts = Vec::new();
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => strings(&v, &mut texts),
        Err(_) => texts.push(String::from_utf8_lossy(body).into_owned()),
    }
    for text in &texts {
        if let Some(what) = mark_in(text) {
            return Some(format!("the body shows {what}"));
        }
        if let Some(which) = secrets.shown_in(text) {
            return Some(format!("the body shows {which}, whole, in part or encoded"));
        }
    }
    for (name, value) in headers {
        if let Some(what) = mark_in(value) {
            return Some(format!("the header {name} shows {what}"));
        }
        if let Some(which) = secrets.shown_in(value) {
            return Some(format!(
                "the header {name} shows {which}, whole, in part or encoded"
            ));
        }
    }
    None
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "broken-server-key-0123456789";

    fn secrets() -> Secrets {
        Secrets::new(&[(KEY, "the API key (--api-key)")])
    }

    fn body_leak(body: &str) -> Option<String> {
        leaks(&[], body.as_bytes(), &secrets())
    }

    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(base64(b"foobar", STANDARD), "Zm9vYmFy");
        assert_eq!(base64(b"fooba", STANDARD), "Zm9vYmE");
        assert_eq!(base64(b"f", STANDARD), "Zg");
    }

    #[test]
    fn clean_messages_pass() {
        for m in [
            r#"{"message":"Invalid campaign_id"}"#,
            r#"{"message":"send_id must be 1 to 64 printable ASCII characters"}"#,
            r#"{"message":"The body is not valid JSON: expected value at line 1 column 2"}"#,
            r#"{"message":"Error: the body is empty"}"#,
            r#"{"message":"success","send_id":"a.rs:1"}"#,
            r#"{"message":"Content-Type must be application/json","errors":["Parse error"]}"#,
        ] {
            assert_eq!(body_leak(m), None, "{m}");
        }
    }

    #[test]
    fn insides_are_found_also_json_escaped() {
        for m in [
            r#"{"message":"thread 'main' panicked at src/api/create.rs:42:9"}"#,
            r#"{"message":"Traceback (most recent call last):\n  File \"\/app\/main.py\", line 3"}"#,
            r#"{"message":"java.lang.NullPointerException\n\tat com.x.Create(Create.java:42)"}"#,
            r#"{"message":"KeyError: 'campaign_id'"}"#,
            r#"{"message":"Exception"}"#,
            r#"{"message":"com.fasterxml.jackson.core.JsonParseException: Unexpected character"}"#,
            r#"{"message":"System.Text.Json.JsonException: bad"}"#,
            r#"{"message":"TypeError: Cannot read properties of undefined"}"#,
            r#"{"message":"bad","stack":"at Object.<anonymous> (\/app\/index.mjs)"}"#,
            r#"{"message":"goroutine 1 [running]:"}"#,
            r#"{"message":"json.decoder.JSONDecodeError: Expecting value"}"#,
            r#"{"message":"bad","debug":"at \/srv\/src\/handler.go:88"}"#,
            "<html><body>Internal error</body></html>",
        ] {
            assert!(body_leak(m).is_some(), "{m}");
        }
    }

    #[test]
    fn keys_are_found_whole_in_part_and_encoded() {
        assert!(body_leak(&format!(r#"{{"message":"bad key {KEY}"}}"#)).is_some());
        assert!(body_leak(r#"{"message":"bad key server-key-012345"}"#).is_some());
        let b64 = base64(KEY.as_bytes(), STANDARD);
        assert!(body_leak(&format!(r#"{{"message":"{b64}"}}"#)).is_some());
        let h = vec![("x-debug".to_string(), hex(KEY.as_bytes()))];
        assert!(leaks(&h, b"{}", &secrets()).is_some());
        assert_eq!(body_leak(r#"{"message":"Invalid API key"}"#), None);
    }
}
