//! Loads the in-memory directory (workspaces, campaigns, keys) from the tree at open.
use super::layout::{from_json, CAMPAIGN_PREFIX, KEY_PREFIX, WORKSPACE_PREFIX};
use crate::store::directory::Records;
use crate::store::{ApiKeyRecord, Campaign, StoreResult, Workspace};

pub(crate) fn load(tree: &::sled::Tree) -> StoreResult<Records> {
    let mut dir = Records::default();
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
