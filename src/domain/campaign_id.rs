//! Where a `campaign_id` gets validated.
use std::fmt;

use super::send_id::is_printable_ascii;

/// The longest campaign identifier the admin API accepts when creating a campaign.
pub const MAX_CAMPAIGN_ID_LEN: usize = 128;

/// A campaign identifier as the admin API stores it: 1 to 128 printable ASCII characters.
///
/// The public operation accepts any non-empty string for `campaign_id` (docs/contract.md §1); a string
/// that could never have been created here simply names no campaign (400 `Invalid campaign_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CampaignId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignIdError {
    #[error("campaign_id must not be empty")]
    Empty,
    #[error("campaign_id must be at most 128 characters long")]
    TooLong,
    #[error("campaign_id must contain only printable ASCII characters (0x20-0x7E)")]
    NotPrintableAscii,
}

impl CampaignId {
    pub fn parse(raw: impl Into<String>) -> Result<Self, CampaignIdError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(CampaignIdError::Empty);
        }
        if !raw.chars().all(is_printable_ascii) {
            return Err(CampaignIdError::NotPrintableAscii);
        }
        if raw.len() > MAX_CAMPAIGN_ID_LEN {
            return Err(CampaignIdError::TooLong);
        }
        Ok(Self(raw))
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(s in "[ -~]{1,128}") {
            let id = CampaignId::parse(s.clone()).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
        }

        #[test]
        fn too_long_is_refused(s in "[ -~]{129,300}") {
            prop_assert_eq!(CampaignId::parse(s), Err(CampaignIdError::TooLong));
        }
    }

    #[test]
    fn empty_and_control_characters_are_refused() {
        assert_eq!(CampaignId::parse(""), Err(CampaignIdError::Empty));
        assert_eq!(
            CampaignId::parse("a\0b"),
            Err(CampaignIdError::NotPrintableAscii)
        );
    }
}
