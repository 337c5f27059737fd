//! `compare` on small prepared sides: each row's place in the coverage, the
//! findings it gives, the pairs and which fields are compared.

use super::{compare, Coverage, Drift};
use crate::display::ReportDisplay;
use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::prepare::key::{side_keys, KeyIndex};
use crate::prepare::testing::prepared;
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Side, Spec};
use crate::test_support::keyed_by_id;

fn spec() -> Spec {
    keyed_by_id(
        r#"  [[entity.field]]
  name = "name"
  [[entity.field]]
  name = "note"
  compare = false
  [[entity.field]]
  name = "phone"
  pii = "cn_mobile"
  mask = { left = "clear", right = "full" }
  [[entity.field]]
  name = "city"
  [[entity.field]]
  name = "amount"
"#,
    )
}

fn cell(v: &str) -> Cell {
    match v {
        "<null>" => Cell::Null,
        "<bad>" => Cell::Bad,
        _ => Cell::Val(Value::Str(v.into())),
    }
}

/// A side from rows of six texts (field order); `city_present` false: the
/// source has no `city` column.
fn side(side: Side, rows: &[[&str; 6]], city_present: bool) -> PreparedSide {
    let rows: Vec<Vec<Cell>> = rows.iter().map(|r| r.iter().map(|v| cell(v)).collect()).collect();
    let mut prepared = typed_side(side, rows);
    prepared.fields[4].present = city_present;
    prepared
}

/// A side from rows of cells (field order); a `Cell::Bad` carries its bad cell.
fn typed_side(side: Side, rows: Vec<Vec<Cell>>) -> PreparedSide {
    let width = rows.first().map_or(0, Vec::len);
    let bad: Vec<(usize, usize, &str)> = (0..width)
        .flat_map(|f| {
            rows.iter()
                .enumerate()
                .filter(move |(_, r)| r[f] == Cell::Bad)
                .map(move |(row, _)| (f, row, "x"))
        })
        .collect();
    let columns = (0..width)
        .map(|f| rows.iter().map(|r| r[f].clone()).collect())
        .collect();
    prepared(side, columns, &bad)
}

/// `compare` of the spec's entity on two prepared sides, keyed and indexed
/// as a run does.
fn drift(spec: &Spec, left: &PreparedSide, right: &PreparedSide) -> Drift {
    let entity = &spec.entities[0];
    let ring = KeyRing::new(None);
    let display = ReportDisplay { keys: &ring };
    let keys = [side_keys(entity, left, &display), side_keys(entity, right, &display)];
    let index = KeyIndex::new([&keys[0], &keys[1]]);
    compare(
        entity,
        [left, right],
        [&keys[0], &keys[1]],
        &index,
        chrono_tz::UTC,
        &display,
    )
}

/// The drift findings of two prepared sides, as `key field: detail`.
fn mismatches(spec: &Spec, left: &PreparedSide, right: &PreparedSide) -> Vec<String> {
    let drift = drift(spec, left, right);
    let mut found: Vec<String> = drift
        .findings
        .iter()
        .map(|f| format!("{} {}: {}", f.key, f.field.as_deref().unwrap_or("-"), f.detail))
        .collect();
    found.sort();
    found
}

#[test]
fn every_row_lands_in_one_coverage_bucket_with_its_finding() {
    let spec = spec();
    let p = "13800138000";
    let q = "13900139000";
    let left = side(
        Side::Left,
        &[
            ["1", "<null>", "n1", p, "c", "<bad>"], // 0: matched; names both null; note and phone differ (neither compared)
            ["2", "bob", "n", p, "c", "20"],        // 1: matched; name differs
            ["3", "cy", "n", p, "c", "30"],         // 2-4: key 3 three times, not on the right
            ["3", "cy", "n", p, "c", "30"],
            ["3", "cy", "n", p, "c", "30"],
            ["4", "dan", "n", p, "c", "40"], // 5: one left row paired with two right rows
            ["<null>", "e", "n", p, "c", "0"], // 6: null key
            ["<bad>", "f", "n", p, "c", "0"], // 7: unconvertible key
            ["6", "gus", "n", p, "c", "60"], // 8: left only
            ["8", "<null>", "n", p, "c", "80"], // 9: matched; name null on the left only, amount differs
        ],
        true,
    );
    let right = side(
        Side::Right,
        &[
            ["1", "<null>", "n2", q, "", "10"], // 0
            ["2", "rob", "n", p, "", "20"],     // 1
            ["5", "eve", "n", p, "", "50"],     // 2: right only
            ["4", "dan", "n", p, "", "40"],     // 3-4: key 4 twice
            ["4", "dan", "n", p, "", "40"],
            ["8", "hal", "n", p, "", "81"],   // 5
            ["<null>", "i", "n", p, "", "0"], // 6-7: null keys
            ["<null>", "j", "n", p, "", "0"],
            ["<bad>", "k", "n", p, "", "0"], // 8
            ["9", "kim", "n", p, "", "90"],  // 9: right only
        ],
        false,
    );
    let drift = drift(&spec, &left, &right);

    // `name` and `amount` only: not the key, not `note` (compare = false),
    // not `phone` (one side shows nothing), not `city` (absent on the right).
    assert_eq!(
        drift.coverage,
        [
            Coverage {
                rows_read: 10,
                rows_matched: 3,
                rows_missing_other_side: 1,
                rows_duplicate_key: 3,
                rows_paired_with_duplicate: 1,
                rows_null_key: 1,
                rows_unconvertible_key: 1,
                fields_compared_per_matched_row: 2,
                cells_compared: 2 * 3,
            },
            Coverage {
                rows_read: 10,
                rows_matched: 3,
                rows_missing_other_side: 2,
                rows_duplicate_key: 2,
                rows_paired_with_duplicate: 0,
                rows_null_key: 2,
                rows_unconvertible_key: 1,
                fields_compared_per_matched_row: 2,
                cells_compared: 2 * 3,
            },
        ]
    );
    assert!(drift.coverage.iter().all(Coverage::adds_up));
    assert_eq!(drift.pairs, [(0, 0), (1, 1), (9, 5)]);
    assert_eq!(drift.only, [(Side::Left, 8), (Side::Right, 2), (Side::Right, 9)]);

    let mut found: Vec<String> = drift
        .findings
        .iter()
        .map(|f| format!("{} {} {} {}", f.kind, f.side, f.key, f.field.as_deref().unwrap_or("-")))
        .collect();
    found.sort();
    let mut expected = vec![
        r#"duplicate_key left {"id":"3"} -"#,
        r#"duplicate_key right {"id":"4"} -"#,
        r#"missing_left left {"id":"5"} -"#,
        r#"missing_left left {"id":"9"} -"#,
        r#"missing_right right {"id":"3"} -"#,
        r#"missing_right right {"id":"6"} -"#,
        r#"null_key left {"id":null} -"#,
        r#"null_key right {"id":null} -"#,
        r#"null_key right {"id":null} -"#,
        r#"unconvertible left {"id":"1"} amount"#,
        r#"unconvertible left {"id":null} id"#,
        r#"unconvertible right {"id":null} id"#,
        r#"value_mismatch both {"id":"2"} name"#,
        r#"value_mismatch both {"id":"8"} amount"#,
        r#"value_mismatch both {"id":"8"} name"#,
    ];
    expected.sort();
    assert_eq!(found, expected);
    // Distinct keys with a finding: 1 to 6, 8, 9 and the null key. An
    // unconvertible cell is its own finding, never also a mismatch.
    assert_eq!(drift.drifted_keys, 9);
}

#[test]
fn masked_sides_sets_and_tolerances_give_their_own_verdict_and_detail() {
    let spec = keyed_by_id(
        r#"  [[entity.field]]
  name = "masked_left"
  pii = "cn_mobile"
  mask = { left = "phone", right = "clear" }
  [[entity.field]]
  name = "masked_right"
  pii = "cn_mobile"
  mask = { left = "clear", right = "phone" }
  [[entity.field]]
  name = "tags"
  type = "set"
  [[entity.field]]
  name = "amount"
  type = "decimal(10,2)"
  tolerance = { abs = 0.01 }
  [[entity.field]]
  name = "code"
  [[entity.field]]
  name = "emails"
  type = "set"
  pii = "email"
"#,
    );
    let s = |v: &str| Cell::Val(Value::Str(v.into()));
    let set = |v: &[&str]| Cell::Val(crate::normalize::set::canonical(v.iter().copied()).unwrap());
    let dec = |units: i128| Cell::Val(Value::dec(units, 2));
    let (clear, agrees, contradicts) = ("13800138000", "138****8000", "139****8000");
    const MAIL: &str = "ann@example.com";
    const OTHER: &str = "bob@example.com";
    let left = typed_side(
        Side::Left,
        vec![
            // 1: every field agrees: masks consistent with the clear value, equal sets, within 0.01
            vec![
                s("1"),
                s(agrees),
                s(clear),
                set(&["a", "b"]),
                dec(100),
                s("x"),
                set(&[MAIL]),
            ],
            // 2: every field differs
            vec![
                s("2"),
                s(contradicts),
                s(clear),
                set(&["a", "b"]),
                dec(100),
                s("x"),
                set(&[MAIL]),
            ],
            // 3: a null on one side
            vec![
                s("3"),
                s(agrees),
                s(clear),
                set(&["a"]),
                dec(100),
                Cell::Null,
                set(&[MAIL]),
            ],
        ],
    );
    let right = typed_side(
        Side::Right,
        vec![
            vec![
                s("1"),
                s(clear),
                s(agrees),
                set(&["b", "a"]),
                dec(101),
                s("x"),
                set(&[MAIL]),
            ],
            vec![
                s("2"),
                s(clear),
                s(contradicts),
                set(&["b", "c"]),
                dec(102),
                s("y"),
                set(&[MAIL, OTHER]),
            ],
            vec![
                s("3"),
                s(clear),
                s(agrees),
                set(&["a", "d"]),
                Cell::Null,
                s("y"),
                set(&[MAIL]),
            ],
        ],
    );
    assert_eq!(
        mismatches(&spec, &left, &right),
        [
            r#"{"id":"2"} amount: values differ beyond the declared tolerance"#,
            r#"{"id":"2"} code: values differ"#,
            // a set of personal data never names its elements
            r#"{"id":"2"} emails: values differ"#,
            r#"{"id":"2"} masked_left: values differ"#,
            r#"{"id":"2"} masked_right: values differ"#,
            r#"{"id":"2"} tags: only left: "a"; only right: "c""#,
            r#"{"id":"3"} amount: left has a value, right is null"#,
            r#"{"id":"3"} code: left is null, right has a value"#,
            r#"{"id":"3"} tags: only right: "d""#,
        ]
    );
}
