//! Workspaces, campaigns and API keys, held in memory by every engine: every request reads them
//! (key, workspace, campaign), so this keeps storage lookups and record decoding off the hot
//! path. Each engine loads it and keeps it current (sled: changed with the tree under its admin
//! lock; PostgreSQL: changed with each local commit and reloaded when another instance commits).
use std::collections::HashMap;

use super::{ApiKeyRecord, Campaign, ListCursor, Page, Workspace};

#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub workspaces: HashMap<String, Workspace>,
    pub campaigns: HashMap<String, Campaign>,
    pub keys: HashMap<[u8; 32], ApiKeyRecord>,
}

impl Directory {
    pub fn list_workspaces(&self, after: Option<&ListCursor>, limit: usize) -> Page<Workspace> {
        let items = self.workspaces.values().cloned().collect();
        Page::of(items, Workspace::cursor, after, limit)
    }

    pub fn list_campaigns(
        &self,
        workspace_id: &str,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Page<Campaign> {
        let items = self
            .campaigns
            .values()
            .filter(|c| c.workspace_id == workspace_id)
            .cloned()
            .collect();
        Page::of(items, Campaign::cursor, after, limit)
    }

    pub fn list_api_keys(
        &self,
        workspace_id: &str,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Page<ApiKeyRecord> {
        let items = self
            .keys
            .values()
            .filter(|k| k.workspace_id == workspace_id)
            .cloned()
            .collect();
        Page::of(items, ApiKeyRecord::cursor, after, limit)
    }
}
