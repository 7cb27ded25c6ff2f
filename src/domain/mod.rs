//! Validated values. Anything a client sends is parsed into one of these once, at the edge.
pub mod analytics;
mod api_key;
mod campaign_id;
pub mod dispatch;
mod quota;
mod send_id;
pub mod series;

pub use analytics::{DayCounts, DayStats, Dispatch};
pub use api_key::{
    hash_secret, parse_allowed_ip, ApiKey, KeyHash, Permission, CAMPAIGNS_TRIGGER_SEND,
    KNOWN_PERMISSIONS, SENDS_DATA_SERIES, SENDS_ID_CREATE,
};
pub use campaign_id::{CampaignId, CampaignIdError};
pub use quota::{
    decide_pair, PairDecision, PairLedger, PairRequest, QuotaStatus, UtcDay, DEFAULT_DAILY_QUOTA,
};
pub use send_id::{SendId, SendIdError, MAX_SEND_ID_LEN, SEND_ID_CHARS};
