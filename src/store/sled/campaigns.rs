//! Campaigns on sled: `c:` id → the record. Deleting one removes everything filed under it —
//! its pairs (`p:`), their creation log (`l:`) and its sequence (`s:`); its day counters belong
//! to its workspace, so the quota it spent stays spent.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::layout::{campaign_key, log_prefix, prefix, seq_key, to_json};
use super::shared::{refuse_existing, Step};
use super::SledStore;
use crate::store::{Campaign, CampaignStore, Resource, StoreResult};

/// Adds the campaign's record to `batch`.
pub(super) fn write(batch: &mut ::sled::Batch, campaign: &Campaign) -> StoreResult<()> {
    batch.insert(campaign_key(&campaign.campaign_id), to_json(campaign)?);
    Ok(())
}

/// Adds the removal of a campaign and everything filed under it to `batch`.
pub(super) fn remove(
    tree: &::sled::Tree,
    batch: &mut ::sled::Batch,
    campaign_id: &str,
) -> StoreResult<()> {
    batch.remove(campaign_key(campaign_id));
    batch.remove(seq_key(campaign_id));
    let [dispatches, by_send, stats] = super::dispatches::campaign_prefixes(campaign_id);
    for filed in [
        prefix("p", campaign_id),
        log_prefix(campaign_id),
        dispatches,
        by_send,
        stats,
    ] {
        for item in tree.scan_prefix(filed) {
            batch.remove(item?.0);
        }
    }
    Ok(())
}

impl CampaignStore for SledStore {
    fn create_campaign<'a>(&'a self, campaign: &'a Campaign) -> BoxFuture<'a, StoreResult<()>> {
        self.shared
            .admin_write(move |e, _| {
                refuse_existing(
                    e,
                    &campaign_key(&campaign.campaign_id),
                    Resource::Campaign,
                    &campaign.campaign_id,
                )?;
                let campaign = Campaign {
                    seq: e.db.generate_id()?,
                    ..campaign.clone()
                };
                let mut batch = ::sled::Batch::default();
                write(&mut batch, &campaign)?;
                Ok(Step::Write(batch, Box::new(|d| d.put_campaign(campaign))))
            })
            .boxed()
    }

    fn rename_campaign<'a>(
        &'a self,
        campaign_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.shared
            .admin_write(move |_, d| {
                let Some(mut campaign) = d.campaign(campaign_id) else {
                    return Ok(Step::Answer(false));
                };
                campaign.name = name.to_string();
                let mut batch = ::sled::Batch::default();
                write(&mut batch, &campaign)?;
                Ok(Step::Write(
                    batch,
                    Box::new(|d| {
                        d.put_campaign(campaign);
                        true
                    }),
                ))
            })
            .boxed()
    }

    fn delete_campaign<'a>(&'a self, campaign_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.shared
            .admin_write(move |e, d| {
                if d.campaign(campaign_id).is_none() {
                    return Ok(Step::Answer(false));
                }
                let mut batch = ::sled::Batch::default();
                remove(&e.tree, &mut batch, campaign_id)?;
                Ok(Step::Write(
                    batch,
                    Box::new(|d| {
                        d.remove_campaign(campaign_id);
                        true
                    }),
                ))
            })
            .boxed()
    }
}
