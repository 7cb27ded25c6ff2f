//! The send lifecycle's resources in the store contract (docs/contract.md §6), the same on every
//! engine: dispatches listed in creation order (all, or one send ID's, paged), a generated send
//! ID recorded with its dispatch as a pair spending no quota, a send ID's dispatches by time,
//! stats replaced whole, and everything under a campaign gone with it — kept across reopening.
use std::sync::Arc;

use sendid::domain::{DayStats, Dispatch, UtcDay};
use sendid::store::Store;

use super::{create, setup, unique, Place, NOON_MS};

fn dispatch(campaign: &str, send_id: Option<&str>, generated: bool, at: i64) -> Dispatch {
    Dispatch {
        dispatch_id: uuid::Uuid::new_v4().simple().to_string(),
        campaign_id: campaign.into(),
        send_id: send_id.map(str::to_string),
        send_id_generated: generated,
        broadcast: generated,
        audience: None,
        recipients: Vec::new(),
        reached: 3,
        created_at: at,
        seq: 0,
    }
}

fn day() -> UtcDay {
    UtcDay::containing(NOON_MS / 1000)
}

pub async fn dispatches_list_in_order_by_send_id_and_page(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 10, &[&c]).await;
    create(store.as_ref(), &w, &c, "a", NOON_MS).await.unwrap();
    let mut ids = Vec::new();
    for (i, s) in [Some("a"), None, Some("a"), Some("a")]
        .into_iter()
        .enumerate()
    {
        let d = dispatch(&c, s, false, NOON_MS + i as i64);
        store.record_dispatch(&d).await.unwrap();
        ids.push(d.dispatch_id);
    }
    let all = store.list_dispatches(&c, None, None, 100).await.unwrap();
    let got: Vec<&str> = all
        .dispatches
        .iter()
        .map(|d| d.dispatch_id.as_str())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(all.next, None);
    for filter in [None, Some("a")] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.list_dispatches(&c, filter, after, 1).await.unwrap();
            seen.extend(page.dispatches.into_iter().map(|d| d.dispatch_id));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let want: Vec<String> = match filter {
            None => ids.clone(),
            Some(_) => vec![ids[0].clone(), ids[2].clone(), ids[3].clone()],
        };
        assert_eq!(seen, want, "pages of 1, send_id {filter:?}");
    }
    let in_time = store
        .dispatches_of_send(&c, "a", NOON_MS + 1, NOON_MS + 3)
        .await
        .unwrap();
    assert_eq!(in_time.len(), 1, "[from, to) of created_at");
    assert_eq!(in_time[0].dispatch_id, ids[2]);
}

pub async fn a_generated_send_id_is_a_pair_that_spends_no_quota(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 10, &[&c]).await;
    let g = unique("gen");
    assert!(!store.pair_exists(&c, &g).await.unwrap());
    store
        .record_dispatch(&dispatch(&c, Some(&g), true, NOON_MS))
        .await
        .unwrap();
    assert!(store.pair_exists(&c, &g).await.unwrap());
    assert!(
        !store.pair_exists(&unique("other"), &g).await.unwrap(),
        "per campaign"
    );
    assert_eq!(store.used_on(&w.id, day()).await.unwrap(), 0);
    // Create finds it: no quota.
    create(store.as_ref(), &w, &c, &g, NOON_MS).await.unwrap();
    assert_eq!(store.used_on(&w.id, day()).await.unwrap(), 0);
}

pub async fn stats_are_replaced_whole_and_go_with_their_campaign(store: Arc<dyn Store>) {
    let c = unique("c");
    setup(store.as_ref(), 10, &[&c]).await;
    let day = |date: &str, opens| DayStats {
        date: date.into(),
        opens,
        ..DayStats::default()
    };
    assert!(store.send_stats(&c, "s").await.unwrap().is_empty());
    store
        .set_send_stats(&c, "s", &[day("2026-11-26", 1), day("2026-11-27", 2)])
        .await
        .unwrap();
    assert_eq!(store.send_stats(&c, "s").await.unwrap().len(), 2);
    store
        .set_send_stats(&c, "s", &[day("2026-11-27", 5)])
        .await
        .unwrap();
    assert_eq!(
        store.send_stats(&c, "s").await.unwrap(),
        vec![day("2026-11-27", 5)]
    );
    store
        .record_dispatch(&dispatch(&c, Some("s"), true, NOON_MS))
        .await
        .unwrap();
    assert!(store.delete_campaign(&c).await.unwrap());
    assert!(store.send_stats(&c, "s").await.unwrap().is_empty());
    let left = store.list_dispatches(&c, None, None, 10).await.unwrap();
    assert!(
        left.dispatches.is_empty(),
        "a campaign's dispatches go with it"
    );
    assert!(!store.pair_exists(&c, "s").await.unwrap());
}

pub async fn dispatches_and_stats_survive_reopening(place: &Place) {
    let store = place.open().await;
    let c = unique("c");
    setup(store.as_ref(), 10, &[&c]).await;
    let d = dispatch(&c, Some("kept"), true, NOON_MS);
    store.record_dispatch(&d).await.unwrap();
    let stats = [DayStats {
        date: "2026-11-27".into(),
        delivered: 4,
        revenue: 2.5,
        ..DayStats::default()
    }];
    store.set_send_stats(&c, "kept", &stats).await.unwrap();
    store.close().await.unwrap();
    drop(store);
    let store = place.open().await;
    let listed = store
        .list_dispatches(&c, Some("kept"), None, 10)
        .await
        .unwrap();
    assert_eq!(listed.dispatches.len(), 1);
    assert_eq!(listed.dispatches[0].dispatch_id, d.dispatch_id);
    assert!(store.pair_exists(&c, "kept").await.unwrap());
    assert_eq!(store.send_stats(&c, "kept").await.unwrap(), stats.to_vec());
    store.close().await.unwrap();
}
