//! Three-way change detection over consecutive runs: authorities,
//! propagated deletes, `latest` with ties and missing inverses.

use super::{apply, repairs, rows, s, set, small, summary, SMALL};
use crate::util::*;

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
    // a skipped instruction fails the gate (issue 32)
    assert_eq!(code(&o), 1, "{}", stderr(&o));
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
