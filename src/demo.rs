//! The demo workspace a new store starts with (docs/contract.md §3): a workspace, the campaign
//! `demo-campaign` and a key with every permission, so a new user can try each operation at once.
use crate::clock::Clock;
use crate::domain::{DEFAULT_DAILY_QUOTA, KNOWN_PERMISSIONS};
use crate::store::{ApiKeyRecord, Campaign, Store, Workspace};

/// The campaign id of the demo workspace created on a new data directory.
pub const DEMO_CAMPAIGN_ID: &str = "demo-campaign";
/// The demo campaign's segment: what a broadcast of it counts as sent.
pub const DEMO_AUDIENCE_SIZE: u64 = 1000;
/// The send_id Swagger UI's examples use: created by the create operation's "Try it out",
/// then read back by the data series'.
pub const DEMO_SEND_ID: &str = "spring-sale-2026-11-27";

/// What a new data directory was set up with; the key is shown once, at that start.
#[derive(Debug, Clone)]
pub struct Demo {
    pub workspace_id: String,
    pub campaign_id: String,
    pub api_key: String,
}

/// Creates the demo workspace on a new store; `None` when the store was set up before (by this
/// or another instance).
pub async fn bootstrap(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<Option<Demo>> {
    let now = clock.now_millis();
    let workspace = Workspace {
        id: uuid::Uuid::new_v4().to_string(),
        name: "Demo workspace".into(),
        daily_send_id_quota: DEFAULT_DAILY_QUOTA,
        created_at: now,
        seq: 0,
    };
    let campaign = Campaign {
        campaign_id: DEMO_CAMPAIGN_ID.into(),
        workspace_id: workspace.id.clone(),
        name: "Demo campaign".into(),
        channel: crate::domain::series::DEFAULT_CHANNEL.into(),
        audience_size: DEMO_AUDIENCE_SIZE,
        created_at: now,
        seq: 0,
    };
    let (key, record) = ApiKeyRecord::mint(
        &workspace.id,
        Some("demo key".into()),
        // Every operation, so each one's "Try it out" works with the one key.
        KNOWN_PERMISSIONS.iter().map(|p| p.to_string()).collect(),
        vec![],
        now,
    );
    let created = store.bootstrap(&workspace, &campaign, &record).await?;
    Ok(created.then(|| Demo {
        workspace_id: workspace.id,
        campaign_id: campaign.campaign_id,
        api_key: key.expose().to_string(),
    }))
}

/// The id of the workspace that holds `demo-campaign`, while that campaign exists.
pub async fn demo_workspace(store: &dyn Store) -> anyhow::Result<Option<String>> {
    Ok(store
        .campaign(DEMO_CAMPAIGN_ID)
        .await?
        .map(|c| c.workspace_id))
}
