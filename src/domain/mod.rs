//! Validated values. Anything a client sends is parsed into one of these once, at the edge.
mod api_key;
mod campaign_id;
mod quota;
mod send_id;

pub use api_key::{
    hash_secret, parse_allowed_ip, ApiKey, KeyHash, Permission, KNOWN_PERMISSIONS, SENDS_ID_CREATE,
};
pub use campaign_id::{CampaignId, CampaignIdError};
pub use quota::{
    decide_pair, PairDecision, PairLedger, PairRequest, QuotaStatus, UtcDay, DEFAULT_DAILY_QUOTA,
};
pub use send_id::{SendId, SendIdError, MAX_SEND_ID_LEN, SEND_ID_CHARS};
