//! Repair instructions end to end: the demo round trip through `recon apply`,
//! three-way change detection over consecutive runs, stale preconditions,
//! no personal data in repairs.*, and bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::*;

type Json = serde_json::Value;

fn run_args(env: &Env, spec: &Path, run_id: &str, extra: &[&str]) -> Output {
    env.run_in(spec, &env.reports(), run_id, extra)
}

fn apply(env: &Env, run: &str, target: &str, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let run_dir = env.reports().join(run);
    let mut args = vec![
        "apply",
        run_dir.to_str().unwrap(),
        "--target",
        target,
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    env.recon(&args)
}

fn repairs(env: &Env, run: &str) -> Vec<Json> {
    let text = std::fs::read_to_string(env.reports().join(run).join("repairs.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn summary(env: &Env, run: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(env.reports().join(run).join("summary.json")).unwrap()).unwrap()
}

fn s(v: &Json) -> &str {
    v.as_str().unwrap_or("<null>")
}

/// (entity, kind, key, field) of drift findings that repairs address.
fn drift(run_dir: &Path) -> BTreeSet<(String, String, String, Option<String>)> {
    finding_set(run_dir)
        .into_iter()
        .filter(|f| ["value_mismatch", "missing_left", "missing_right"].contains(&f.kind.as_str()))
        .map(|f| (f.entity, f.kind, f.key, f.field))
        .collect()
}

const DEMO_FILES: [(&str, &str); 6] = [
    ("callcenter", "callcenter/customers.csv"),
    ("callcenter", "callcenter/calls.csv"),
    ("callcenter", "callcenter/tickets.csv"),
    ("crm", "crm/contacts.parquet"),
    ("crm", "crm/activities.ndjson"),
    ("crm", "crm/cases.csv"),
];

#[test]
fn demo_round_trip_leaves_only_review_drift_and_apply_is_idempotent() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let out = run_args(&env, &spec, "r1", &["--repairs-format", "csv"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r1 = repairs(&env, "r1");
    assert!(r1.len() > 50, "{}", r1.len());
    assert!(
        stderr(&out).contains(&format!("repairs: {} instruction(s)", r1.len())),
        "{}",
        stderr(&out)
    );
    for a in ["insert", "update"] {
        assert!(r1.iter().any(|r| r["action"] == a), "demo has {a}s");
    }
    let run1 = env.reports().join("r1");
    for f in [
        "repairs.parquet",
        "repairs.jsonl",
        "state.parquet",
        "repairs-crm.csv",
        "repairs-callcenter.csv",
    ] {
        assert!(run1.join(f).is_file(), "{f}");
    }
    // repairs.parquet holds the same rows as repairs.jsonl
    let df = read_parquet(&run1.join("repairs.parquet"));
    assert_eq!(df.height(), r1.len());
    let ids = strings(&df, "repair_id");
    for (i, r) in r1.iter().enumerate() {
        assert_eq!(ids[i].as_deref(), r["repair_id"].as_str());
    }
    // every instruction points at a finding of the run
    let findings = read_parquet(&run1.join("findings.parquet"));
    let finding_ids: BTreeSet<Option<String>> = strings(&findings, "finding_id").into_iter().collect();
    for r in &r1 {
        let id = r["finding_id"].as_str().map(String::from);
        assert!(finding_ids.contains(&id), "{r}");
    }
    // every repair id is unique and deterministic across runs of the same data
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());
    let again = Env::new();
    let spec2 = copy_demo(again.path());
    again.run(&spec2, "x");
    let r1b = repairs(&again, "x");
    let id_set = |rs: &[Json]| rs.iter().map(|r| s(&r["repair_id"]).to_string()).collect::<Vec<_>>();
    // same data, different token key: ids of non-personal rows agree
    let plain = |rs: &[Json]| {
        rs.iter()
            .filter(|r| r["value_ref"].is_null() && r["expected"].as_str().is_none_or(|e| e.len() != 64))
            .map(|r| s(&r["repair_id"]).to_string())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(plain(&r1), plain(&r1b));
    assert_eq!(id_set(&r1).len(), id_set(&r1b).len());

    let fixtures = env.path().join("fixtures");
    let repaired = env.path().join("repaired");
    for (target, file) in DEMO_FILES {
        let input = fixtures.join(file);
        let a = repaired.join(file);
        let b = env.path().join("again").join(file);
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::fs::create_dir_all(b.parent().unwrap()).unwrap();
        let o = apply(&env, "r1", target, &input, &a, &[]);
        assert_eq!(code(&o), 0, "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains("0 skipped"), "{file}: {}", stderr(&o));
        let o = apply(&env, "r1", target, &input, &b, &[]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{file}: apply twice"
        );
        // applying to the repaired file changes nothing
        let c = env.path().join("third").join(file);
        std::fs::create_dir_all(c.parent().unwrap()).unwrap();
        let o = apply(&env, "r1", target, &a, &c, &[]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("0 inserted, 0 updated, 0 deleted") && err.contains("0 skipped"),
            "{file}: {err}"
        );
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&c).unwrap(),
            "{file}: idempotent"
        );
    }
    copy_dir(&repaired, &fixtures);
    let out = env.run(&spec, "r2");
    assert!(code(&out) <= 1, "{}", stderr(&out));
    let review: BTreeSet<(String, String)> = r1
        .iter()
        .filter(|r| r["action"] == "review")
        .map(|r| (s(&r["entity"]).to_string(), s(&r["key"]).to_string()))
        .collect();
    let left: Vec<_> = drift(&env.reports().join("r2"))
        .into_iter()
        .filter(|(e, _, k, _)| !review.contains(&(e.clone(), k.clone())))
        .collect();
    assert!(left.is_empty(), "drift left after repairs: {left:#?}");
    let r2 = repairs(&env, "r2");
    assert!(r2.iter().all(|r| r["action"] == "review"), "{r2:#?}");
    // the change feed counts exactly the rows the repairs touched
    let sum = summary(&env, "r2");
    let mut expect: BTreeMap<(String, String, &str), BTreeSet<String>> = BTreeMap::new();
    for r in &r1 {
        let kind = match s(&r["action"]) {
            "insert" => "inserted",
            "update" => "updated",
            "delete" => "deleted",
            _ => continue,
        };
        expect
            .entry((s(&r["entity"]).into(), s(&r["target_side"]).into(), kind))
            .or_default()
            .insert(s(&r["key"]).into());
    }
    for (entity, e) in sum["changes"].as_object().unwrap() {
        for side in ["left", "right"] {
            for kind in ["inserted", "updated", "deleted"] {
                let want = expect
                    .get(&(entity.clone(), side.to_string(), kind))
                    .map_or(0, |k| k.len());
                assert_eq!(e[side][kind].as_u64().unwrap() as usize, want, "{entity} {side} {kind}");
            }
        }
    }
    assert!(summary(&env, "r1")["changes"]["customer"].is_null());
}

/// A small two-system spec whose data the tests edit between runs.
const SMALL: &str = r#"
[run]
name = "small"
[sides]
left = "a"
right = "b"
[[entity]]
name = "e"
key = ["id"]
authority = "b"
DELETES
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "name"
  [[entity.field]]
  name = "amount"
  type = "decimal(10,2)"
"#;

fn small(deletes: &str) -> (Env, PathBuf) {
    let env = Env::new();
    let spec = env.write("s.toml", SMALL.replace("DELETES", deletes));
    (env, spec)
}

/// (target, action, key id, field, new_value, reason) of a run's repairs.
fn rows(env: &Env, run: &str) -> BTreeSet<(String, String, String, String, String, String)> {
    repairs(env, run)
        .iter()
        .map(|r| {
            let key: Json = serde_json::from_str(s(&r["key"])).unwrap();
            (
                s(&r["target"]).to_string(),
                s(&r["action"]).to_string(),
                s(&key["id"]).to_string(),
                s(&r["field"]).to_string(),
                s(&r["new_value"]).to_string(),
                s(&r["reason"]).to_string(),
            )
        })
        .collect()
}

fn set(items: &[(&str, &str, &str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String, String, String)> {
    items
        .iter()
        .map(|t| {
            (
                t.0.to_string(),
                t.1.to_string(),
                t.2.to_string(),
                t.3.to_string(),
                t.4.to_string(),
                t.5.to_string(),
            )
        })
        .collect()
}

#[test]
fn three_way_over_three_runs() {
    let (env, spec) = small("");
    let l = "id,name,amount\n1,a,1.00\n2,b,2.00\n3,c,3.00\n4,d,4.00\n5,e,5.00\n";
    let r = "id,name,amount\n1,a,1.00\n2,b,2.00\n3,c,3.00\n4,d,4.50\n5,e,5.00\n";
    env.write("l.csv", l);
    env.write("r.csv", r);
    env.run(&spec, "1");
    // base: only old drift, decided by the authority (b)
    assert_eq!(
        rows(&env, "1"),
        set(&[("a", "update", "4", "amount", "4.50", "authority:b")])
    );

    // run 2: the left side (not the authority) edits row 1
    env.write("l.csv", l.replace("1,a,1.00", "1,a2,1.00"));
    env.run(&spec, "2");
    assert_eq!(
        rows(&env, "2"),
        set(&[
            ("b", "update", "1", "name", "a2", "three_way"),
            ("a", "update", "4", "amount", "4.50", "authority:b"),
        ])
    );
    let ch = &summary(&env, "2")["changes"]["e"];
    assert_eq!(ch["left"]["updated"], 1);
    assert_eq!(ch["right"]["updated"], 0);

    // run 3: the right edits row 2, both edit row 3 differently, the right
    // (authority) deletes row 5
    env.write(
        "l.csv",
        l.replace("1,a,1.00", "1,a2,1.00").replace("3,c,3.00", "3,c,3.10"),
    );
    env.write(
        "r.csv",
        r.replace("2,b,2.00", "2,b2,2.00")
            .replace("3,c,3.00", "3,c,3.20")
            .replace("5,e,5.00\n", ""),
    );
    env.run(&spec, "3");
    assert_eq!(
        rows(&env, "3"),
        set(&[
            ("a", "update", "2", "name", "b2", "three_way"),
            ("both", "review", "3", "amount", "<null>", "three_way"),
            // not repaired since run 2: the base is still the value both
            // sides last agreed on, so the left's edit is still propagated
            ("b", "update", "1", "name", "a2", "three_way"),
            ("a", "update", "4", "amount", "4.50", "authority:b"),
            // deleted on the authority: review by default
            ("a", "review", "5", "<null>", "<null>", "authority:b"),
        ])
    );
    let conflict = repairs(&env, "3")
        .into_iter()
        .find(|r| r["action"] == "review" && r["field"] == "amount")
        .unwrap();
    assert!(s(&conflict["detail"]).contains("both sides changed"), "{conflict}");
    assert!(s(&conflict["detail"]).contains("run 2"), "{conflict}");
    let ch = &summary(&env, "3")["changes"]["e"];
    assert_eq!(
        ch["left"],
        serde_json::json!({"inserted": 0, "updated": 1, "deleted": 0})
    );
    assert_eq!(
        ch["right"],
        serde_json::json!({"inserted": 0, "updated": 2, "deleted": 1})
    );
    // run 4: everything resolved; then nothing is left, and the agreed values
    // are the new base
    let agreed = "id,name,amount\n1,a2,1.00\n2,b2,2.00\n3,c,3.10\n4,d,4.50\n";
    env.write("l.csv", agreed);
    env.write("r.csv", agreed);
    env.run(&spec, "4");
    assert!(repairs(&env, "4").is_empty(), "{:#?}", repairs(&env, "4"));
    // run 5: the authority changes row 4 again; a one-sided change
    env.write("r.csv", agreed.replace("4,d,4.50", "4,d,4.75"));
    env.run(&spec, "5");
    assert_eq!(
        rows(&env, "5"),
        set(&[("a", "update", "4", "amount", "4.75", "three_way")])
    );
}

#[test]
fn three_way_authority_reviews_old_drift_and_none_reports_only() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        SMALL
            .replace("authority = \"b\"", "authority = \"three_way\"")
            .replace("DELETES", "")
            .replace("  name = \"name\"", "  name = \"name\"\n  authority = \"none\""),
    );
    env.write("l.csv", "id,name,amount\n1,a,1.00\n2,b,2.00\n3,c,3.00\n");
    env.write("r.csv", "id,name,amount\n1,x,1.50\n2,b,2.00\n");
    env.run(&spec, "1");
    // name: report only; amount: no base yet, so a person decides; the
    // missing row is inserted
    assert_eq!(
        rows(&env, "1"),
        set(&[
            ("both", "review", "1", "amount", "<null>", "three_way"),
            ("b", "insert", "3", "id", "3", "only_on:a"),
            ("b", "insert", "3", "name", "c", "only_on:a"),
            ("b", "insert", "3", "amount", "3.00", "only_on:a"),
        ])
    );
    // the left changes a value both agreed on: propagated
    env.write("l.csv", "id,name,amount\n1,a,1.00\n2,b,2.25\n3,c,3.00\n");
    env.run(&spec, "2");
    let got = rows(&env, "2");
    assert!(
        got.contains(&(
            "b".into(),
            "update".into(),
            "2".into(),
            "amount".into(),
            "2.25".into(),
            "three_way".into()
        )),
        "{got:#?}"
    );
    assert!(
        got.contains(&(
            "both".into(),
            "review".into(),
            "1".into(),
            "amount".into(),
            "<null>".into(),
            "three_way".into()
        )),
        "{got:#?}"
    );
    assert!(!got.iter().any(|r| r.3 == "name" && r.1 != "insert"), "{got:#?}");
}

#[test]
fn propagated_delete_is_applied_with_its_row_precondition() {
    let (env, spec) = small("deletes = \"propagate\"");
    let l = "id,name,amount\n1,a,1.00\n2,b,2.00\n3,c,3.00\n";
    env.write("l.csv", l);
    env.write("r.csv", l);
    env.run(&spec, "1");
    assert!(repairs(&env, "1").is_empty());
    env.write("r.csv", "id,name,amount\n1,a,1.00\n3,c,3.00\n");
    env.run(&spec, "2");
    assert_eq!(
        rows(&env, "2"),
        set(&[("a", "delete", "2", "<null>", "<null>", "authority:b")])
    );
    let input = env.path().join("l.csv");
    let output = env.path().join("l2.csv");
    let o = apply(&env, "2", "a", &input, &output, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "id,name,amount\n1,a,1.00\n3,c,3.00\n"
    );
    // the row changed after the run: the delete is skipped
    env.write("l.csv", l.replace("2,b,2.00", "2,b,2.50"));
    let o = apply(&env, "2", "left", &input, &output, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("1 skipped"), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&output).unwrap().contains("2,b,2.50"));
}

#[test]
fn latest_wins_and_ties_and_missing_inverse_go_to_review() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        r#"
[run]
name = "t"
timezone = "Asia/Shanghai"
[sides]
left = "a"
right = "b"
[[entity]]
name = "e"
key = ["id"]
authority = "latest"
updated_at = "changed"
left = { path = "l.csv", timezone = "UTC" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "status"
  map = { left = { "1" = "on", "0" = "off" }, right = { "On" = "on", "Y" = "on", "Off" = "off" } }
  [[entity.field]]
  name = "at"
  type = "timestamp"
  write = { right = "%Y/%m/%d %H:%M:%S" }
  authority = "a"
  [[entity.field]]
  name = "changed"
  type = "timestamp"
  compare = false
"#,
    );
    env.write(
        "l.csv",
        "id,status,at,changed\n1,1,2026-11-23 00:03:44,2026-11-24 10:00:00\n2,1,2026-11-23 00:00:00,2026-11-24 10:00:00\n3,0,2026-11-23 00:00:00,2026-11-24 02:00:00\n",
    );
    env.write(
        "r.csv",
        "id,status,at,changed\n1,Off,2026/11/23 09:00:00,2026-11-24 09:00:00\n2,Off,2026/11/23 08:00:00,2026-11-24 18:00:00\n3,On,2026/11/23 08:00:00,2026-11-24 11:00:00\n",
    );
    let out = env.run(&spec, "1");
    assert!(code(&out) <= 1, "{}", stderr(&out));
    let got = rows(&env, "1");
    assert_eq!(
        got,
        set(&[
            // row 1: left changed at 10:00Z, right at 01:00Z: left is newer, but
            // "on" has two CRM spellings (On, Y): no exact inverse
            ("b", "review", "1", "status", "<null>", "latest"),
            // timestamps are written in the right's zone and `write` format
            ("b", "update", "1", "at", "2026/11/23 08:03:44", "authority:a"),
            // row 2: both changed at 10:00Z: a tie
            ("both", "review", "2", "status", "<null>", "latest"),
            // row 3: right changed at 03:00Z, left at 02:00Z: right is newer
            ("a", "update", "3", "status", "1", "latest"),
        ]),
        "{:#?}",
        repairs(&env, "1")
    );
    let review = repairs(&env, "1")
        .into_iter()
        .find(|r| r["key"].as_str().unwrap().contains("\"1\"") && r["field"] == "status")
        .unwrap();
    assert!(s(&review["detail"]).contains("no exact inverse"), "{review}");
}

#[test]
fn stale_precondition_skips_exactly_those_instructions() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    env.run(&spec, "r1");
    let r1 = repairs(&env, "r1");
    let updates: Vec<&Json> = r1
        .iter()
        .filter(|r| r["entity"] == "customer" && r["target"] == "callcenter" && r["action"] == "update")
        .filter(|r| r["field"] == "name")
        .collect();
    assert!(updates.len() >= 2, "{updates:#?}");
    let file = env.path().join("fixtures/callcenter/customers.csv");
    let mut text = std::fs::read_to_string(&file).unwrap();
    let mut stale = BTreeSet::new();
    for u in &updates {
        let key: Json = serde_json::from_str(s(&u["key"])).unwrap();
        let id = s(&key["customer_id"]);
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{id},")))
            .unwrap()
            .to_string();
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        cells[1] = "改名".into();
        text = text.replace(&line, &cells.join(","));
        stale.insert(s(&u["repair_id"]).to_string());
    }
    std::fs::write(&file, &text).unwrap();
    let output = env.path().join("out.csv");
    let o = apply(&env, "r1", "callcenter", &file, &output, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    let reported: BTreeSet<String> = err
        .lines()
        .filter_map(|l| l.strip_prefix("skipped "))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(reported, stale, "{err}");
    assert!(err.contains(&format!("{} skipped", stale.len())), "{err}");
    let out = std::fs::read_to_string(&output).unwrap();
    assert_eq!(
        out.matches("改名").count(),
        stale.len(),
        "stale rows are left as they are"
    );
    let applied = r1
        .iter()
        .filter(|r| r["entity"] == "customer" && r["target"] == "callcenter" && r["action"] == "update")
        .count()
        - stale.len();
    assert!(err.contains(&format!("{applied} updated")), "{err}");
    // the source of a value_ref changed after the run: that instruction is skipped
    let phone = r1
        .iter()
        .find(|r| {
            r["entity"] == "customer" && r["action"] == "update" && r["field"] == "phone" && r["target"] == "callcenter"
        })
        .unwrap();
    let key: Json = serde_json::from_str(s(&phone["key"])).unwrap();
    let id = s(&key["customer_id"]).to_string();
    let contacts = env.path().join("fixtures/crm/contacts.parquet");
    let mut df = read_parquet(&contacts);
    let ids = strings(&df, "External_Id__c");
    let phones: Vec<Option<String>> = strings(&df, "Phone")
        .into_iter()
        .zip(&ids)
        .map(|(p, i)| {
            if i.as_deref() == Some(id.as_str()) {
                Some("13800000000".into())
            } else {
                p
            }
        })
        .collect();
    df.with_column(polars::prelude::Column::new("Phone".into(), phones))
        .unwrap();
    let f = std::fs::File::create(&contacts).unwrap();
    polars::prelude::ParquetWriter::new(f).finish(&mut df).unwrap();
    let o = apply(&env, "r1", "callcenter", &file, &output, &[]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("skipped {}", s(&phone["repair_id"]))))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("source value changed"), "{line}");
    assert!(!err.contains("13800000000"), "no personal data in messages");
}

/// Mobile numbers (last 11 digits) of every phone value in the demo.
fn demo_phones(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |v: &str| {
        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 11 {
            out.insert(digits[digits.len() - 11..].to_string());
        }
    };
    let csv = std::fs::read_to_string(root.join("fixtures/callcenter/customers.csv")).unwrap();
    for line in csv.lines().skip(1) {
        add(line.split(',').nth(2).unwrap_or(""));
    }
    let df = read_parquet(&root.join("fixtures/crm/contacts.parquet"));
    for v in strings(&df, "Phone").into_iter().flatten() {
        add(&v);
    }
    out
}

#[test]
fn no_raw_personal_data_in_repairs() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let out = run_args(&env, &spec, "r1", &["--repairs-format", "csv"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let phones = demo_phones(env.path());
    assert!(phones.len() > 40, "{}", phones.len());
    let run = env.reports().join("r1");
    let mut texts = vec![
        std::fs::read_to_string(run.join("repairs.jsonl")).unwrap(),
        std::fs::read_to_string(run.join("repairs-crm.csv")).unwrap(),
        std::fs::read_to_string(run.join("repairs-callcenter.csv")).unwrap(),
        std::fs::read_to_string(run.join("summary.json")).unwrap(),
    ];
    for f in ["repairs.parquet", "state.parquet"] {
        let df = read_parquet(&run.join(f));
        // Text columns only: state hashes are binary and hold no text.
        for c in df
            .get_column_names()
            .into_iter()
            .filter(|c| df.column(c.as_str()).unwrap().dtype() == &polars::prelude::DataType::String)
        {
            texts.push(
                strings(&df, c.as_str())
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    }
    let all = texts.join("\n");
    for p in &phones {
        assert!(
            !all.contains(p.as_str()),
            "a demo phone number leaked into repairs/state"
        );
    }
    // phone repairs exist and carry a value_ref and a keyed MAC instead
    let phone: Vec<Json> = repairs(&env, "r1")
        .into_iter()
        .filter(|r| r["field"] == "phone")
        .collect();
    assert!(!phone.is_empty());
    for r in &phone {
        assert!(r["new_value"].is_null(), "{r}");
        let vr: Json = serde_json::from_str(s(&r["value_ref"])).unwrap();
        assert_eq!(vr["entity"], "customer");
        assert!(vr["column"] == "Phone" || vr["column"] == "caller_number", "{vr}");
        if r["action"] == "update" && !r["expected"].is_null() {
            assert_eq!(s(&r["expected"]).len(), 64, "{r}");
        }
    }
}

fn expect_spec_error(authority_line: &str, extra_field: &str, needles: &[&str]) {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        SMALL
            .replace("authority = \"b\"", authority_line)
            .replace("DELETES", "")
            .replace("  name = \"name\"", &format!("  name = \"name\"\n{extra_field}")),
    );
    env.write("l.csv", "id,name,amount\n1,a,1.00\n");
    env.write("r.csv", "id,name,amount\n1,a,1.00\n");
    let out = env.run(&spec, "r1");
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`: {err}");
    }
    assert!(report_entries(&env).is_empty(), "no run folder");
}

#[test]
fn bad_spec_latest_without_updated_at_and_unknown_side() {
    expect_spec_error("authority = \"latest\"", "", &["s.toml:10:", "updated_at"]);
    expect_spec_error(
        "authority = \"erp\"",
        "",
        &["s.toml:10:", "unknown authority `erp`", "hint:"],
    );
    expect_spec_error(
        "authority = \"a\"",
        "  authority = \"latest\"",
        &["s.toml:18:", "updated_at"],
    );
    expect_spec_error(
        "authority = \"a\"",
        "  authority = \"crm\"",
        &["s.toml:18:", "unknown authority"],
    );
    expect_spec_error("updated_at = \"nope\"", "", &["s.toml:10:", "nope"]);
    expect_spec_error("deletes = \"maybe\"", "", &["s.toml:10:", "maybe"]);
    expect_spec_error("authority = \"a\"", "  write = \"%Y\"", &["s.toml:18:", "write"]);
}

#[test]
fn apply_refuses_tampered_runs_and_mismatched_inputs() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    env.run(&spec, "r1");
    let input = env.path().join("fixtures/callcenter/customers.csv");
    let output = env.path().join("out.csv");

    // schema mismatch: a spec column is missing from the target file
    let bad = env.write("bad/customers.csv", "cust_no,full_name\nC000100,x\n");
    let o = apply(&env, "r1", "callcenter", &bad, &output, &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("caller_number"), "{}", stderr(&o));
    assert!(!output.exists());

    // unknown target
    let o = apply(&env, "r1", "erp", &input, &output, &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown target"), "{}", stderr(&o));
    assert!(!output.exists());

    // a spec that is not the run's
    let other = env.write(
        "rules/other.toml",
        std::fs::read_to_string(&spec).unwrap() + "\n# edited\n",
    );
    let o = apply(
        &env,
        "r1",
        "callcenter",
        &input,
        &output,
        &["--spec", other.to_str().unwrap()],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!output.exists());

    // tampered run folder: refused with exit 1, nothing written
    let jsonl = env.reports().join("r1/repairs.jsonl");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    std::fs::write(&jsonl, text.replacen("\"update\"", "\"delete\"", 1)).unwrap();
    let o = apply(&env, "r1", "callcenter", &input, &output, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("repairs.jsonl"), "{}", stderr(&o));
    assert!(!output.exists());
    let leftovers: Vec<_> = std::fs::read_dir(env.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

const MASKED: &str = r#"
[run]
name = "m"
[sides]
left = "a"
right = "b"
[[entity]]
name = "c"
key = ["id"]
authority = "AUTH"
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "phone"
  pii = "cn_mobile"
  mask = { left = "clear", right = "phone" }
  normalize = { left = ["trim", "phone_e164:CN"], right = ["trim"] }
"#;

#[test]
fn masked_targets_get_the_mask_of_the_value_never_the_clear_value() {
    let env = Env::new();
    let spec = env.write("s.toml", MASKED.replace("AUTH", "a"));
    env.write("l.csv", "id,phone\n1,13912345678\n2,13800001111\n3,13700002222\n");
    env.write("r.csv", "id,phone\n1,139****5678\n2,138****9999\n");
    let out = env.run(&spec, "1");
    assert!(code(&out) <= 1, "{}", stderr(&out));
    let got = rows(&env, "1");
    assert_eq!(
        got,
        set(&[
            ("b", "update", "2", "phone", "<null>", "authority:a"),
            ("b", "insert", "3", "id", "3", "only_on:a"),
            ("b", "insert", "3", "phone", "<null>", "only_on:a"),
        ]),
        "{:#?}",
        repairs(&env, "1")
    );
    let input = env.path().join("r.csv");
    let output = env.path().join("r2.csv");
    let o = apply(&env, "1", "b", &input, &output, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(&output).unwrap();
    assert_eq!(text, "id,phone\n1,139****5678\n2,138****1111\n3,137****2222\n");
    // and the other way round: a masked value cannot be turned into a clear one
    let env = Env::new();
    let spec = env.write("s.toml", MASKED.replace("AUTH", "b"));
    env.write("l.csv", "id,phone\n1,13912345678\n2,13800001111\n");
    env.write("r.csv", "id,phone\n1,139****5678\n2,138****9999\n3,137****2222\n");
    env.run(&spec, "1");
    let rs = repairs(&env, "1");
    assert!(rs.iter().all(|r| r["action"] == "review"), "{rs:#?}");
    assert!(
        rs.iter()
            .all(|r| s(&r["detail"]).contains("clear value cannot be recovered")),
        "{rs:#?}"
    );
}

/// Repairs applied to an NDJSON snapshot keep numbers exact (never through
/// an f64) and every other member of a line as written, in its place.
#[test]
fn ndjson_repairs_write_exact_numbers_and_keep_the_rest_of_the_line() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        SMALL
            .replace("DELETES", "")
            .replace("l.csv", "l.ndjson")
            .replace("decimal(10,2)", "decimal(38,2)"),
    );
    env.write(
        "l.ndjson",
        "{\"id\":\"1\",\"name\":\"x\",\"amount\":5.00,\"note\": \"kept as is\"}\n\
         {\"id\":\"2\",\"name\":\"y\",\"amount\":1.5}\n",
    );
    env.write(
        "r.csv",
        "id,name,amount\n1,x,12345678901234567.89\n2,y,1.50\n3,z,-0.07\n",
    );
    let out = run_args(&env, &spec, "r1", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let repaired = env.path().join("repaired.ndjson");
    let o = apply(&env, "r1", "a", &env.path().join("l.ndjson"), &repaired, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&repaired).unwrap(),
        "{\"id\":\"1\",\"name\":\"x\",\"amount\":12345678901234567.89,\"note\":\"kept as is\"}\n\
         {\"id\":\"2\",\"name\":\"y\",\"amount\":1.5}\n\
         {\"amount\":-0.07,\"id\":\"3\",\"name\":\"z\",\"note\":null}\n"
    );
    // The repaired snapshot agrees with the other side.
    std::fs::copy(&repaired, env.path().join("l.ndjson")).unwrap();
    let out = run_args(&env, &spec, "r2", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(drift(&env.reports().join("r2")).is_empty());
}
