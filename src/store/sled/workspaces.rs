//! Workspaces on sled: `w:` id → the record. Deleting one takes its campaigns with their pairs
//! (`campaigns.rs`), its keys (`api_keys.rs`) and its day counters (`u:`), in one batch.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::layout::{prefix, to_json, workspace_key};
use super::shared::{refuse_existing, Step};
use super::{api_keys, campaigns, SledStore};
use crate::store::{Resource, StoreResult, Workspace, WorkspaceChange, WorkspaceStore};

/// Adds the workspace's record to `batch`.
pub(super) fn write(batch: &mut ::sled::Batch, workspace: &Workspace) -> StoreResult<()> {
    batch.insert(workspace_key(&workspace.id), to_json(workspace)?);
    Ok(())
}

impl WorkspaceStore for SledStore {
    fn create_workspace<'a>(&'a self, workspace: &'a Workspace) -> BoxFuture<'a, StoreResult<()>> {
        self.shared
            .admin_write(move |e, _| {
                refuse_existing(
                    e,
                    &workspace_key(&workspace.id),
                    Resource::Workspace,
                    &workspace.id,
                )?;
                let workspace = Workspace {
                    seq: e.db.generate_id()?,
                    ..workspace.clone()
                };
                let mut batch = ::sled::Batch::default();
                write(&mut batch, &workspace)?;
                Ok(Step::Write(batch, Box::new(|d| d.put_workspace(workspace))))
            })
            .boxed()
    }

    fn update_workspace<'a>(
        &'a self,
        id: &'a str,
        change: &'a WorkspaceChange,
    ) -> BoxFuture<'a, StoreResult<Option<Workspace>>> {
        self.shared
            .admin_write(move |_, d| {
                let Some(before) = d.workspace(id) else {
                    return Ok(Step::Answer(None));
                };
                if change.is_empty() {
                    return Ok(Step::Answer(Some(before)));
                }
                let after = change.applied_to(before);
                let mut batch = ::sled::Batch::default();
                write(&mut batch, &after)?;
                Ok(Step::Write(
                    batch,
                    Box::new(|d| {
                        d.put_workspace(after.clone());
                        Some(after)
                    }),
                ))
            })
            .boxed()
    }

    fn delete_workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.shared
            .admin_write(move |e, d| {
                let Some(contents) = d.contents_of(id) else {
                    return Ok(Step::Answer(false));
                };
                let mut batch = ::sled::Batch::default();
                batch.remove(workspace_key(id));
                for campaign_id in &contents.campaigns {
                    campaigns::remove(&e.tree, &mut batch, campaign_id)?;
                }
                for (key_id, hash) in &contents.keys {
                    api_keys::remove(&mut batch, key_id, hash);
                }
                for item in e.tree.scan_prefix(prefix("u", id)) {
                    batch.remove(item?.0);
                }
                // Gone from memory before the 204: its keys answer 401 from the next request on.
                Ok(Step::Write(
                    batch,
                    Box::new(|d| {
                        d.remove_workspace(id);
                        true
                    }),
                ))
            })
            .boxed()
    }
}
