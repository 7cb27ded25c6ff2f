//! `POST /admin/reset`: the store back to its start. The start is what the server began with:
//! the demo workspace (the same ids and the same key, so a test's configuration stays valid)
//! and, with `--fixtures`, the fixtures applied again. The sandbox's own state — rules, journal,
//! clock — goes back to nothing. The store's part is one engine operation, [`Store::reset`].
use poem_openapi::Object;

use crate::clock::Clock;
use crate::demo::DEMO_CAMPAIGN_ID;
use crate::fixtures::Fixtures;
use crate::store::{ApiKeyRecord, Campaign, Store, StoreError, Workspace};

use super::Sandbox;

/// The demo workspace as the server found it at start, restored by every reset.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub workspace: Workspace,
    pub campaign: Campaign,
    /// The workspace's first key: the demo key.
    pub key: ApiKeyRecord,
}

impl Baseline {
    /// The demo workspace with its campaign and first key, when the store has them.
    pub async fn capture(store: &dyn Store) -> Result<Option<Self>, StoreError> {
        let Some(campaign) = store.campaign(DEMO_CAMPAIGN_ID).await? else {
            return Ok(None);
        };
        let Some(workspace) = store.workspace(&campaign.workspace_id).await? else {
            return Ok(None);
        };
        let keys = store.list_api_keys(&workspace.id, None, 1).await?;
        let Some(key) = keys.items.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(Self {
            workspace,
            campaign,
            key,
        }))
    }
}

// The answer of `POST /admin/reset` as it is.
/// What a reset did.
#[derive(Debug, Clone, Object)]
pub struct ResetDone {
    /// What was done.
    pub message: String,
    /// The demo workspace, restored with its campaign and key (the same key as before).
    #[oai(nullable)]
    pub demo_workspace_id: Option<String>,
    /// Only when the server started without a demo workspace and the reset created one: its
    /// key, shown this once.
    #[oai(nullable)]
    pub demo_api_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

/// The store back to its start (`fixtures`: the server's `--fixtures`, applied again; `clock`:
/// the service's clock, for what they create), and `sandbox`'s own state cleared.
pub async fn reset(
    store: &dyn Store,
    fixtures: Option<&Fixtures>,
    clock: &dyn Clock,
    sandbox: &Sandbox,
) -> Result<ResetDone, ResetError> {
    sandbox.clear();
    store.reset().await?;
    let mut done = match (fixtures, sandbox.baseline()) {
        (Some(fixtures), _) => {
            // Applied again to the empty store: the same ids, and the same keys (a generated
            // key is read back from the file it was written to).
            let report = crate::fixtures::apply(store, fixtures, clock)
                .await
                .map_err(|e| ResetError::Setup(e.to_string()))?;
            ResetDone {
                message: format!(
                    "reset: the store holds the fixtures again ({})",
                    report.summary()
                ),
                demo_workspace_id: None,
                demo_api_key: None,
            }
        }
        (None, Some(b)) => {
            store.bootstrap(&b.workspace, &b.campaign, &b.key).await?;
            ResetDone {
                message: "reset: the store holds the demo workspace again (same key)".into(),
                demo_workspace_id: Some(b.workspace.id),
                demo_api_key: None,
            }
        }
        (None, None) => {
            let demo = crate::demo::bootstrap(store, clock)
                .await
                .map_err(|e| ResetError::Setup(format!("{e:#}")))?;
            if let Some(b) = Baseline::capture(store).await? {
                sandbox.set_baseline(b);
            }
            ResetDone {
                message: "reset: the store holds a new demo workspace".into(),
                demo_workspace_id: demo.as_ref().map(|d| d.workspace_id.clone()),
                demo_api_key: demo.map(|d| d.api_key),
            }
        }
    };
    done.message
        .push_str("; fault rules, the request journal and the clock's offset are cleared");
    Ok(done)
}
