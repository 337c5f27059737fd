//! `recon apply` on its inputs: stale preconditions, tampered runs and
//! mismatched inputs refused, NDJSON snapshots written exactly.

use std::collections::BTreeSet;

use super::{apply, drift, repairs, run_args, s, Json, SMALL};
use crate::util::*;

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
    // skipped instructions fail the gate (issue 32); the rest is still written
    assert_eq!(code(&o), 1, "{}", stderr(&o));
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
    assert_eq!(code(&o), 1, "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("skipped {}", s(&phone["repair_id"]))))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("source value changed"), "{line}");
    assert!(!err.contains("13800000000"), "no personal data in messages");
}

#[test]
fn apply_refuses_tampered_runs_and_mismatched_inputs() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    run_args(&env, &spec, "r1", &["--repairs-format", "both"]);
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
