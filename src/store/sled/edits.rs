//! Admin edits on sled (PATCH/DELETE, changed fixtures): each is one atomic batch under the
//! admin lock, applied to the directory before it is durable-awaited, like the creations.
//!
//! A deletion removes the records and every key under the campaign's (and workspace's)
//! prefixes: pairs (`p:`), their creation log (`l:`), the campaign's sequence (`s:`), and for a
//! workspace its keys (`k:`, `i:`) and day counters (`u:`). A campaign's day counters belong to
//! its workspace, so deleting a campaign leaves the quota it spent spent.
use super::layout::*;
use super::SledStore;
use crate::store::{ApiKeyRecord, StoreError, StoreResult, Workspace, WorkspaceChange};

/// The keys of `tag:part\0…`: everything filed under one campaign or workspace.
fn prefix(tag: &str, part: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tag.len() + part.len() + 2);
    k.extend_from_slice(tag.as_bytes());
    k.push(b':');
    k.extend_from_slice(part.as_bytes());
    k.push(0);
    k
}

impl SledStore {
    pub(super) async fn update_workspace_now(
        &self,
        id: &str,
        change: &WorkspaceChange,
    ) -> StoreResult<Option<Workspace>> {
        let s = &*self.shared;
        let e = s.engine()?;
        let (seq, workspace) = {
            let _guard = s.lock();
            let Some(before) = s.directory.workspace(id) else {
                return Ok(None);
            };
            if change.is_empty() {
                return Ok(Some(before));
            }
            let after = change.applied_to(before);
            let mut batch = ::sled::Batch::default();
            batch.insert(workspace_key(id), to_json(&after)?);
            let seq = s.noted(&e, e.apply(batch), false)?;
            s.directory.change(|d| {
                d.workspaces.insert(id.to_string(), after.clone());
            });
            (seq, after)
        };
        s.noted(&e, e.commit.wait_durable(seq).await, true)?;
        Ok(Some(workspace))
    }

    pub(super) async fn rename_campaign_now(
        &self,
        campaign_id: &str,
        name: &str,
    ) -> StoreResult<bool> {
        let s = &*self.shared;
        let e = s.engine()?;
        let seq = {
            let _guard = s.lock();
            let Some(mut campaign) = s.directory.campaign(campaign_id) else {
                return Ok(false);
            };
            campaign.name = name.to_string();
            let mut batch = ::sled::Batch::default();
            batch.insert(campaign_key(campaign_id), to_json(&campaign)?);
            let seq = s.noted(&e, e.apply(batch), false)?;
            s.directory.change(|d| {
                d.campaigns.insert(campaign_id.to_string(), campaign);
            });
            seq
        };
        s.noted(&e, e.commit.wait_durable(seq).await, true)?;
        Ok(true)
    }

    pub(super) async fn update_api_key_now(&self, key: &ApiKeyRecord) -> StoreResult<bool> {
        self.change_api_key(&key.key_id, |record| {
            record.name = key.name.clone();
            record.permissions = key.permissions.clone();
            record.allowed_ips = key.allowed_ips.clone();
            true
        })
        .await
    }

    /// Rewrites the key `key_id` as `change` leaves it, under the admin lock, in memory before
    /// it is durable-awaited (from then on authentication sees the new record). `false` when
    /// there is no such key or `change` declines.
    pub(super) async fn change_api_key(
        &self,
        key_id: &str,
        change: impl FnOnce(&mut ApiKeyRecord) -> bool,
    ) -> StoreResult<bool> {
        let s = &*self.shared;
        let e = s.engine()?;
        let seq = {
            let _guard = s.lock();
            let Some(hash) = e.tree.get(key_id_key(key_id))? else {
                return Ok(false);
            };
            let hash: [u8; 32] = hash[..]
                .try_into()
                .map_err(|_| StoreError::Corrupt("a key index entry is malformed".into()))?;
            let Some(mut record) = s.directory.with(|d| d.keys.get(&hash).cloned()) else {
                return Ok(false);
            };
            if !change(&mut record) {
                return Ok(false);
            }
            let mut batch = ::sled::Batch::default();
            batch.insert(api_key_key(&hash), to_json(&record)?);
            let seq = s.noted(&e, e.apply(batch), false)?;
            s.directory.change(|d| {
                d.keys.insert(hash, record);
            });
            seq
        };
        s.noted(&e, e.commit.wait_durable(seq).await, true)?;
        Ok(true)
    }

    /// Adds the removal of a campaign and everything filed under it to `batch`.
    fn remove_campaign(
        tree: &::sled::Tree,
        batch: &mut ::sled::Batch,
        campaign_id: &str,
    ) -> StoreResult<()> {
        batch.remove(campaign_key(campaign_id));
        batch.remove(seq_key(campaign_id));
        for filed in [prefix("p", campaign_id), log_prefix(campaign_id)] {
            for item in tree.scan_prefix(filed) {
                batch.remove(item?.0);
            }
        }
        Ok(())
    }

    pub(super) async fn delete_campaign_now(&self, campaign_id: &str) -> StoreResult<bool> {
        let s = &*self.shared;
        let e = s.engine()?;
        let seq = {
            let _guard = s.lock();
            if s.directory.campaign(campaign_id).is_none() {
                return Ok(false);
            }
            let mut batch = ::sled::Batch::default();
            Self::remove_campaign(&e.tree, &mut batch, campaign_id)?;
            let seq = s.noted(&e, e.apply(batch), false)?;
            s.directory.change(|d| {
                d.campaigns.remove(campaign_id);
            });
            seq
        };
        s.noted(&e, e.commit.wait_durable(seq).await, true)?;
        Ok(true)
    }

    pub(super) async fn delete_workspace_now(&self, id: &str) -> StoreResult<bool> {
        let s = &*self.shared;
        let e = s.engine()?;
        let seq = {
            let _guard = s.lock();
            if s.directory.workspace(id).is_none() {
                return Ok(false);
            }
            let (campaigns, keys) = s.directory.with(|d| {
                let campaigns: Vec<String> = d
                    .campaigns
                    .values()
                    .filter(|c| c.workspace_id == id)
                    .map(|c| c.campaign_id.clone())
                    .collect();
                let keys: Vec<(String, [u8; 32])> = d
                    .keys
                    .values()
                    .filter(|k| k.workspace_id == id)
                    .map(|k| (k.key_id.clone(), k.hash))
                    .collect();
                (campaigns, keys)
            });
            let mut batch = ::sled::Batch::default();
            batch.remove(workspace_key(id));
            for campaign_id in &campaigns {
                Self::remove_campaign(&e.tree, &mut batch, campaign_id)?;
            }
            for (key_id, hash) in &keys {
                batch.remove(api_key_key(hash));
                batch.remove(key_id_key(key_id));
            }
            for item in e.tree.scan_prefix(prefix("u", id)) {
                batch.remove(item?.0);
            }
            let seq = s.noted(&e, e.apply(batch), false)?;
            // Gone from memory before the 204: its keys answer 401 from the next request on.
            s.directory.change(|d| {
                d.workspaces.remove(id);
                d.campaigns.retain(|_, c| c.workspace_id != id);
                d.keys.retain(|_, k| k.workspace_id != id);
            });
            seq
        };
        s.noted(&e, e.commit.wait_durable(seq).await, true)?;
        Ok(true)
    }
}
