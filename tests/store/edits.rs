//! The admin edits of the store contract (issue 19): a workspace's name and quota changed, a
//! campaign renamed or deleted (its pairs with it, the quota they spent kept), a key changed, a
//! workspace deleted with everything under it — each seen at once and kept across a reopening.
use std::sync::Arc;

use sendid::domain::UtcDay;
use sendid::store::{CreateOutcome, Store, WorkspaceChange};

use super::{campaign, create, key, setup, unique, used, Place, NOON_MS};

fn day() -> UtcDay {
    UtcDay::containing(NOON_MS / 1000)
}

pub async fn a_changed_quota_applies_to_the_next_pair_and_spent_units_stay_spent(
    store: Arc<dyn Store>,
) {
    let c = unique("c");
    let w = setup(store.as_ref(), 2, &[&c]).await;
    for s in ["a", "b"] {
        create(store.as_ref(), &w, &c, s, NOON_MS).await.unwrap();
    }
    let raise = WorkspaceChange {
        daily_send_id_quota: Some(3),
        ..WorkspaceChange::default()
    };
    let w = store
        .update_workspace(&w.id, &raise)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((w.daily_send_id_quota, w.name.as_str()), (3, "w"));
    assert!(matches!(
        create(store.as_ref(), &w, &c, "c", NOON_MS).await.unwrap(),
        CreateOutcome::Created(q) if q.used == 3 && q.limit == 3
    ));
    let lower = WorkspaceChange {
        name: Some("renamed".into()),
        daily_send_id_quota: Some(1),
    };
    let w = store
        .update_workspace(&w.id, &lower)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.workspace(&w.id).await.unwrap().unwrap(), w);
    assert_eq!(w.name, "renamed");
    assert!(matches!(
        create(store.as_ref(), &w, &c, "d", NOON_MS).await.unwrap(),
        CreateOutcome::QuotaExhausted(_)
    ));
    assert_eq!(store.used_on(&w.id, day()).await.unwrap(), 3);
    let same = store
        .update_workspace(&w.id, &WorkspaceChange::default())
        .await
        .unwrap();
    assert_eq!(same, Some(w));
    assert!(store
        .update_workspace("no-such-workspace", &raise)
        .await
        .unwrap()
        .is_none());
}

pub async fn deleting_a_campaign_takes_its_pairs_and_keeps_the_quota_spent(store: Arc<dyn Store>) {
    let (gone, kept) = (unique("gone"), unique("kept"));
    let w = setup(store.as_ref(), 10, &[&gone, &kept]).await;
    for (c, s) in [(&gone, "a"), (&gone, "b"), (&kept, "a")] {
        create(store.as_ref(), &w, c, s, NOON_MS).await.unwrap();
    }
    assert!(store.delete_campaign(&gone).await.unwrap());
    assert!(!store.delete_campaign(&gone).await.unwrap());
    assert!(store.campaign(&gone).await.unwrap().is_none());
    assert!(store
        .list_send_ids(&gone, None, 10)
        .await
        .unwrap()
        .entries
        .is_empty());
    assert_eq!(
        store
            .list_send_ids(&kept, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
    assert_eq!(store.used_on(&w.id, day()).await.unwrap(), 3);
    let listed = store.list_campaigns(&w.id, None, 10).await.unwrap().items;
    assert_eq!(listed.len(), 1);

    // The id is free again, and its old pairs are not: "a" is a new pair, spending a unit.
    store.create_campaign(&campaign(&w, &gone)).await.unwrap();
    let again = create(store.as_ref(), &w, &gone, "a", NOON_MS)
        .await
        .unwrap();
    assert!(matches!(again, CreateOutcome::Created(_)), "{again:?}");
    assert_eq!(used(again), 4);
}

pub async fn deleting_a_workspace_takes_its_campaigns_pairs_and_keys(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 10, &[&c]).await;
    let other_c = unique("other");
    let other = setup(store.as_ref(), 10, &[&other_c]).await;
    let n = (uuid::Uuid::new_v4().as_bytes()[0] % 100) + 100;
    let k = key(&w, n);
    store.create_api_key(&k).await.unwrap();
    // 200..=255 or 0..=43: never one of this workspace's 100..=199.
    let other_key = key(&other, n.wrapping_add(100));
    store.create_api_key(&other_key).await.unwrap();
    create(store.as_ref(), &w, &c, "a", NOON_MS).await.unwrap();
    create(store.as_ref(), &other, &other_c, "a", NOON_MS)
        .await
        .unwrap();

    assert!(store.delete_workspace(&w.id).await.unwrap());
    assert!(!store.delete_workspace(&w.id).await.unwrap());
    assert!(store.workspace(&w.id).await.unwrap().is_none());
    assert!(store.campaign(&c).await.unwrap().is_none());
    assert!(store
        .api_key_by_hash(&k.key_hash())
        .await
        .unwrap()
        .is_none());
    assert!(store
        .list_api_keys(&w.id, None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store
        .list_campaigns(&w.id, None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store
        .list_send_ids(&c, None, 10)
        .await
        .unwrap()
        .entries
        .is_empty());
    assert_eq!(store.used_on(&w.id, day()).await.unwrap(), 0);
    let listed = store.list_workspaces(None, 1000).await.unwrap().items;
    assert!(listed.iter().all(|x| x.id != w.id));

    // The other workspace is untouched.
    assert!(store
        .api_key_by_hash(&other_key.key_hash())
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .list_send_ids(&other_c, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
    assert_eq!(store.used_on(&other.id, day()).await.unwrap(), 1);
}

pub async fn a_campaign_renamed_and_a_key_changed_keep_their_identity(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 1, &[&c]).await;
    assert!(store.rename_campaign(&c, "New name").await.unwrap());
    assert_eq!(store.campaign(&c).await.unwrap().unwrap().name, "New name");
    assert!(!store
        .rename_campaign("no-such-campaign", "x")
        .await
        .unwrap());

    let n = (uuid::Uuid::new_v4().as_bytes()[0] % 50) + 1;
    let k = key(&w, n);
    store.create_api_key(&k).await.unwrap();
    let mut changed = k.clone();
    changed.name = Some("changed".into());
    changed.allowed_ips = vec![];
    assert!(store.update_api_key(&changed).await.unwrap());
    let found = store.api_key_by_hash(&k.key_hash()).await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_deref(), found.allowed_ips.len()),
        (Some("changed"), 0)
    );
    assert_eq!(found.key_id, k.key_id);
    // A revoked key stays revoked when changed.
    assert!(store.revoke_api_key(&k.key_id, NOON_MS).await.unwrap());
    assert!(store.update_api_key(&k).await.unwrap());
    assert!(store
        .api_key_by_hash(&k.key_hash())
        .await
        .unwrap()
        .is_none());
    let mut missing = k.clone();
    missing.key_id = "no-such-key".into();
    assert!(!store.update_api_key(&missing).await.unwrap());
}

/// The edits are durable: after closing and opening again they all hold.
pub async fn edits_survive_reopening(place: &Place) {
    let store = place.open().await;
    let (renamed, deleted, other_c) = (unique("r"), unique("d"), unique("o"));
    let w = setup(store.as_ref(), 4, &[&renamed, &deleted]).await;
    let other = setup(store.as_ref(), 4, &[&other_c]).await;
    create(store.as_ref(), &w, &deleted, "a", NOON_MS)
        .await
        .unwrap();
    let change = WorkspaceChange {
        name: Some("after".into()),
        daily_send_id_quota: Some(7),
    };
    store.update_workspace(&w.id, &change).await.unwrap();
    store.rename_campaign(&renamed, "renamed").await.unwrap();
    store.delete_campaign(&deleted).await.unwrap();
    store.delete_workspace(&other.id).await.unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = place.open().await;
    let found = store.workspace(&w.id).await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), found.daily_send_id_quota),
        ("after", 7)
    );
    assert_eq!(
        store.campaign(&renamed).await.unwrap().unwrap().name,
        "renamed"
    );
    assert!(store.campaign(&deleted).await.unwrap().is_none());
    assert!(store
        .list_send_ids(&deleted, None, 10)
        .await
        .unwrap()
        .entries
        .is_empty());
    assert_eq!(store.used_on(&w.id, day()).await.unwrap(), 1);
    assert!(store.workspace(&other.id).await.unwrap().is_none());
    assert!(store.campaign(&other_c).await.unwrap().is_none());
    store.close().await.unwrap();
}
