//! The directory — workspaces, campaigns and API keys — with the reads every engine answers
//! alike (the active-key lookup with revocation and constant-time hash comparison, the
//! workspace and campaign lookups, the listings) and the changes every engine makes alike (what
//! a workspace's deletion takes with it, a revocation, a key's edit). Decided here once; an
//! engine only loads the records and calls the change that matches each write it commits
//! (sled: under its admin lock; PostgreSQL: with each local commit, and reloaded when another
//! instance commits).
//!
//! Held in memory because every request reads it (key, workspace, campaign): storage lookups
//! and record decoding stay off the hot path.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

use super::{ApiKeyRecord, Campaign, ListCursor, Page, Workspace};
use crate::domain::KeyHash;

/// The records themselves, as an engine loads them.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub workspaces: HashMap<String, Workspace>,
    pub campaigns: HashMap<String, Campaign>,
    pub keys: HashMap<[u8; 32], ApiKeyRecord>,
}

/// What a workspace's deletion takes with it ([`Directory::contents_of`]).
#[derive(Debug, Default)]
pub(crate) struct WorkspaceContents {
    pub campaigns: Vec<String>,
    /// (key id, hash) of each key.
    pub keys: Vec<(String, [u8; 32])>,
}

/// The directory as the engines share it with the [`Store`](super::Store) trait's reads.
#[derive(Debug, Default)]
pub struct Directory {
    records: RwLock<Records>,
    /// How many changes were made through [`Directory::change`]: a reload read before a local
    /// change must not overwrite it ([`Directory::replace_unless_changed`]).
    changes: AtomicU64,
}

impl Directory {
    pub(crate) fn new(records: Records) -> Self {
        Self {
            records: RwLock::new(records),
            changes: AtomicU64::new(0),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Records> {
        self.records.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a change an engine has just written.
    fn change<T>(&self, change: impl FnOnce(&mut Records) -> T) -> T {
        let mut records = self.records.write().unwrap_or_else(|p| p.into_inner());
        let out = change(&mut records);
        self.changes.fetch_add(1, Ordering::SeqCst);
        out
    }

    /// The count of local changes, to hand to [`Directory::replace_unless_changed`].
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Replaces the records with a reload, unless a local change came after `changes_before`
    /// (the reload may predate it; the caller reloads again later). Returns whether it did.
    pub(crate) fn replace_unless_changed(&self, changes_before: u64, records: Records) -> bool {
        let mut current = self.records.write().unwrap_or_else(|p| p.into_inner());
        if self.changes.load(Ordering::SeqCst) != changes_before {
            return false;
        }
        *current = records;
        true
    }

    /// Every record replaced (an engine reopened, or reset: `Records::default()`).
    pub(crate) fn replace(&self, records: Records) {
        self.change(|d| *d = records);
    }

    /// A workspace created or changed.
    pub(crate) fn put_workspace(&self, workspace: Workspace) {
        self.change(|d| {
            d.workspaces.insert(workspace.id.clone(), workspace);
        });
    }

    /// What deleting the workspace `id` takes with it besides itself: its campaigns' ids and
    /// its keys (id, hash). `None` when there is no such workspace.
    pub(crate) fn contents_of(&self, id: &str) -> Option<WorkspaceContents> {
        let d = self.read();
        d.workspaces.get(id)?;
        Some(WorkspaceContents {
            campaigns: d
                .campaigns
                .values()
                .filter(|c| c.workspace_id == id)
                .map(|c| c.campaign_id.clone())
                .collect(),
            keys: d
                .keys
                .values()
                .filter(|k| k.workspace_id == id)
                .map(|k| (k.key_id.clone(), k.hash))
                .collect(),
        })
    }

    /// The workspace `id` deleted, with its campaigns and keys (from then on its keys do not
    /// authenticate).
    pub(crate) fn remove_workspace(&self, id: &str) {
        self.change(|d| {
            d.workspaces.remove(id);
            d.campaigns.retain(|_, c| c.workspace_id != id);
            d.keys.retain(|_, k| k.workspace_id != id);
        });
    }

    /// A campaign created or changed.
    pub(crate) fn put_campaign(&self, campaign: Campaign) {
        self.change(|d| {
            d.campaigns.insert(campaign.campaign_id.clone(), campaign);
        });
    }

    pub(crate) fn rename_campaign(&self, campaign_id: &str, name: &str) {
        self.change(|d| {
            if let Some(c) = d.campaigns.get_mut(campaign_id) {
                c.name = name.to_string();
            }
        });
    }

    pub(crate) fn remove_campaign(&self, campaign_id: &str) {
        self.change(|d| {
            d.campaigns.remove(campaign_id);
        });
    }

    /// The key with this hash, revoked or not.
    pub(crate) fn key(&self, hash: &[u8; 32]) -> Option<ApiKeyRecord> {
        self.read().keys.get(hash).cloned()
    }

    /// A key created or changed.
    pub(crate) fn put_key(&self, key: ApiKeyRecord) {
        self.change(|d| {
            d.keys.insert(key.hash, key);
        });
    }

    /// The key with this hash revoked at `at` (Unix milliseconds).
    pub(crate) fn revoke_key(&self, hash: &[u8], at: i64) {
        self.change_key(hash, |k| k.revoked_at = Some(at));
    }

    /// The key with this hash given `edit`'s name, permissions and allow-list.
    pub(crate) fn edit_key(&self, hash: &[u8], edit: &ApiKeyRecord) {
        self.change_key(hash, |k| k.edit_from(edit));
    }

    fn change_key(&self, hash: &[u8], change: impl FnOnce(&mut ApiKeyRecord)) {
        let Ok(hash) = <[u8; 32]>::try_from(hash) else {
            return;
        };
        self.change(|d| {
            if let Some(k) = d.keys.get_mut(&hash) {
                change(k);
            }
        });
    }

    pub fn workspace(&self, id: &str) -> Option<Workspace> {
        self.read().workspaces.get(id).cloned()
    }

    pub fn campaign(&self, campaign_id: &str) -> Option<Campaign> {
        self.read().campaigns.get(campaign_id).cloned()
    }

    /// The key with this hash, unless it is revoked. The map finds it by hash; the final
    /// comparison is constant-time, so timing tells nothing about how much of a hash matched.
    pub fn active_key(&self, hash: &KeyHash) -> Option<ApiKeyRecord> {
        self.read()
            .keys
            .get(&hash.0)
            .filter(|record| record.revoked_at.is_none() && record.key_hash().ct_eq(hash))
            .cloned()
    }

    pub fn list_workspaces(&self, after: Option<&ListCursor>, limit: usize) -> Page<Workspace> {
        let items = self.read().workspaces.values().cloned().collect();
        Page::of(items, Workspace::cursor, after, limit)
    }

    pub fn list_campaigns(
        &self,
        workspace_id: &str,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Page<Campaign> {
        let items = self
            .read()
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
            .read()
            .keys
            .values()
            .filter(|k| k.workspace_id == workspace_id)
            .cloned()
            .collect();
        Page::of(items, ApiKeyRecord::cursor, after, limit)
    }
}
