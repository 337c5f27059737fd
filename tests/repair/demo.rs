//! The demo round trip through `recon apply`: only review drift is left,
//! and applying again changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use super::{apply, drift, repairs, run_args, s, summary, Json};
use crate::util::*;

const DEMO_FILES: [(&str, &str); 8] = [
    ("callcenter", "callcenter/customers.csv"),
    ("callcenter", "callcenter/calls.csv"),
    ("callcenter", "callcenter/tickets.csv"),
    ("crm", "crm/contacts.parquet"),
    ("crm", "crm/activities.ndjson"),
    ("crm", "crm/cases.csv"),
    ("callcenter", "callcenter/agents.csv"),
    ("crm", "crm/users.parquet"),
];

#[test]
fn demo_round_trip_leaves_only_review_drift_and_apply_is_idempotent() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let out = run_args(&env, &spec, "r1", &["--repairs-format", "both,csv"]);
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
