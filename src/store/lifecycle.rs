//! The send ID's life after create (docs/contract.md §6), as two resources every engine keeps:
//! dispatches (each `POST /campaigns/trigger/send`, `dispatches.rs` per engine) and the
//! sandbox's per-day stats of a send (`stats.rs` per engine). What they count is decided once,
//! in `domain::analytics`.
use futures_util::future::BoxFuture;

use super::StoreResult;
use crate::domain::{DayStats, Dispatch};

/// A page of a campaign's dispatches.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchPage {
    pub dispatches: Vec<Dispatch>,
    /// The cursor of the next page (a dispatch's `seq`), `None` on the last page.
    pub next: Option<u64>,
}

impl DispatchPage {
    /// A page of `dispatches` in order; when `more` follow, the cursor is the last one's `seq`.
    /// Decided here once for every engine.
    pub(crate) fn new(dispatches: Vec<Dispatch>, more: bool) -> Self {
        let next = if more {
            dispatches.last().map(|d| d.seq)
        } else {
            None
        };
        Self { dispatches, next }
    }
}

/// Dispatches: one per send, never merged (Braze's sends are not idempotent).
pub trait DispatchStore: Send + Sync + 'static {
    /// Whether (campaign_id, send_id) is a pair: created with `/sends/id/create`, or generated
    /// by a broadcast.
    fn pair_exists<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Records a new dispatch, durably before it resolves. When its `send_id_generated`, the
    /// pair (campaign_id, send_id) is created with it, in the same atomic write, spending no
    /// quota. The store assigns `seq`.
    fn record_dispatch<'a>(&'a self, dispatch: &'a Dispatch) -> BoxFuture<'a, StoreResult<()>>;

    /// A campaign's dispatches in creation order after `after`, those of one send ID when
    /// `send_id` is given.
    fn list_dispatches<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: Option<&'a str>,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<DispatchPage>>;

    /// The dispatches of a send ID made in `[from_millis, to_millis)`.
    fn dispatches_of_send<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
        from_millis: i64,
        to_millis: i64,
    ) -> BoxFuture<'a, StoreResult<Vec<Dispatch>>>;
}

/// The per-day stats the sandbox sets for a send ID (`PUT …/send-ids/{send_id}/stats`).
pub trait StatsStore: Send + Sync + 'static {
    /// Replaces the send ID's stats with `days` (one entry per date), durably.
    fn set_send_stats<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
        days: &'a [DayStats],
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// The send ID's stats, by date.
    fn send_stats<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<DayStats>>>;
}
