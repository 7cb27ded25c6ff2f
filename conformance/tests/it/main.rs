//! Integration tests of the checker: against sendid, a deliberately broken server, a Prism mock,
//! and the binary's exit codes.
mod braze;
mod braze_fake;
mod broken_server;
mod budget;
mod classes;
mod cli;
mod defects;
mod mutants;
mod prism;
mod raw_framing;
mod sandbox;
mod sendid;
mod small_budgets;
mod support;
mod tls;
mod ux;
