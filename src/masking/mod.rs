//! Personal data in the reconciled sources: the mask-policy audit of every
//! row, mask-aware comparison of a clear side with a masked one, and the
//! free-text scan of `scan = true` fields.
//!
//! Detectors, mask styles and tokens are in `pii`; this module applies them
//! to prepared entities and turns what they find into findings. How a
//! personal value is shown (masked, tokenized, redacted) is `display`'s.

use crate::display::Display;
use crate::finding::{Category, Finding};
use crate::normalize::Value;
use crate::pii::{self, Deviation, Exposure, MaskStyle, MaskVerdict};
use crate::prepare::{Cell, PreparedSide, SideKeys};
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
/// clear side's value. Drift applies it to every matched pair, whatever the
/// mask audit says of the masked value (a value showing nothing is equal to
/// anything).
pub fn mask_consistent(masked: &Value, clear: &Value) -> bool {
    !pii::contradicts(&masked.display(), &clear.display())
}

/// The findings of personal data that need no pairing, in one entity: the
/// mask-policy audit and the free-text scan of each field and side (run in
/// parallel, one job per field; each job's findings keep their order, the
/// left side's first). `twins` gives each right row a left row of the same
/// key (`u32::MAX`: none; empty: none at all): a right cell equal to its
/// twin's, under the same check, has the twin's verdict, and where that
/// found nothing the right cell is not checked again (the sides mostly
/// agree, and a scan reads every byte of a text).
pub fn audit_rows(
    entity: &Entity,
    sides: [&PreparedSide; 2],
    keys: [&SideKeys; 2],
    twins: &[u32],
    display: &dyn Display,
) -> Vec<Finding> {
    use rayon::prelude::*;
    let jobs: Vec<usize> = (0..entity.fields.len())
        .filter(|&f| entity.fields[f].is_pii() || entity.fields[f].scan)
        .collect();
    jobs.par_iter()
        .flat_map_iter(|&f| {
            let field = &entity.fields[f];
            let mut out = Vec::new();
            // Per left row, whether its cell was flagged (by the audit, the scan).
            let mut flagged = [Vec::new(), Vec::new()];
            for side in Side::BOTH {
                let (s, k) = (sides[side.idx()], keys[side.idx()]);
                if !s.fields[f].present {
                    continue;
                }
                let clean = |row: usize, check: usize| -> bool {
                    side == Side::Right && twin_clean(sides, f, twins, &flagged[check], row)
                };
                let policy = field.mask[side.idx()];
                let audited = (field.is_pii() && policy != MaskStyle::Clear).then(|| {
                    let same = field.mask[0] == policy;
                    policy_audit(entity, f, s, k, display, |row| same && clean(row, 0), &mut out)
                });
                let scanned = field
                    .scan
                    .then(|| scan_field(entity, f, s, k, |row| clean(row, 1), &mut out));
                if side == Side::Left {
                    flagged = [audited.unwrap_or_default(), scanned.unwrap_or_default()];
                }
            }
            out
        })
        .collect()
}

/// Whether right `row` of field `f` holds the same cell as its left twin
/// and the twin was not `flagged` (a check that ran on the left; empty when
/// it did not run there).
fn twin_clean(sides: [&PreparedSide; 2], f: usize, twins: &[u32], flagged: &[bool], row: usize) -> bool {
    let Some(&l) = twins.get(row) else { return false };
    let l = l as usize;
    match flagged.get(l) {
        Some(false) => matches!(sides[1].cell(f, row), Cell::Val(_)) && sides[0].cell(f, l) == sides[1].cell(f, row),
        _ => false,
    }
}

/// The findings of personal data between matched rows: a masked side's
/// visible characters against the other side's clear value, for masks that
/// are well-formed or over-masked (see [`checks_consistency`]).
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

/// The mask-policy audit of field `f` on one side, skipping the rows
/// `skip` says are clean; returns, per row, whether it was flagged.
fn policy_audit(
    entity: &Entity,
    f: usize,
    s: &PreparedSide,
    keys: &SideKeys,
    display: &dyn Display,
    skip: impl Fn(usize) -> bool,
    out: &mut Vec<Finding>,
) -> Vec<bool> {
    let field = &entity.fields[f];
    let policy = field.mask[s.side.idx()];
    let mut buf = String::new();
    let mut flagged = vec![false; s.rows];
    for (row, flag) in flagged.iter_mut().enumerate() {
        let Cell::Val(v) = s.cell(f, row) else { continue };
        if skip(row) {
            continue;
        }
        let (kind, detail) = match pii::audit(v.text(&mut buf), policy, field.pii) {
            MaskVerdict::Ok => continue,
            MaskVerdict::Unmasked => (
                "unmasked",
                format!("clear value where policy `{}` requires a mask", policy.name()),
            ),
            MaskVerdict::WrongMask(d) => ("wrong_mask", wrong_mask_detail(policy, d)),
        };
        *flag = true;
        let shown = Some(display.value(entity, f, v));
        out.push(finding(entity, f, s.side, &keys.json[row], kind, shown, detail));
    }
    flagged
}

/// The `detail` of a `wrong_mask` finding: whether the mask shows more than
/// the policy, less, or other characters, with the counts (never a
/// character of the value).
fn wrong_mask_detail(policy: MaskStyle, d: Deviation) -> String {
    let what = match d.exposure {
        Exposure::More if d.visible > d.policy_visible => format!("mask shows more than policy `{}`", policy.name()),
        Exposure::More => format!("mask shows characters that policy `{}` hides", policy.name()),
        Exposure::Less => format!("mask shows less than policy `{}`", policy.name()),
        Exposure::Other => format!("mask does not have the shape of policy `{}`", policy.name()),
    };
    format!(
        "{what} ({} of {} characters visible, policy shows {})",
        d.visible, d.len, d.policy_visible
    )
}

/// Whether a masked value takes part in the `inconsistent_mask` check: a
/// well-formed mask, or an over-masked one (its visible characters all sit
/// where the policy shows characters, so they are compared as such). An
/// under-masked or malformed value is reported by the policy audit only.
fn checks_consistency(verdict: MaskVerdict) -> bool {
    match verdict {
        MaskVerdict::Ok => true,
        MaskVerdict::WrongMask(d) => d.exposure == Exposure::Less,
        MaskVerdict::Unmasked => false,
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
        if !checks_consistency(pii::audit(m.text(&mut buf), policy, field.pii)) || mask_consistent(m, c) {
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

/// The free-text scan of field `f` on one side, skipping the rows `skip`
/// says are clean; returns, per row, whether anything was found.
fn scan_field(
    entity: &Entity,
    f: usize,
    s: &PreparedSide,
    keys: &SideKeys,
    skip: impl Fn(usize) -> bool,
    out: &mut Vec<Finding>,
) -> Vec<bool> {
    let field = &entity.fields[f];
    let mut flagged = vec![false; s.rows];
    let mut clean = CleanTexts::default();
    for (row, flag) in flagged.iter_mut().enumerate() {
        let Cell::Val(Value::Str(text)) = s.cell(f, row) else {
            continue;
        };
        if skip(row) {
            continue;
        }
        let hits = clean.scan(text);
        *flag = !hits.is_empty();
        for hit in hits {
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
    flagged
}

/// Texts of one field the scan found clean, so that a repeated text (a
/// canned note) is not scanned again: a direct-mapped table on a fast hash
/// of the text. A field whose texts rarely repeat turns it off after a
/// trial. A text with hits is scanned every time (its findings name its
/// row).
#[derive(Default)]
struct CleanTexts {
    slots: Vec<(u64, compact_str::CompactString)>,
    trial: crate::memo::Trial,
}

impl CleanTexts {
    const SLOTS: usize = 256;

    /// The scan's hits in `text` (none when it is remembered clean).
    fn scan(&mut self, text: &str) -> Vec<pii::Hit> {
        if self.trial.is_off() {
            return pii::scan(text);
        }
        if self.slots.is_empty() {
            self.slots = vec![(0, compact_str::CompactString::default()); Self::SLOTS];
        }
        let fingerprint = xxhash_rust::xxh3::xxh3_64(text.as_bytes()) | 1;
        let slot = &mut self.slots[fingerprint as usize & (Self::SLOTS - 1)];
        let hit = slot.0 == fingerprint && slot.1 == text;
        let hits = if hit {
            Vec::new()
        } else {
            let hits = pii::scan(text);
            if hits.is_empty() {
                *slot = (fingerprint, text.into());
            }
            hits
        };
        if self.trial.record(hit) {
            self.slots = Vec::new();
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{keyed_by_id, loaded, Plain};

    /// Both sides of `entity` prepared from `left` and `right`, and their keys.
    fn sides_and_keys(
        entity: &Entity,
        left: &crate::source::Loaded,
        right: &crate::source::Loaded,
    ) -> ([PreparedSide; 2], [SideKeys; 2]) {
        let sides = [
            crate::prepare::prepare(entity, Side::Left, left),
            crate::prepare::prepare(entity, Side::Right, right),
        ];
        let keys = [0, 1].map(|i| crate::prepare::side_keys(entity, &sides[i], &Plain));
        (sides, keys)
    }

    #[test]
    fn remembered_clean_texts_scan_as_the_scan_does() {
        // Repeated clean texts, repeated texts with a phone number, and a
        // run of distinct texts long enough to turn the memo off.
        let texts: Vec<String> = (0..12_000)
            .map(|i| match i % 5 {
                0 => "客户咨询账单，已解答".to_string(),
                1 => "call back 13812345678 tomorrow".to_string(),
                2 if i > 6_000 => format!("ticket {i} reopened"),
                _ => format!("canned reply number {}", i % 7),
            })
            .collect();
        let mut memo = CleanTexts::default();
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(memo.scan(text), pii::scan(text), "text {i}: {text}");
        }
        assert!(!memo.trial.is_off(), "most texts repeat");
        let mut distinct = CleanTexts::default();
        for i in 0..5_000 {
            let text = format!("distinct text {i}");
            assert_eq!(distinct.scan(&text), pii::scan(&text));
        }
        assert!(distinct.trial.is_off(), "a field of distinct texts stops remembering");
    }

    #[test]
    fn right_cells_equal_to_a_clean_twin_keep_the_findings_of_a_full_audit() {
        // `ph` is masked alike on both sides, `card` not (its right cells
        // are always audited), `note` is scanned. Right rows 0-3 equal
        // their twins (left rows 3, 2, 1, 0), some of which are flagged;
        // row 4 differs from its twin; row 5 has none.
        let spec = keyed_by_id(
            "[[entity.field]]\nname = \"ph\"\npii = \"cn_mobile\"\nmask = { left = \"phone\", right = \"phone\" }\n\
             [[entity.field]]\nname = \"card\"\npii = \"bank_card\"\nmask = { left = \"card\", right = \"full\" }\n\
             [[entity.field]]\nname = \"note\"\nscan = true\n",
        );
        let entity = &spec.entities[0];
        let clear = Some("13912345678");
        let masked = Some("139****5678");
        let card = Some("6212261234567890128");
        let said = Some("call 13912345678 back");
        let quiet = Some("resolved");
        let left = loaded(&[
            ("id", &[Some("1"), Some("2"), Some("3"), Some("4")]),
            ("ph", &[clear, masked, clear, masked]),
            ("card", &[card, card, None, Some("x")]),
            ("note", &[said, quiet, said, quiet]),
        ]);
        let right = loaded(&[
            (
                "id",
                &[Some("4"), Some("3"), Some("2"), Some("1"), Some("2"), Some("9")],
            ),
            ("ph", &[masked, clear, masked, clear, clear, clear]),
            ("card", &[Some("x"), None, card, card, card, card]),
            ("note", &[quiet, said, quiet, said, said, said]),
        ]);
        let (sides, keys) = sides_and_keys(entity, &left, &right);
        let twins = crate::prepare::KeyIndex::new([&keys[0], &keys[1]]).twins(6);
        assert_eq!(twins, [3, 2, 1, 0, u32::MAX, u32::MAX]);
        let audit = |twins: &[u32]| -> Vec<(String, String, String, String)> {
            audit_rows(entity, [&sides[0], &sides[1]], [&keys[0], &keys[1]], twins, &Plain)
                .into_iter()
                .map(|f| (f.side.to_string(), f.key, f.kind, f.rule))
                .collect()
        };
        let full = audit(&[]);
        assert_eq!(audit(&twins), full);
        // Right rows equal to a flagged twin are still reported.
        let right_of = |kind: &str, key: &str| {
            full.iter()
                .any(|(side, k, kd, _)| side == "right" && kd == kind && k.contains(&format!("\"{key}\"")))
        };
        assert!(right_of("unmasked", "3"), "{full:?}");
        assert!(right_of("pii_in_text", "1"), "{full:?}");
        assert!(right_of("unmasked", "9"), "{full:?}");
        assert!(!right_of("unmasked", "4"), "{full:?}");
    }

    #[test]
    fn each_pair_of_mask_policies_is_compared_plainly_mask_aware_or_not_at_all() {
        use MaskStyle::*;
        let field = |l: MaskStyle, r: MaskStyle| {
            let mut spec = keyed_by_id("[[entity.field]]\nname = \"ph\"\npii = \"cn_mobile\"\n");
            let mut field = spec.entities.remove(0).fields.remove(1);
            field.mask = [l, r];
            field
        };
        let aware = |masked| Comparison::MaskAware { masked };
        for (l, r, want) in [
            (Clear, Clear, Comparison::Plain),
            (Phone, Phone, Comparison::Plain),
            (Full, Full, Comparison::Plain),
            (Clear, Phone, aware(Side::Right)),
            (Phone, Clear, aware(Side::Left)),
            (Clear, Full, Comparison::Skip),
            (Token, Clear, Comparison::Skip),
            (Absent, Phone, Comparison::Skip),
            (Phone, Token, Comparison::Skip),
            (Phone, Card, Comparison::Skip),
        ] {
            assert_eq!(comparison(&field(l, r)), want, "{l:?} / {r:?}");
        }
    }

    #[test]
    fn a_right_cell_under_another_policy_is_audited_even_when_its_twin_is_clean() {
        // The left mask is right for `card`; the same text breaks the
        // right side's `full`, so the twin's verdict cannot be reused.
        let spec = keyed_by_id(
            "[[entity.field]]\nname = \"card\"\npii = \"bank_card\"\nmask = { left = \"card\", right = \"full\" }\n",
        );
        let entity = &spec.entities[0];
        let masked = Some("621226*********0128");
        let left = loaded(&[("id", &[Some("1")]), ("card", &[masked])]);
        let right = loaded(&[("id", &[Some("1")]), ("card", &[masked])]);
        let (sides, keys) = sides_and_keys(entity, &left, &right);
        let found = |twins: &[u32]| -> Vec<(String, String)> {
            audit_rows(entity, [&sides[0], &sides[1]], [&keys[0], &keys[1]], twins, &Plain)
                .into_iter()
                .map(|f| (f.side.to_string(), f.kind))
                .collect()
        };
        let want = [("right".to_string(), "wrong_mask".to_string())];
        assert_eq!(found(&[]), want);
        assert_eq!(found(&[0]), want);
    }

    #[test]
    fn a_right_cell_that_differs_from_its_clean_twin_is_audited() {
        let spec = keyed_by_id(
            "[[entity.field]]\nname = \"ph\"\npii = \"cn_mobile\"\nmask = { left = \"phone\", right = \"phone\" }\n",
        );
        let entity = &spec.entities[0];
        let left = loaded(&[("id", &[Some("1")]), ("ph", &[Some("139****5678")])]);
        let right = loaded(&[("id", &[Some("1")]), ("ph", &[Some("13912345678")])]);
        let (sides, keys) = sides_and_keys(entity, &left, &right);
        let found = audit_rows(entity, [&sides[0], &sides[1]], [&keys[0], &keys[1]], &[0], &Plain);
        let found: Vec<(&str, &str)> = found.iter().map(|f| (f.side, f.kind.as_str())).collect();
        assert_eq!(found, [("right", "unmasked")]);
    }

    #[test]
    fn visible_characters_that_contradict_the_clear_side_are_inconsistent_masks() {
        let spec = keyed_by_id(
            "[[entity.field]]\nname = \"ph\"\npii = \"cn_mobile\"\nmask = { left = \"clear\", right = \"phone\" }\n",
        );
        let entity = &spec.entities[0];
        let ids = [Some("1"), Some("2"), Some("3"), Some("4"), Some("5")];
        let left = loaded(&[("id", &ids), ("ph", &[Some("13912345678"); 5])]);
        let right = loaded(&[
            ("id", &ids),
            (
                "ph",
                &[
                    Some("139****5678"), // well-formed, agrees
                    Some("139****5679"), // well-formed, contradicts
                    Some("*******5679"), // over-masked, contradicts
                    Some("1391234567*"), // under-masked: the policy audit's, not compared
                    None,
                ],
            ),
        ]);
        let (sides, keys) = sides_and_keys(entity, &left, &right);
        let pairs: Vec<(u32, u32)> = (0..5).map(|i| (i, i)).collect();
        let found = audit_pairs(entity, [&sides[0], &sides[1]], [&keys[0], &keys[1]], &pairs, &Plain);
        let found: Vec<(&str, &str, &str, &str)> = found
            .iter()
            .map(|f| (f.side, f.key.as_str(), f.kind.as_str(), f.detail.as_str()))
            .collect();
        let contradicts = "visible characters contradict the left side's clear value";
        assert_eq!(
            found,
            [
                ("right", "{\"id\":\"2\"}", "inconsistent_mask", contradicts),
                ("right", "{\"id\":\"3\"}", "inconsistent_mask", contradicts),
            ]
        );
        // A side without the field (its cells left out) is not read.
        let mut without = crate::prepare::prepare(entity, Side::Right, &right);
        without.fields[1] = crate::prepare::PreparedField {
            present: false,
            cells: Vec::new(),
            bad: Vec::new(),
        };
        assert!(audit_pairs(entity, [&sides[0], &without], [&keys[0], &keys[1]], &pairs, &Plain).is_empty());
    }

    #[test]
    fn wrong_mask_details_say_which_way_and_over_masks_are_still_compared() {
        let id = MaskStyle::CnId;
        let verdict = |v: &str| pii::audit(v, id, Some(pii::Validator::CnResidentId));
        let detail = |v: &str| match verdict(v) {
            MaskVerdict::WrongMask(d) => wrong_mask_detail(id, d),
            other => panic!("{v}: {other:?}"),
        };
        let (visible_10, visible_4) = ("10 of 18 characters visible", "4 of 18 characters visible");
        assert_eq!(
            detail("1101081990********"),
            format!("mask shows characters that policy `cn_id` hides ({visible_10}, policy shows 10)")
        );
        assert_eq!(
            detail("110105********0X21"),
            format!("mask does not have the shape of policy `cn_id` ({visible_10}, policy shows 10)")
        );
        assert_eq!(
            detail("1101081990****1438"),
            "mask shows more than policy `cn_id` (14 of 18 characters visible, policy shows 10)"
        );
        assert_eq!(
            detail("**************1438"),
            format!("mask shows less than policy `cn_id` ({visible_4}, policy shows 10)")
        );
        assert!(checks_consistency(verdict("110108********1438")));
        assert!(checks_consistency(verdict("**************1438")));
        assert!(checks_consistency(verdict("******************")));
        assert!(!checks_consistency(verdict("1101081990****1438")));
        assert!(!checks_consistency(verdict("110105********0X21")));
        assert!(!checks_consistency(verdict("110108199001091438")));
    }

    #[test]
    fn mask_consistency_uses_visible_characters() {
        let clear = Value::Str("+8613912345678".into());
        assert!(mask_consistent(&Value::Str("139****5678".into()), &clear));
        assert!(!mask_consistent(&Value::Str("139****5679".into()), &clear));
        assert!(mask_consistent(&Value::Str("*******5678".into()), &clear));
    }
}
