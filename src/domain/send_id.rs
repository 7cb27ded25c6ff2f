//! Where a `send_id` gets validated: 1 to 64 characters, each printable ASCII (0x20–0x7E).
use std::fmt;

/// The most characters Braze accepts in a send identifier.
pub const MAX_SEND_ID_LEN: usize = 64;
/// The characters a send identifier may hold: printable ASCII, 0x20 (space) to 0x7E (`~`).
/// The public document's schema (`api::sends`) is built from this and [`MAX_SEND_ID_LEN`], so
/// what it says is what [`SendId::parse`] enforces.
pub const SEND_ID_CHARS: std::ops::RangeInclusive<char> = ' '..='~';

/// A send identifier that satisfies the contract. The field is private: the only ways to get
/// one are [`SendId::parse`] and [`SendId::generate`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SendId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendIdError {
    #[error("send_id must not be empty")]
    Empty,
    #[error("send_id must be at most {max} characters long (got {0})", max = MAX_SEND_ID_LEN)]
    TooLong(usize),
    #[error(
        "send_id must contain only printable ASCII characters (0x{first:02X}-0x{last:02X}); found {0:?} at position {1}",
        first = *SEND_ID_CHARS.start() as u32,
        last = *SEND_ID_CHARS.end() as u32
    )]
    NotPrintableAscii(char, usize),
}

impl SendId {
    pub fn parse(raw: impl Into<String>) -> Result<Self, SendIdError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(SendIdError::Empty);
        }
        if let Some((pos, c)) = raw
            .chars()
            .enumerate()
            .find(|(_, c)| !is_printable_ascii(*c))
        {
            return Err(SendIdError::NotPrintableAscii(c, pos));
        }
        // All characters are ASCII here, so bytes == characters.
        if raw.len() > MAX_SEND_ID_LEN {
            return Err(SendIdError::TooLong(raw.len()));
        }
        Ok(Self(raw))
    }

    /// A fresh identifier: 32 lowercase hex digits carrying 122 random bits (a v4 UUID).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

pub(crate) fn is_printable_ascii(c: char) -> bool {
    SEND_ID_CHARS.contains(&c)
}

impl fmt::Display for SendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundaries() {
        assert!(SendId::parse("a".repeat(64)).is_ok());
        assert_eq!(SendId::parse("a".repeat(65)), Err(SendIdError::TooLong(65)));
        assert_eq!(SendId::parse(""), Err(SendIdError::Empty));
        assert!(SendId::parse(" ").is_ok());
        assert!(SendId::parse("~").is_ok());
        assert!(SendId::parse("\u{1f}").is_err());
        assert!(SendId::parse("\u{7f}").is_err());
        assert!(SendId::parse("é").is_err());
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = SendId::generate();
        let b = SendId::generate();
        assert_ne!(a, b);
        assert_eq!(SendId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.as_str().len(), 32);
    }

    proptest! {
        #[test]
        fn printable_ascii_up_to_64_round_trips(s in "[ -~]{1,64}") {
            let id = SendId::parse(s.clone()).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
        }

        #[test]
        fn longer_than_64_is_refused(s in "[ -~]{65,200}") {
            prop_assert!(matches!(SendId::parse(s), Err(SendIdError::TooLong(_))));
        }

        #[test]
        fn any_non_printable_character_is_refused(
            prefix in "[ -~]{0,30}",
            bad in any::<char>().prop_filter("not printable ASCII", |c| !(' '..='~').contains(c)),
            suffix in "[ -~]{0,30}",
        ) {
            let s = format!("{prefix}{bad}{suffix}");
            prop_assert!(matches!(SendId::parse(s), Err(SendIdError::NotPrintableAscii(..))));
        }
    }
}
