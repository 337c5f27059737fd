//! recon: audit-focused reconciliation of two systems' snapshots.
//!
//! Data flows one way: [`spec`] → [`source`] → [`prepare`] (via
//! [`normalize`]) → [`compare`] / [`quality`] / [`masking`] → [`finding`]s →
//! [`repair`] → [`report`] → [`evidence`] → [`publish`] (to a bucket) →
//! [`notify`] (webhooks). [`run`] strings the stages
//! together, in memory or, for snapshots larger than the memory budget, one
//! [`bucket`] at a time; [`commands`] are the thin CLI layer over it. How a
//! value is shown ([`display`]) sits below the stages that write one, and
//! [`columnar`], the only module that touches polars internals, and
//! [`storage`], the only one that talks to object stores, below all.
//!
//! No module uses one that uses it back: `tests/module_graph.rs` fails on an
//! import cycle between these modules (`.ci/cycles` runs it alone).

pub mod alloc;
pub mod bucket;
pub mod cli;
pub mod columnar;
pub mod commands;
pub mod compare;
pub mod digest;
pub mod display;
pub mod error;
pub mod evidence;
pub mod exit;
pub mod files;
pub mod finding;
pub mod generate;
pub mod infer;
pub mod keys;
pub mod masking;
pub mod memo;
pub mod normalize;
pub mod notify;
pub mod pii;
pub mod prepare;
pub mod publish;
pub mod quality;
pub mod repair;
pub mod report;
pub mod retention;
pub mod run;
pub mod runtime;
pub mod source;
pub mod spec;
pub mod storage;
#[cfg(test)]
mod test_support;
