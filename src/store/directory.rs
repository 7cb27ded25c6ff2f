//! The directory — workspaces, campaigns and API keys — and the reads every engine answers
//! alike: the active-key lookup (revocation, constant-time hash comparison), the workspace and
//! campaign lookups and the listings. Decided here once; an engine only loads the records and
//! changes them with each write it commits (sled: under its admin lock; PostgreSQL: with each
//! local commit, and reloaded when another instance commits).
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
    pub(crate) fn change<T>(&self, change: impl FnOnce(&mut Records) -> T) -> T {
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

    /// Runs `f` on the records as they are (for an engine's own checks).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Records) -> T) -> T {
        f(&self.read())
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
