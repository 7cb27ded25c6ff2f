//! Values and bodies as text for people.
use std::fmt::Write as _;

/// A value for people, in double quotes with JSON's escapes (never Rust's debug form).
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// An optional text for people: quoted, or what its absence means.
pub fn quote_or(s: Option<&str>, absent: &str) -> String {
    s.map_or_else(|| absent.to_string(), quote)
}

/// A body as text for people: UTF-8 with escapes, cut to `max` bytes.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let mut text = String::new();
    // On one line, as written: only control characters are escaped (JSON's way).
    for c in String::from_utf8_lossy(shown).chars() {
        match c {
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            '\t' => text.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(text, "\\u{:04x}", c as u32);
            }
            c => text.push(c),
        }
    }
    if bytes.len() > max {
        let _ = write!(text, "… ({} bytes in all)", bytes.len());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_show_bodies_as_written() {
        assert_eq!(
            excerpt(br#"{"message":"a	b"}"#, 100),
            r#"{"message":"a\tb"}"#
        );
        assert_eq!(
            excerpt(
                b"a
b", 100
            ),
            r"a\nb\u0001"
        );
        assert_eq!(excerpt(b"abcdef", 3), "abc… (6 bytes in all)");
    }
}
