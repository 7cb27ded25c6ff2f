//! Workspaces, campaigns and API keys, held in memory by every engine: every request reads them
//! (key, workspace, campaign), so this keeps storage lookups and record decoding off the hot
//! path. Each engine loads it and keeps it current (sled: changed with the tree under its admin
//! lock; PostgreSQL: changed with each local commit and reloaded when another instance commits).
use std::collections::HashMap;

use super::{ApiKeyRecord, Campaign, Workspace};

#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub workspaces: HashMap<String, Workspace>,
    pub campaigns: HashMap<String, Campaign>,
    pub keys: HashMap<[u8; 32], ApiKeyRecord>,
}
