//! Data-quality rules (`[[entity.rule]]`) as the spec declares them,
//! compiled: [`Rule`], its [`Check`] with the check's settings, and the
//! checks a spec may name ([`CHECKS`]). `compile` builds a rule from its
//! TOML and `link` resolves `references` across entities, both while the
//! spec is read; running rules over prepared sides is `quality`'s.

mod compile;
mod link;

use std::collections::BTreeSet;

use regex::Regex;

use crate::normalize::Value;
use crate::pii::Validator;
use crate::spec::expr::Expr;
use crate::spec::{Severity, Side};

pub use compile::{inner_span, parse_duration, DurationError};
pub use link::{link_rules, LinkAt, LinkError};

pub const CHECKS: &[&str] = &[
    "not_null",
    "unique",
    "pattern",
    "range",
    "allowed",
    "length",
    "valid",
    "references",
    "fresh",
    "expr",
    "row_count",
    "policy",
];

/// Which side of the other entity a `references` rule looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Same,
    Other,
    Fixed(Side),
}

impl On {
    pub fn target(self, side: Side) -> Side {
        match self {
            On::Same => side,
            On::Other => side.other(),
            On::Fixed(s) => s,
        }
    }
}

#[derive(Debug, Clone)]
pub struct References {
    /// Name of the other entity, as written.
    pub entity: String,
    /// Index of the other entity (set by [`link_rules`]).
    pub target: usize,
    /// Field names in the other entity, as written.
    pub to_names: Vec<String>,
    /// Field indices in the other entity (set by [`link_rules`]).
    pub to: Vec<usize>,
    pub on: On,
}

#[derive(Debug, Clone)]
pub enum Check {
    NotNull,
    Unique,
    Pattern(Regex),
    Allowed(BTreeSet<String>),
    Length {
        min: Option<usize>,
        max: Option<usize>,
    },
    /// Bounds converted per side (naive timestamps read in each side's zone).
    Range {
        min: Option<[Value; 2]>,
        max: Option<[Value; 2]>,
        min_exclusive: bool,
        max_exclusive: bool,
    },
    Valid(Validator),
    Expr(Expr),
    References(References),
    /// Newest timestamp at most `max_age_s` seconds before the run start.
    Fresh {
        max_age_s: i64,
        text: String,
    },
    /// Row count within `max_change` (ratio) of the baseline run's.
    RowCount {
        max_change: f64,
    },
    /// A set field holds only the elements its row's `by` value allows.
    Policy(Policy),
}

/// The settings of a `policy` rule.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The field whose value (as shown) selects the allowed elements.
    pub by: usize,
    /// Per value of `by`, the elements allowed.
    pub allowed: std::collections::BTreeMap<String, BTreeSet<String>>,
}

impl Check {
    pub fn name(&self) -> &'static str {
        match self {
            Check::NotNull => "not_null",
            Check::Unique => "unique",
            Check::Pattern(_) => "pattern",
            Check::Allowed(_) => "allowed",
            Check::Length { .. } => "length",
            Check::Range { .. } => "range",
            Check::Valid(_) => "valid",
            Check::Expr(_) => "expr",
            Check::References(_) => "references",
            Check::Fresh { .. } => "fresh",
            Check::RowCount { .. } => "row_count",
            Check::Policy(_) => "policy",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub check: Check,
    /// Field indices checked (several for `unique` and `references`; for
    /// `expr` every field the expression reads; for `policy` the set, then
    /// `by`; none for `row_count`).
    pub fields: Vec<usize>,
    pub sides: Vec<Side>,
    pub severity: Severity,
    /// False: the rule reports but never fails the run.
    pub fail: bool,
    /// `where`: only rows where this is definitely true are checked.
    pub filter: Option<Expr>,
}
