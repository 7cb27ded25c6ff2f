//! Pairs on sled: a repeat of a durable pair answered from the tree, a new one decided and
//! written by the pair writer (`pair_writer.rs`); the day counters (`u:`) read; a campaign's
//! pairs listed from its creation log (`layout.rs`).
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::layout::{decode_u64, from_json, log_key, log_prefix, pair_key, usage_key};
use super::SledStore;
use crate::domain::{QuotaStatus, UtcDay};
use crate::store::{
    ready, CreateOutcome, NewSendId, PairJob, PairStore, SendIdEntry, SendIdPage, StoreResult,
};

fn used(tree: &::sled::Tree, workspace_id: &str, day: UtcDay) -> StoreResult<u64> {
    match tree.get(usage_key(workspace_id, day))? {
        Some(v) => decode_u64(&v),
        None => Ok(0),
    }
}

impl PairStore for SledStore {
    fn create_send_id<'a>(
        &'a self,
        req: NewSendId<'a>,
    ) -> BoxFuture<'a, StoreResult<CreateOutcome>> {
        async move {
            let now_seconds = req.now_millis.div_euclid(1000);
            let limit = req.workspace.daily_send_id_quota;
            let s = &*self.shared;
            let e = s.engine()?;
            let pk = pair_key(req.campaign_id, req.send_id.as_str());
            // A repeat of a durable pair needs no writer: check the tree first, then that no
            // write of it is in flight (the writer registers a pair before it becomes visible).
            if e.tree.contains_key(&pk)? && !e.pairs.is_pending(&pk) {
                let used = used(&e.tree, &req.workspace.id, UtcDay::containing(now_seconds))?;
                return Ok(CreateOutcome::Existing(QuotaStatus::new(
                    limit,
                    used,
                    now_seconds,
                )));
            }
            let answer = e.pairs.submit(PairJob::new(&req)).await;
            let wrote = matches!(answer, Ok(CreateOutcome::Created(_)));
            s.noted(&e, answer, wrote)
        }
        .boxed()
    }

    fn used_on<'a>(
        &'a self,
        workspace_id: &'a str,
        day: UtcDay,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        ready(
            self.shared
                .engine()
                .and_then(|e| used(&e.tree, workspace_id, day)),
        )
    }

    fn list_send_ids<'a>(
        &'a self,
        campaign_id: &'a str,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<SendIdPage>> {
        ready(
            self.shared
                .engine()
                .and_then(|e| list_from_log(&e.tree, campaign_id, after, limit)),
        )
    }
}

/// Pairs of a campaign in creation order, after the sequence number `after`.
fn list_from_log(
    tree: &::sled::Tree,
    campaign_id: &str,
    after: Option<u64>,
    limit: usize,
) -> StoreResult<SendIdPage> {
    let prefix = log_prefix(campaign_id);
    // Sequence numbers start at 1; the first wanted may sit inside a record that starts
    // before it, so begin at the last record starting at or before it.
    let first_wanted = after.map_or(1, |a| a.saturating_add(1));
    let wanted_key = log_key(campaign_id, first_wanted);
    let from = match tree.range(prefix.clone()..=wanted_key.clone()).next_back() {
        Some(item) => item?.0.to_vec(),
        None => wanted_key,
    };
    let mut entries = Vec::with_capacity(limit.min(1000));
    let mut last_seq = None;
    let mut more = false;
    'records: for item in tree.range(from..) {
        let (k, v) = item?;
        if !k.starts_with(&prefix) {
            break;
        }
        let first = decode_u64(&k[prefix.len()..])?;
        let record: Vec<SendIdEntry> = if v.first() == Some(&b'[') {
            from_json(&v)?
        } else {
            vec![from_json(&v)?]
        };
        for (seq, entry) in (first..).zip(record) {
            if seq < first_wanted {
                continue;
            }
            if entries.len() == limit {
                more = true;
                break 'records;
            }
            entries.push(entry);
            last_seq = Some(seq);
        }
    }
    Ok(SendIdPage {
        entries,
        next: if more { last_seq } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sled::layout::to_json;

    fn entry(send_id: &str) -> SendIdEntry {
        SendIdEntry {
            send_id: send_id.into(),
            created_at: 1,
        }
    }

    /// A log written one object per pair (before groups shared a record) and one written a group
    /// per record read as one sequence, whatever the page size.
    #[test]
    fn the_listing_reads_single_and_group_records_across_page_ends() {
        let dir = tempfile::tempdir().unwrap();
        let db = ::sled::open(dir.path().join("data")).unwrap();
        let tree = db.open_tree("sendid").unwrap();
        let c = "camp";
        let mut batch = ::sled::Batch::default();
        batch.insert(log_key(c, 1), to_json(&entry("a")).unwrap());
        batch.insert(log_key(c, 2), to_json(&entry("b")).unwrap());
        let group = vec![entry("c"), entry("d"), entry("e")];
        batch.insert(log_key(c, 3), to_json(&group).unwrap());
        batch.insert(log_key(c, 6), to_json(&vec![entry("f")]).unwrap());
        batch.insert(log_key("camp2", 1), to_json(&entry("other")).unwrap());
        tree.apply_batch(batch).unwrap();
        let all: Vec<&str> = vec!["a", "b", "c", "d", "e", "f"];
        for limit in 1..=7 {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = list_from_log(&tree, c, after, limit).unwrap();
                seen.extend(page.entries.iter().map(|e| e.send_id.clone()));
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(seen, all, "pages of {limit}");
        }
        let from_d = list_from_log(&tree, c, Some(3), 2).unwrap();
        let ids: Vec<&str> = from_d.entries.iter().map(|e| e.send_id.as_str()).collect();
        assert_eq!((ids, from_d.next), (vec!["d", "e"], Some(5)));
    }
}
