//! Column metrics for quality monitoring: per field and side, null count
//! and rate, unconvertible count, exact distinct count and min/max; per
//! rule, violations by side. summary.json holds them per entity;
//! `quality_metrics.parquet` holds the same in long form.

use std::collections::BTreeMap;

use polars::prelude::PlHashSet;

use rayon::prelude::*;
use serde::Serialize;

use super::{order, Rule, SideResult};
use crate::compare::Display;
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Entity, Side};

/// Metrics of one field on one side.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldStats {
    pub rows: usize,
    /// Null cells (after normalization: `empty_is_null`, defaults applied).
    pub null_count: usize,
    /// `null_count / rows` (0 for an empty side).
    pub null_rate: f64,
    /// Cells the mapping could not convert (reported as `unconvertible`).
    pub bad_count: usize,
    /// Exact number of distinct typed values, nulls and unconvertible cells excluded.
    pub distinct_count: usize,
    /// Smallest and largest value in display form (masked for personal data).
    pub min: Option<String>,
    pub max: Option<String>,
}

/// One rule's result for summary.json.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleStats {
    pub check: String,
    pub severity: String,
    pub fail: bool,
    /// Findings per side.
    pub violations: BTreeMap<String, usize>,
    /// Violating rows per side (rows sharing a key share one finding).
    pub violating_rows: BTreeMap<String, usize>,
    /// Rows checked per side (after `where`).
    pub rows_checked: BTreeMap<String, usize>,
    /// Check-specific observations per side (`row_count`, `fresh`, skipped sides).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub observed: BTreeMap<String, serde_json::Value>,
}

impl RuleStats {
    pub fn new(rule: &Rule) -> RuleStats {
        RuleStats {
            check: rule.check.name().to_string(),
            severity: rule.severity.as_str().to_string(),
            fail: rule.fail,
            violations: BTreeMap::new(),
            violating_rows: BTreeMap::new(),
            rows_checked: BTreeMap::new(),
            observed: BTreeMap::new(),
        }
    }

    pub fn add_side(&mut self, side: Side, r: &SideResult) {
        let s = side.as_str().to_string();
        self.violations.insert(s.clone(), r.findings.len());
        self.violating_rows.insert(s.clone(), r.rows);
        self.rows_checked.insert(s.clone(), r.checked);
        if let Some(o) = &r.observed {
            self.observed.insert(s, o.clone());
        }
    }

    pub fn total(&self) -> usize {
        self.violations.values().sum()
    }
}

/// The quality part of one entity's summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct QualitySummary {
    /// field → side → metrics (a side whose column is missing is left out).
    pub fields: BTreeMap<String, BTreeMap<String, FieldStats>>,
    /// rule id → result.
    pub rules: BTreeMap<String, RuleStats>,
}

/// Metrics of every field of `entity` on both sides, one pass per column.
pub fn field_metrics(
    entity: &Entity,
    sides: [&PreparedSide; 2],
    display: &dyn Display,
) -> BTreeMap<String, BTreeMap<String, FieldStats>> {
    let jobs: Vec<(usize, Side)> = (0..entity.fields.len())
        .flat_map(|f| Side::BOTH.into_iter().map(move |s| (f, s)))
        .collect();
    let stats: Vec<(usize, Side, Option<FieldStats>)> = jobs
        .par_iter()
        .map(|&(f, side)| (f, side, column_stats(entity, f, sides[side.idx()], display)))
        .collect();
    let mut out: BTreeMap<String, BTreeMap<String, FieldStats>> = BTreeMap::new();
    for (f, side, s) in stats {
        let entry = out.entry(entity.fields[f].name.clone()).or_default();
        if let Some(s) = s {
            entry.insert(side.as_str().to_string(), s);
        }
    }
    out
}

fn column_stats(entity: &Entity, f: usize, s: &PreparedSide, display: &dyn Display) -> Option<FieldStats> {
    let col = &s.fields[f];
    if !col.present {
        return None;
    }
    let mut nulls = 0;
    let mut bad = 0;
    let mut distinct = PlHashSet::default();
    let mut min = None;
    let mut max = None;
    for c in &col.cells {
        match c {
            Cell::Null => nulls += 1,
            Cell::Bad => bad += 1,
            Cell::Val(v) => {
                if !distinct.insert(v) {
                    continue;
                }
                if min.is_none_or(|m| order(v, m) == Some(std::cmp::Ordering::Less)) {
                    min = Some(v);
                }
                if max.is_none_or(|m| order(v, m) == Some(std::cmp::Ordering::Greater)) {
                    max = Some(v);
                }
            }
        }
    }
    Some(FieldStats {
        rows: s.rows,
        null_count: nulls,
        null_rate: if s.rows == 0 { 0.0 } else { nulls as f64 / s.rows as f64 },
        bad_count: bad,
        distinct_count: distinct.len(),
        min: min.map(|v| display.value(entity, f, v)),
        max: max.map(|v| display.value(entity, f, v)),
    })
}
