//! The store contract: one generic suite over `dyn Store`, run against every engine — sled in a
//! temporary directory and PostgreSQL in a new database (`sendid_test_support::pg`; skipped with the
//! reason printed when PostgreSQL is missing, failing under `CI=true`). Rules 6–8, concurrency,
//! reopening, bootstrap, revocation, conflicts, listing order and pagination; the admin edits
//! (`edits.rs`).
mod edits;
mod instances;
mod lifecycle;
use edits::*;
use lifecycle::*;
use sendid_test_support::pg;

use std::collections::HashSet;
use std::sync::Arc;

use sendid::domain::{QuotaStatus, SendId, UtcDay};
use sendid::store::{
    ApiKeyRecord, Campaign, CreateOutcome, NewSendId, PgStore, SledStore, Store, StoreError,
    StoreOptions, Workspace,
};

/// 2026-11-27T12:00:00Z
const NOON_MS: i64 = 1_795_780_800_000;

/// Where an engine keeps its data, so a test can open it again.
enum Place {
    Sled(tempfile::TempDir),
    Pg(String),
}

impl Place {
    async fn new(engine: &str) -> Option<Place> {
        match engine {
            "sled" => Some(Place::Sled(tempfile::tempdir().unwrap())),
            _ => pg::database_url().await.map(Place::Pg),
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Place::Sled(dir) => Arc::new(
                SledStore::open(&dir.path().join("data"), StoreOptions::default()).unwrap(),
            ),
            Place::Pg(url) => Arc::new(PgStore::open(url, StoreOptions::default()).await.unwrap()),
        }
    }
}

fn workspace(quota: u64) -> Workspace {
    Workspace {
        id: uuid::Uuid::new_v4().to_string(),
        name: "w".into(),
        daily_send_id_quota: quota,
        created_at: NOON_MS,
        seq: 0,
    }
}

fn campaign(w: &Workspace, id: &str) -> Campaign {
    Campaign {
        campaign_id: id.into(),
        workspace_id: w.id.clone(),
        name: id.into(),
        channel: "email".into(),
        audience_size: 0,
        created_at: NOON_MS,
        seq: 0,
    }
}

fn key(w: &Workspace, n: u8) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: uuid::Uuid::new_v4().to_string(),
        workspace_id: w.id.clone(),
        name: Some(format!("key {n}")),
        permissions: vec!["sends.id.create".into()],
        allowed_ips: vec!["10.0.0.0/8".parse().unwrap()],
        hash: [n; 32],
        created_at: NOON_MS,
        revoked_at: None,
        seq: 0,
    }
}

async fn create(
    store: &dyn Store,
    w: &Workspace,
    c: &str,
    s: &str,
    now_ms: i64,
) -> Result<CreateOutcome, StoreError> {
    let send_id = SendId::parse(s).unwrap();
    store
        .create_send_id(NewSendId {
            workspace: w,
            campaign_id: c,
            send_id: &send_id,
            now_millis: now_ms,
        })
        .await
}

fn used(outcome: CreateOutcome) -> u64 {
    match outcome {
        CreateOutcome::Created(q)
        | CreateOutcome::Existing(q)
        | CreateOutcome::QuotaExhausted(q) => q.used,
    }
}

async fn setup(store: &dyn Store, quota: u64, campaigns: &[&str]) -> Workspace {
    let w = workspace(quota);
    store.create_workspace(&w).await.unwrap();
    for c in campaigns {
        store.create_campaign(&campaign(&w, c)).await.unwrap();
    }
    w
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

// ---- the generic suite -------------------------------------------------------------------

async fn rules_6_to_8(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 2, &[&c]).await;
    let q = |used| QuotaStatus::new(2, used, NOON_MS / 1000);
    let s = store.as_ref();
    assert_eq!(
        create(s, &w, &c, "a", NOON_MS).await.unwrap(),
        CreateOutcome::Created(q(1))
    );
    assert_eq!(
        create(s, &w, &c, "a", NOON_MS).await.unwrap(),
        CreateOutcome::Existing(q(1))
    );
    assert_eq!(
        create(s, &w, &c, "b", NOON_MS).await.unwrap(),
        CreateOutcome::Created(q(2))
    );
    assert_eq!(
        create(s, &w, &c, "c", NOON_MS).await.unwrap(),
        CreateOutcome::QuotaExhausted(q(2))
    );
    // Rule 6 wins over rule 7: an existing pair is 200 when the quota is used up.
    assert_eq!(
        create(s, &w, &c, "a", NOON_MS).await.unwrap(),
        CreateOutcome::Existing(q(2))
    );
    // The next UTC day, the quota is back; an old pair still costs nothing.
    let tomorrow = NOON_MS + 86_400_000;
    let q2 = |used| QuotaStatus::new(2, used, tomorrow / 1000);
    assert_eq!(
        create(s, &w, &c, "a", tomorrow).await.unwrap(),
        CreateOutcome::Existing(q2(0))
    );
    assert_eq!(
        create(s, &w, &c, "c", tomorrow).await.unwrap(),
        CreateOutcome::Created(q2(1))
    );
    let day = |ms: i64| UtcDay::containing(ms / 1000);
    assert_eq!(s.used_on(&w.id, day(NOON_MS)).await.unwrap(), 2);
    assert_eq!(s.used_on(&w.id, day(tomorrow)).await.unwrap(), 1);
}

async fn a_pair_is_per_campaign_and_the_quota_per_workspace(store: Arc<dyn Store>) {
    let (c1, c2) = (unique("c"), unique("c"));
    let w = setup(store.as_ref(), 3, &[&c1, &c2]).await;
    let s = store.as_ref();
    assert!(matches!(
        create(s, &w, &c1, "x", NOON_MS).await.unwrap(),
        CreateOutcome::Created(_)
    ));
    assert!(matches!(
        create(s, &w, &c2, "x", NOON_MS).await.unwrap(),
        CreateOutcome::Created(_)
    ));
    assert_eq!(used(create(s, &w, &c1, "y", NOON_MS).await.unwrap()), 3);
    let other = setup(s, 1, &[]).await;
    assert_eq!(
        s.used_on(&other.id, UtcDay::containing(NOON_MS / 1000))
            .await
            .unwrap(),
        0
    );
}

async fn concurrent_new_pairs_spend_exactly_what_is_left(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 25, &[&c]).await;
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let store = store.clone();
            let (w, c) = (w.clone(), c.clone());
            tokio::spawn(
                async move { create(store.as_ref(), &w, &c, &format!("p{i}"), NOON_MS).await },
            )
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            CreateOutcome::Created(_) => created += 1,
            CreateOutcome::QuotaExhausted(_) => refused += 1,
            CreateOutcome::Existing(_) => panic!("no pair was asked twice"),
        }
    }
    assert_eq!((created, refused), (25, 95));
    let page = store.list_send_ids(&c, None, 1000).await.unwrap();
    assert_eq!(page.entries.len(), 25);
}

/// Requests of two workspaces decided in the same groups: one runs out (its groups must refuse
/// exactly the pairs past its quota), the other has plenty; each is counted on its own, and a
/// repeat of a created pair mixed in costs nothing.
async fn groups_mixing_an_exhausted_workspace_and_a_roomy_one_count_each_exactly(
    store: Arc<dyn Store>,
) {
    let (ca, cb) = (unique("ca"), unique("cb"));
    let a = setup(store.as_ref(), 3, &[&ca]).await;
    let b = setup(store.as_ref(), 1000, &[&cb]).await;
    // One pair of each exists before; its repeats ride along below.
    create(store.as_ref(), &a, &ca, "seed", NOON_MS)
        .await
        .unwrap();
    create(store.as_ref(), &b, &cb, "seed", NOON_MS)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..80)
        .map(|i| {
            let store = store.clone();
            let (w, c) = if i % 2 == 0 {
                (a.clone(), ca.clone())
            } else {
                (b.clone(), cb.clone())
            };
            let send_id = if i % 10 < 2 {
                "seed".to_string()
            } else {
                format!("m{i}")
            };
            tokio::spawn(async move {
                let outcome = create(store.as_ref(), &w, &c, &send_id, NOON_MS).await;
                (w.id, send_id, outcome.unwrap())
            })
        })
        .collect();
    let (mut created_a, mut refused_a, mut created_b) = (0, 0, 0);
    for t in tasks {
        let (w, send_id, outcome) = t.await.unwrap();
        match (w == a.id, outcome) {
            (_, CreateOutcome::Existing(_)) => assert_eq!(send_id, "seed"),
            (true, CreateOutcome::Created(_)) => created_a += 1,
            (true, CreateOutcome::QuotaExhausted(q)) => {
                assert_eq!(q.used, 3);
                refused_a += 1;
            }
            (false, CreateOutcome::Created(_)) => created_b += 1,
            (false, CreateOutcome::QuotaExhausted(_)) => panic!("the roomy workspace refused"),
        }
    }
    // 40 requests each, 8 of them repeats of "seed": a had 2 units left for 32 new pairs.
    assert_eq!((created_a, refused_a, created_b), (2, 30, 32));
    let day = UtcDay::containing(NOON_MS / 1000);
    assert_eq!(store.used_on(&a.id, day).await.unwrap(), 3);
    assert_eq!(store.used_on(&b.id, day).await.unwrap(), 33);
    let listed_a = store
        .list_send_ids(&ca, None, 100)
        .await
        .unwrap()
        .entries
        .len();
    let listed_b = store
        .list_send_ids(&cb, None, 100)
        .await
        .unwrap()
        .entries
        .len();
    assert_eq!((listed_a, listed_b), (3, 33));
}

async fn one_new_pair_asked_at_once_is_created_once(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 10, &[&c]).await;
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let store = store.clone();
            let (w, c) = (w.clone(), c.clone());
            tokio::spawn(async move { create(store.as_ref(), &w, &c, "same", NOON_MS).await })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            CreateOutcome::Created(_) => created += 1,
            CreateOutcome::Existing(q) => assert_eq!(q.used, 1),
            CreateOutcome::QuotaExhausted(_) => panic!("quota left"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(
        store
            .used_on(&w.id, UtcDay::containing(NOON_MS / 1000))
            .await
            .unwrap(),
        1
    );
}

async fn listing_is_in_creation_order_and_pages_without_gaps(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 1000, &[&c]).await;
    let names: Vec<String> = (0..23).map(|i| format!("z{:02}-{}", 22 - i, i)).collect();
    for (i, n) in names.iter().enumerate() {
        create(store.as_ref(), &w, &c, n, NOON_MS + i as i64)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_send_ids(&c, after, 5).await.unwrap();
        assert!(page.entries.len() <= 5);
        seen.extend(page.entries.iter().map(|e| e.send_id.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, names);
    // Workspaces, campaigns and keys list in creation order too, paged.
    let w2 = setup(store.as_ref(), 1, &[]).await;
    let cs: Vec<String> = (0..7).map(|i| format!("{}-{i}", unique("k"))).collect();
    for id in &cs {
        store.create_campaign(&campaign(&w2, id)).await.unwrap();
    }
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_campaigns(&w2.id, cursor.as_ref(), 3)
            .await
            .unwrap();
        listed.extend(page.items.iter().map(|c| c.campaign_id.clone()));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(listed, cs);
    let all = store.list_workspaces(None, 100_000).await.unwrap().items;
    let pos = |id: &str| all.iter().position(|x| x.id == id).unwrap();
    assert!(pos(&w.id) < pos(&w2.id));
}

/// Pairs asked for at once are decided and written in groups (the sled engine keeps a group's
/// pairs of a campaign in one log record): every page size still lists each exactly once, in
/// one order, with pages ending inside a group.
async fn pairs_created_together_list_once_each_at_every_page_size(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 1000, &[&c]).await;
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let store = store.clone();
            let (w, c) = (w.clone(), c.clone());
            tokio::spawn(
                async move { create(store.as_ref(), &w, &c, &format!("g{i}"), NOON_MS).await },
            )
        })
        .collect();
    for t in tasks {
        assert!(matches!(
            t.await.unwrap().unwrap(),
            CreateOutcome::Created(_)
        ));
    }
    let all = store.list_send_ids(&c, None, 1000).await.unwrap();
    assert_eq!(all.next, None);
    let order: Vec<String> = all.entries.iter().map(|e| e.send_id.clone()).collect();
    let mut sorted = order.clone();
    sorted.sort();
    let mut expected: Vec<String> = (0..60).map(|i| format!("g{i}")).collect();
    expected.sort();
    assert_eq!(sorted, expected, "every pair listed exactly once");
    for limit in [1, 2, 7, 59, 60] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.list_send_ids(&c, after, limit).await.unwrap();
            assert!(page.entries.len() <= limit);
            seen.extend(page.entries.iter().map(|e| e.send_id.clone()));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, order, "pages of {limit}");
    }
}

async fn keys_authenticate_until_revoked(store: Arc<dyn Store>) {
    let w = setup(store.as_ref(), 1, &[]).await;
    let n = (uuid::Uuid::new_v4().as_bytes()[0] % 200) + 20;
    let k = key(&w, n);
    store.create_api_key(&k).await.unwrap();
    let found = store.api_key_by_hash(&k.key_hash()).await.unwrap().unwrap();
    assert_eq!(found.allowed_ips, k.allowed_ips);
    assert_eq!(found.permissions, k.permissions);
    assert!(store.revoke_api_key(&k.key_id, NOON_MS).await.unwrap());
    assert!(store
        .api_key_by_hash(&k.key_hash())
        .await
        .unwrap()
        .is_none());
    assert!(!store.revoke_api_key(&k.key_id, NOON_MS).await.unwrap());
    assert!(!store.revoke_api_key("no-such-key", NOON_MS).await.unwrap());
    let listed = store.list_api_keys(&w.id, None, 10).await.unwrap().items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(NOON_MS));
}

async fn a_campaign_id_exists_once_across_workspaces(store: Arc<dyn Store>) {
    let c = unique("c");
    let w = setup(store.as_ref(), 1, &[&c]).await;
    let other = setup(store.as_ref(), 1, &[]).await;
    assert!(matches!(
        store.create_campaign(&campaign(&other, &c)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.campaign(&c).await.unwrap().unwrap().workspace_id,
        w.id
    );
    assert!(store.workspace(&w.id).await.unwrap().is_some());
    assert!(store.workspace("nope").await.unwrap().is_none());
}

async fn store_health_is_ok(store: Arc<dyn Store>) {
    store.health().await.unwrap();
}

/// Everything written is there after closing and opening again; bootstrap happens once.
async fn reopening_keeps_everything(place: &Place) {
    let store = place.open().await;
    let w = workspace(5);
    let c = campaign(&w, "demo-campaign");
    let k = key(&w, 7);
    assert!(store.bootstrap(&w, &c, &k).await.unwrap());
    let w2 = workspace(9);
    assert!(!store
        .bootstrap(&w2, &campaign(&w2, "x"), &key(&w2, 8))
        .await
        .unwrap());
    create(store.as_ref(), &w, "demo-campaign", "kept", NOON_MS)
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = place.open().await;
    assert!(!store
        .bootstrap(&w2, &campaign(&w2, "x"), &key(&w2, 8))
        .await
        .unwrap());
    assert_eq!(
        store
            .workspace(&w.id)
            .await
            .unwrap()
            .unwrap()
            .daily_send_id_quota,
        5
    );
    assert!(store
        .api_key_by_hash(&k.key_hash())
        .await
        .unwrap()
        .is_some());
    assert!(matches!(
        create(store.as_ref(), &w, "demo-campaign", "kept", NOON_MS).await.unwrap(),
        CreateOutcome::Existing(q) if q.used == 1
    ));
    let names: HashSet<_> = store
        .list_send_ids("demo-campaign", None, 10)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.send_id)
        .collect();
    assert_eq!(names, HashSet::from(["kept".to_string()]));
    store.close().await.unwrap();
}

/// Nothing of these workspaces, their campaigns, pairs and keys is left.
async fn assert_as_new(store: &dyn Store, workspaces: &[&Workspace], keys: &[&ApiKeyRecord]) {
    for w in workspaces {
        assert!(store.workspace(&w.id).await.unwrap().is_none());
        let day = UtcDay::containing(NOON_MS / 1000);
        assert_eq!(store.used_on(&w.id, day).await.unwrap(), 0);
    }
    for c in ["demo-campaign", "other-campaign"] {
        assert!(store.campaign(c).await.unwrap().is_none());
        let listed = store.list_send_ids(c, None, 10).await.unwrap();
        assert!(listed.entries.is_empty());
    }
    for k in keys {
        assert!(store
            .api_key_by_hash(&k.key_hash())
            .await
            .unwrap()
            .is_none());
    }
    assert!(store
        .list_workspaces(None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
}

/// `reset` (the sandbox's `POST /admin/reset`): the store is as new — nothing listed, nothing
/// spent, the bootstrap runs again — and stays so after reopening.
async fn reset_leaves_a_new_store_that_stays_reset(place: &Place) {
    let store = place.open().await;
    let w = workspace(3);
    let c = campaign(&w, "demo-campaign");
    let k = key(&w, 9);
    assert!(store.bootstrap(&w, &c, &k).await.unwrap());
    let other = setup(store.as_ref(), 2, &["other-campaign"]).await;
    let other_key = key(&other, 10);
    store.create_api_key(&other_key).await.unwrap();
    create(store.as_ref(), &w, "demo-campaign", "before-reset", NOON_MS)
        .await
        .unwrap();
    create(store.as_ref(), &other, "other-campaign", "o", NOON_MS)
        .await
        .unwrap();

    store.reset().await.unwrap();
    assert_as_new(store.as_ref(), &[&w, &other], &[&k, &other_key]).await;
    // The same records again, as the sandbox restores its demo workspace: a pair that existed
    // before the reset is new again and spends a unit.
    assert!(store.bootstrap(&w, &c, &k).await.unwrap());
    assert!(matches!(
        create(store.as_ref(), &w, "demo-campaign", "before-reset", NOON_MS).await.unwrap(),
        CreateOutcome::Created(q) if q.used == 1
    ));
    store.reset().await.unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = place.open().await;
    assert_as_new(store.as_ref(), &[&w, &other], &[&k, &other_key]).await;
    assert!(
        store.bootstrap(&w, &c, &k).await.unwrap(),
        "a reset store bootstraps again"
    );
    store.close().await.unwrap();
}

// ---- the suite, once per engine ----------------------------------------------------------

macro_rules! suite {
    ($engine:ident) => {
        mod $engine {
            use super::*;

            async fn store() -> Option<(Place, Arc<dyn Store>)> {
                let place = Place::new(stringify!($engine)).await?;
                let store = place.open().await;
                Some((place, store))
            }

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some((_place, store)) = store().await else {
                            return;
                        };
                        super::$name(store.clone()).await;
                        store.close().await.unwrap();
                    }
                };
            }

            case!(rules_6_to_8);
            case!(a_pair_is_per_campaign_and_the_quota_per_workspace);
            case!(concurrent_new_pairs_spend_exactly_what_is_left);
            case!(one_new_pair_asked_at_once_is_created_once);
            case!(groups_mixing_an_exhausted_workspace_and_a_roomy_one_count_each_exactly);
            case!(listing_is_in_creation_order_and_pages_without_gaps);
            case!(pairs_created_together_list_once_each_at_every_page_size);
            case!(keys_authenticate_until_revoked);
            case!(a_campaign_id_exists_once_across_workspaces);
            case!(store_health_is_ok);
            case!(a_changed_quota_applies_to_the_next_pair_and_spent_units_stay_spent);
            case!(deleting_a_campaign_takes_its_pairs_and_keeps_the_quota_spent);
            case!(deleting_a_workspace_takes_its_campaigns_pairs_and_keys);
            case!(a_campaign_renamed_and_a_key_changed_keep_their_identity);
            case!(dispatches_list_in_order_by_send_id_and_page);
            case!(a_generated_send_id_is_a_pair_that_spends_no_quota);
            case!(stats_are_replaced_whole_and_go_with_their_campaign);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dispatches_and_stats_survive_reopening() {
                let Some(place) = Place::new(stringify!($engine)).await else {
                    return;
                };
                super::lifecycle::dispatches_and_stats_survive_reopening(&place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn edits_survive_reopening() {
                let Some(place) = Place::new(stringify!($engine)).await else {
                    return;
                };
                super::edits::edits_survive_reopening(&place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reopening_keeps_everything() {
                let Some(place) = Place::new(stringify!($engine)).await else {
                    return;
                };
                super::reopening_keeps_everything(&place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reset_leaves_a_new_store_that_stays_reset() {
                let Some(place) = Place::new(stringify!($engine)).await else {
                    return;
                };
                super::reset_leaves_a_new_store_that_stays_reset(&place).await;
            }
        }
    };
}

suite!(sled);
suite!(postgres);
