//! Column metrics for quality monitoring: per field and side, null count
//! and rate, unconvertible count, exact distinct count and min/max; per
//! rule, violations by side. summary.json holds them per entity;
//! `quality_metrics.parquet` holds the same in long form.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::SideResult;
use crate::display::Display;
use crate::normalize::order;
use crate::normalize::value::text_prefix;
use crate::normalize::Value;
use crate::prepare::{Cell, PreparedSide};
use crate::spec::rule::Rule;
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

impl FieldStats {
    /// From the counts of a column; `distinct` is the count and whether it
    /// is an estimate, `min_max` the display forms.
    fn new(rows: usize, nulls: usize, bad: usize, distinct: (usize, bool), min_max: [Option<String>; 2]) -> FieldStats {
        let [min, max] = min_max;
        FieldStats {
            rows,
            null_count: nulls,
            null_rate: if rows == 0 { 0.0 } else { nulls as f64 / rows as f64 },
            bad_count: bad,
            distinct_count: distinct.0,
            distinct_estimated: distinct.1,
            min,
            max,
        }
    }
}

/// One rule's result for summary.json.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
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
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
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
        .map_init(Distinct::default, |scratch, &(f, side)| {
            (f, side, column_stats(entity, f, sides[side.idx()], display, scratch))
        })
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

fn column_stats(
    entity: &Entity,
    f: usize,
    s: &PreparedSide,
    display: &dyn Display,
    scratch: &mut Distinct,
) -> Option<FieldStats> {
    let col = &s.fields[f];
    if !col.present {
        return None;
    }
    let counted = scratch.count(&col.cells);
    let shown = |v: Option<&Value>| v.map(|v| display.value(entity, f, v));
    Some(FieldStats::new(
        s.rows,
        counted.nulls,
        counted.bad,
        (counted.distinct, false),
        [shown(counted.min), shown(counted.max)],
    ))
}

/// What one pass over a column counts.
#[derive(Debug, Default, PartialEq)]
struct Counted<'a> {
    nulls: usize,
    bad: usize,
    distinct: usize,
    min: Option<&'a Value>,
    max: Option<&'a Value>,
}

/// The least and greatest value of a column, found in one pass. Most cells
/// are neither, and two general comparisons per cell (each a call through
/// the cross-type `order`, text through `memcmp`) had been half of the
/// metrics' time: text is compared by a 16-byte prefix first, and values of
/// one variant directly.
#[derive(Default)]
struct Extremes<'a> {
    min: Option<(&'a Value, u128)>,
    max: Option<(&'a Value, u128)>,
}

impl<'a> Extremes<'a> {
    #[inline]
    fn add(&mut self, v: &'a Value) {
        let p = prefix(v);
        if self.min.is_none_or(|(m, mp)| less(v, p, m, mp)) {
            self.min = Some((v, p));
        }
        if self.max.is_none_or(|(m, mp)| less(m, mp, v, p)) {
            self.max = Some((v, p));
        }
    }

    fn min(&self) -> Option<&'a Value> {
        self.min.map(|(v, _)| v)
    }

    fn max(&self) -> Option<&'a Value> {
        self.max.map(|(v, _)| v)
    }
}

/// A text's [`text_prefix`] (0 for other values).
#[inline]
fn prefix(v: &Value) -> u128 {
    match v {
        Value::Str(s) => text_prefix(s),
        _ => 0,
    }
}

/// Whether `a` orders before `b` (as `order` says; values it cannot order
/// are not less), `ap`/`bp` their [`prefix`]es. Values of one variant (all
/// of a column's, nearly always) are compared here, inlined into the
/// metrics' loops; the rest through [`order`], out of line (with it inline,
/// the compiler kept all of `less` a call per value).
#[inline(always)]
fn less(a: &Value, ap: u128, b: &Value, bp: u128) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => ap < bp || (ap == bp && x.as_bytes() < y.as_bytes()),
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Ts(x), Value::Ts(y)) => x < y,
        (Value::Date(x), Value::Date(y)) => x < y,
        (Value::Dec { units: x, scale: sx }, Value::Dec { units: y, scale: sy }) if sx == sy => x.get() < y.get(),
        _ => ordered_before(a, b),
    }
}

/// `a` orders before `b` (values of different variants or scales).
#[cold]
#[inline(never)]
fn ordered_before(a: &Value, b: &Value) -> bool {
    order(a, b) == Some(std::cmp::Ordering::Less)
}

/// Exact distinct counting that stays in cache. One pass in row order
/// takes min and max, and each value's hash and row, skipping a value equal
/// to one remembered in a small direct-mapped cache (most of a column of
/// few distinct values). The rest are scattered into partitions by the
/// hash's top bits and each partition (about 4,096 values up to 268M) is
/// deduplicated in a small table, reading the values only where full hashes
/// are equal. One table over a million values had missed the cache on
/// nearly every insert (a sixth of a run's CPU). Buffers are kept for the
/// next column.
#[derive(Default)]
pub(crate) struct Distinct {
    entries: Vec<(u64, u32)>,
    scattered: Vec<(u64, u32)>,
    table: hashbrown::HashTable<(u64, u32)>,
}

impl Distinct {
    /// Values per partition aimed at (the table then fits in L2).
    const PARTITION: usize = 4096;
    /// Slots of the cache of recent values.
    const RECENT: usize = 256;

    fn count<'a>(&mut self, cells: &'a [Cell]) -> Counted<'a> {
        let seed = polars::prelude::PlFixedStateQuality::with_seed(0x6469_7374_696e_6374);
        let mut out = Counted::default();
        let value = |row: u32| cells[row as usize].value();
        let mut recent = [(0u64, u32::MAX); Self::RECENT];
        let mut extremes = Extremes::default();
        self.entries.clear();
        for (row, c) in cells.iter().enumerate() {
            let v = match c {
                Cell::Null => {
                    out.nulls += 1;
                    continue;
                }
                Cell::Bad => {
                    out.bad += 1;
                    continue;
                }
                Cell::Val(v) => v,
            };
            extremes.add(v);
            let h = v.column_hash(&seed);
            let slot = &mut recent[h as usize % Self::RECENT];
            if slot.0 == h && slot.1 != u32::MAX && value(slot.1) == Some(v) {
                continue;
            }
            *slot = (h, row as u32);
            self.entries.push((h, row as u32));
        }
        let bits = (self.entries.len() / Self::PARTITION).max(1).ilog2().min(16);
        let parts = self.scatter(bits);
        let key = crate::prepare::key::within_partition;
        let mut start = 0;
        for end in parts {
            self.table.clear();
            for &(h, row) in &self.scattered[start..end] {
                let seen = self
                    .table
                    .find(key(h), |&(h2, r)| h2 == h && value(r) == value(row))
                    .is_some();
                if !seen {
                    self.table.insert_unique(key(h), (h, row), |e| key(e.0));
                    out.distinct += 1;
                }
            }
            start = end;
        }
        out.min = extremes.min();
        out.max = extremes.max();
        out
    }

    /// Moves `entries` into `scattered` grouped by the top `bits` of their
    /// hash (a counting sort); returns the end of each group.
    fn scatter(&mut self, bits: u32) -> Vec<usize> {
        let n = 1usize << bits;
        let part = |h: u64| if bits == 0 { 0 } else { (h >> (64 - bits)) as usize };
        let mut ends = vec![0usize; n];
        for &(h, _) in &self.entries {
            ends[part(h)] += 1;
        }
        let mut at = Vec::with_capacity(n);
        let mut sum = 0;
        for e in ends.iter_mut() {
            at.push(sum);
            sum += *e;
            *e = sum;
        }
        self.scattered.clear();
        self.scattered.resize(self.entries.len(), (0, 0));
        for &(h, row) in &self.entries {
            let p = part(h);
            self.scattered[at[p]] = (h, row);
            at[p] += 1;
        }
        ends
    }
}

/// Metrics of one field and side gathered bucket by bucket: counts add up,
/// min and max are kept typed, distinct values go into a sketch. Merging
/// is order-free (sums, the least and greatest of values that are equal
/// only when identical, register-wise maxima), so the shards of a run can
/// hand theirs to the merge (serialized in `run::part`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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

/// Adds the accumulator of other buckets (another shard's) to `acc`.
pub fn merge_acc(acc: &mut EntityAcc, other: EntityAcc) {
    if acc.is_empty() {
        *acc = other;
        return;
    }
    for (mine, theirs) in acc.iter_mut().zip(other) {
        for (slot, part) in mine.iter_mut().zip(theirs) {
            let Some(part) = part else { continue };
            match slot {
                None => *slot = Some(part),
                Some(a) => a.merge(part),
            }
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
            let shown = |v: &Option<Value>| v.as_ref().map(|v| display.value(entity, f, v));
            entry.insert(
                side.as_str().to_string(),
                FieldStats::new(
                    a.rows,
                    a.nulls,
                    a.bad,
                    (a.sketch.estimate(), true),
                    [shown(&a.min), shown(&a.max)],
                ),
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
    let mut extremes = Extremes::default();
    for c in &col.cells {
        match c {
            Cell::Null => acc.nulls += 1,
            Cell::Bad => acc.bad += 1,
            Cell::Val(v) => {
                acc.sketch.insert(v);
                extremes.add(v);
            }
        }
    }
    acc.min = extremes.min().cloned();
    acc.max = extremes.max().cloned();
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
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SketchText", into = "SketchText")]
pub struct Sketch {
    registers: Vec<u8>,
}

/// A sketch's registers as hex (16 KiB of small numbers).
#[derive(serde::Serialize, serde::Deserialize)]
struct SketchText(String);

impl From<Sketch> for SketchText {
    fn from(s: Sketch) -> SketchText {
        SketchText(hex::encode(&s.registers))
    }
}

impl TryFrom<SketchText> for Sketch {
    type Error = String;
    fn try_from(t: SketchText) -> Result<Sketch, String> {
        let registers = hex::decode(&t.0).map_err(|e| format!("sketch registers: {e}"))?;
        if registers.len() != 1 << SKETCH_BITS {
            return Err(format!(
                "a sketch has {} registers, not {}",
                registers.len(),
                1 << SKETCH_BITS
            ));
        }
        Ok(Sketch { registers })
    }
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
        // A fixed seed: every bucket's sketch must hash a value alike.
        let x = v.column_hash(&polars::prelude::PlFixedStateQuality::with_seed(0x736b_6574_6368));
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

#[cfg(test)]
mod distinct_tests {
    use super::*;
    use crate::normalize::Instant;

    /// The plain definition: one hash set over every value.
    fn naive(cells: &[Cell]) -> Counted<'_> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Counted::default();
        for c in cells {
            match c {
                Cell::Null => out.nulls += 1,
                Cell::Bad => out.bad += 1,
                Cell::Val(v) => {
                    if seen.insert(v) {
                        out.distinct += 1;
                    }
                    if out.min.is_none_or(|m| order(v, m) == Some(std::cmp::Ordering::Less)) {
                        out.min = Some(v);
                    }
                    if out.max.is_none_or(|m| order(v, m) == Some(std::cmp::Ordering::Greater)) {
                        out.max = Some(v);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn partitioned_counting_equals_one_set_over_every_value() {
        // Sizes below one partition, at a few, and at many (12 bits); low
        // and high cardinality; text, integers, decimals at one scale;
        // nulls and bad cells. One scratch serves every column, as in a run.
        let mut scratch = Distinct::default();
        let columns: Vec<Vec<Cell>> = vec![
            Vec::new(),
            vec![Cell::Null, Cell::Bad],
            (0..5_000).map(|i| Cell::Val(Value::Int(i % 7 - 3))).collect(),
            (0..40_000)
                .map(|i| match i % 11 {
                    0 => Cell::Null,
                    1 => Cell::Bad,
                    _ => Cell::Val(Value::Str(format!("name {}", i * 7919 % 30_011).into())),
                })
                .collect(),
            (0..300_000)
                .map(|i| Cell::Val(Value::dec((i as i128 * 104_729) % 250_000 - 1_000, 2)))
                .collect(),
            (0..20_000_000 / 1000)
                .map(|i| Cell::Val(Value::Ts(Instant::from_micros(i * 1_000_003))))
                .collect(),
        ];
        for cells in &columns {
            let got = scratch.count(cells);
            assert_eq!(got, naive(cells), "{} cells", cells.len());
        }
        assert_eq!(scratch.count(&columns[3]).distinct, naive(&columns[3]).distinct);
    }

    #[test]
    fn extremes_equal_the_general_order() {
        // Texts that share 8- and 16-byte prefixes, end in zero bytes, are prefixes
        // of each other, or are multi-byte; decimals at two scales (the
        // general order); dates, instants, integers; mixed variants, which
        // do not order.
        let texts = [
            "abcdefgh",
            "abcdefghi",
            "abcdefgh\0",
            "abcdefg",
            "abc\0",
            "abc",
            "",
            "\0",
            "ab\0\0\0\0\0\0z",
            "zz",
            "ÿ",
            "éa",
            "é",
            "abcdefgha",
            "abcdefgg\u{10FFFF}",
            // Around the 16-byte prefix.
            "K0000000001",
            "K0000000002",
            "K000000000100000",
            "K0000000001000000",
            "K000000000100000\0",
            "K00000000010000\0\0z",
            "客户咨询账单，已解答",
            "客户咨询账单，已",
        ];
        let columns: Vec<Vec<Value>> = vec![
            texts.iter().map(|&t| Value::Str(t.into())).collect(),
            texts.iter().rev().map(|&t| Value::Str(t.into())).collect(),
            vec![
                Value::dec(150, 2),
                Value::dec(14, 1),
                Value::dec(-3, 0),
                Value::dec(151, 2),
                Value::Int(1),
            ],
            vec![Value::Date(3), Value::Date(-2), Value::Date(9)],
            vec![
                Value::Ts(Instant::from_micros(5)),
                Value::Ts(Instant::from_micros(-7)),
                Value::Ts(Instant::from_micros(5)),
            ],
            vec![Value::Int(4), Value::Str("a".into()), Value::Int(-1), Value::Int(9)],
        ];
        for values in &columns {
            let mut fast = Extremes::default();
            let (mut min, mut max): (Option<&Value>, Option<&Value>) = (None, None);
            for v in values {
                fast.add(v);
                if min.is_none_or(|m| order(v, m) == Some(std::cmp::Ordering::Less)) {
                    min = Some(v);
                }
                if max.is_none_or(|m| order(v, m) == Some(std::cmp::Ordering::Greater)) {
                    max = Some(v);
                }
            }
            assert_eq!((fast.min(), fast.max()), (min, max), "{values:?}");
        }
        let mut fast = Extremes::default();
        columns[0].iter().for_each(|v| fast.add(v));
        assert_eq!(fast.min(), Some(&Value::Str("".into())));
        assert_eq!(fast.max(), Some(&Value::Str("客户咨询账单，已解答".into())));
    }
}
