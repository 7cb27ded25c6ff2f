//! Two instances on one PostgreSQL database (issue 27's flaky start): a create that finds the
//! record another instance created a moment ago answers a conflict and leaves that record in
//! its own directory at once — not only at its next poll of the change counter — and so does a
//! bootstrap that finds the database set up by another instance. What several instances
//! starting at once with the same `--fixtures` (or none) rely on to answer the fixture keys (or
//! the demo key) as soon as their start is announced.
use sendid::domain::KeyHash;
use sendid::store::{Store, StoreError};

use super::{campaign, key, workspace, Place};

/// Both instances open (and load their directories) before either writes.
async fn two_instances() -> Option<(Place, Vec<std::sync::Arc<dyn Store>>)> {
    let place = Place::new("postgres").await?;
    let first = place.open().await;
    let second = place.open().await;
    Some((place, vec![first, second]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_meets_another_instances_record_holds_it_at_once() {
    let Some((_place, stores)) = two_instances().await else {
        return;
    };
    let (winner, loser) = (&stores[0], &stores[1]);
    let w = workspace(7);
    let c = campaign(&w, "shared-campaign");
    let k = key(&w, 42);
    winner.create_workspace(&w).await.unwrap();
    winner.create_campaign(&c).await.unwrap();
    winner.create_api_key(&k).await.unwrap();

    assert!(matches!(
        loser.create_workspace(&w).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        loser
            .workspace(&w.id)
            .await
            .unwrap()
            .map(|x| x.daily_send_id_quota),
        Some(7)
    );
    assert!(matches!(
        loser.create_campaign(&c).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        loser
            .campaign(&c.campaign_id)
            .await
            .unwrap()
            .map(|x| x.workspace_id),
        Some(w.id.clone())
    );
    // The same key under another id (as a fixture key is, by each instance): found by hash.
    let same_hash = sendid::store::ApiKeyRecord {
        key_id: "another-id".into(),
        ..k.clone()
    };
    assert!(matches!(
        loser.create_api_key(&same_hash).await,
        Err(StoreError::Conflict { .. })
    ));
    let found = loser.api_key_by_hash(&KeyHash(k.hash)).await.unwrap();
    assert_eq!(found.map(|x| x.key_id), Some(k.key_id.clone()));
    for s in &stores {
        s.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_that_finds_another_instances_set_up_holds_it_at_once() {
    let Some((_place, stores)) = two_instances().await else {
        return;
    };
    let (winner, loser) = (&stores[0], &stores[1]);
    let w = workspace(5);
    let c = campaign(&w, "demo-campaign");
    let k = key(&w, 9);
    assert!(winner.bootstrap(&w, &c, &k).await.unwrap());

    let other = workspace(5);
    let (oc, ok) = (campaign(&other, "demo-campaign"), key(&other, 10));
    assert!(!loser.bootstrap(&other, &oc, &ok).await.unwrap());
    assert_eq!(
        loser
            .campaign("demo-campaign")
            .await
            .unwrap()
            .map(|x| x.workspace_id),
        Some(w.id.clone())
    );
    let found = loser.api_key_by_hash(&KeyHash(k.hash)).await.unwrap();
    assert_eq!(found.map(|x| x.key_id), Some(k.key_id.clone()));
    for s in &stores {
        s.close().await.unwrap();
    }
}
