//! Drift: joins the two prepared sides on the mapped key and reports missing
//! rows, duplicate and null keys, unconvertible cells and value mismatches,
//! with a coverage account that proves every row was looked at.
//!
//! The keys it joins on (and their index) are built in `prepare::key`;
//! how a value is shown, by the `display` policy.

use rayon::prelude::*;
use serde::Serialize;

use crate::display::Display;
use crate::finding::{Category, Finding};
use crate::masking::{self, Comparison};
use crate::normalize::{values_equal, FieldType, Value};
use crate::prepare::key::{KeyIndex, SideKeys};
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Entity, Side};

/// How the rows of one side were accounted for. The buckets are disjoint and
/// must add up to `rows_read`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Coverage {
    pub rows_read: usize,
    pub rows_matched: usize,
    pub rows_missing_other_side: usize,
    pub rows_duplicate_key: usize,
    pub rows_paired_with_duplicate: usize,
    pub rows_null_key: usize,
    pub rows_unconvertible_key: usize,
    pub fields_compared_per_matched_row: usize,
    pub cells_compared: usize,
}

impl Coverage {
    /// Adds the coverage of another bucket of the same entity and side.
    pub fn absorb(&mut self, o: &Coverage) {
        self.rows_read += o.rows_read;
        self.rows_matched += o.rows_matched;
        self.rows_missing_other_side += o.rows_missing_other_side;
        self.rows_duplicate_key += o.rows_duplicate_key;
        self.rows_paired_with_duplicate += o.rows_paired_with_duplicate;
        self.rows_null_key += o.rows_null_key;
        self.rows_unconvertible_key += o.rows_unconvertible_key;
        self.fields_compared_per_matched_row = self
            .fields_compared_per_matched_row
            .max(o.fields_compared_per_matched_row);
        self.cells_compared += o.cells_compared;
    }

    pub fn accounted(&self) -> usize {
        self.rows_matched
            + self.rows_missing_other_side
            + self.rows_duplicate_key
            + self.rows_paired_with_duplicate
            + self.rows_null_key
            + self.rows_unconvertible_key
    }

    pub fn adds_up(&self) -> bool {
        self.accounted() == self.rows_read
    }
}

#[derive(Debug)]
pub struct Drift {
    pub findings: Vec<Finding>,
    pub coverage: [Coverage; 2],
    /// Matched row pairs (left row, right row).
    pub pairs: Vec<(u32, u32)>,
    /// Keys present on one side only: (side that has it, row).
    pub only: Vec<(Side, u32)>,
    /// Distinct keys with at least one drift finding.
    pub drifted_keys: usize,
}

pub fn compare(
    entity: &Entity,
    sides: [&PreparedSide; 2],
    keys: [&SideKeys; 2],
    index: &KeyIndex,
    business_tz: chrono_tz::Tz,
    display: &dyn Display,
) -> Drift {
    let mut findings = Vec::new();
    let mut coverage = [Coverage::default(), Coverage::default()];
    for side in Side::BOTH {
        let cov = &mut coverage[side.idx()];
        cov.rows_read = sides[side.idx()].rows;
        for (row, tuple) in keys[side.idx()].tuple.iter().enumerate() {
            if tuple.is_some() {
                continue;
            }
            let bad = entity.key.iter().any(|&f| sides[side.idx()].cell(f, row) == &Cell::Bad);
            if bad {
                cov.rows_unconvertible_key += 1;
            } else {
                cov.rows_null_key += 1;
                findings.push(key_finding(
                    entity,
                    side,
                    &keys[side.idx()].json[row],
                    "null_key",
                    "key is null or empty; the row cannot be joined".into(),
                ));
            }
        }
    }
    let mut pairs = Vec::new();
    let mut only = Vec::new();
    for rows in index.keys() {
        for side in Side::BOTH {
            let (mine, theirs) = (rows.count[side.idx()] as usize, rows.count[side.other().idx()] as usize);
            let first = rows.first[side.idx()];
            let cov = &mut coverage[side.idx()];
            if mine > 1 {
                cov.rows_duplicate_key += mine;
                findings.push(key_finding(
                    entity,
                    side,
                    &keys[side.idx()].json[first as usize],
                    "duplicate_key",
                    format!(
                        "key appears {mine} times on the {} side; its rows are not compared",
                        side.as_str()
                    ),
                ));
            } else if mine == 1 && theirs == 0 {
                cov.rows_missing_other_side += 1;
                only.push((side, first));
            } else if mine == 1 && theirs > 1 {
                cov.rows_paired_with_duplicate += 1;
            } else if mine == 1 {
                cov.rows_matched += 1;
            }
            if mine > 0 && theirs == 0 {
                let missing = side.other();
                let kind = match missing {
                    Side::Left => "missing_left",
                    Side::Right => "missing_right",
                };
                findings.push(key_finding(
                    entity,
                    missing,
                    &keys[side.idx()].json[first as usize],
                    kind,
                    format!("row exists only on the {} side", side.as_str()),
                ));
            }
        }
        if rows.count == [1, 1] {
            pairs.push((rows.first[0], rows.first[1]));
        }
    }
    pairs.sort_unstable();
    only.sort_unstable();
    findings.extend(unconvertible(entity, sides, keys, display));
    let comparable: Vec<usize> = (0..entity.fields.len())
        .filter(|f| {
            entity.fields[*f].compare
                && !entity.key.contains(f)
                && sides[0].fields[*f].present
                && sides[1].fields[*f].present
                && masking::comparison(&entity.fields[*f]) != Comparison::Skip
        })
        .collect();
    let mismatches: Vec<Finding> = comparable
        .par_iter()
        .flat_map_iter(|&f| compare_field(entity, f, sides, keys, &pairs, business_tz, display))
        .collect();
    findings.extend(mismatches);
    for cov in &mut coverage {
        cov.fields_compared_per_matched_row = comparable.len();
        cov.cells_compared = comparable.len() * pairs.len();
    }
    let drifted_keys = findings
        .iter()
        .map(|f| f.key.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    Drift {
        findings,
        coverage,
        pairs,
        only,
        drifted_keys,
    }
}

fn key_finding(entity: &Entity, side: Side, key: &str, kind: &str, detail: String) -> Finding {
    Finding {
        entity: entity.name.clone(),
        category: Category::Drift,
        kind: kind.to_string(),
        rule: kind.to_string(),
        severity: entity.drift_severity(kind),
        side: side.as_str(),
        key: key.to_string(),
        field: None,
        left_value: None,
        right_value: None,
        detail,
    }
}

fn unconvertible(
    entity: &Entity,
    sides: [&PreparedSide; 2],
    keys: [&SideKeys; 2],
    display: &dyn Display,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for side in Side::BOTH {
        for (f, prepared) in sides[side.idx()].fields.iter().enumerate() {
            let field = &entity.fields[f];
            for bad in &prepared.bad {
                let shown = display.value(entity, f, &Value::Str(bad.raw.as_str().into()));
                let (left_value, right_value) = match side {
                    Side::Left => (Some(shown), None),
                    Side::Right => (None, Some(shown)),
                };
                let reason = if field.is_pii() {
                    "not a valid value".to_string()
                } else {
                    bad.reason.to_string()
                };
                out.push(Finding {
                    entity: entity.name.clone(),
                    category: Category::Drift,
                    kind: "unconvertible".into(),
                    rule: field.name.clone(),
                    severity: entity.drift_severity("unconvertible"),
                    side: side.as_str(),
                    key: keys[side.idx()].json[bad.row].to_string(),
                    field: Some(field.name.clone()),
                    left_value,
                    right_value,
                    detail: format!("cannot convert to {}: {reason}", field.ty[side.idx()].name()),
                });
            }
        }
    }
    out
}

fn compare_field(
    entity: &Entity,
    f: usize,
    sides: [&PreparedSide; 2],
    keys: [&SideKeys; 2],
    pairs: &[(u32, u32)],
    business_tz: chrono_tz::Tz,
    display: &dyn Display,
) -> Vec<Finding> {
    let field = &entity.fields[f];
    let how = masking::comparison(field);
    let mut out = Vec::new();
    if how == Comparison::Skip {
        return out;
    }
    for &(l, r) in pairs {
        let (a, b) = (sides[0].cell(f, l as usize), sides[1].cell(f, r as usize));
        let equal = match (a, b, how) {
            (Cell::Bad, _, _) | (_, Cell::Bad, _) => continue,
            (Cell::Null, Cell::Null, _) => true,
            (Cell::Val(x), Cell::Val(y), Comparison::MaskAware { masked: Side::Left }) => {
                masking::mask_consistent(x, y)
            }
            (Cell::Val(x), Cell::Val(y), Comparison::MaskAware { masked: Side::Right }) => {
                masking::mask_consistent(y, x)
            }
            (Cell::Val(x), Cell::Val(y), _) => values_equal(x, y, &field.tolerance, business_tz),
            _ => false,
        };
        if equal {
            continue;
        }
        let show = |c: &Cell| c.value().map(|v| display.value(entity, f, v));
        out.push(Finding {
            entity: entity.name.clone(),
            category: Category::Drift,
            kind: "value_mismatch".into(),
            rule: field.name.clone(),
            severity: field
                .severity
                .unwrap_or_else(|| entity.drift_severity("value_mismatch")),
            side: "both",
            key: keys[0].json[l as usize].to_string(),
            field: Some(field.name.clone()),
            left_value: show(a),
            right_value: show(b),
            detail: match (a, b, &field.ty[0]) {
                (Cell::Val(Value::Str(x)), Cell::Val(Value::Str(y)), FieldType::Set { .. }) if field.pii.is_none() => {
                    set_detail(x, y)
                }
                _ => mismatch_detail(a, b, field.tolerance.is_exact()),
            },
        });
    }
    out
}

/// Which elements two sets do not share: `only left: a, b; only right: c`
/// (elements in JSON quoting, so commas and spaces inside them stay clear).
fn set_detail(left: &str, right: &str) -> String {
    let (l, r) = crate::normalize::set::difference(left, right);
    let list = crate::normalize::set::quoted;
    match (l.is_empty(), r.is_empty()) {
        (false, false) => format!("only left: {}; only right: {}", list(&l), list(&r)),
        (false, true) => format!("only left: {}", list(&l)),
        (true, false) => format!("only right: {}", list(&r)),
        (true, true) => "values differ".into(),
    }
}

fn mismatch_detail(a: &Cell, b: &Cell, exact: bool) -> String {
    match (a, b) {
        (Cell::Null, _) => "left is null, right has a value".into(),
        (_, Cell::Null) => "left has a value, right is null".into(),
        _ if exact => "values differ".into(),
        _ => "values differ beyond the declared tolerance".into(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod coverage_tests {
    use super::Coverage;

    /// A coverage whose every count differs, so a count read twice, left
    /// out or subtracted shows.
    fn distinct() -> Coverage {
        Coverage {
            rows_read: 1 + 2 + 4 + 8 + 16 + 32,
            rows_matched: 1,
            rows_missing_other_side: 2,
            rows_duplicate_key: 4,
            rows_paired_with_duplicate: 8,
            rows_null_key: 16,
            rows_unconvertible_key: 32,
            fields_compared_per_matched_row: 3,
            cells_compared: 3,
        }
    }

    #[test]
    fn coverage_adds_up_only_when_every_row_is_accounted_once() {
        let c = distinct();
        assert_eq!(c.accounted(), 63);
        assert!(c.adds_up());
        // One row too many or too few in any bucket of the identity breaks it.
        for bump in 0..7 {
            let mut off = distinct();
            match bump {
                0 => off.rows_read += 1,
                1 => off.rows_matched += 1,
                2 => off.rows_missing_other_side += 1,
                3 => off.rows_duplicate_key += 1,
                4 => off.rows_paired_with_duplicate += 1,
                5 => off.rows_null_key += 1,
                _ => off.rows_unconvertible_key += 1,
            }
            assert!(!off.adds_up(), "bump {bump}: {off:?}");
        }
        assert!(Coverage::default().adds_up(), "an empty side adds up");
    }

    #[test]
    fn absorbing_a_bucket_adds_every_count_and_keeps_the_widest_field_count() {
        let mut total = distinct();
        // Counts where a sum differs from a product and a difference (not 2 + 2).
        let other = Coverage {
            rows_read: 3 + 5 + 6 + 7 + 9 + 10,
            rows_matched: 3,
            rows_missing_other_side: 5,
            rows_duplicate_key: 6,
            rows_paired_with_duplicate: 7,
            rows_null_key: 9,
            rows_unconvertible_key: 10,
            fields_compared_per_matched_row: 5,
            cells_compared: 10,
        };
        total.absorb(&other);
        assert_eq!(
            total,
            Coverage {
                rows_read: 63 + 40,
                rows_matched: 4,
                rows_missing_other_side: 7,
                rows_duplicate_key: 10,
                rows_paired_with_duplicate: 15,
                rows_null_key: 25,
                rows_unconvertible_key: 42,
                fields_compared_per_matched_row: 5,
                cells_compared: 13,
            }
        );
        assert!(total.adds_up());
    }
}
