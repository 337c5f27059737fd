//! Data-quality rules end to end: every check with violating and clean
//! rows, `where`, `expr`, `references` across entities and sides, `fresh`
//! against the run's start time, `row_count` against the newest earlier
//! passing run, `fail = false`, column metrics, spec errors with locations,
//! and property tests of the identifier validators.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::util::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recon::generate::Expected;
use recon::pii::Validator;

const HEAD: &str = r#"
[run]
name = "q"
[sides]
left = "cc"
right = "crm"
"#;

/// (rule, side, key) of every quality finding of a run.
fn quality_set(run: &Path) -> BTreeSet<(String, String, String)> {
    let df = read_parquet(&run.join("findings.parquet"));
    let [cat, rule, side, key] = ["category", "rule", "side", "key"].map(|c| strings(&df, c));
    (0..df.height())
        .filter(|&i| cat[i].as_deref() == Some("quality"))
        .map(|i| {
            (
                rule[i].clone().unwrap(),
                side[i].clone().unwrap(),
                key[i].clone().unwrap(),
            )
        })
        .collect()
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

fn expect(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(r, s, k)| (r.to_string(), s.to_string(), k.to_string()))
        .collect()
}

/// `{"id":"<v>"}`
fn id(v: &str) -> String {
    format!("{{\"id\":\"{v}\"}}")
}

// ---------------------------------------------------------------------------
// Row checks

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

// ---------------------------------------------------------------------------
// references

const ORDERS: &str = r#"
[[entity]]
name = "order"
key = ["order_id"]
left = { path = "orders_l.csv" }
right = { path = "orders_r.csv" }
severity = { value_mismatch = "info" }
  [[entity.field]]
  name = "order_id"
  [[entity.field]]
  name = "customer_id"
  normalize = ["empty_is_null"]
  [[entity.field]]
  name = "region"

  [[entity.rule]]
  id = "cust-same"
  check = "references"
  field = "customer_id"
  entity = "customer"
  [[entity.rule]]
  id = "cust-other"
  check = "references"
  field = "customer_id"
  entity = "customer"
  to = "customer_id"
  on = "other"
  side = "left"
  [[entity.rule]]
  id = "cust-in-cc"
  check = "references"
  field = "customer_id"
  entity = "customer"
  on = "left"
  side = "right"
  where = "customer_id != 'c2'"
  [[entity.rule]]
  id = "cust-region"
  check = "references"
  fields = ["customer_id", "region"]
  entity = "customer"
  to_fields = ["customer_id", "home_region"]

[[entity]]
name = "customer"
key = ["customer_id"]
left = { path = "cust_l.csv" }
right = { path = "cust_r.csv" }
severity = { missing_left = "info", missing_right = "info" }
  [[entity.field]]
  name = "customer_id"
  [[entity.field]]
  name = "home_region"
"#;

fn key(order: &str) -> String {
    format!("{{\"order_id\":\"{order}\"}}")
}

#[test]
fn references_across_entities_and_sides_with_orphans_on_each_side() {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{ORDERS}"));
    env.write("cust_l.csv", "customer_id,home_region\nc1,north\nc2,south\nc3,east\n");
    env.write("cust_r.csv", "customer_id,home_region\nc1,north\nc2,south\nc4,west\n");
    env.write(
        "orders_l.csv",
        "order_id,customer_id,region\no1,c1,north\no2,c3,east\no3,c4,west\no4,,south\no5,c9,north\n",
    );
    env.write(
        "orders_r.csv",
        "order_id,customer_id,region\no1,c1,north\no2,c3,east\no3,c4,west\no4,,south\no5,c2,north\n",
    );
    let out = env.run(&spec, "refs");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("refs");
    let want = expect(&[
        // same side: left customers c1 c2 c3, right customers c1 c2 c4; o4 is null
        ("cust-same", "left", &key("o3")),
        ("cust-same", "left", &key("o5")),
        ("cust-same", "right", &key("o2")),
        // left orders against right customers
        ("cust-other", "left", &key("o2")),
        ("cust-other", "left", &key("o5")),
        // right orders against left customers, o5 (c2) filtered out by `where`
        ("cust-in-cc", "right", &key("o3")),
        // composite: (customer, region) pairs
        ("cust-region", "left", &key("o3")),
        ("cust-region", "left", &key("o5")),
        ("cust-region", "right", &key("o2")),
        ("cust-region", "right", &key("o5")),
    ]);
    assert_eq!(quality_set(&run), want);
    let df = read_parquet(&run.join("findings.parquet"));
    let [rule, key_col, detail, field] = ["rule", "key", "detail", "field"].map(|c| strings(&df, c));
    let i = (0..df.height())
        .find(|&i| rule[i].as_deref() == Some("cust-in-cc"))
        .unwrap();
    assert_eq!(key_col[i], Some(key("o3")));
    assert_eq!(field[i].as_deref(), Some("customer_id"));
    assert_eq!(
        detail[i].as_deref(),
        Some("no `customer` row on the left side has customer_id = c4")
    );
    let s = summary(&run);
    assert_eq!(
        s["entities"]["order"]["quality"]["rules"]["cust-in-cc"]["rows_checked"]["right"],
        3
    );
}

#[test]
fn a_reference_to_a_missing_column_is_skipped_not_reported_as_orphans() {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{ORDERS}"));
    env.write("cust_l.csv", "customer_id\nc1\n");
    env.write("cust_r.csv", "customer_id,home_region\nc1,north\n");
    env.write("orders_l.csv", "order_id,customer_id,region\no1,c1,north\n");
    env.write("orders_r.csv", "order_id,customer_id,region\no1,c1,north\n");
    let out = env.run(&spec, "skip");
    let run = env.reports().join("skip");
    assert!(run.exists(), "{}", stderr(&out));
    assert_eq!(quality_set(&run), BTreeSet::new());
    let s = summary(&run);
    let obs = &s["entities"]["order"]["quality"]["rules"]["cust-region"]["observed"]["left"];
    assert!(obs["skipped"].is_string(), "{obs}");
}

// ---------------------------------------------------------------------------
// fresh

#[test]
fn fresh_measures_the_newest_timestamp_against_the_run_start() {
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
  name = "kind"
  [[entity.field]]
  name = "updated_at"
  type = "timestamp"
  compare = false
  [[entity.rule]]
  id = "fresh"
  check = "fresh"
  field = "updated_at"
  max_age = "36h"
  [[entity.rule]]
  id = "fresh-web"
  check = "fresh"
  field = "updated_at"
  max_age = "1d"
  where = "kind = 'web'"
  side = "left"
  severity = "warning"
"#
        ),
    );
    let now = chrono::Utc::now();
    let ts = |hours: i64| {
        (now - chrono::Duration::hours(hours))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    env.write(
        "l.csv",
        format!("id,kind,updated_at\n1,phone,{}\n2,web,{}\n3,web,\n", ts(1), ts(50)),
    );
    env.write(
        "r.csv",
        format!(
            "id,kind,updated_at\n1,phone,{}\n2,web,{}\n3,web,{}\n",
            ts(72),
            ts(96),
            ts(80)
        ),
    );
    let out = env.run(&spec, "f1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("f1");
    assert_eq!(
        quality_set(&run),
        expect(&[("fresh", "right", "{}"), ("fresh-web", "left", "{}")])
    );
    let df = read_parquet(&run.join("findings.parquet"));
    let [rule, rv, detail] = ["rule", "right_value", "detail"].map(|c| strings(&df, c));
    let i = (0..df.height()).find(|&i| rule[i].as_deref() == Some("fresh")).unwrap();
    assert_eq!(rv[i], Some(ts(72)));
    assert!(detail[i].as_deref().unwrap().contains("3d0h old"), "{:?}", detail[i]);
    let s = summary(&run);
    let obs = &s["entities"]["e"]["quality"]["rules"]["fresh"]["observed"];
    assert_eq!(obs["left"]["max_age_s"], 36 * 3600);
    let age = obs["left"]["age_s"].as_i64().unwrap();
    assert!((3600..3700).contains(&age), "{age}");
}

// ---------------------------------------------------------------------------
// row_count and baselines

const COUNTED: &str = r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv" }
right = { path = "r.csv" }
severity = { missing_left = "info", missing_right = "info" }
  [[entity.field]]
  name = "id"
  [[entity.rule]]
  id = "volume"
  check = "row_count"
  max_change = 0.2
"#;

fn ids(n: usize) -> String {
    let mut s = "id\n".to_string();
    for i in 0..n {
        s.push_str(&format!("{i}\n"));
    }
    s
}

fn counted_env() -> (Env, PathBuf) {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{COUNTED}"));
    (env, spec)
}

#[test]
fn row_count_across_two_consecutive_runs() {
    let (env, spec) = counted_env();
    env.write("l.csv", ids(10));
    env.write("r.csv", ids(10));
    let out = env.run(&spec, "day1");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s1 = summary(&env.reports().join("day1"));
    assert_eq!(
        s1["baseline"],
        serde_json::json!({ "run_id": null, "reason": "none: first run" })
    );
    assert_eq!(
        s1["entities"]["e"]["quality"]["rules"]["volume"]["observed"]["left"]["status"],
        "no baseline: first run"
    );
    assert!(stderr(&out).contains("baseline: none: first run"), "{}", stderr(&out));

    // Night two: the left export lost 30% of its rows, the right grew 10%.
    env.write("l.csv", ids(7));
    env.write("r.csv", ids(11));
    let out = env.run(&spec, "day2");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("day2");
    assert_eq!(quality_set(&run), expect(&[("volume", "left", "{}")]));
    let s2 = summary(&run);
    assert_eq!(
        s2["baseline"],
        serde_json::json!({ "run_id": "day1", "reason": "newest earlier passing run" })
    );
    let obs = &s2["entities"]["e"]["quality"]["rules"]["volume"]["observed"];
    assert_eq!(obs["left"]["rows"], 7);
    assert_eq!(obs["left"]["baseline_rows"], 10);
    assert_eq!(obs["right"]["status"], "ok");
    let df = read_parquet(&run.join("findings.parquet"));
    let [detail, kind, lv] = ["detail", "kind", "left_value"].map(|c| strings(&df, c));
    let i = (0..df.height())
        .find(|&i| kind[i].as_deref() == Some("row_count"))
        .unwrap();
    assert_eq!(lv[i].as_deref(), Some("7"));
    assert_eq!(
        detail[i].as_deref(),
        Some("left side has 7 rows, baseline run day1 had 10 (-30.0%, allowed ±20.0%)")
    );
}

#[test]
fn a_fixed_rerun_compares_with_the_last_good_run_not_the_bad_one() {
    let (env, spec) = counted_env();
    env.write("l.csv", ids(10));
    env.write("r.csv", ids(10));
    let good = env.run(&spec, "good");
    assert_eq!(code(&good), 0, "{}", stderr(&good));

    // A broken export: half the rows are gone.
    env.write("l.csv", ids(5));
    let bad = env.run(&spec, "bad");
    assert_eq!(code(&bad), 1, "{}", stderr(&bad));
    assert_eq!(summary(&env.reports().join("bad"))["baseline"]["run_id"], "good");

    // The export is fixed and the job rerun: against `bad` this would look
    // like +100% and fail again; the baseline is the last passing run.
    env.write("l.csv", ids(10));
    let rerun = env.run(&spec, "rerun");
    assert_eq!(code(&rerun), 0, "{}", stderr(&rerun));
    let s = summary(&env.reports().join("rerun"));
    assert_eq!(
        s["baseline"],
        serde_json::json!({ "run_id": "good", "reason": "newest earlier passing run" })
    );
    assert_eq!(s["previous_run"], "bad", "the hash chain still links the newest run");
    assert_eq!(quality_set(&env.reports().join("rerun")), BTreeSet::new());

    // --prev overrides the choice, even with a failed run.
    let reports = env.reports();
    let prev = reports.join("bad");
    let out = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        reports.to_str().unwrap(),
        "--run-id",
        "forced",
        "--prev",
        prev.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let s = summary(&reports.join("forced"));
    assert_eq!(
        s["baseline"],
        serde_json::json!({ "run_id": "bad", "reason": "--prev" })
    );
    assert_eq!(
        quality_set(&reports.join("forced")),
        expect(&[("volume", "left", "{}")])
    );
}

#[test]
fn without_an_earlier_passing_run_there_is_no_baseline() {
    let (env, spec) = counted_env();
    env.write("l.csv", ids(10));
    env.write("r.csv", ids(10));
    let failing = env.write(
        "fail.toml",
        format!("{HEAD}{COUNTED}  [[entity.rule]]\n  id = \"never\"\n  check = \"pattern\"\n  field = \"id\"\n  pattern = \"x\"\n"),
    );
    assert_eq!(code(&env.run(&failing, "f1")), 1);
    let out = env.run(&spec, "f2");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        summary(&env.reports().join("f2"))["baseline"],
        serde_json::json!({ "run_id": null, "reason": "none: no earlier run passed" })
    );
}

// ---------------------------------------------------------------------------
// Spec errors: exit 2, file:line:col, a hint, no run folder

fn base() -> String {
    spec_keyed_by_id(
        r#"  [[entity.field]]
  name = "n"
  type = "int"
  [[entity.field]]
  name = "at"
  type = "timestamp"
"#,
    )
}

/// `s.toml:LINE:COL` of byte `offset` in `text`.
fn location(text: &str, offset: usize) -> String {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |nl| before[nl + 1..].chars().count())
        + 1;
    format!("s.toml:{line}:{col}")
}

/// Appends `rule` to the base spec, runs it and expects a spec error at
/// `needle` (+ `shift` bytes) with all of `expected` in the message.
fn spec_error(rule: &str, needle: &str, shift: usize, expected: &[&str]) {
    let env = Env::new();
    let text = format!("{}{rule}", base());
    let spec = env.write("s.toml", &text);
    env.write("l.csv", "id,n,at\n1,2,2026-01-01T00:00:00Z\n");
    env.write("r.csv", "id,n,at\n1,2,2026-01-01T00:00:00Z\n");
    let at = text.rfind(needle).unwrap_or_else(|| panic!("needle {needle}")) + shift;
    let out = env.run(&spec, "r1");
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    let loc = location(&text, at);
    assert!(err.contains(&loc), "expected {loc} in:\n{err}");
    for e in expected {
        assert!(err.contains(e), "expected `{e}` in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(report_entries(&env).is_empty(), "{:?}", report_entries(&env));
    let check = env.recon(&["check", spec.to_str().unwrap()]);
    assert_eq!(code(&check), 2, "check agrees: {}", stderr(&check));
}

fn rule(body: &str) -> String {
    format!("  [[entity.rule]]\n  id = \"r\"\n{body}")
}

#[test]
fn spec_error_unknown_field() {
    spec_error(
        &rule("  check = \"not_null\"\n  field = \"nope\"\n"),
        "\"nope\"",
        0,
        &["unknown field `nope`", "hint: declared fields: id, n, at"],
    );
}

#[test]
fn spec_error_unknown_entity_and_target_field() {
    spec_error(
        &rule("  check = \"references\"\n  field = \"id\"\n  entity = \"ghost\"\n"),
        "\"ghost\"",
        0,
        &["unknown entity `ghost`", "hint: declared entities: e"],
    );
    spec_error(
        &rule("  check = \"references\"\n  field = \"id\"\n  entity = \"e\"\n  to = \"zzz\"\n"),
        "\"zzz\"",
        0,
        &["unknown field `zzz` of entity `e`", "hint: fields of `e`: id, n, at"],
    );
    spec_error(
        &rule("  check = \"references\"\n  field = \"id\"\n  entity = \"e\"\n  to = \"n\"\n"),
        "\"n\"\n",
        0,
        &["values of different types never match"],
    );
    spec_error(
        &rule("  check = \"references\"\n  field = \"id\"\n  entity = \"e\"\n  on = \"sideways\"\n"),
        "\"sideways\"",
        0,
        &["unknown `on` value", "same, other, left or right"],
    );
}

#[test]
fn spec_error_unknown_validator() {
    spec_error(
        &rule("  check = \"valid\"\n  field = \"id\"\n  validator = \"cn_passport\"\n"),
        "\"cn_passport\"",
        0,
        &[
            "unknown validator `cn_passport`",
            "hint: valid validators: cn_resident_id, ",
        ],
    );
}

#[test]
fn spec_error_invalid_regex() {
    spec_error(
        &rule("  check = \"pattern\"\n  field = \"id\"\n  pattern = \"([a-z\"\n"),
        "\"([a-z\"",
        0,
        &["invalid regex", "hint:"],
    );
}

#[test]
fn spec_error_range_min_above_max() {
    spec_error(
        &rule("  check = \"range\"\n  field = \"n\"\n  min = 10\n  max = 1\n"),
        "10\n",
        0,
        &["range min 10 is greater than max 1"],
    );
    spec_error(
        &rule("  check = \"length\"\n  field = \"id\"\n  min = 5\n  max = 2\n"),
        "5\n",
        0,
        &["length min 5 is greater than max 2"],
    );
    spec_error(
        &rule("  check = \"range\"\n  field = \"n\"\n  min = \"ten\"\n"),
        "\"ten\"",
        0,
        &["range bound `ten` is not a int"],
    );
}

#[test]
fn spec_error_unknown_severity_and_check() {
    spec_error(
        &rule("  check = \"not_null\"\n  field = \"id\"\n  severity = \"fatal\"\n"),
        "\"fatal\"",
        0,
        &[
            "unknown severity `fatal`",
            "hint: valid severities: info, warning, error, critical",
        ],
    );
    spec_error(
        &rule("  check = \"sparkly\"\n  field = \"id\"\n"),
        "\"sparkly\"",
        0,
        &["unknown check `sparkly`", "hint: valid checks: not_null, unique, pattern, range, allowed, length, valid, references, fresh, expr, row_count"],
    );
}

#[test]
fn spec_error_unparsable_expr_points_inside_the_expression() {
    // The column is that of the offending token inside the string.
    spec_error(
        &rule("  check = \"expr\"\n  expr = \"n >= 0 AND\"\n"),
        "\"n >= 0 AND\"",
        1 + "n >= 0 AND".len(),
        &["rule `r`: expr: expected a field or a value but found the end of the expression"],
    );
    spec_error(
        &rule("  check = \"expr\"\n  expr = \"n >= 0 AND bogus = 1\"\n"),
        "bogus",
        0,
        &["unknown field `bogus`", "hint: declared fields: id, n, at"],
    );
    spec_error(
        &rule("  check = \"expr\"\n  expr = 'at > n'\n"),
        ">",
        0,
        &["cannot compare `at` (timestamp) with `n` (int)"],
    );
    spec_error(
        &rule("  check = \"expr\"\n  expr = \"n = null\"\n"),
        "null",
        0,
        &["cannot compare with NULL", "IS NULL"],
    );
    spec_error(
        &rule("  check = \"not_null\"\n  field = \"id\"\n  where = \"(n > 1\"\n"),
        "\"(n > 1\"",
        1 + "(n > 1".len(),
        &["rule `r`: where: expected `)`"],
    );
}

#[test]
fn spec_error_misplaced_options_and_shapes() {
    spec_error(
        &rule("  check = \"not_null\"\n  field = \"id\"\n  pattern = \"x\"\n"),
        "\"x\"",
        0,
        &[
            "option `pattern` does not apply to check `not_null`",
            "takes no options",
        ],
    );
    spec_error(
        &rule("  check = \"row_count\"\n  where = \"n > 1\"\n"),
        "\"n > 1\"",
        0,
        &["takes no `where`"],
    );
    spec_error(
        &rule("  check = \"expr\"\n  field = \"n\"\n  expr = \"n > 1\"\n"),
        "field = \"n\"",
        8,
        &["check `expr` takes no `field`"],
    );
    spec_error(
        &rule("  check = \"fresh\"\n  field = \"n\"\n  max_age = \"1h\"\n"),
        "\"fresh\"",
        0,
        &["needs a timestamp field"],
    );
    spec_error(
        &rule("  check = \"fresh\"\n  field = \"at\"\n  max_age = \"3 weeks\"\n"),
        "\"3 weeks\"",
        0,
        &["invalid duration", "hint: durations are"],
    );
    spec_error(
        &format!(
            "{}{}",
            rule("  check = \"not_null\"\n  field = \"id\"\n"),
            rule("  check = \"not_null\"\n  field = \"n\"\n")
        ),
        "\"r\"",
        0,
        &["duplicate rule id `r`"],
    );
}

// ---------------------------------------------------------------------------
// Property tests of the validators (seeded, reproducible)

/// ISO 7064 MOD 11-2 check character, computed independently of recon.
fn id_check_char(first17: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    b"10X98765432"[(sum % 11) as usize] as char
}

fn random_resident_id(rng: &mut ChaCha8Rng) -> String {
    const PROVINCES: [u32; 8] = [11, 31, 36, 44, 51, 61, 65, 81];
    let province = PROVINCES[rng.random_range(0..PROVINCES.len())];
    let area: u32 = rng.random_range(100..10_000);
    let start = chrono::NaiveDate::from_ymd_opt(1920, 1, 1).unwrap();
    let birth = start + chrono::Duration::days(rng.random_range(0..36_000));
    let seq: u32 = rng.random_range(0..1000);
    let first17 = format!("{province}{area:04}{}{seq:03}", birth.format("%Y%m%d"));
    format!("{first17}{}", id_check_char(&first17))
}

#[test]
fn property_resident_ids_with_a_changed_check_char_are_invalid() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let v = Validator::CnResidentId;
    for _ in 0..2000 {
        let id = random_resident_id(&mut rng);
        assert!(v.is_valid(&id), "{id}");
        let right = id.chars().last().unwrap();
        for c in "0123456789X".chars().filter(|&c| c != right) {
            let wrong = format!("{}{c}", &id[..17]);
            assert!(!v.is_valid(&wrong), "{wrong}");
        }
    }
}

#[test]
fn property_random_18_digit_numbers_are_mostly_invalid() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let n = 20_000;
    let valid = (0..n)
        .filter(|_| {
            let s: String = (0..18).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
            Validator::CnResidentId.is_valid(&s)
        })
        .count();
    // Only ~1 in 11 check characters, a fraction of region codes and of
    // dates survive: far below 1%.
    assert!(valid * 1000 < n, "{valid} of {n} random numbers passed");
}

fn luhn_digit(payload: &str) -> char {
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

#[test]
fn property_luhn_valid_numbers_pass_at_every_length_13_to_19() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for len in 13..=19 {
        for _ in 0..300 {
            let mut payload: String = (0..len - 1)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect();
            if len == 19 {
                payload.replace_range(..2, "62"); // UnionPay
            }
            let card = format!("{payload}{}", luhn_digit(&payload));
            assert_eq!(card.len(), len);
            assert!(Validator::BankCard.is_valid(&card), "{card}");
            assert!(Validator::Luhn.is_valid(&card), "{card}");
            let last = card.as_bytes()[len - 1];
            let changed = format!("{payload}{}", char::from(b'0' + (last - b'0' + 1) % 10));
            assert!(!Validator::BankCard.is_valid(&changed), "{changed}");
        }
    }
    let short = format!("41111111111{}", luhn_digit("41111111111"));
    assert!(Validator::Luhn.is_valid(&short) && !Validator::BankCard.is_valid(&short));
}

#[test]
fn issue_vectors_for_resident_ids() {
    let v = Validator::CnResidentId;
    for ok in ["11010519491231002X", "360426199101010071", "44011320141005001X"] {
        assert!(v.is_valid(ok), "{ok}");
    }
    for bad in ["36042619910102009X", "360426199113010079", "990426199112010074"] {
        assert!(!v.is_valid(bad), "{bad}");
    }
}
