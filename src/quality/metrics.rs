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
use crate::normalize::Value;
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
    /// Number of distinct typed values, nulls and unconvertible cells
    /// excluded: exact, except in bucketed runs (see `distinct_estimated`).
    pub distinct_count: usize,
    /// True when `distinct_count` is a HyperLogLog estimate (bucketed runs:
    /// a value may occur in many buckets; standard error about 0.8%).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub distinct_estimated: bool,
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

    /// Adds the same rule's result on another bucket of the entity.
    pub fn absorb(&mut self, other: RuleStats) {
        let add = |into: &mut BTreeMap<String, usize>, from: BTreeMap<String, usize>| {
            for (side, n) in from {
                *into.entry(side).or_default() += n;
            }
        };
        add(&mut self.violations, other.violations);
        add(&mut self.violating_rows, other.violating_rows);
        add(&mut self.rows_checked, other.rows_checked);
        for (side, o) in other.observed {
            self.observed.entry(side).or_insert(o);
        }
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
    // Sized for the rows up front: growing a set of a million values
    // rehashes it a dozen times.
    let mut distinct = PlHashSet::with_capacity_and_hasher(col.cells.len(), Default::default());
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
        distinct_estimated: false,
        min: min.map(|v| display.value(entity, f, v)),
        max: max.map(|v| display.value(entity, f, v)),
    })
}

/// Metrics of one field and side gathered bucket by bucket: counts add up,
/// min and max are kept typed, distinct values go into a sketch.
#[derive(Debug, Clone)]
pub struct ColumnAcc {
    rows: usize,
    nulls: usize,
    bad: usize,
    min: Option<Value>,
    max: Option<Value>,
    sketch: Sketch,
}

/// Per field and side (None where the column is missing) for a bucketed run.
pub type EntityAcc = Vec<[Option<ColumnAcc>; 2]>;

/// Adds one bucket of `entity` to `acc` (empty on the first call).
pub fn accumulate(entity: &Entity, sides: [&PreparedSide; 2], acc: &mut EntityAcc) {
    if acc.is_empty() {
        acc.resize_with(entity.fields.len(), || [None, None]);
    }
    let jobs: Vec<(usize, Side)> = (0..entity.fields.len())
        .flat_map(|f| Side::BOTH.into_iter().map(move |s| (f, s)))
        .collect();
    let parts: Vec<(usize, Side, Option<ColumnAcc>)> = jobs
        .par_iter()
        .map(|&(f, side)| (f, side, column_acc(f, sides[side.idx()])))
        .collect();
    for (f, side, part) in parts {
        let Some(part) = part else { continue };
        let slot = &mut acc[f][side.idx()];
        match slot {
            None => *slot = Some(part),
            Some(a) => a.merge(part),
        }
    }
}

/// The metrics of a bucketed run, in the shape of [`field_metrics`].
pub fn finish(
    entity: &Entity,
    acc: &EntityAcc,
    display: &dyn Display,
) -> BTreeMap<String, BTreeMap<String, FieldStats>> {
    let mut out: BTreeMap<String, BTreeMap<String, FieldStats>> = BTreeMap::new();
    for (f, sides) in acc.iter().enumerate() {
        let entry = out.entry(entity.fields[f].name.clone()).or_default();
        for side in Side::BOTH {
            let Some(a) = &sides[side.idx()] else { continue };
            entry.insert(
                side.as_str().to_string(),
                FieldStats {
                    rows: a.rows,
                    null_count: a.nulls,
                    null_rate: if a.rows == 0 {
                        0.0
                    } else {
                        a.nulls as f64 / a.rows as f64
                    },
                    bad_count: a.bad,
                    distinct_count: a.sketch.estimate(),
                    distinct_estimated: true,
                    min: a.min.as_ref().map(|v| display.value(entity, f, v)),
                    max: a.max.as_ref().map(|v| display.value(entity, f, v)),
                },
            );
        }
    }
    out
}

fn column_acc(f: usize, s: &PreparedSide) -> Option<ColumnAcc> {
    let col = &s.fields[f];
    if !col.present {
        return None;
    }
    let mut acc = ColumnAcc {
        rows: s.rows,
        nulls: 0,
        bad: 0,
        min: None,
        max: None,
        sketch: Sketch::default(),
    };
    let (mut min, mut max): (Option<&Value>, Option<&Value>) = (None, None);
    for c in &col.cells {
        match c {
            Cell::Null => acc.nulls += 1,
            Cell::Bad => acc.bad += 1,
            Cell::Val(v) => {
                acc.sketch.insert(v);
                if min.is_none_or(|m| order(v, m) == Some(std::cmp::Ordering::Less)) {
                    min = Some(v);
                }
                if max.is_none_or(|m| order(v, m) == Some(std::cmp::Ordering::Greater)) {
                    max = Some(v);
                }
            }
        }
    }
    acc.min = min.cloned();
    acc.max = max.cloned();
    Some(acc)
}

impl ColumnAcc {
    fn merge(&mut self, o: ColumnAcc) {
        self.rows += o.rows;
        self.nulls += o.nulls;
        self.bad += o.bad;
        self.sketch.merge(&o.sketch);
        if let Some(v) = o.min {
            if self
                .min
                .as_ref()
                .is_none_or(|m| order(&v, m) == Some(std::cmp::Ordering::Less))
            {
                self.min = Some(v);
            }
        }
        if let Some(v) = o.max {
            if self
                .max
                .as_ref()
                .is_none_or(|m| order(&v, m) == Some(std::cmp::Ordering::Greater))
            {
                self.max = Some(v);
            }
        }
    }
}

/// HyperLogLog with 2^14 one-byte registers (Flajolet et al. 2007, with
/// linear counting for small cardinalities): 16 KiB per column and side,
/// standard error 1.04/√16384 ≈ 0.8%, and exact-looking for small counts.
#[derive(Debug, Clone)]
pub struct Sketch {
    registers: Vec<u8>,
}

const SKETCH_BITS: u32 = 14;

impl Default for Sketch {
    fn default() -> Sketch {
        Sketch {
            registers: vec![0; 1 << SKETCH_BITS],
        }
    }
}

impl Sketch {
    pub fn insert(&mut self, v: &Value) {
        use std::hash::BuildHasher;
        // A fixed seed: every bucket's sketch must hash a value alike.
        let x = polars::prelude::PlFixedStateQuality::with_seed(0x736b_6574_6368).hash_one(v);
        let idx = (x >> (64 - SKETCH_BITS)) as usize;
        let rest = (x << SKETCH_BITS) | (1 << (SKETCH_BITS - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        if rank > self.registers[idx] {
            self.registers[idx] = rank;
        }
    }

    pub fn merge(&mut self, o: &Sketch) {
        for (a, b) in self.registers.iter_mut().zip(&o.registers) {
            *a = (*a).max(*b);
        }
    }

    pub fn estimate(&self) -> usize {
        let m = self.registers.len() as f64;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let sum: f64 = self.registers.iter().map(|&r| 2f64.powi(-(r as i32))).sum();
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let e = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        e.round() as usize
    }
}

#[cfg(test)]
mod sketch_tests {
    use super::*;

    fn estimate_of(range: std::ops::Range<i64>) -> usize {
        let mut s = Sketch::default();
        for i in range {
            s.insert(&Value::Int(i));
        }
        s.estimate()
    }

    #[test]
    fn small_counts_are_nearly_exact_and_large_ones_within_three_percent() {
        assert_eq!(estimate_of(0..0), 0);
        // Linear counting over 2^14 registers: the standard error at 100
        // values is 100 / sqrt(2 * 2^14) = 0.55, so 2 is more than 3.5 sigma.
        let small = estimate_of(0..100) as f64;
        assert!((small - 100.0).abs() <= 2.0, "{small}");
        let large = estimate_of(0..1_000_000) as f64;
        assert!((large / 1e6 - 1.0).abs() < 0.03, "{large}");
    }

    #[test]
    fn merged_sketches_count_shared_values_once() {
        let (mut a, mut b) = (Sketch::default(), Sketch::default());
        for i in 0..50_000 {
            a.insert(&Value::Int(i));
            b.insert(&Value::Int(i + 25_000));
        }
        a.merge(&b);
        let e = a.estimate() as f64;
        assert!((e / 75_000.0 - 1.0).abs() < 0.03, "{e}");
    }
}
