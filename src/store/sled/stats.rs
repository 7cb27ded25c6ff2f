//! The sandbox's stats of a send on sled: `t:` campaign, send_id → its days (JSON), replaced
//! whole by each `PUT`, durable before it resolves.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::layout::{from_json, key, to_json};
use super::SledStore;
use crate::domain::DayStats;
use crate::store::lifecycle::StatsStore;
use crate::store::StoreResult;

fn stats_key(campaign_id: &str, send_id: &str) -> Vec<u8> {
    key("t", &[campaign_id.as_bytes(), send_id.as_bytes()])
}

impl StatsStore for SledStore {
    fn set_send_stats<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
        days: &'a [DayStats],
    ) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let s = &*self.shared;
            let e = s.engine()?;
            let mut batch = ::sled::Batch::default();
            batch.insert(stats_key(campaign_id, send_id), to_json(&days)?);
            let applied = s.noted(&e, e.apply(batch), false)?;
            s.noted(&e, e.commit.wait_durable(applied).await, true)
        }
        .boxed()
    }

    fn send_stats<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<DayStats>>> {
        async move {
            let e = self.shared.engine()?;
            match e.tree.get(stats_key(campaign_id, send_id))? {
                Some(v) => from_json(&v),
                None => Ok(Vec::new()),
            }
        }
        .boxed()
    }
}
