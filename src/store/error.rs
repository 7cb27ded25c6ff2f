//! The store's errors, typed by what went wrong: a record that exists already
//! ([`StoreError::Conflict`], naming which), storage that cannot answer now (a 503), a record
//! that cannot be read; and, apart from those, why a store could not be opened at all
//! ([`OpenError`]: a setting or a data directory to fix, not a moment to wait out).
use std::path::PathBuf;

/// A kind of record the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Workspace,
    Campaign,
    ApiKey,
    Pair,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Workspace => "workspace",
            Resource::Campaign => "campaign",
            Resource::ApiKey => "api key",
            Resource::Pair => "pair",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record to create exists (for a key: its id or its hash).
    #[error("{resource} {id:?} already exists")]
    Conflict { resource: Resource, id: String },
    /// The storage cannot answer now (a full disk, the database down or slow, shutting down);
    /// the cause as the engine gave it. Answered 503: retrying later is safe.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// A record could not be encoded for storage.
    #[error("encoding a record: {0}")]
    Encode(#[source] serde_json::Error),
    /// What storage holds cannot be read (a malformed record or counter).
    #[error("{0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store could not be opened. Each names the data directory or database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `--database-url` cannot be parsed.
    #[error("the database URL is not valid: {0}")]
    BadUrl(#[source] sqlx::Error),
    /// The database did not take the connection.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// Where, without the password (`describe_url`).
        target: String,
        #[source]
        source: sqlx::Error,
    },
    /// `--data-dir` names a file.
    #[error("cannot create data directory {}: it is a file, not a directory", .path.display())]
    NotADirectory { path: PathBuf },
    /// The data directory cannot be created, read or written.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done (`cannot create data directory`, `cannot write`…).
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the data directory (sled's lock).
    #[error(
        "{} is in use by another sendid process (it is locked); stop that process or choose \
         another --data-dir",
        .path.display()
    )]
    Locked { path: PathBuf },
    /// The data directory is damaged, holds an unknown format, or is not a sendid one; the
    /// message says which and what to do. Nothing in it was written.
    #[error("{0}")]
    Damaged(String),
    /// A failure while opening that is not the store's own (an I/O error, the database
    /// stopping mid-way).
    #[error(transparent)]
    Store(#[from] StoreError),
}
