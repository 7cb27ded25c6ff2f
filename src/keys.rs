//! `sendid keys create`: a way back to a working key that needs no running server and no admin
//! token — the demo key of a data directory is shown only once, and the admin API may be off.
//! It opens the store itself, so on sled it refuses while a server holds the directory (sled's
//! lock); on PostgreSQL (`--database-url`) servers may keep running: they see the key within a
//! second, like any admin change.
use crate::cli::KeysCreate;
use crate::clock::Clock;
use crate::demo::DEMO_CAMPAIGN_ID;
use crate::domain::{Permission, SENDS_ID_CREATE};
use crate::store::{ApiKeyRecord, OpenError, PgStore, SledStore, Store, StoreError, StoreOptions};

/// The key minted by [`create`]; `api_key` is the only copy there will ever be.
#[derive(Debug)]
pub struct MintedKey {
    pub key_id: String,
    pub workspace_id: String,
    pub permissions: Vec<String>,
    pub api_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(
        "{0} is not a sendid data directory yet: start sendid once with --data-dir {0} to \
         create it (with a demo workspace and key)"
    )]
    NoDataDir(String),
    #[error(
        "{0}\nWhile a server runs on it, create keys through its admin API \
         (POST /admin/workspaces/{{id}}/api-keys), or stop the server and run this again"
    )]
    InUse(String),
    #[error(
        "no workspace {0:?} in {1}; list them with GET /admin/workspaces, or use --workspace demo"
    )]
    NoWorkspace(String, String),
    #[error("{0}")]
    Permission(String),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create(args: &KeysCreate, clock: &dyn Clock) -> Result<MintedKey, KeysError> {
    let dir = match &args.database_url {
        Some(url) => crate::store::postgres::describe_url(url),
        None => args.sled.data_dir.display().to_string(),
    };
    let permissions = if args.permissions.is_empty() {
        vec![SENDS_ID_CREATE.to_string()]
    } else {
        args.permissions
            .iter()
            .map(|p| Permission::parse(p).map(|p| p.as_str().to_string()))
            .collect::<Result<_, _>>()
            .map_err(KeysError::Permission)?
    };
    let store: Box<dyn Store> = match &args.database_url {
        Some(url) => Box::new(PgStore::open(url, StoreOptions::default()).await?),
        None => {
            // Opening would create a directory; minting a key into an empty one helps nobody.
            if !args.sled.data_dir.join("db").is_file() {
                return Err(KeysError::NoDataDir(dir));
            }
            Box::new(
                SledStore::open(&args.sled.data_dir, StoreOptions::default()).map_err(
                    |e| match e {
                        locked @ OpenError::Locked { .. } => KeysError::InUse(locked.to_string()),
                        other => KeysError::Open(other),
                    },
                )?,
            )
        }
    };
    let result = mint(store.as_ref(), args, permissions, clock, &dir).await;
    store.close().await?;
    result
}

async fn mint(
    store: &dyn Store,
    args: &KeysCreate,
    permissions: Vec<String>,
    clock: &dyn Clock,
    dir: &str,
) -> Result<MintedKey, KeysError> {
    let workspace = match store.workspace(&args.workspace).await? {
        Some(w) => w,
        None if args.workspace == "demo" => {
            let demo = match store.campaign(DEMO_CAMPAIGN_ID).await? {
                Some(c) => store.workspace(&c.workspace_id).await?,
                None => None,
            };
            demo.ok_or_else(|| KeysError::NoWorkspace(args.workspace.clone(), dir.to_string()))?
        }
        None => {
            return Err(KeysError::NoWorkspace(
                args.workspace.clone(),
                dir.to_string(),
            ))
        }
    };
    let (key, record) = ApiKeyRecord::mint(
        &workspace.id,
        Some(args.name.clone()),
        permissions,
        vec![],
        clock.now_millis(),
    );
    store.create_api_key(&record).await?;
    Ok(MintedKey {
        key_id: record.key_id,
        workspace_id: workspace.id,
        permissions: record.permissions,
        api_key: key.expose().to_string(),
    })
}
