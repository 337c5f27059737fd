//! The memory-bounded mode: entities split by key hash into buckets spilled
//! to disk give the same findings, repairs, coverage and rule results as an
//! in-memory run, including rules that look across rows (`unique` on a
//! non-key field, `references`, `fresh`, `row_count`) and change detection
//! against a previous run.

use std::path::Path;

use recon::generate::large;

use crate::util::*;

type Json = serde_json::Value;

/// Rules added to the demo so that every cross-row check runs: `unique` on
/// non-key fields (duplicates spread over buckets), `unique` covering the
/// key (judged inside a bucket), and `fresh` with and without a finding.
const CUSTOMER_RULES: &str = r#"
  [[entity.rule]]
  id = "status-shared"
  check = "unique"
  field = "status"
  severity = "info"

  [[entity.rule]]
  id = "vip-balance-unique"
  check = "unique"
  fields = ["vip", "balance"]
  where = "balance > 0"
  severity = "info"

  [[entity.rule]]
  id = "id-unique"
  check = "unique"
  fields = ["customer_id", "status"]
  severity = "info"

  [[entity.rule]]
  id = "updated-long-ago"
  check = "fresh"
  field = "updated_at"
  max_age = "1s"
  severity = "warning"

  [[entity.rule]]
  id = "updated-this-century"
  check = "fresh"
  field = "updated_at"
  side = "right"
  max_age = "36500d"
  severity = "warning"

"#;

const TICKET_RULES: &str = r#"
  [[entity.rule]]
  id = "one-ticket-per-customer"
  check = "unique"
  field = "customer_id"
  severity = "info"
"#;

pub(crate) fn demo_with_cross_row_rules(dir: &Path) -> std::path::PathBuf {
    let spec = copy_demo(dir);
    let text = std::fs::read_to_string(&spec).unwrap();
    let marker = "# ------------------------------------------------------------- interactions";
    assert!(text.contains(marker), "the demo spec changed: update this test");
    let tickets_end = "# --------------------------------------------------------- agent accounts";
    assert!(text.contains(tickets_end), "the demo spec changed: update this test");
    let text = text.replacen(marker, &format!("{CUSTOMER_RULES}{marker}"), 1).replacen(
        tickets_end,
        &format!("{TICKET_RULES}{tickets_end}"),
        1,
    );
    std::fs::write(&spec, text).unwrap();
    spec
}

fn run(env: &Env, spec: &Path, out: &str, run_id: &str, extra: &[&str]) -> std::path::PathBuf {
    let reports = env.path().join(out);
    // repairs.jsonl, which `assert_equivalent` compares as text.
    let extra = [extra, &["--repairs-format", "jsonl"]].concat();
    let o = env.run_in(spec, &reports, run_id, &extra);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    reports.join(run_id)
}

pub(crate) fn summary(run: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// summary.json without what differs between two runs of the same data:
/// timings and the layout (`metrics`), and the age a `fresh` rule observed
/// (it moves with the run's start).
pub(crate) fn timeless(run: &Path) -> Json {
    let mut s = summary(run);
    for k in ["started_at", "finished_at", "duration_ms", "metrics"] {
        s.as_object_mut().unwrap().remove(k);
    }
    for (_, e) in s["entities"].as_object_mut().unwrap() {
        for (_, rule) in e["quality"]["rules"].as_object_mut().unwrap() {
            for (_, side) in rule["observed"].as_object_mut().into_iter().flatten() {
                side.as_object_mut().map(|o| o.remove("age_s"));
            }
        }
    }
    s
}

/// [`timeless`], also without distinct counts (estimated when bucketed).
fn comparable(run: &Path) -> Json {
    let mut s = timeless(run);
    for (_, e) in s["entities"].as_object_mut().unwrap() {
        for (_, field) in e["quality"]["fields"].as_object_mut().unwrap() {
            for (_, side) in field.as_object_mut().unwrap() {
                let side = side.as_object_mut().unwrap();
                side.remove("distinct_count");
                side.remove("distinct_estimated");
            }
        }
    }
    s
}

/// Every column of findings.parquet, row for row.
fn assert_same_findings(a: &Path, b: &Path) {
    let (fa, fb) = (
        read_parquet(&a.join("findings.parquet")),
        read_parquet(&b.join("findings.parquet")),
    );
    assert_eq!(fa.height(), fb.height(), "finding counts differ");
    assert!(fa.height() > 0);
    for name in fa.get_column_names() {
        if name == "detail" {
            continue;
        }
        let (ca, cb) = (fa.column(name).unwrap(), fb.column(name).unwrap());
        assert!(ca.equals_missing(cb), "findings column `{name}` differs");
    }
    // A `fresh` detail holds the age at run time, which moves between runs.
    let kinds = strings(&fa, "kind");
    let age = |d: &Option<String>, k: &Option<String>| match k.as_deref() {
        Some("fresh") => d.as_ref().map(|d| d.replace(|c: char| c.is_ascii_digit(), "#")),
        _ => d.clone(),
    };
    for ((da, db), k) in strings(&fa, "detail").iter().zip(strings(&fb, "detail")).zip(&kinds) {
        assert_eq!(age(da, k), age(&db, k));
    }
}

fn assert_equivalent(memory: &Path, buckets: &Path) {
    assert_same_findings(memory, buckets);
    let mut diffs = Vec::new();
    json_diff("", &comparable(memory), &comparable(buckets), &mut diffs);
    assert!(diffs.is_empty(), "summary.json differs:\n{}", diffs.join("\n"));
    assert_eq!(
        std::fs::read_to_string(memory.join("repairs.jsonl")).unwrap(),
        std::fs::read_to_string(buckets.join("repairs.jsonl")).unwrap(),
    );
}

/// Paths where two JSON values differ, with both values.
pub(crate) fn json_diff(path: &str, a: &Json, b: &Json, out: &mut Vec<String>) {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (x.get(k).unwrap_or(&Json::Null), y.get(k).unwrap_or(&Json::Null));
                json_diff(&format!("{path}.{k}"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

fn buckets_used(run: &Path) -> Json {
    summary(run)["metrics"]["buckets"].clone()
}

#[test]
fn bucketed_runs_of_the_demo_equal_the_in_memory_run() {
    let env = Env::new();
    let spec = demo_with_cross_row_rules(env.path());
    let memory = run(&env, &spec, "memory", "r1", &[]);
    assert_eq!(buckets_used(&memory)["customer"], 1);
    // The added rules really ran and found something across rows.
    let kinds = summary(&memory)["entities"]["customer"]["quality"]["rules"].clone();
    assert!(kinds["status-shared"]["violations"]["left"].as_u64().unwrap() > 0);
    assert!(kinds["updated-long-ago"]["violations"]["left"].as_u64().unwrap() == 1);
    for n in ["2", "7", "64"] {
        let out = format!("buckets-{n}");
        let b = run(&env, &spec, &out, "r1", &["--buckets", n]);
        assert_eq!(buckets_used(&b)["ticket"], n.parse::<u64>().unwrap());
        assert_equivalent(&memory, &b);
        let left: Vec<String> = std::fs::read_dir(env.path().join(&out))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|name| name != ".recon.lock")
            .collect();
        assert_eq!(left, vec!["r1".to_string()], "the work folder is removed");
        let v = env.recon(&["verify", b.to_str().unwrap()]);
        assert_eq!(code(&v), 0, "{}", stderr(&v));
    }
}

#[test]
fn a_small_memory_limit_switches_to_buckets_by_itself() {
    let env = Env::new();
    let spec = demo_with_cross_row_rules(env.path());
    let memory = run(&env, &spec, "memory", "r1", &["--memory-limit", "64G"]);
    let small = run(&env, &spec, "small", "r1", &["--memory-limit", "64K"]);
    assert_eq!(buckets_used(&memory)["customer"], 1);
    assert!(buckets_used(&small)["customer"].as_u64().unwrap() > 1);
    assert_equivalent(&memory, &small);
    let fields = &summary(&small)["entities"]["customer"]["quality"]["fields"]["customer_id"]["left"];
    assert_eq!(fields["distinct_estimated"], true);
    let exact = &summary(&memory)["entities"]["customer"]["quality"]["fields"]["customer_id"]["left"];
    assert_eq!(
        fields["distinct_count"], exact["distinct_count"],
        "small counts are exact"
    );
}

#[test]
fn change_detection_against_a_previous_run_is_the_same_in_buckets() {
    let env = Env::new();
    let spec = demo_with_cross_row_rules(env.path());
    let (memory1, buckets1) = (
        run(&env, &spec, "memory", "r1", &[]),
        run(&env, &spec, "buckets", "r1", &["--buckets", "5"]),
    );
    assert_equivalent(&memory1, &buckets1);
    // Day two: one CRM case and one call disappear.
    let cases = env.path().join("fixtures/crm/cases.csv");
    let text = std::fs::read_to_string(&cases).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&cases, lines.join("\n") + "\n").unwrap();
    let calls = env.path().join("fixtures/callcenter/calls.csv");
    let text = std::fs::read_to_string(&calls).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(3);
    std::fs::write(&calls, lines.join("\n") + "\n").unwrap();
    let (memory2, buckets2) = (
        run(&env, &spec, "memory", "r2", &[]),
        run(&env, &spec, "buckets", "r2", &["--buckets", "3"]),
    );
    assert_equivalent(&memory2, &buckets2);
    let changes = &summary(&buckets2)["changes"];
    assert!(
        changes["ticket"]["right"]["deleted"].as_u64().unwrap() >= 1,
        "{changes}"
    );
    assert!(
        changes["interaction"]["left"]["deleted"].as_u64().unwrap() >= 1,
        "{changes}"
    );
}

#[test]
fn the_large_parquet_pair_gives_the_same_findings_in_buckets() {
    let env = Env::new();
    large(&env.path().join("l"), 20_000, 1).unwrap();
    let spec = env.path().join("l/large.toml");
    let memory = run(&env, &spec, "memory", "l", &[]);
    let buckets = run(&env, &spec, "buckets", "l", &["--buckets", "9"]);
    assert_equivalent(&memory, &buckets);
    assert_coverage_adds_up(&buckets);
}

#[test]
fn a_column_no_row_fills_spills_and_reconciles_as_in_memory() {
    // A Parquet column of nulls only: in buckets, its chunks have no value
    // a dictionary could index, and are spilled plain (an empty dictionary
    // failed the run).
    use polars::prelude::*;
    let env = Env::new();
    let write = |name: &str, status: &dyn Fn(usize) -> &'static str| {
        let ids: Vec<String> = (0..3000).map(|i| format!("K{i:05}")).collect();
        let statuses: Vec<&str> = (0..3000).map(status).collect();
        let notes: Vec<Option<&str>> = vec![None; 3000];
        let mut df = DataFrame::new(
            3000,
            vec![
                Column::new("id".into(), ids),
                Column::new("status".into(), statuses),
                Column::new("note".into(), notes).cast(&DataType::String).unwrap(),
            ],
        )
        .unwrap();
        let f = std::fs::File::create(env.path().join(name)).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
    };
    write("left.parquet", &|i| ["A", "I", "P"][i % 3]);
    write("right.parquet", &|i| ["A", "I", "P"][i / 2 % 3]);
    let spec = env.path().join("nulls.toml");
    std::fs::write(
        &spec,
        "[run]\nname = \"nulls\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
         [[entity]]\nname = \"rec\"\nkey = [\"id\"]\n\
         left = { path = \"left.parquet\" }\nright = { path = \"right.parquet\" }\n\
         [[entity.field]]\nname = \"id\"\n[[entity.field]]\nname = \"status\"\n\
         [[entity.field]]\nname = \"note\"\n",
    )
    .unwrap();
    let memory = run(&env, &spec, "memory", "n", &[]);
    let buckets = run(&env, &spec, "buckets", "n", &["--buckets", "4"]);
    assert_equivalent(&memory, &buckets);
    assert_eq!(
        summary(&buckets)["entities"]["rec"]["counts"]["by_kind"]["drift.value_mismatch"],
        2000
    );
}

#[test]
fn bad_input_in_bucketed_mode_is_exit_2_and_leaves_nothing_behind() {
    for (left, needle) in [
        ("id,v\n1,a\n2,b,extra\n", "l.csv:3"),
        ("key,v\n1,a\n", "key column `id`"),
    ] {
        let env = Env::new();
        let spec = env.write("s.toml", TWO_COLUMN_SPEC);
        env.write("l.csv", left);
        env.write("r.csv", "id,v\n1,a\n");
        let out = env.run_in(&spec, &env.reports(), "r1", &["--buckets", "4"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{err}");
        assert!(err.contains(needle) && err.contains("l.csv"), "{err}");
        assert!(report_entries(&env).is_empty(), "{:?}", report_entries(&env));
    }
}

#[test]
fn leftovers_of_killed_runs_are_swept_and_live_ones_kept() {
    // A run killed by a signal never runs its cleanup: the next run in the
    // same folders removes what dead processes of this machine and process
    // namespace left, and nothing of a live process (here: this test), of
    // another namespace (a container sharing the folder), or unmarked.
    let Some(dead) = recon::report::owner_tag(999_999_999) else {
        return; // no /proc: nothing is ever swept
    };
    let live = recon::report::owner_tag(0).unwrap();
    let elsewhere = dead.replacen("pid:[", "pid:[9", 1);
    let env = Env::new();
    let spec = env.write("s.toml", TWO_COLUMN_SPEC);
    env.write("l.csv", "id,v\n1,a\n2,b\n");
    env.write("r.csv", "id,v\n1,a\n");
    let work = env.path().join("work");
    let folders = [
        (env.reports().join(".tmp-old-1"), Some(&dead), false),
        (work.join(".work-old-1"), Some(&dead), false),
        (env.reports().join(".tmp-busy-2"), Some(&live), true),
        (work.join(".work-busy-2"), Some(&live), true),
        (work.join(".work-container-3"), Some(&elsewhere), true),
        (env.reports().join(".tmp-unmarked-4"), None, true),
    ];
    for (dir, owner, _) in &folders {
        std::fs::create_dir_all(dir.join("inner")).unwrap();
        if let Some(owner) = owner {
            let name = format!("{}.owner", dir.file_name().unwrap().to_str().unwrap());
            std::fs::write(dir.with_file_name(name), owner).unwrap();
        }
    }
    let out = env.run_in(
        &spec,
        &env.reports(),
        "r1",
        &["--buckets", "3", "--work-dir", work.to_str().unwrap()],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    for (dir, owner, kept) in &folders {
        assert_eq!(dir.exists(), *kept, "{} ({owner:?})", dir.display());
    }
    // The run's own marks are gone with its folders.
    let marks: Vec<String> = [env.reports(), work]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".owner") && n.contains("-r1-"))
        .collect();
    assert!(marks.is_empty(), "{marks:?}");
    assert!(!env.reports().join(".tmp-old-1.owner").exists());
}
