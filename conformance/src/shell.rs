//! Words for a POSIX shell: the printed `curl` and `replay` commands run as shown.
use std::fmt::Write as _;

/// A word for a POSIX shell: bare when it is made of safe characters, quoted otherwise.
pub fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if safe {
        word.to_string()
    } else {
        shell_quote(word.as_bytes())
    }
}

/// Single quotes for plain text; bash ANSI-C quoting (`$'…'`) when bytes need escapes.
pub fn shell_quote(bytes: &[u8]) -> String {
    let plain = bytes.iter().all(|b| (0x20..0x7f).contains(b));
    if plain {
        let text = String::from_utf8_lossy(bytes);
        return format!("'{}'", text.replace('\'', r"'\''"));
    }
    let mut out = String::from("$'");
    for &b in bytes {
        match b {
            b'\'' => out.push_str(r"\'"),
            b'\\' => out.push_str(r"\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_every_byte() {
        assert_eq!(shell_quote(b"it's"), r"'it'\''s'");
        assert_eq!(shell_quote(b"a\x01\xc3\xa9"), r"$'a\x01\xc3\xa9'");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("--seed=1"), "--seed=1");
    }
}
