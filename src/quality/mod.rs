//! Data-quality checks: running the spec's rules (`[[entity.rule]]`,
//! compiled and linked by `spec::rule`) over every row of the declared
//! side(s) after normalization, and the column metrics of each side.
//!
//! Each violating row is one finding (`category = "quality"`, `kind` = the
//! check). Rules look at prepared (typed) cells, so a rule on a decimal field
//! compares decimals, not text. Rules never read a source again: every rule
//! of every entity runs over the cells prepared once per side, and
//! `references` reads the other entity's prepared side.
//!
//! Rows sharing one key (duplicate keys) give one finding per rule, side and
//! key, so a finding id is never repeated within a run; the detail says how
//! many rows it stands for.
//!
//! `check` runs the rules over prepared sides; `expr` evaluates the `expr`
//! language, `global` gathers the whole-side facts of a bucketed run,
//! `metrics` the column metrics, and `baseline` holds the earlier run's
//! row counts `row_count` compares with.

mod baseline;
mod check;
pub mod expr;
pub mod global;
pub mod metrics;

pub use baseline::Baseline;
pub use check::{check, Context, Outcome, SideResult};
pub use metrics::{FieldStats, QualitySummary, RuleStats};

#[cfg(test)]
mod tests;
