//! A run split into shards (`run --shard`, each a separate process with
//! `JOB_COMPLETION_INDEX` set as a Kubernetes Indexed Job sets it) and
//! sealed by `recon merge` gives the run folder a single machine writes
//! with the same buckets: findings, repairs, change state, metrics and
//! summary (but for timings and the shard layout), chained and verifiable.
//! Faults: a shard killed mid-run and retried, missing and mismatched
//! parts, a second merge.

use std::path::{Path, PathBuf};
use std::process::Output;

use recon::generate::{generate, Config};

use crate::bucketed::{demo_with_cross_row_rules, json_diff, summary, timeless};
use crate::util::*;

type Json = serde_json::Value;

/// The files a merged run must hold byte for byte as the single run does.
const SAME_BYTES: [&str; 4] = [
    "repairs.parquet",
    "repairs.jsonl",
    "state.parquet",
    "quality_metrics.parquet",
];

fn single(env: &Env, spec: &Path, out: &Path, id: &str, buckets: usize) -> PathBuf {
    let o = env.run_in(
        spec,
        out,
        id,
        &["--buckets", &buckets.to_string(), "--repairs-format", "both"],
    );
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    out.join(id)
}

/// Shard `index` of `count` as its own process, the index in the environment.
fn shard(env: &Env, spec: &Path, out: &Path, id: &str, index: usize, count: usize, buckets: usize) -> Output {
    env.recon_with(
        &[
            "run",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            id,
            "--buckets",
            &buckets.to_string(),
            "--repairs-format",
            "both",
            "--shard",
            &format!("auto/{count}"),
        ],
        &[("JOB_COMPLETION_INDEX", &index.to_string())],
    )
}

fn merge(env: &Env, out: &Path, id: &str) -> Output {
    env.recon(&[
        "merge",
        "--out",
        out.to_str().unwrap(),
        "--run-id",
        id,
        "--repairs-format",
        "both",
    ])
}

/// Every shard of run `id`, then the merge; the merged run folder.
fn sharded(env: &Env, spec: &Path, out: &Path, id: &str, count: usize, buckets: usize) -> PathBuf {
    for i in 0..count {
        let o = shard(env, spec, out, id, i, count, buckets);
        assert_eq!(code(&o), 0, "shard {i}/{count}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("shard {i}/{count} of run {id}")),
            "{}",
            stderr(&o)
        );
    }
    let o = merge(env, out, id);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    out.join(id)
}

/// The merged run is the single run: files byte for byte, findings row
/// for row (a `fresh` detail's age aside: a single run measures it from its own
/// start, the shards from the run id's time), the summary
/// but for timings; `exact_findings` asks findings.parquet byte for byte.
fn assert_identical(single: &Path, merged: &Path, exact_findings: bool) {
    for file in SAME_BYTES {
        assert!(single.join(file).exists(), "{file}");
        assert!(
            std::fs::read(single.join(file)).unwrap() == std::fs::read(merged.join(file)).unwrap(),
            "{file} differs between {} and {}",
            single.display(),
            merged.display()
        );
    }
    if exact_findings {
        assert!(
            std::fs::read(single.join("findings.parquet")).unwrap()
                == std::fs::read(merged.join("findings.parquet")).unwrap(),
            "findings.parquet differs"
        );
    } else {
        let (a, b) = (
            read_parquet(&single.join("findings.parquet")),
            read_parquet(&merged.join("findings.parquet")),
        );
        assert_eq!(a.height(), b.height());
        let kinds = strings(&a, "kind");
        for name in a.get_column_names() {
            let (ca, cb) = (strings(&a, name.as_str()), strings(&b, name.as_str()));
            for (i, (x, y)) in ca.iter().zip(&cb).enumerate() {
                let fresh = name.as_str() == "detail" && kinds[i].as_deref() == Some("fresh");
                let digitless = |v: &Option<String>| v.as_ref().map(|t| numberless(t));
                match fresh {
                    true => assert_eq!(digitless(x), digitless(y), "row {i}"),
                    false => assert_eq!(x, y, "findings column `{name}` row {i}"),
                }
            }
        }
    }
    let mut diffs = Vec::new();
    json_diff("", &timeless(single), &timeless(merged), &mut diffs);
    assert!(diffs.is_empty(), "summary.json differs:\n{}", diffs.join("\n"));
    let shards = &summary(merged)["metrics"]["shards"];
    assert!(shards["count"].as_u64().unwrap() >= 1, "{shards}");
}

/// `text` with each run of digits one `#`.
fn numberless(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c.is_ascii_digit() {
            true if out.ends_with('#') => {}
            true => out.push('#'),
            false => out.push(c),
        }
    }
    out
}

fn verify_chain(env: &Env, out: &Path) {
    let v = env.recon(&["verify", "--chain", out.to_str().unwrap()]);
    assert_eq!(code(&v), 0, "{}{}", stderr(&v), String::from_utf8_lossy(&v.stdout));
}

/// Drops the last line of a CSV fixture (a row gone on one side overnight).
fn drop_last_line(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn shards_of_the_demo_with_every_rule_kind_equal_the_single_run_night_after_night() {
    let env = Env::new();
    let spec = demo_with_cross_row_rules(env.path());
    let text = std::fs::read_to_string(&spec).unwrap();
    for kind in [
        "unique",
        "references",
        "fresh",
        "row_count",
        "policy",
        "expr",
        "allowed",
    ] {
        assert!(text.contains(&format!("check = \"{kind}\"")), "{kind}");
    }
    let one = single(&env, &spec, &env.path().join("single"), "20261207T020000Z", 12);
    let mut outs = Vec::new();
    for count in [1, 3, 4] {
        let out = env.path().join(format!("shards-{count}"));
        let merged = sharded(&env, &spec, &out, "20261207T020000Z", count, 12);
        assert_identical(&one, &merged, false);
        // The parts are spent: only the run remains.
        assert!(!out.join(".shards").join("20261207T020000Z").exists());
        outs.push(out);
    }
    // The rules that look across rows found something.
    let rules = &summary(&one)["entities"]["customer"]["quality"]["rules"];
    assert!(rules["status-shared"]["violations"]["left"].as_u64().unwrap() > 0);
    // Night two, chained to night one: rows gone on each side, so change
    // detection (the state of every bucket, merged) has work to do.
    drop_last_line(&env.path().join("fixtures/crm/cases.csv"));
    drop_last_line(&env.path().join("fixtures/callcenter/calls.csv"));
    let two = single(&env, &spec, &env.path().join("single"), "20261208T020000Z", 12);
    let changes = &summary(&two)["changes"];
    assert!(
        changes["ticket"]["right"]["deleted"].as_u64().unwrap() >= 1,
        "{changes}"
    );
    for (count, out) in [1, 3, 4].into_iter().zip(&outs) {
        let merged = sharded(&env, &spec, out, "20261208T020000Z", count, 12);
        assert_identical(&two, &merged, false);
        assert_eq!(summary(&merged)["previous_run"], "20261207T020000Z");
        verify_chain(&env, out);
    }
}

#[test]
fn a_generated_pair_of_thousands_of_rows_in_shards_is_the_single_run_byte_for_byte() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let g = generate(
        &env.path().join("fixtures"),
        &Config {
            seed: 11,
            customers: 1500,
        },
    )
    .unwrap();
    let one = single(&env, &spec, &env.path().join("single"), "g1", 8);
    assert_same(&finding_set(&one), &g.truth.0);
    assert!(
        summary(&one)["entities"]["interaction"]["left"]["rows"]
            .as_u64()
            .unwrap()
            > 4000
    );
    let out = env.path().join("sharded");
    let merged = sharded(&env, &spec, &out, "g1", 3, 8);
    assert_identical(&one, &merged, true);
    assert_same(&finding_set(&merged), &g.truth.0);
    assert_coverage_adds_up(&merged);
    verify_chain(&env, &out);
}

/// The parts of run `id` under `out`, as written.
fn part(out: &Path, id: &str, index: usize) -> PathBuf {
    out.join(".shards").join(id).join(index.to_string())
}

#[test]
fn a_shard_killed_mid_run_and_retried_gives_the_run_an_uninterrupted_one_gives() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    generate(
        &env.path().join("fixtures"),
        &Config {
            seed: 5,
            customers: 3000,
        },
    )
    .unwrap();
    let clean = sharded(&env, &spec, &env.path().join("clean"), "k1", 3, 6);
    let out = env.path().join("killed");
    for i in [0, 2] {
        assert_eq!(code(&shard(&env, &spec, &out, "k1", i, 3, 6)), 0);
    }
    // Shard 1 is killed (SIGKILL) once its part folder exists, before its
    // marker: the engine's pod dies mid-run.
    let mut child = env
        .command(&[
            "run",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            "k1",
            "--buckets",
            "6",
            "--repairs-format",
            "both",
            "--shard",
            "1/3",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !part(&out, "k1", 1).exists() && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        !part(&out, "k1", 1).join("done.json").exists(),
        "the shard finished before it was killed"
    );
    // Merging now names the unfinished shard and seals nothing.
    let o = merge(&env, &out, "k1");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("missing shard(s) 1 (unfinished: no done.json) of 3"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join("k1").exists());
    // The engine retries the index; the retried part replaces the old one.
    assert_eq!(code(&shard(&env, &spec, &out, "k1", 1, 3, 6)), 0);
    // A retry of a finished shard writes the same bytes (but its marker's timings).
    let before: Vec<(String, Vec<u8>)> = files_of(&part(&out, "k1", 0));
    assert_eq!(code(&shard(&env, &spec, &out, "k1", 0, 3, 6)), 0);
    assert_eq!(before, files_of(&part(&out, "k1", 0)));
    let o = merge(&env, &out, "k1");
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    assert_identical(&clean, &out.join("k1"), true);
    // A second merge of the run is refused, the run untouched.
    let o = merge(&env, &out, "k1");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    verify_chain(&env, &out);
}

/// A part's files but its marker, by name.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "done.json")
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    assert!(files.len() > 1, "{files:?}");
    files
}

#[test]
fn parts_that_do_not_belong_together_are_exit_2_naming_the_problem_and_nothing_is_sealed() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let case = |name: &str, setup: &dyn Fn(&Path), needle: &str| {
        let out = env.path().join(name);
        setup(&out);
        let o = merge(&env, &out, "m1");
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{name}: {}", stderr(&o));
        assert!(!out.join("m1").exists(), "{name}: nothing sealed");
    };
    let ok = |out: &Path, i: usize, n: usize| {
        let o = shard(&env, &spec, out, "m1", i, n, 4);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    case("none", &|_| {}, "no shard of run m1 has written a part");
    case(
        "missing",
        &|out| {
            ok(out, 0, 3);
            ok(out, 2, 3);
        },
        "missing shard(s) 1 of 3",
    );
    case(
        "counts",
        &|out| {
            ok(out, 0, 2);
            ok(out, 1, 3);
        },
        "disagree on their count",
    );
    // Another spec: a rule's severity changed for shard 1.
    let other_spec = env.path().join("rules/other.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &other_spec,
        text.replacen("severity = \"warning\"", "severity = \"info\"", 1),
    )
    .unwrap();
    case(
        "spec",
        &|out| {
            ok(out, 0, 2);
            let o = shard(&env, &other_spec, out, "m1", 1, 2, 4);
            assert_eq!(code(&o), 0, "{}", stderr(&o));
        },
        "different specs",
    );
    // Other inputs: the CRM's cases changed between the two shards.
    case(
        "inputs",
        &|out| {
            ok(out, 0, 2);
            let cases = env.path().join("fixtures/crm/cases.csv");
            let before = std::fs::read(&cases).unwrap();
            drop_last_line(&cases);
            ok(out, 1, 2);
            std::fs::write(&cases, before).unwrap();
        },
        "different inputs",
    );
    // A part changed after its shard finished.
    case(
        "tampered",
        &|out| {
            ok(out, 0, 2);
            ok(out, 1, 2);
            let file = part(out, "m1", 1).join("part.json");
            let mut bytes = std::fs::read(&file).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 1;
            std::fs::write(&file, bytes).unwrap();
        },
        "part.json",
    );
}

#[test]
fn shard_arguments_are_checked_before_any_work() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let s = spec.to_str().unwrap();
    for (args, vars, needle) in [
        (vec!["--shard", "0/2"], vec![], "--run-id"),
        (vec!["--shard", "2/2", "--run-id", "a"], vec![], "not I/N"),
        (vec!["--shard", "x/2", "--run-id", "a"], vec![], "not I/N"),
        (
            vec!["--shard", "auto/2", "--run-id", "a"],
            vec![],
            "found no shard index",
        ),
        (
            vec!["--shard", "auto/2", "--run-id", "a"],
            vec![("AWS_BATCH_JOB_ARRAY_INDEX", "5")],
            "not below the shard count 2",
        ),
        (
            vec!["--shard", "auto/2", "--run-id", "a"],
            vec![("JOB_COMPLETION_INDEX", "one")],
            "JOB_COMPLETION_INDEX=`one`",
        ),
        (
            vec!["--shard", "0/2", "--run-id", "a", "--shard-index", "1"],
            vec![],
            "disagree",
        ),
    ] {
        let mut all = vec!["run", s, "--out", "reports"];
        all.extend(args.iter().copied());
        let o = env.recon_with(&all, &vars);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    assert!(!env.reports().exists() || report_entries(&env).is_empty());
    // AWS Batch's index works like Kubernetes'.
    let o = env.recon_with(
        &["run", s, "--out", "reports", "--run-id", "b", "--shard", "auto/2"],
        &[("AWS_BATCH_JOB_ARRAY_INDEX", "1")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(env.reports().join(".shards/b/1/done.json").exists());
}

#[test]
fn shards_of_a_spec_that_reads_the_clock_need_one_clock() {
    let env = Env::new();
    let spec = demo_with_cross_row_rules(env.path());
    let s = spec.to_str().unwrap();
    let o = env.recon(&["run", s, "--out", "reports", "--run-id", "nightly-7", "--shard", "0/2"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("must share"), "{}", stderr(&o));
    // The business date gives it.
    let o = env.recon(&[
        "run",
        s,
        "--out",
        "reports",
        "--run-id",
        "nightly-7",
        "--shard",
        "0/2",
        "--as-of",
        "2026-12-07",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let part: Json =
        serde_json::from_slice(&std::fs::read(env.reports().join(".shards/nightly-7/0/part.json")).unwrap()).unwrap();
    // The start of that day in the spec's time zone (Asia/Shanghai).
    assert_eq!(part["clock"], "2026-12-06T16:00:00.000000Z");
}

#[test]
fn shards_over_a_bucket_read_their_inputs_there_and_merge_into_the_run_a_single_machine_seals() {
    use crate::object_storage::{bucket, create_bucket, demo_spec, endpoint, exports, store};
    let Some(ep) = endpoint("RECON_TEST_S3_ENDPOINT") else {
        return;
    };
    let env = Env::new();
    let (data, evidence) = (bucket("shard-data"), bucket("shard-evidence"));
    create_bucket(&ep, &data);
    create_bucket(&ep, &evidence);
    exports(env.path(), &store(&data));
    let spec = demo_spec(&env, "remote", &format!("s3://{data}/exports"));
    let s = spec.to_str().unwrap();
    let reports = format!("s3://{evidence}/reports");
    let evidence_store = store(&evidence);
    for night in ["20261207T020000Z", "20261208T020000Z"] {
        let o = env.recon(&[
            "run",
            s,
            "--out",
            "single",
            "--run-id",
            night,
            "--var",
            "DT=2026-12-06",
            "--buckets",
            "6",
            "--repairs-format",
            "both",
        ]);
        assert!(code(&o) <= 1, "{}", stderr(&o));
        for i in 0..3 {
            let o = env.recon_with(
                &[
                    "run",
                    s,
                    "--out",
                    &reports,
                    "--run-id",
                    night,
                    "--var",
                    "DT=2026-12-06",
                    "--buckets",
                    "6",
                    "--repairs-format",
                    "both",
                    "--shard",
                    "auto/3",
                ],
                &[("JOB_COMPLETION_INDEX", &i.to_string())],
            );
            assert_eq!(code(&o), 0, "{}", stderr(&o));
            assert!(
                stderr(&o).contains(&format!("part written to {reports}/.shards/{night}/{i}")),
                "{}",
                stderr(&o)
            );
            let marker = format!("reports/.shards/{night}/{i}/done.json");
            assert!(evidence_store.head(&marker).unwrap().is_some(), "{marker}");
        }
        // Every marker is there: the wait ends at once.
        let o = env.recon(&[
            "merge",
            "--out",
            &reports,
            "--run-id",
            night,
            "--repairs-format",
            "both",
            "--await",
            "1m",
        ]);
        assert!(code(&o) <= 1, "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("run folder: {reports}/{night}")),
            "{}",
            stderr(&o)
        );
        // The parts are spent; the run is there, whole.
        assert!(evidence_store
            .list(&format!("reports/.shards/{night}"))
            .unwrap()
            .is_empty());
        let fetched = env.path().join("fetched").join(night);
        std::fs::create_dir_all(&fetched).unwrap();
        for object in evidence_store.list(&format!("reports/{night}")).unwrap() {
            let name = object.key.trim_start_matches(&format!("reports/{night}/")).to_string();
            std::fs::write(fetched.join(name), evidence_store.read(&object.key).unwrap()).unwrap();
        }
        assert_identical(&env.path().join("single").join(night), &fetched, true);
    }
    let o = env.recon(&["verify", &reports, "--chain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A second merge of a run in the bucket is refused.
    let o = env.recon(&["merge", "--out", &reports, "--run-id", "20261208T020000Z"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
}

#[test]
fn a_merge_started_beside_its_shards_waits_for_them() {
    // As a Kubernetes merge Job does: it starts with the shards and waits.
    let env = Env::new();
    let spec = copy_demo(env.path());
    let out = env.path().join("reports");
    let merge = env
        .command(&[
            "merge",
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            "w1",
            "--await",
            "5m",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for i in 0..2 {
        let o = shard(&env, &spec, &out, "w1", i, 2, 4);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let o = merge.wait_with_output().unwrap();
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    assert!(out.join("w1/manifest.json").exists());
    // A shard that never comes: the wait ends and names it.
    let o = shard(&env, &spec, &out, "w2", 0, 2, 4);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let started = std::time::Instant::now();
    let o = env.recon(&[
        "merge",
        "--out",
        out.to_str().unwrap(),
        "--run-id",
        "w2",
        "--await",
        "2s",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("missing shard(s) 1 of 2"), "{}", stderr(&o));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
}
