//! Sources as many files: folders, globs, compressed files, `${NAME}` and
//! `{date}` placeholders and Hive partition folders, end to end through the
//! `recon` binary.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::util::*;

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

fn json_file(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn summary(run: &Path) -> Json {
    json_file(&run.join("summary.json"))
}

/// The `inputs[]` entry of summary.json for `entity` / `side`.
fn input<'a>(summary: &'a Json, entity: &str, side: &str) -> &'a Json {
    summary["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["entity"] == entity && i["side"] == side)
        .unwrap_or_else(|| panic!("no input {entity}/{side} in {}", summary["inputs"]))
}

/// `lines` (each with its `\n`) split in two at `at`, each half under `header`.
fn halves(header: &str, lines: &[&str], at: usize) -> (String, String) {
    let mut a = header.to_string();
    let mut b = header.to_string();
    for l in &lines[..at] {
        a.push_str(l);
    }
    for l in &lines[at..] {
        b.push_str(l);
    }
    (a, b)
}

/// The `files` of an input entry as (name, size, sha256).
fn listed(input: &Json) -> Vec<(String, u64, String)> {
    input["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no files list: {input}"))
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
                f["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The SHA-256 of `<sha256>  <name>\n` lines.
fn listing_sha256(files: &[(String, String)]) -> String {
    let text: String = files.iter().map(|(name, sha)| format!("{sha}  {name}\n")).collect();
    sha256(text.as_bytes())
}

/// Asserts two parquet files hold the same frame, naming the cells that differ.
fn assert_same_parquet(a: &Path, b: &Path) {
    let (x, y) = (read_parquet(a), read_parquet(b));
    assert_eq!(x.get_column_names(), y.get_column_names(), "{}", a.display());
    assert_eq!(x.height(), y.height(), "{}", a.display());
    let mut diffs = Vec::new();
    for c in x.columns() {
        let name = c.name().as_str();
        let d = y.column(name).unwrap();
        for i in 0..x.height() {
            let (u, v) = (c.get(i).unwrap(), d.get(i).unwrap());
            if u != v {
                diffs.push(format!("row {i} `{name}`: {u} vs {v}"));
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} and {} differ in {} cell(s):\n{}",
        a.display(),
        b.display(),
        diffs.len(),
        diffs[..diffs.len().min(20)].join("\n")
    );
}

/// The demo with `calls.csv` as two parts under `calls/dt=2026-12-06/` (the
/// second gzipped) and `activities.ndjson` as a folder of three files (the
/// middle one empty, the last zstd-compressed) beside a `_SUCCESS` marker
/// and a `_temporary/` folder of garbage; the spec pointing at a glob with
/// `${DT}` and at the folder. Returns the spec and the new files (absolute).
struct SplitDemo {
    spec: PathBuf,
    calls: [PathBuf; 2],
    activities: [PathBuf; 3],
}

fn split_demo(env: &Env) -> SplitDemo {
    let spec = copy_demo(env.path());
    let fixtures = env.path().join("fixtures");

    let calls_csv = std::fs::read_to_string(fixtures.join("callcenter/calls.csv")).unwrap();
    let mut lines: Vec<&str> = calls_csv.split_inclusive('\n').collect();
    let header = lines.remove(0);
    assert!(lines.len() > 100, "the demo has many calls: {}", lines.len());
    let (a, b) = halves(header, &lines, 70);
    let part_dir = fixtures.join("callcenter/calls/dt=2026-12-06");
    std::fs::create_dir_all(&part_dir).unwrap();
    let calls = [part_dir.join("part-0.csv"), part_dir.join("part-1.csv.gz")];
    std::fs::write(&calls[0], a).unwrap();
    std::fs::write(&calls[1], gzip(b.as_bytes())).unwrap();
    // Another day's folder the glob must not pick up.
    std::fs::create_dir_all(fixtures.join("callcenter/calls/dt=2026-12-05")).unwrap();
    std::fs::write(
        fixtures.join("callcenter/calls/dt=2026-12-05/part-0.csv"),
        "call_id,leg\nXX,1\n",
    )
    .unwrap();
    std::fs::remove_file(fixtures.join("callcenter/calls.csv")).unwrap();

    let activities_ndjson = std::fs::read_to_string(fixtures.join("crm/activities.ndjson")).unwrap();
    let records: Vec<&str> = activities_ndjson.split_inclusive('\n').collect();
    let (a, b) = halves("", &records, 100);
    let dir = fixtures.join("crm/activities");
    std::fs::create_dir_all(dir.join("_temporary")).unwrap();
    let activities = [
        dir.join("part-0.ndjson"),
        dir.join("part-1.ndjson"),
        dir.join("part-2.ndjson.zst"),
    ];
    std::fs::write(&activities[0], a).unwrap();
    std::fs::write(&activities[1], "").unwrap();
    std::fs::write(&activities[2], zstd(b.as_bytes())).unwrap();
    std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    std::fs::write(dir.join("_temporary/part-9.ndjson"), "not json\n").unwrap();
    std::fs::write(dir.join(".part-0.ndjson.crc"), "garbage").unwrap();
    std::fs::remove_file(fixtures.join("crm/activities.ndjson")).unwrap();

    let text = std::fs::read_to_string(&spec).unwrap();
    let rewritten = text
        .replace(
            r#"path = "../fixtures/callcenter/calls.csv""#,
            r#"path = "../fixtures/callcenter/calls/dt=${DT}/part-*.csv*", format = "csv""#,
        )
        .replace(
            r#"path = "../fixtures/crm/activities.ndjson""#,
            r#"path = "../fixtures/crm/activities", format = "ndjson""#,
        );
    assert_ne!(text, rewritten);
    assert_eq!(rewritten.matches("${DT}").count(), 1);
    std::fs::write(&spec, rewritten).unwrap();
    SplitDemo {
        spec,
        calls,
        activities,
    }
}

/// Runs the untouched demo into `reports-orig/r1` (the same run id as the
/// runs it is compared with: findings and repairs carry it).
fn original_run(env: &Env) -> PathBuf {
    let spec = copy_demo(&env.path().join("orig"));
    let reports = env.path().join("reports-orig");
    let out = env.run_in(&spec, &reports, "r1", &[]);
    assert_eq!(code(&out), 1, "the demo has error findings: {}", stderr(&out));
    reports.join("r1")
}

fn assert_same_outcome(orig: &Path, split: &Path) {
    assert_same_parquet(&orig.join("findings.parquet"), &split.join("findings.parquet"));
    assert_same_parquet(&orig.join("repairs.parquet"), &split.join("repairs.parquet"));
    let (a, b) = (summary(orig), summary(split));
    assert_eq!(a["totals"], b["totals"]);
    assert_eq!(a["entities"], b["entities"]);
    assert_eq!(a["exit_code"], b["exit_code"]);
}

#[test]
fn demo_split_into_glob_and_folder_of_compressed_parts_gives_the_same_findings_and_lists_every_file() {
    let env = Env::new();
    let orig = original_run(&env);
    let demo = split_demo(&env);
    let reports = env.path().join("reports-split");
    let out = env.run_in(&demo.spec, &reports, "r1", &["--var", "DT=2026-12-06"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let split = reports.join("r1");
    assert_same_outcome(&orig, &split);
    assert_same(&finding_set(&split), &finding_set(&orig));
    assert_coverage_adds_up(&split);

    let s = summary(&split);
    let o = summary(&orig);
    let spec_dir = demo.spec.parent().unwrap();

    // The calls: two files, the gzip one hashed and sized as stored.
    let left = input(&s, "interaction", "left");
    assert_eq!(
        left["path"], "../fixtures/callcenter/calls/dt=2026-12-06/part-*.csv*",
        "the resolved pattern: {left}"
    );
    assert_eq!(left["rows"], input(&o, "interaction", "left")["rows"]);
    let files = listed(left);
    assert_eq!(files.len(), 2, "{left}");
    let mut total = 0;
    for ((name, size, sha), path) in files.iter().zip(&demo.calls) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            spec_dir.join(name).canonicalize().unwrap(),
            path.canonicalize().unwrap(),
            "listed relative to the spec's folder: {name}"
        );
        assert_eq!(*size, bytes.len() as u64, "{name}");
        assert_eq!(*sha, sha256(&bytes), "{name}: the stored bytes' hash");
        total += size;
    }
    assert!(files[1].0.ends_with("dt=2026-12-06/part-1.csv.gz"), "{files:?}");
    assert_eq!(left["size"].as_u64().unwrap(), total);

    // The activities: the three files of the format, not the marker, the
    // hidden file or the `_temporary` folder.
    let right = input(&s, "interaction", "right");
    assert_eq!(right["path"], "../fixtures/crm/activities");
    assert_eq!(right["rows"], input(&o, "interaction", "right")["rows"]);
    let files = listed(right);
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "../fixtures/crm/activities/part-0.ndjson",
            "../fixtures/crm/activities/part-1.ndjson",
            "../fixtures/crm/activities/part-2.ndjson.zst",
        ]
    );
    for ((name, size, sha), path) in files.iter().zip(&demo.activities) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(*size, bytes.len() as u64, "{name}");
        assert_eq!(*sha, sha256(&bytes), "{name}");
    }
    assert_eq!(files[1].1, 0, "the empty part is listed too");

    // A single plain file lists no `files`, and keeps its own hash.
    let customers = input(&s, "customer", "left");
    assert!(
        customers
            .get("files")
            .is_none_or(|f| f.as_array().is_some_and(|a| a.is_empty())),
        "{customers}"
    );
    assert_eq!(customers["sha256"], input(&o, "customer", "left")["sha256"]);
}

#[test]
fn many_file_input_hash_is_the_sha256_of_the_listing_summary_json_shows() {
    let env = Env::new();
    let demo = split_demo(&env);
    let reports = env.path().join("reports");
    let out = env.run_in(&demo.spec, &reports, "r1", &["--var", "DT=2026-12-06"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let s = summary(&reports.join("r1"));
    for side in ["left", "right"] {
        let i = input(&s, "interaction", side);
        let files: Vec<(String, String)> = listed(i).into_iter().map(|(n, _, sha)| (n, sha)).collect();
        assert_eq!(
            i["sha256"].as_str().unwrap(),
            listing_sha256(&files),
            "{side}: sha256 of `<sha256>  <name>` lines as `files` lists them: {i}"
        );
    }
}

#[test]
fn many_file_input_hash_does_not_depend_on_where_the_project_lives() {
    // The same spec and files in two folders: the same evidence of inputs.
    let (env1, env2) = (Env::new(), Env::new());
    let mut inputs = Vec::new();
    for env in [&env1, &env2] {
        let demo = split_demo(env);
        let reports = env.path().join("reports");
        let out = env.run_in(&demo.spec, &reports, "r1", &["--var", "DT=2026-12-06"]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        inputs.push(summary(&reports.join("r1"))["inputs"].clone());
    }
    assert_eq!(inputs[0], inputs[1]);
}

#[test]
fn demo_split_into_many_files_gives_the_same_findings_when_bucketed() {
    let env = Env::new();
    let orig = original_run(&env);
    let demo = split_demo(&env);
    let reports = env.path().join("reports-split");
    let out = env.run_in(
        &demo.spec,
        &reports,
        "r1",
        &["--var", "DT=2026-12-06", "--buckets", "3"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let split = reports.join("r1");
    assert_same(&finding_set(&split), &finding_set(&orig));
    let (a, b) = (summary(&orig), summary(&split));
    assert_eq!(a["totals"], b["totals"]);
    for e in ["customer", "interaction", "ticket"] {
        for side in ["left", "right"] {
            assert_eq!(a["entities"][e][side], b["entities"][e][side], "{e} {side}");
        }
    }
    // A bucketed run lists the files as an in-memory one does.
    for (side, paths) in [("left", &demo.calls[..]), ("right", &demo.activities[..])] {
        let files = listed(input(&b, "interaction", side));
        assert_eq!(files.len(), paths.len(), "{side}: {files:?}");
        for ((name, size, sha), path) in files.iter().zip(paths) {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(
                (*size, sha.as_str()),
                (bytes.len() as u64, sha256(&bytes).as_str()),
                "{name}"
            );
        }
    }
}

/// A spec keyed by `id` with a field `dt`, whose right side is
/// `r/dt=*/part.csv` (files without a `dt` column).
fn hive_spec(env: &Env, left_dates: [&str; 2]) -> PathBuf {
    let spec = spec_keyed_by_id("  [[entity.field]]\n  name = \"dt\"\n  [[entity.field]]\n  name = \"v\"\n").replace(
        r#"right = { path = "r.csv" }"#,
        r#"right = { path = "r/dt=*/part.csv" }"#,
    );
    env.write(
        "l.csv",
        format!(
            "id,dt,v\n1,{},a\n2,{},b\n3,{},c\n",
            left_dates[0], left_dates[1], left_dates[1]
        ),
    );
    env.write("r/dt=2026-12-05/part.csv", "id,v\n1,a\n");
    env.write("r/dt=2026-12-06/part.csv", "id,v\n2,b\n3,c\n");
    env.write("spec.toml", spec)
}

#[test]
fn hive_partition_folder_gives_a_declared_column_its_value() {
    for extra in [&[][..], &["--buckets", "2"][..]] {
        let env = Env::new();
        let spec = hive_spec(&env, ["2026-12-05", "2026-12-06"]);
        let out = env.run_in(&spec, &env.reports(), "same", extra);
        assert_eq!(code(&out), 0, "{extra:?}: {}", stderr(&out));
        let run = env.reports().join("same");
        assert!(finding_set(&run).is_empty(), "{extra:?}: {:?}", finding_set(&run));
        let s = summary(&run);
        assert_eq!(s["entities"]["e"]["matched"], 3, "{extra:?}: {}", s["entities"]);
        let right = input(&s, "e", "right");
        let names: Vec<String> = listed(right).into_iter().map(|f| f.0).collect();
        assert_eq!(names, ["r/dt=2026-12-05/part.csv", "r/dt=2026-12-06/part.csv"]);
    }
}

#[test]
fn check_counts_a_hive_partition_column_as_found() {
    let env = Env::new();
    let spec = hive_spec(&env, ["2026-12-05", "2026-12-06"]);
    let out = env.recon(&["check", spec.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    let right = &report["entities"][0]["sides"]["right"];
    assert_eq!(right["columns_missing"], serde_json::json!([]), "{right}");
    assert!(
        right["columns_found"].as_array().unwrap().contains(&Json::from("dt")),
        "{right}"
    );
    assert_eq!(right["files"].as_array().unwrap().len(), 2, "{right}");
}

#[test]
fn hive_partition_value_that_differs_from_the_other_side_is_a_value_mismatch() {
    for extra in [&[][..], &["--buckets", "2"][..]] {
        let env = Env::new();
        // Key 3 is in the 2026-12-06 folder; the left says 2026-12-07.
        let spec = hive_spec(&env, ["2026-12-05", "2026-12-06"]);
        env.write("l.csv", "id,dt,v\n1,2026-12-05,a\n2,2026-12-06,b\n3,2026-12-07,c\n");
        let out = env.run_in(&spec, &env.reports(), "diff", extra);
        assert_eq!(code(&out), 1, "{extra:?}: {}", stderr(&out));
        let run = env.reports().join("diff");
        let found: Vec<_> = finding_set(&run).into_iter().collect();
        assert_eq!(found.len(), 1, "{extra:?}: {found:?}");
        let f = &found[0];
        assert_eq!(
            (f.category.as_str(), f.kind.as_str(), f.key.as_str(), f.field.as_deref()),
            ("drift", "value_mismatch", r#"{"id":"3"}"#, Some("dt")),
            "{extra:?}"
        );
        let df = read_parquet(&run.join("findings.parquet"));
        assert_eq!(strings(&df, "left_value"), [Some("2026-12-07".to_string())]);
        assert_eq!(strings(&df, "right_value"), [Some("2026-12-06".to_string())]);
    }
}

#[test]
fn column_in_the_file_wins_over_its_hive_partition_folder() {
    let env = Env::new();
    let spec = hive_spec(&env, ["2026-12-05", "2026-12-06"]);
    // The file has `dt` itself: its values are read, not the folder's.
    env.write("r/dt=2026-12-06/part.csv", "id,dt,v\n2,2026-12-06,b\n3,2026-12-01,c\n");
    env.write("r/dt=2026-12-05/part.csv", "id,dt,v\n1,2026-12-05,a\n");
    let out = env.run(&spec, "r1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let found: Vec<_> = finding_set(&env.reports().join("r1")).into_iter().collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].key.as_str(), found[0].field.as_deref()),
        (r#"{"id":"3"}"#, Some("dt"))
    );
}

mod faults;
