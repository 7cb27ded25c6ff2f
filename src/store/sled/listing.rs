//! The listing of a campaign's pairs from its creation log (`layout.rs`).
use super::layout::{decode_u64, from_json, log_key, log_prefix};
use crate::store::{SendIdEntry, SendIdPage, StoreResult};

/// Pairs of a campaign in creation order, after the sequence number `after`.
pub(crate) fn list_send_ids(
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
                let page = list_send_ids(&tree, c, after, limit).unwrap();
                seen.extend(page.entries.iter().map(|e| e.send_id.clone()));
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(seen, all, "pages of {limit}");
        }
        let from_d = list_send_ids(&tree, c, Some(3), 2).unwrap();
        let ids: Vec<&str> = from_d.entries.iter().map(|e| e.send_id.as_str()).collect();
        assert_eq!((ids, from_d.next), (vec!["d", "e"], Some(5)));
    }
}
