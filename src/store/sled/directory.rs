//! Workspaces, campaigns and API keys, held in memory: loaded when the store opens and changed
//! only together with the tree, under the admin lock. Every request reads them (key, workspace,
//! campaign), so this keeps sled lookups and record decoding off the hot path.
use std::collections::HashMap;

use super::layout::{from_json, CAMPAIGN_PREFIX, KEY_PREFIX, WORKSPACE_PREFIX};
use crate::store::{ApiKeyRecord, Campaign, StoreResult, Workspace};

#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub workspaces: HashMap<String, Workspace>,
    pub campaigns: HashMap<String, Campaign>,
    pub keys: HashMap<[u8; 32], ApiKeyRecord>,
}

impl Directory {
    pub fn load(tree: &::sled::Tree) -> StoreResult<Self> {
        let mut dir = Directory::default();
        for item in tree.scan_prefix(WORKSPACE_PREFIX) {
            let (_, v) = item?;
            let w: Workspace = from_json(&v)?;
            dir.workspaces.insert(w.id.clone(), w);
        }
        for item in tree.scan_prefix(CAMPAIGN_PREFIX) {
            let (_, v) = item?;
            let c: Campaign = from_json(&v)?;
            dir.campaigns.insert(c.campaign_id.clone(), c);
        }
        for item in tree.scan_prefix(KEY_PREFIX) {
            let (_, v) = item?;
            let k: ApiKeyRecord = from_json(&v)?;
            dir.keys.insert(k.hash, k);
        }
        Ok(dir)
    }
}
