//! What goes over the wire, one job per file: the wire types ([`wire`]), the client that sends
//! them ([`client`]), the retry of busy answers ([`retry`]), the raw socket for a large body a
//! server refuses unread ([`raw`]), requests for people and as `curl` ([`curl`]), values as text
//! ([`text`]).
mod client;
mod curl;
mod raw;
mod retry;
mod text;
mod wire;

pub use client::Target;
pub use retry::{Busy, Retried, RetryPolicy, GIVE_UP_AFTER};
pub use text::{excerpt, quote, quote_or};
pub use wire::{now_epoch_seconds, Auth, Request, Response, Secret, TransportError};
