//! No personal data in repairs.*: no raw demo phone number anywhere, and
//! masked targets get the mask of a value, never the clear value.

use std::collections::BTreeSet;
use std::path::Path;

use super::{apply, repairs, rows, run_args, s, set, Json};
use crate::util::*;

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
    let out = run_args(&env, &spec, "r1", &["--repairs-format", "both,csv"]);
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

#[test]
fn no_raw_personal_data_in_sql_scripts() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        r#"right = { path = "../fixtures/crm/contacts.parquet" }"#,
        r#"right = { path = "../fixtures/crm/contacts.parquet", table = "crm.contacts" }"#,
    );
    std::fs::write(&spec, text).unwrap();
    let out = run_args(&env, &spec, "r1", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let phones = demo_phones(env.path());
    let run = env.reports().join("r1");
    for dialect in ["postgres", "mysql"] {
        let out = env.recon(&[
            "sql",
            run.to_str().unwrap(),
            "--target",
            "crm",
            "--dialect",
            dialect,
            "--entity",
            "customer",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let script = String::from_utf8(out.stdout.clone()).unwrap();
        let digits: String = script
            .chars()
            .filter(|c| c.is_ascii_digit() || c.is_whitespace())
            .collect();
        for p in &phones {
            assert!(
                !script.contains(p.as_str()) && !digits.contains(p.as_str()),
                "{p} in the {dialect} script"
            );
        }
        // Instructions on personal data (and inserts of rows holding it)
        // are comments naming their value_ref.
        let refs = repairs(&env, "r1")
            .iter()
            .filter(|r| r["entity"] == "customer" && r["target"] == "crm" && r["value_ref"].is_string())
            .count();
        assert!(refs > 0);
        assert!(script.matches("--   value_ref ").count() >= refs, "{script}");
        assert!(script.contains("personal data"), "{script}");
        assert!(stderr(&out).contains("left for a person"), "{}", stderr(&out));
    }
}
