//! Unit tests of rule compilation and checks, on entities compiled from
//! spec text and sides prepared in memory.

use std::path::Path;

use super::*;
use crate::error::SpecError;
use crate::pii::Validator;
use crate::prepare::{convert, side_keys, Cell, PreparedField, PreparedSide, SideKeys};
use crate::spec::rule::Check;
use crate::spec::{Entity, Side, Spec};
use crate::test_support::Plain;

const HEAD: &str = r#"
[run]
name = "t"
[sides]
left = "a"
right = "b"
"#;

fn spec(entities: &str) -> Spec {
    crate::spec::parse(Path::new("t.toml"), &format!("{HEAD}{entities}"), String::new())
        .unwrap_or_else(|e| panic!("{e} ({:?})", e.hint))
}

fn spec_err(entities: &str) -> SpecError {
    crate::spec::parse(Path::new("t.toml"), &format!("{HEAD}{entities}"), String::new()).expect_err("spec error")
}

/// A side from rows of raw text cells (None = null), in field order.
fn side(entity: &Entity, s: Side, rows: &[&[Option<&str>]]) -> PreparedSide {
    let fields = (0..entity.fields.len())
        .map(|f| {
            let mut cells = Vec::new();
            let mut bad = Vec::new();
            for (r, row) in rows.iter().enumerate() {
                match convert(&entity.fields[f], s, row[f]) {
                    Ok(None) => cells.push(Cell::Null),
                    Ok(Some(v)) => cells.push(Cell::Val(v)),
                    Err(reason) => {
                        cells.push(Cell::Bad);
                        bad.push(crate::prepare::BadCell {
                            row: r,
                            raw: row[f].unwrap_or_default().to_string(),
                            reason,
                        });
                    }
                }
            }
            PreparedField {
                present: true,
                cells,
                bad,
            }
        })
        .collect();
    PreparedSide {
        side: s,
        rows: rows.len(),
        fields,
    }
}

/// Runs the rules of entity `e` over the given sides of every entity.
fn run(spec: &Spec, data: &[[PreparedSide; 2]], baseline: &Baseline, e: usize) -> Outcome {
    let keys: Vec<[SideKeys; 2]> = spec
        .entities
        .iter()
        .zip(data)
        .map(|(ent, d)| [side_keys(ent, &d[0], &Plain), side_keys(ent, &d[1], &Plain)])
        .collect();
    let sides: Vec<[&PreparedSide; 2]> = data.iter().map(|d| [&d[0], &d[1]]).collect();
    let key_refs: Vec<[&SideKeys; 2]> = keys.iter().map(|k| [&k[0], &k[1]]).collect();
    let ctx = Context {
        entities: &spec.entities,
        sides: &sides,
        keys: &key_refs,
        display: &Plain,
        clock: crate::quality::expr::Clock::new(chrono::Utc::now(), chrono_tz::Tz::UTC),
        baseline,
        buckets: None,
    };
    check(&ctx, e)
}

fn found(o: &Outcome) -> Vec<(String, &'static str, String)> {
    let mut v: Vec<_> = o
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.side, f.key.clone()))
        .collect();
    v.sort();
    v
}

const E: &str = r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "v"
  normalize = ["empty_is_null"]
  [[entity.field]]
  name = "kind"
"#;

#[test]
fn rows_sharing_a_key_fold_into_one_finding() {
    let s = spec(&format!(
        "{E}  [[entity.rule]]\n  id = \"v-required\"\n  check = \"not_null\"\n  field = \"v\"\n  side = \"left\"\n"
    ));
    let e = &s.entities[0];
    let rows: &[&[Option<&str>]] = &[
        &[Some("1"), Some(""), Some("a")],
        &[Some("1"), None, Some("a")],
        &[Some("2"), Some("x"), Some("a")],
    ];
    let data = [[side(e, Side::Left, rows), side(e, Side::Right, rows)]];
    let o = run(&s, &data, &Baseline::none("none: first run"), 0);
    assert_eq!(found(&o), vec![("v-required".into(), "left", r#"{"id":"1"}"#.into())]);
    assert!(
        o.findings[0].detail.ends_with("(2 rows share this key)"),
        "{}",
        o.findings[0].detail
    );
    let st = &o.rules["v-required"];
    assert_eq!(st.violations["left"], 1);
    assert_eq!(st.violating_rows["left"], 2);
    assert!(!st.violations.contains_key("right"));
}

#[test]
fn where_limits_unique_and_expr_to_matching_rows() {
    let s = spec(&format!(
        "{E}  [[entity.rule]]\n  id = \"u\"\n  check = \"unique\"\n  field = \"v\"\n  where = \"kind = 'a'\"\n  side = \"left\"\n\
         \n  [[entity.rule]]\n  id = \"x\"\n  check = \"expr\"\n  expr = \"v != 'bad'\"\n  where = \"kind IS NOT NULL AND NOT kind = 'b'\"\n  side = \"left\"\n"
    ));
    let e = &s.entities[0];
    let rows: &[&[Option<&str>]] = &[
        &[Some("1"), Some("same"), Some("a")],
        &[Some("2"), Some("same"), Some("a")],
        &[Some("3"), Some("same"), Some("b")],
        &[Some("4"), Some("bad"), Some("b")],
        &[Some("5"), Some("bad"), Some("c")],
        &[Some("6"), Some("bad"), Some("")],
        &[Some("7"), None, Some("c")],
    ];
    let data = [[side(e, Side::Left, rows), side(e, Side::Right, rows)]];
    let o = run(&s, &data, &Baseline::none("none: first run"), 0);
    let k = |i: u32| format!("{{\"id\":\"{i}\"}}");
    assert_eq!(
        found(&o),
        vec![
            ("u".into(), "left", k(1)),
            ("u".into(), "left", k(2)),
            // kind "" is not null and not 'b'; row 7's v is null: unknown, not a violation
            ("x".into(), "left", k(5)),
            ("x".into(), "left", k(6)),
        ]
    );
    assert_eq!(o.rules["u"].rows_checked["left"], 2);
    assert_eq!(o.rules["x"].rows_checked["left"], 5);
}

#[test]
fn range_bounds_inclusive_and_exclusive_and_length_in_characters() {
    let s = spec(
        r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "n"
  type = "decimal(6,2)"
  [[entity.field]]
  name = "at"
  type = "timestamp"
  [[entity.field]]
  name = "s"
  [[entity.rule]]
  id = "n-open"
  check = "range"
  field = "n"
  min = 0
  max = 1.5
  min_exclusive = true
  [[entity.rule]]
  id = "at-range"
  check = "range"
  field = "at"
  min = "2026-01-01 00:00:00"
  max = "2026-12-31T23:59:59Z"
  [[entity.rule]]
  id = "s-len"
  check = "length"
  field = "s"
  max = 3
"#,
    );
    let e = &s.entities[0];
    let rows: &[&[Option<&str>]] = &[
        &[Some("1"), Some("0"), Some("2026-01-01 00:00:00"), Some("中文字")],
        &[Some("2"), Some("0.01"), Some("2025-12-31 23:59:59"), Some("中文字符")],
        &[Some("3"), Some("1.50"), Some("2027-01-01 00:00:00"), Some("abc")],
        &[Some("4"), Some("1.51"), None, Some("")],
    ];
    let data = [[side(e, Side::Left, rows), side(e, Side::Right, rows)]];
    let o = run(&s, &data, &Baseline::none("none: first run"), 0);
    let left: Vec<(String, String)> = found(&o)
        .into_iter()
        .filter(|f| f.1 == "left")
        .map(|f| (f.0, f.2))
        .collect();
    let k = |i: u32| format!("{{\"id\":\"{i}\"}}");
    assert_eq!(
        left,
        vec![
            ("at-range".into(), k(2)),
            ("at-range".into(), k(3)),
            ("n-open".into(), k(1)),
            ("n-open".into(), k(4)),
            ("s-len".into(), k(2)),
        ]
    );
}

#[test]
fn allowed_uses_the_canonical_values_of_both_maps() {
    let s = spec(
        r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "st"
  map = { left = { "1" = "open" }, right = { "C" = "closed" } }
  unmapped = "keep"
  [[entity.rule]]
  id = "st"
  check = "allowed"
  field = "st"
  [[entity.field]]
  name = "both"
  map = { "Y" = "yes", "N" = "no" }
  unmapped = "keep"
  [[entity.rule]]
  id = "both"
  check = "allowed"
  field = "both"
"#,
    );
    let Check::Allowed(set) = &s.entities[0].rules[0].check else {
        panic!()
    };
    assert_eq!(set.iter().collect::<Vec<_>>(), ["closed", "open"]);
    let Check::Allowed(set) = &s.entities[0].rules[1].check else {
        panic!()
    };
    assert_eq!(set.iter().collect::<Vec<_>>(), ["no", "yes"]);
    // A one-table map applies to both sides.
    assert!(s.entities[0].fields[2].map.iter().all(|m| m.is_some()));
}

#[test]
fn allow_legacy_accepts_15_digit_resident_ids() {
    let rule = |extra: &str| {
        format!("{E}  [[entity.rule]]\n  id = \"r\"\n  check = \"valid\"\n  field = \"v\"\n  validator = \"cn_resident_id\"\n{extra}")
    };
    let s = spec(&rule("  allow_legacy = true\n"));
    assert!(matches!(
        s.entities[0].rules[0].check,
        Check::Valid(Validator::CnResidentIdOrLegacy)
    ));
    let s = spec(&rule(""));
    assert!(matches!(
        s.entities[0].rules[0].check,
        Check::Valid(Validator::CnResidentId)
    ));
    let e = spec_err(&format!(
        "{E}  [[entity.rule]]\n  id = \"r\"\n  check = \"valid\"\n  field = \"v\"\n  validator = \"email\"\n  allow_legacy = true\n"
    ));
    assert!(e.message.contains("allow_legacy"), "{e}");
}

#[test]
fn row_count_against_a_baseline() {
    let s = spec(&format!(
        "{E}  [[entity.rule]]\n  id = \"rc\"\n  check = \"row_count\"\n  max_change = 0.5\n"
    ));
    let e = &s.entities[0];
    let three: &[&[Option<&str>]] = &[
        &[Some("1"), None, None],
        &[Some("2"), None, None],
        &[Some("3"), None, None],
    ];
    let data = [[side(e, Side::Left, three), side(e, Side::Right, three)]];
    let mut b = Baseline::none("x");
    b.run_id = Some("prev".into());
    b.rows.insert("e".into(), [Some(2), Some(0)]);
    let o = run(&s, &data, &b, 0);
    // left 2 → 3 is +50%: allowed; right 0 → 3 has no finite ratio.
    assert_eq!(found(&o), vec![("rc".into(), "right", "{}".into())]);
    assert!(o.findings[0].detail.contains("from none"), "{}", o.findings[0].detail);
    assert_eq!(o.rules["rc"].observed["left"]["status"], "ok");
    b.rows.clear();
    let o = run(&s, &data, &b, 0);
    assert!(o.findings.is_empty());
    assert!(o.rules["rc"].observed["left"]["status"]
        .as_str()
        .unwrap()
        .starts_with("no baseline: run prev has no rows"));
}

#[test]
fn spec_errors_name_the_place_and_the_choices() {
    let e = spec_err(&format!(
        "{E}  [[entity.rule]]\n  id = \"r\"\n  check = \"unique\"\n  fields = [\"v\", \"nope\"]\n"
    ));
    assert!(e.message.contains("unknown field `nope`"), "{e}");
    assert_eq!(e.hint.as_deref(), Some("declared fields: id, v, kind"));
    let e = spec_err(&format!(
        "{E}  [[entity.rule]]\n  id = \"r\"\n  check = \"references\"\n  fields = [\"v\", \"kind\"]\n  entity = \"e\"\n  to_fields = [\"id\"]\n"
    ));
    assert!(e.message.contains("2 field(s) point to 1 field(s)"), "{e}");
    let e = spec_err(&format!(
        "{E}  [[entity.rule]]\n  id = \"r\"\n  check = \"pattern\"\n  field = \"v\"\n"
    ));
    assert!(e.message.contains("needs `pattern"), "{e}");
    let e = spec_err(&format!(
        "{E}  [[entity.rule]]\n  id = \"r\"\n  check = \"not_null\"\n  fields = [\"v\", \"kind\"]\n"
    ));
    assert!(e.message.contains("takes one `field`"), "{e}");
    let e = spec_err(&format!(
        "{E}  [[entity.rule]]\n  id = \"r\"\n  check = \"row_count\"\n  max_change = -1\n"
    ));
    assert!(e.message.contains("max_change"), "{e}");
    let e = spec_err(&format!(
        "{E}  [[entity.rule]]\n  id = \"r\"\n  check = \"expr\"\n  expr = \"v = 'a' OR\"\n"
    ));
    // `  expr = "v = 'a' OR"` is line 23; the error is at the end of the expression.
    assert_eq!((e.line, e.column), (23, 21), "{e}");
}

#[test]
fn naive_range_bounds_are_read_in_each_sides_zone() {
    let s = spec(
        r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv", timezone = "UTC" }
right = { path = "r.csv", timezone = "Asia/Shanghai" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "at"
  type = "timestamp"
  [[entity.rule]]
  id = "after-8"
  check = "range"
  field = "at"
  min = "2026-01-01 08:00:00"
"#,
    );
    let e = &s.entities[0];
    let rows: &[&[Option<&str>]] = &[
        &[Some("1"), Some("2026-01-01 09:00:00")],
        &[Some("2"), Some("2026-01-01 07:30:00")],
    ];
    let data = [[side(e, Side::Left, rows), side(e, Side::Right, rows)]];
    let o = run(&s, &data, &Baseline::none("none: first run"), 0);
    // 09:00 Shanghai is 01:00Z, before 08:00Z, yet after 08:00 Shanghai.
    assert_eq!(
        found(&o),
        vec![
            ("after-8".into(), "left", r#"{"id":"2"}"#.into()),
            ("after-8".into(), "right", r#"{"id":"2"}"#.into()),
        ]
    );
}
