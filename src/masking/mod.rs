//! Personal data in the reconciled sources: the mask-policy audit of every
//! row, mask-aware comparison of a clear side with a masked one, the
//! free-text scan of `scan = true` fields, and redaction of text for reports.
//!
//! Detectors, mask styles and tokens are in `pii`; this module applies them
//! to prepared entities and turns what they find into findings.

use crate::compare::{Display, SideKeys};
use crate::finding::{Category, Finding};
use crate::normalize::Value;
use crate::pii::{self, MaskStyle, MaskVerdict};
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Entity, Field, Side};

/// How the two sides of a field can be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Both sides hold clear values (or the same mask style): compare values.
    Plain,
    /// One side is masked: its visible characters are checked against the
    /// other side's clear value.
    MaskAware { masked: Side },
    /// Nothing comparable is visible (`full`, `token`, `absent`, or two
    /// different mask styles).
    Skip,
}

pub fn comparison(field: &Field) -> Comparison {
    let [l, r] = field.mask;
    let shows_nothing = |m: MaskStyle| matches!(m, MaskStyle::Full | MaskStyle::Token | MaskStyle::Absent);
    match (l, r) {
        _ if l == r => Comparison::Plain,
        _ if shows_nothing(l) || shows_nothing(r) => Comparison::Skip,
        (MaskStyle::Clear, _) => Comparison::MaskAware { masked: Side::Right },
        (_, MaskStyle::Clear) => Comparison::MaskAware { masked: Side::Left },
        _ => Comparison::Skip,
    }
}

/// Mask-aware equality: the masked side's visible characters agree with the
/// clear side's value.
pub fn mask_consistent(masked: &Value, clear: &Value) -> bool {
    !pii::contradicts(&masked.display(), &clear.display())
}

/// Report text of a free-text field: every personal value found by the scan
/// replaced by its mask.
pub fn redact(text: &str) -> String {
    let hits = pii::scan(text);
    if hits.is_empty() {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in hits {
        if h.char_offset < at {
            continue;
        }
        out.extend(&chars[at..h.char_offset]);
        out.push_str(&h.masked);
        at = h.char_offset + h.char_len;
    }
    out.extend(&chars[at.min(chars.len())..]);
    out
}

/// The findings of personal data that need no pairing, in one entity: the
/// mask-policy audit and the free-text scan of each field and side (run in
/// parallel, one job per field and side; each job's findings keep their
/// order).
pub fn audit_rows(
    entity: &Entity,
    sides: [&PreparedSide; 2],
    keys: [&SideKeys; 2],
    display: &dyn Display,
) -> Vec<Finding> {
    use rayon::prelude::*;
    let jobs: Vec<(usize, Side)> = (0..entity.fields.len())
        .flat_map(|f| Side::BOTH.into_iter().map(move |side| (f, side)))
        .filter(|&(f, side)| sides[side.idx()].fields[f].present)
        .collect();
    jobs.par_iter()
        .flat_map_iter(|&(f, side)| {
            let (field, s, k) = (&entity.fields[f], sides[side.idx()], keys[side.idx()]);
            let mut out = Vec::new();
            if field.is_pii() && field.mask[side.idx()] != MaskStyle::Clear {
                policy_audit(entity, f, s, k, display, &mut out);
            }
            if field.scan {
                scan_field(entity, f, s, k, &mut out);
            }
            out
        })
        .collect()
}

/// The findings of personal data between matched rows: a masked side's
/// visible characters against the other side's clear value.
pub fn audit_pairs(
    entity: &Entity,
    sides: [&PreparedSide; 2],
    keys: [&SideKeys; 2],
    pairs: &[(u32, u32)],
    display: &dyn Display,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, field) in entity.fields.iter().enumerate() {
        if let Comparison::MaskAware { masked } = comparison(field) {
            if sides[0].fields[f].present && sides[1].fields[f].present {
                consistency(entity, f, masked, sides, keys, pairs, display, &mut out);
            }
        }
    }
    out
}

/// A masking finding on `side`; `rule` is the field name unless the caller sets it.
fn finding(
    entity: &Entity,
    f: usize,
    side: Side,
    key: &str,
    kind: &str,
    shown: Option<String>,
    detail: String,
) -> Finding {
    let (left_value, right_value) = match side {
        Side::Left => (shown, None),
        Side::Right => (None, shown),
    };
    Finding {
        entity: entity.name.clone(),
        category: Category::Masking,
        kind: kind.to_string(),
        rule: entity.fields[f].name.clone(),
        severity: entity.drift_severity(kind),
        side: side.as_str(),
        key: key.to_string(),
        field: Some(entity.fields[f].name.clone()),
        left_value,
        right_value,
        detail,
    }
}

fn policy_audit(
    entity: &Entity,
    f: usize,
    s: &PreparedSide,
    keys: &SideKeys,
    display: &dyn Display,
    out: &mut Vec<Finding>,
) {
    let field = &entity.fields[f];
    let policy = field.mask[s.side.idx()];
    let mut buf = String::new();
    for row in 0..s.rows {
        let Cell::Val(v) = s.cell(f, row) else { continue };
        let (kind, detail) = match pii::audit(v.text(&mut buf), policy, field.pii) {
            MaskVerdict::Ok => continue,
            MaskVerdict::Unmasked => (
                "unmasked",
                format!("clear value where policy `{}` requires a mask", policy.name()),
            ),
            MaskVerdict::WrongMask => (
                "wrong_mask",
                format!("mask does not have the shape of policy `{}`", policy.name()),
            ),
        };
        let shown = Some(display.value(entity, f, v));
        out.push(finding(entity, f, s.side, &keys.json[row], kind, shown, detail));
    }
}

#[allow(clippy::too_many_arguments)]
fn consistency(
    entity: &Entity,
    f: usize,
    masked: Side,
    sides: [&PreparedSide; 2],
    keys: [&SideKeys; 2],
    pairs: &[(u32, u32)],
    display: &dyn Display,
    out: &mut Vec<Finding>,
) {
    let field = &entity.fields[f];
    let policy = field.mask[masked.idx()];
    let mut buf = String::new();
    for &(l, r) in pairs {
        let rows = [l as usize, r as usize];
        let (Cell::Val(m), Cell::Val(c)) = (
            sides[masked.idx()].cell(f, rows[masked.idx()]),
            sides[masked.other().idx()].cell(f, rows[masked.other().idx()]),
        ) else {
            continue;
        };
        // Only a well-formed mask can be inconsistent; the others are reported by the policy audit.
        if pii::audit(m.text(&mut buf), policy, field.pii) != MaskVerdict::Ok || mask_consistent(m, c) {
            continue;
        }
        let shown = Some(display.value(entity, f, m));
        let detail = format!(
            "visible characters contradict the {} side's clear value",
            masked.other().as_str()
        );
        out.push(finding(
            entity,
            f,
            masked,
            &keys[0].json[rows[0]],
            "inconsistent_mask",
            shown,
            detail,
        ));
    }
}

fn scan_field(entity: &Entity, f: usize, s: &PreparedSide, keys: &SideKeys, out: &mut Vec<Finding>) {
    let field = &entity.fields[f];
    for row in 0..s.rows {
        let Cell::Val(Value::Str(text)) = s.cell(f, row) else {
            continue;
        };
        for hit in pii::scan(text) {
            let detector = hit.detector.name();
            let detail = format!("{detector} found at character {} of `{}`", hit.char_offset, field.name);
            let rule = format!("{}:{detector}@{}", field.name, hit.char_offset);
            let mut found = finding(
                entity,
                f,
                s.side,
                &keys.json[row],
                "pii_in_text",
                Some(hit.masked),
                detail,
            );
            found.rule = rule;
            out.push(found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_masks_every_hit_and_keeps_the_rest() {
        let text = "电话13912345678。卡号6212261234567890128已核实";
        let red = redact(text);
        assert!(!red.contains("13912345678"), "{red}");
        assert!(!red.contains("6212261234567890128"), "{red}");
        assert!(red.starts_with("电话139****5678。"), "{red}");
        assert!(red.ends_with("已核实"));
        assert_eq!(
            redact("no personal data, order 20261124083015123"),
            "no personal data, order 20261124083015123"
        );
    }

    #[test]
    fn mask_consistency_uses_visible_characters() {
        let clear = Value::Str("+8613912345678".into());
        assert!(mask_consistent(&Value::Str("139****5678".into()), &clear));
        assert!(!mask_consistent(&Value::Str("139****5679".into()), &clear));
        assert!(mask_consistent(&Value::Str("*******5678".into()), &clear));
    }
}
