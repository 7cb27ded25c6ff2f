//! Fills a stopped sendid's data directory with pairs, for `bench/run --preload N`: the
//! "durable new pairs, N pairs already stored" row is measured on a store that already holds N
//! pairs, so growth of time or memory with the data shows.
//!
//! It writes through the library's own [`SledStore`] and its `create_send_id`, the path a
//! request takes after authentication, so usage counters, campaign sequences and the
//! creation-order index stay exactly as consistent as if every pair had come over HTTP; it only
//! skips HTTP, and keeps many creations in flight so group commit writes them in large groups.
//!
//! ```text
//! cargo bench --bench preload -- --data-dir DIR --workspace ID --campaign bench --count 1000000
//! ```
//! (A bench target without a harness: `cargo bench` builds it with the release profile and runs
//! it; it is not part of `cargo test`.)
//! The workspace and campaign must exist (bench/run creates them through the admin API first)
//! and the workspace's daily quota must have room for `--count` more pairs. Prints one JSON line.
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use futures_util::StreamExt;
use sendid::clock::{Clock, SystemClock};
use sendid::domain::{SendId, UtcDay};
use sendid::store::{CreateOutcome, NewSendId, SledStore, Store, StoreOptions};

#[derive(Parser)]
struct Args {
    /// The data directory of a stopped sendid.
    #[arg(long)]
    data_dir: PathBuf,
    /// The workspace whose quota the pairs use.
    #[arg(long)]
    workspace: String,
    /// The campaign the pairs belong to (of that workspace).
    #[arg(long)]
    campaign: String,
    /// How many new pairs to write.
    #[arg(long)]
    count: u64,
    /// Creations in flight at once (the pair writer takes up to 512 in one group).
    #[arg(long, default_value_t = 2048)]
    concurrency: usize,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = SledStore::open(&args.data_dir, StoreOptions::default())?;
    let result = preload(&store, &args).await;
    store.close().await?;
    result
}

async fn preload(store: &dyn Store, args: &Args) -> anyhow::Result<()> {
    let workspace = store
        .workspace(&args.workspace)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no workspace {:?}", args.workspace))?;
    match store.campaign(&args.campaign).await? {
        Some(c) if c.workspace_id == workspace.id => {}
        _ => anyhow::bail!(
            "no campaign {:?} in workspace {:?}",
            args.campaign,
            workspace.id
        ),
    }
    let clock = SystemClock;
    let day = UtcDay::containing(clock.now_seconds());
    let used_before = store.used_on(&workspace.id, day).await?;
    // Sequential ids under a per-run prefix: a second preload never collides with the first.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let run = &run[..8];
    let started = Instant::now();
    let workspace = &workspace;
    let mut outcomes = futures_util::stream::iter(0..args.count)
        .map(|i| {
            let send_id = SendId::parse(format!("preload-{run}-{i:010}"));
            async move {
                let send_id = send_id.map_err(|e| anyhow::anyhow!("{e}"))?;
                let outcome = store
                    .create_send_id(NewSendId {
                        workspace,
                        campaign_id: &args.campaign,
                        send_id: &send_id,
                        now_millis: clock.now_millis(),
                    })
                    .await?;
                anyhow::Ok(outcome)
            }
        })
        .buffer_unordered(args.concurrency);
    let mut created = 0u64;
    while let Some(outcome) = outcomes.next().await {
        match outcome? {
            CreateOutcome::Created(_) => created += 1,
            other => anyhow::bail!("expected a new pair, got {other:?}"),
        }
        if created.is_multiple_of(100_000) {
            eprintln!(
                "preload: {created} pairs in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // The usage counter must have moved by exactly the pairs created (unless the UTC day turned).
    let used_after = store.used_on(&workspace.id, day).await?;
    if UtcDay::containing(clock.now_seconds()) == day && used_after != used_before + created {
        anyhow::bail!("usage counter moved from {used_before} to {used_after} for {created} pairs");
    }
    println!(
        "{}",
        serde_json::json!({
            "pairs": created,
            "seconds": seconds,
            "pairs_per_s": created as f64 / seconds,
            "used_today": used_after,
        })
    );
    Ok(())
}
