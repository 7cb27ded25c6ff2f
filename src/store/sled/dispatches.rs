//! Dispatches on sled: `d:` campaign, seq → the dispatch (JSON), and `x:` campaign, send_id,
//! seq → nothing, the send ID's index. `seq` is sled's monotonic id, so a campaign's dispatches
//! list in creation order. A dispatch that generated its send_id writes the pair (`p:`) in the
//! same batch; the send_id is new (122 random bits), so no other writer can hold it, and it
//! spends no quota (no `u:` counter is touched). Each is one atomic batch made durable before
//! it resolves; a campaign's deletion removes its `d:` and `x:` keys with its pairs.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::layout::{from_json, key, pair_key, prefix, to_json, PairRecord};
use super::SledStore;
use crate::domain::Dispatch;
use crate::store::lifecycle::{DispatchPage, DispatchStore};
use crate::store::StoreResult;

fn dispatch_key(campaign_id: &str, seq: u64) -> Vec<u8> {
    key("d", &[campaign_id.as_bytes(), &seq.to_be_bytes()])
}

fn by_send_prefix(campaign_id: &str, send_id: &str) -> Vec<u8> {
    let mut k = key("x", &[campaign_id.as_bytes(), send_id.as_bytes()]);
    k.push(0);
    k
}

/// The prefixes a campaign's deletion must also remove (its dispatches, their index, its
/// stats).
pub(super) fn campaign_prefixes(campaign_id: &str) -> [Vec<u8>; 3] {
    [
        prefix("d", campaign_id),
        prefix("x", campaign_id),
        prefix("t", campaign_id),
    ]
}

fn seq_of(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

impl DispatchStore for SledStore {
    fn pair_exists<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let e = self.shared.engine()?;
            let pk = pair_key(campaign_id, send_id);
            // A pair whose write is not durable yet is not there for a send: the creator has
            // had no 200 for it either.
            Ok(e.tree.contains_key(&pk)? && !e.pairs.is_pending(&pk))
        }
        .boxed()
    }

    fn record_dispatch<'a>(&'a self, dispatch: &'a Dispatch) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let s = &*self.shared;
            let e = s.engine()?;
            let seq = e.db.generate_id()?;
            let dispatch = Dispatch {
                seq,
                ..dispatch.clone()
            };
            let mut batch = ::sled::Batch::default();
            batch.insert(
                dispatch_key(&dispatch.campaign_id, seq),
                to_json(&dispatch)?,
            );
            if let Some(send_id) = &dispatch.send_id {
                let mut index = by_send_prefix(&dispatch.campaign_id, send_id);
                index.extend_from_slice(&seq.to_be_bytes());
                batch.insert(index, &[][..]);
                if dispatch.send_id_generated {
                    // Not in the campaign's creation log: that log belongs to the pair writer.
                    let record = PairRecord {
                        seq: 0,
                        created_at: dispatch.created_at,
                    };
                    batch.insert(pair_key(&dispatch.campaign_id, send_id), to_json(&record)?);
                }
            }
            let applied = s.noted(&e, e.apply(batch), false)?;
            s.noted(&e, e.commit.wait_durable(applied).await, true)
        }
        .boxed()
    }

    fn list_dispatches<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: Option<&'a str>,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<DispatchPage>> {
        async move {
            let e = self.shared.engine()?;
            let mut dispatches = Vec::new();
            let mut more = false;
            let start = dispatch_key(campaign_id, after.map_or(0, |a| a.saturating_add(1)));
            let campaign_prefix = prefix("d", campaign_id);
            let wanted = |d: &Dispatch| send_id.is_none_or(|s| d.send_id.as_deref() == Some(s));
            match send_id {
                None => {
                    for item in e.tree.range(start..) {
                        let (k, v) = item?;
                        if !k.starts_with(&campaign_prefix) {
                            break;
                        }
                        if dispatches.len() == limit {
                            more = true;
                            break;
                        }
                        dispatches.push(from_json::<Dispatch>(&v)?);
                    }
                }
                Some(s) => {
                    let index = by_send_prefix(campaign_id, s);
                    for item in e.tree.scan_prefix(&index) {
                        let (k, _) = item?;
                        let Some(seq) = seq_of(&k) else { continue };
                        if after.is_some_and(|a| seq <= a) {
                            continue;
                        }
                        if dispatches.len() == limit {
                            more = true;
                            break;
                        }
                        if let Some(v) = e.tree.get(dispatch_key(campaign_id, seq))? {
                            let d: Dispatch = from_json(&v)?;
                            if wanted(&d) {
                                dispatches.push(d);
                            }
                        }
                    }
                }
            }
            Ok(DispatchPage::new(dispatches, more))
        }
        .boxed()
    }

    fn dispatches_of_send<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
        from_millis: i64,
        to_millis: i64,
    ) -> BoxFuture<'a, StoreResult<Vec<Dispatch>>> {
        async move {
            let e = self.shared.engine()?;
            let mut found = Vec::new();
            for item in e.tree.scan_prefix(by_send_prefix(campaign_id, send_id)) {
                let (k, _) = item?;
                let Some(seq) = seq_of(&k) else { continue };
                if let Some(v) = e.tree.get(dispatch_key(campaign_id, seq))? {
                    let d: Dispatch = from_json(&v)?;
                    if (from_millis..to_millis).contains(&d.created_at) {
                        found.push(d);
                    }
                }
            }
            Ok(found)
        }
        .boxed()
    }
}
