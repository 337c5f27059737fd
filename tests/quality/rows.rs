//! Row checks end to end: every check with violating and clean rows,
//! `where`, `expr`, column metrics, `fail = false`, and a `valid` rule
//! judging what a normalizer lets through (issue 26).

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{expect, id, quality_set, summary, HEAD};
use crate::util::*;
use recon::generate::Expected;

const ACCT: &str = r#"
[[entity]]
name = "acct"
key = ["id"]
left = { path = "acct_l.csv" }
right = { path = "acct_r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "name"
  [[entity.field]]
  name = "amount"
  type = "decimal(10,2)"
  [[entity.field]]
  name = "status"
  map = { "A" = "active", "I" = "inactive" }
  unmapped = "keep"
  [[entity.field]]
  name = "email"
  [[entity.field]]
  name = "card"
  normalize = ["empty_is_null"]
  pii = "bank_card"
  [[entity.field]]
  name = "opened"
  type = "date"
  [[entity.field]]
  name = "vip"
  type = "bool"

  [[entity.rule]]
  id = "name-required"
  check = "not_null"
  field = "name"
  [[entity.rule]]
  id = "name-length"
  check = "length"
  field = "name"
  min = 2
  max = 8
  [[entity.rule]]
  id = "amount-range"
  check = "range"
  field = "amount"
  min = 0
  max = "100"
  max_exclusive = true
  [[entity.rule]]
  id = "status-known"
  check = "allowed"
  field = "status"
  [[entity.rule]]
  id = "vip-active"
  check = "allowed"
  field = "status"
  values = ["active"]
  where = "vip"
  [[entity.rule]]
  id = "email-valid"
  check = "valid"
  field = "email"
  validator = "email"
  [[entity.rule]]
  id = "card-valid"
  check = "valid"
  field = "card"
  validator = "bank_card"
  side = "left"
  [[entity.rule]]
  id = "id-pattern"
  check = "pattern"
  field = "id"
  pattern = "[0-9]+"
  [[entity.rule]]
  id = "status-vip-unique"
  check = "unique"
  fields = ["status", "vip"]
  [[entity.rule]]
  id = "opened-2026"
  check = "range"
  field = "opened"
  min = "2026-01-01"
  [[entity.rule]]
  id = "vip-has-money"
  check = "expr"
  expr = "vip = false OR amount > 0"
"#;

const ACCT_L: &str = "id,name,amount,status,email,card,opened,vip
1,Zoë,10.00,A,a@example.com,4111111111111111,2026-01-01,true
2,,-5.00,I,bad-email,4111111111111112,2025-12-31,false
3,王小明一二三四五六,100.00,X,b@example.com,,2026-06-30,true
4,Al,0.00,A,c@example.com,6212261234567890128,2026-01-02,false
X5,Bo,0.00,A,d@example.com,4111111111111111,2026-02-01,true
";

fn acct_env() -> (Env, PathBuf) {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{ACCT}"));
    env.write("acct_l.csv", ACCT_L);
    env.write("acct_r.csv", ACCT_L.replace("c@example.com", "nope"));
    (env, spec)
}

#[test]
fn every_row_check_finds_violations_and_passes_clean_rows() {
    let (env, spec) = acct_env();
    let out = env.run(&spec, "r1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("r1");
    let mut want = Vec::new();
    for side in ["left", "right"] {
        for (rule, key) in [
            // Row 2's empty name cell is null: `not_null` speaks, and a null
            // passes every other check (`length` included).
            ("name-required", "2"),
            ("name-length", "3"), // 9 characters (27 bytes)
            ("amount-range", "2"),
            ("amount-range", "3"), // 100.00 with max_exclusive
            ("status-known", "3"),
            ("vip-active", "3"), // only vip rows are checked
            ("email-valid", "2"),
            ("id-pattern", "X5"),
            ("status-vip-unique", "1"),
            ("status-vip-unique", "X5"),
            ("opened-2026", "2"),
            ("vip-has-money", "X5"),
        ] {
            want.push((rule, side, key));
        }
    }
    want.push(("email-valid", "right", "4"));
    want.push(("card-valid", "left", "2"));
    let want: BTreeSet<_> = want
        .into_iter()
        .map(|(r, s, k)| (r.to_string(), s.to_string(), id(k)))
        .collect();
    assert_eq!(quality_set(&run), want);

    // Display values: personal data masked, details plain.
    let df = read_parquet(&run.join("findings.parquet"));
    let [rule, lv, detail, kind] = ["rule", "left_value", "detail", "kind"].map(|c| strings(&df, c));
    let card = (0..df.height())
        .find(|&i| rule[i].as_deref() == Some("card-valid"))
        .unwrap();
    let shown = lv[card].clone().unwrap();
    assert!(shown.contains('*') && !shown.contains("4111111111111112"), "{shown}");
    assert_eq!(kind[card].as_deref(), Some("valid"));
    let range = (0..df.height())
        .find(|&i| rule[i].as_deref() == Some("amount-range") && lv[i].as_deref() == Some("100.00"))
        .unwrap();
    assert_eq!(detail[range].as_deref(), Some("100.00 is outside [0.00, 100.00)"));
    let expr = (0..df.height())
        .find(|&i| rule[i].as_deref() == Some("vip-has-money"))
        .unwrap();
    assert!(
        detail[expr].as_deref().unwrap().contains("amount=0.00, vip=true"),
        "{:?}",
        detail[expr]
    );
    assert!(!String::from_utf8_lossy(&std::fs::read(run.join("summary.json")).unwrap()).contains("4111111111111112"));
}

#[test]
fn column_metrics_in_summary_and_long_form_parquet() {
    let (env, spec) = acct_env();
    let out = env.run(&spec, "m1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("m1");
    let s = summary(&run);
    let q = &s["entities"]["acct"]["quality"];
    let card = &q["fields"]["card"]["left"];
    assert_eq!(card["rows"], 5);
    assert_eq!(card["null_count"], 1);
    assert_eq!(card["null_rate"], 0.2);
    assert_eq!(card["distinct_count"], 3);
    for m in ["min", "max"] {
        let v = card[m].as_str().unwrap();
        assert!(v.contains('*') && !v.contains("41111111111"), "{m} is masked: {v}");
    }
    let amount = &q["fields"]["amount"]["right"];
    assert_eq!(amount["min"], "-5.00");
    assert_eq!(amount["max"], "100.00");
    assert_eq!(amount["distinct_count"], 4);
    assert_eq!(amount["null_count"], 0);
    // Row 2's empty name is null: not the minimum, but a null.
    assert_eq!(q["fields"]["name"]["left"]["min"], "Al");
    assert_eq!(q["fields"]["name"]["left"]["null_count"], 1);
    assert_eq!(q["rules"]["email-valid"]["violations"]["left"], 1);
    assert_eq!(q["rules"]["email-valid"]["violations"]["right"], 2);
    assert_eq!(q["rules"]["vip-active"]["rows_checked"]["left"], 3);
    assert_eq!(q["rules"]["card-valid"]["violations"]["left"], 1);
    assert!(q["rules"]["card-valid"]["violations"].get("right").is_none());

    let df = read_parquet(&run.join("quality_metrics.parquet"));
    let names: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    assert_eq!(names, ["run_id", "entity", "side", "field", "rule", "metric", "value"]);
    let cols = ["run_id", "entity", "side", "field", "rule", "metric", "value"].map(|c| strings(&df, c));
    let find = |side: &str, field: Option<&str>, rule: Option<&str>, metric: &str| {
        (0..df.height())
            .find(|&i| {
                cols[1][i].as_deref() == Some("acct")
                    && cols[2][i].as_deref() == Some(side)
                    && cols[3][i].as_deref() == field
                    && cols[4][i].as_deref() == rule
                    && cols[5][i].as_deref() == Some(metric)
            })
            .map(|i| cols[6][i].clone())
            .unwrap_or_else(|| panic!("no row {side} {field:?} {rule:?} {metric}"))
    };
    assert!(cols[0].iter().all(|r| r.as_deref() == Some("m1")));
    assert_eq!(find("left", Some("amount"), None, "min"), Some("-5.00".into()));
    assert_eq!(find("left", Some("card"), None, "null_rate"), Some("0.2".into()));
    assert_eq!(find("right", None, Some("email-valid"), "violations"), Some("2".into()));
    assert_eq!(find("left", None, None, "rows"), Some("5".into()));
    // The metrics file is sealed like every other file of the run.
    let manifest = std::fs::read_to_string(run.join("manifest.json")).unwrap();
    assert!(manifest.contains("quality_metrics.parquet"));
    let verify = env.recon(&["verify", run.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", stderr(&verify));
}

#[test]
fn fail_false_reports_without_failing_the_run() {
    let env = Env::new();
    let rules = r#"
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
  [[entity.rule]]
  id = "v-required"
  check = "not_null"
  field = "v"
  severity = "critical"
"#;
    env.write("l.csv", "id,v\n1,a\n2,\n");
    env.write("r.csv", "id,v\n1,a\n2,\n");
    let quiet = env.write("quiet.toml", format!("{HEAD}{rules}  fail = false\n"));
    let out = env.run(&quiet, "quiet");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = env.reports().join("quiet");
    assert_eq!(
        quality_set(&run),
        expect(&[("v-required", "left", &id("2")), ("v-required", "right", &id("2"))])
    );
    let s = summary(&run);
    assert_eq!(s["entities"]["e"]["quality"]["rules"]["v-required"]["fail"], false);
    assert_eq!(s["thresholds_hit"], serde_json::json!([]));

    let loud = env.write("loud.toml", format!("{HEAD}{rules}"));
    let out = env.run(&loud, "loud");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("quality.not_null"), "{}", stderr(&out));
}

#[test]
fn fail_false_silences_only_its_own_rule() {
    // The rule id equals the field name, which is also the `rule` of that
    // field's drift findings: those must still fail the run.
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        format!(
            "{HEAD}{}",
            r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "v"
  [[entity.rule]]
  id = "v"
  check = "pattern"
  field = "v"
  pattern = "[a-z]"
  fail = false
"#
        ),
    );
    env.write("l.csv", "id,v\n1,a\n2,B\n");
    env.write("r.csv", "id,v\n1,b\n2,B\n");
    let out = env.run(&spec, "r1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("threshold hit: e: 1 drift.value_mismatch") && !err.contains("quality.pattern finding(s)"),
        "{err}"
    );
    assert_eq!(
        quality_set(&env.reports().join("r1")),
        expect(&[("v", "left", &id("2")), ("v", "right", &id("2"))])
    );
}

/// Issue 26: `phone_e164:CN` formats a well-formed but unassigned number
/// instead of refusing it, so the `valid` rule written for the field judges
/// it. The same invalid number written two ways is one quality finding per
/// side and no drift; two different invalid numbers are a `value_mismatch`
/// (with the old code: `unconvertible` on each side, no quality finding).
#[test]
fn unassigned_phone_is_judged_by_its_valid_rule_not_refused_by_the_normalizer() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        spec_keyed_by_id(
            r#"  [[entity.field]]
  name = "phone"
  normalize = ["trim", "empty_is_null", "phone_e164:CN"]
  [[entity.rule]]
  id = "phone-is-mobile"
  check = "valid"
  field = "phone"
  validator = "cn_mobile"
"#,
        ),
    );
    // 1: one unassigned number, two spellings. 2: two different unassigned
    // numbers. 3: one valid mobile, two spellings. 4: not a phone number.
    env.write(
        "l.csv",
        "id,phone\n1,12029334921\n2,120 2933 4921\n3,13912345678\n4,n/a\n",
    );
    env.write(
        "r.csv",
        "id,phone\n1,0086 120 2933 4921\n2,+86 120-2933-4922\n3,+86 139 1234 5678\n4,+86 139 1234 5678\n",
    );
    let out = env.run(&spec, "r1");
    assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
    let finding = |category: &str, kind: &str, side: &str, key: &str| Expected {
        entity: "e".into(),
        category: category.into(),
        kind: kind.into(),
        side: side.into(),
        key: id(key),
        field: Some("phone".into()),
    };
    let want: BTreeSet<Expected> = [
        finding("quality", "valid", "left", "1"),
        finding("quality", "valid", "right", "1"),
        finding("quality", "valid", "left", "2"),
        finding("quality", "valid", "right", "2"),
        finding("drift", "value_mismatch", "both", "2"),
        finding("drift", "unconvertible", "left", "4"),
    ]
    .into_iter()
    .collect();
    assert_same(&finding_set(&env.reports().join("r1")), &want);
}
