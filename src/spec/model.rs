//! The spec file as written: serde types that mirror the TOML one to one.
//!
//! Everything here is raw and unchecked; `spec::compile` turns it into the
//! validated [`crate::spec::Spec`]. Values whose errors must point at a line
//! are wrapped in [`Spanned`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    pub run: RawRun,
    pub sides: RawSides,
    #[serde(rename = "entity")]
    pub entities: Vec<RawEntity>,
    #[serde(default)]
    pub fail: RawFail,
    /// Object-store settings for every source URL and `--out` bucket.
    #[serde(default)]
    pub storage: Option<RawStorage>,
    /// Alerts sent when a run ends.
    #[serde(default)]
    pub notify: Option<RawNotify>,
}

/// `[notify]`: webhooks told of a run's outcome.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// `failure` (default: when a threshold is hit) or `always`.
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<RawWebhook>,
}

/// `[[notify.webhook]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// The URL; a secret, so usually `${NAME}` of an environment variable.
    pub url: Spanned<String>,
    /// `json` (default), `slack`, `dingtalk` or `wecom`.
    #[serde(default)]
    pub format: Option<Spanned<String>>,
    /// Overrides `[notify] when` for this webhook.
    #[serde(default)]
    pub when: Option<Spanned<String>>,
}

/// `[storage]` or a source's `storage = { ... }`: non-secret object-store
/// settings (strings, numbers or booleans), checked by `storage::Settings`.
pub type RawStorage = Spanned<std::collections::BTreeMap<String, toml::Value>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub name: String,
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Repair files to write: `parquet` (default), `jsonl`, `both`, optionally `,csv`.
    #[serde(default)]
    pub repairs_format: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSides {
    pub left: String,
    pub right: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntity {
    pub name: Spanned<String>,
    pub key: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub authority: Option<Spanned<String>>,
    /// Field whose value says which side is newer (for `authority = "latest"`).
    #[serde(default)]
    pub updated_at: Option<Spanned<String>>,
    /// Rows deleted on the authoritative side: "review" (default) or "propagate".
    #[serde(default)]
    pub deletes: Option<Spanned<String>>,
    pub left: RawSource,
    pub right: RawSource,
    #[serde(rename = "field")]
    pub fields: Vec<RawField>,
    #[serde(rename = "rule", default)]
    pub rules: Vec<RawRule>,
    /// Severity of drift findings by kind, e.g. `{ missing_left = "warning" }`.
    #[serde(default)]
    pub severity: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub path: Spanned<String>,
    #[serde(default)]
    pub format: Option<Spanned<String>>,
    #[serde(default)]
    pub encoding: Option<Spanned<String>>,
    #[serde(default)]
    pub delimiter: Option<Spanned<String>>,
    #[serde(default)]
    pub quote: Option<Spanned<String>>,
    /// Time zone of naive timestamps exported by this system.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// CSV only: unquoted field texts read as null (default `[""]`).
    #[serde(default)]
    pub null_values: Option<Spanned<Vec<String>>>,
    /// Accept a file with no rows (a header-only CSV) as zero rows.
    #[serde(default)]
    pub allow_empty: Option<Spanned<bool>>,
    /// This source's object-store settings, over `[storage]`.
    #[serde(default)]
    pub storage: Option<RawStorage>,
    /// The database table the source was exported from (`schema.table`),
    /// which `recon sql` writes statements against.
    #[serde(default)]
    pub table: Option<Spanned<String>>,
}

/// A value given once for both sides or per side: `x` or `{ left = x, right = y }`.
/// A table with any key besides `left` and `right` is one value for both
/// sides (so a value map `{ "A" = "active" }` applies to both).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PerSide<T> {
    Sides(BySide<T>),
    Both(T),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BySide<T> {
    #[serde(default = "none")]
    left: Option<T>,
    #[serde(default = "none")]
    right: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T: Clone> PerSide<T> {
    pub fn left(&self) -> Option<T> {
        match self {
            PerSide::Sides(s) => s.left.clone(),
            PerSide::Both(v) => Some(v.clone()),
        }
    }
    pub fn right(&self) -> Option<T> {
        match self {
            PerSide::Sides(s) => s.right.clone(),
            PerSide::Both(v) => Some(v.clone()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    pub name: Spanned<String>,
    #[serde(default)]
    pub left: Option<String>,
    #[serde(default)]
    pub right: Option<String>,
    #[serde(default, rename = "type")]
    pub ty: Option<Spanned<String>>,
    #[serde(default)]
    pub formats: Option<Vec<String>>,
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub true_values: Option<Vec<String>>,
    #[serde(default)]
    pub false_values: Option<Vec<String>>,
    /// `set`: the text between elements, once or per side (none: lists).
    #[serde(default)]
    pub separator: Option<Spanned<PerSide<String>>>,
    #[serde(default)]
    pub normalize: Option<Spanned<PerSide<Vec<String>>>>,
    #[serde(default)]
    pub map: Option<Spanned<PerSide<BTreeMap<String, String>>>>,
    /// What happens to a value absent from `map`: "error" (unconvertible) or "keep".
    #[serde(default)]
    pub unmapped: Option<Spanned<String>>,
    #[serde(default)]
    pub default: Option<PerSide<String>>,
    #[serde(default)]
    pub tolerance: Option<Spanned<RawTolerance>>,
    #[serde(default)]
    pub compare: Option<bool>,
    #[serde(default)]
    pub severity: Option<Spanned<String>>,
    #[serde(default)]
    pub pii: Option<Spanned<String>>,
    #[serde(default)]
    pub mask: Option<Spanned<PerSide<String>>>,
    #[serde(default)]
    pub scan: Option<Spanned<bool>>,
    /// Field-level source of truth for repairs (overrides the entity's).
    #[serde(default)]
    pub authority: Option<Spanned<String>>,
    /// Format repairs write dates/timestamps in, per side (chrono strftime or "rfc3339").
    #[serde(default)]
    pub write: Option<Spanned<PerSide<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTolerance {
    #[serde(default)]
    pub abs: Option<toml::Value>,
    #[serde(default)]
    pub rel: Option<f64>,
    #[serde(default)]
    pub seconds: Option<i64>,
    #[serde(default)]
    pub date: Option<bool>,
}

/// One `[[entity.rule]]`. Check options are all optional here; each check
/// refuses the options that do not apply to it (see `rule::Rule::compile`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: Spanned<String>,
    pub check: Spanned<String>,
    #[serde(default)]
    pub field: Option<Spanned<String>>,
    #[serde(default)]
    pub fields: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub side: Option<Spanned<String>>,
    #[serde(default)]
    pub severity: Option<Spanned<String>>,
    #[serde(default)]
    pub fail: Option<bool>,
    /// Row filter in the expression language; the rule sees only rows where it is true.
    #[serde(default, rename = "where")]
    pub filter: Option<Spanned<String>>,
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
    #[serde(default)]
    pub values: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub min: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub max: Option<Spanned<toml::Value>>,
    /// `range`: exclude the bound itself.
    #[serde(default)]
    pub min_exclusive: Option<Spanned<bool>>,
    #[serde(default)]
    pub max_exclusive: Option<Spanned<bool>>,
    #[serde(default)]
    pub validator: Option<Spanned<String>>,
    /// `valid` with `cn_resident_id`: also accept 15-digit legacy IDs.
    #[serde(default)]
    pub allow_legacy: Option<Spanned<bool>>,
    /// `expr`: the boolean expression every row must satisfy.
    #[serde(default)]
    pub expr: Option<Spanned<String>>,
    /// `references`: the other entity.
    #[serde(default)]
    pub entity: Option<Spanned<String>>,
    #[serde(default)]
    pub to: Option<Spanned<String>>,
    #[serde(default)]
    pub to_fields: Option<Spanned<Vec<String>>>,
    /// `references`: `same` | `other` | `left` | `right`.
    #[serde(default)]
    pub on: Option<Spanned<String>>,
    /// `fresh`: e.g. `"36h"`.
    #[serde(default)]
    pub max_age: Option<Spanned<String>>,
    /// `row_count`: allowed change against the baseline run, as a ratio.
    #[serde(default)]
    pub max_change: Option<Spanned<toml::Value>>,
    /// `policy`: the field whose value selects the allowed elements.
    #[serde(default)]
    pub by: Option<Spanned<String>>,
    /// `policy`: per value of `by`, the elements the set may hold.
    #[serde(default)]
    pub allowed: Option<Spanned<BTreeMap<String, Vec<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFail {
    #[serde(default)]
    pub on: Option<Spanned<String>>,
    #[serde(default)]
    pub max_drift_ratio: Option<f64>,
}
