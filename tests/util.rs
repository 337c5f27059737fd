//! Shared helpers: run the `recon` binary in an isolated home, read findings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;
use recon::generate::Expected;

/// Spec text up to and including the key field: two CSV sides `l.csv` and
/// `r.csv` keyed by `id`. Tests append the fields they need.
macro_rules! keyed_by_id {
    () => {
        r#"
[run]
name = "t"
[sides]
left = "a"
right = "b"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
"#
    };
}

/// The smallest useful spec: `l.csv` and `r.csv` keyed by `id`, one field `v`.
/// Line 15 holds the last field's name (tests point at lines of it).
pub const TWO_COLUMN_SPEC: &str = concat!(keyed_by_id!(), "  [[entity.field]]\n  name = \"v\"\n");

/// A spec keyed by `id` over `l.csv` / `r.csv` with `fields` (TOML
/// `[[entity.field]]` tables) after the key field.
pub fn spec_keyed_by_id(fields: &str) -> String {
    format!("{}{fields}", keyed_by_id!())
}

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    pub fn reports(&self) -> PathBuf {
        self.path().join("reports")
    }

    /// Runs recon with HOME and RECON_HOME inside the temp dir.
    pub fn recon(&self, args: &[&str]) -> Output {
        self.recon_with(args, &[])
    }

    /// `recon ARGS` with `vars` added to its environment.
    pub fn recon_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().expect("run recon")
    }

    /// The `recon ARGS` command as [`Env::recon`] runs it, to spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_recon"));
        cmd.args(args)
            .env("HOME", self.home())
            .env("RECON_HOME", self.home().join("recon"))
            .env_remove("RECON_SIGNING_KEY")
            .env_remove("RECON_SIGNING_KEY_FILE")
            .env_remove("RECON_TOKEN_KEY")
            .env_remove("RECON_TOKEN_KEY_FILE")
            .env_remove("RUST_LOG")
            // Each test home starts without keys: let the first run make them
            // (tests/keys_setup.rs checks the default, which refuses).
            .env("RECON_CREATE_KEYS", "1")
            .current_dir(self.path());
        cmd
    }

    /// `recon run SPEC --out <reports> --run-id ID`.
    pub fn run(&self, spec: &Path, run_id: &str) -> Output {
        self.run_in(spec, &self.reports(), run_id, &[])
    }

    /// `recon run SPEC --out REPORTS --run-id ID EXTRA...`.
    pub fn run_in(&self, spec: &Path, reports: &Path, run_id: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "run",
            spec.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            run_id,
        ];
        args.extend_from_slice(extra);
        self.recon(&args)
    }

    /// Writes a file relative to the temp dir.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
}

/// Whether `tool` is installed; under `CI=true` a missing tool fails the test.
pub fn have(tool: &str) -> bool {
    let present = Command::new(tool).arg("-h").output().is_ok();
    assert!(
        present || std::env::var("CI").map_or(true, |v| v != "true"),
        "`{tool}` is not installed, and CI=true requires it (.ci/run installs it)"
    );
    present
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn read_parquet(path: &Path) -> DataFrame {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(f).finish().expect("read parquet")
}

pub fn strings(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(String::from))
        .collect()
}

/// Findings of a run folder as ground-truth tuples.
pub fn finding_set(run_dir: &Path) -> BTreeSet<Expected> {
    let df = read_parquet(&run_dir.join("findings.parquet"));
    let cols = ["entity", "category", "kind", "side", "key", "field"].map(|c| strings(&df, c));
    (0..df.height())
        .map(|i| Expected {
            entity: cols[0][i].clone().unwrap(),
            category: cols[1][i].clone().unwrap(),
            kind: cols[2][i].clone().unwrap(),
            side: cols[3][i].clone().unwrap(),
            key: cols[4][i].clone().unwrap(),
            field: cols[5][i].clone(),
        })
        .collect()
}

/// Asserts equality and prints what differs, with precision and recall.
pub fn assert_same(found: &BTreeSet<Expected>, truth: &BTreeSet<Expected>) {
    let tp = found.intersection(truth).count() as f64;
    let precision = if found.is_empty() { 1.0 } else { tp / found.len() as f64 };
    let recall = if truth.is_empty() { 1.0 } else { tp / truth.len() as f64 };
    let extra: Vec<_> = found.difference(truth).collect();
    let missed: Vec<_> = truth.difference(found).collect();
    assert!(
        extra.is_empty() && missed.is_empty(),
        "precision {precision:.3}, recall {recall:.3}\nunexpected findings: {extra:#?}\nmissed findings: {missed:#?}"
    );
}

/// Copies the rules and fixtures into `dir` so a test can edit them.
pub fn copy_demo(dir: &Path) -> PathBuf {
    let root = project_root();
    copy_dir(&root.join("fixtures"), &dir.join("fixtures"));
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    let spec = dir.join("rules/callcenter-crm.toml");
    std::fs::copy(root.join("rules/callcenter-crm.toml"), &spec).unwrap();
    spec
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Entries of the reports folder (run folders and any leftovers), without
/// its lock file `.recon.lock`, which every run leaves and which is neither.
pub fn report_entries(env: &Env) -> Vec<String> {
    match std::fs::read_dir(env.reports()) {
        Err(_) => Vec::new(),
        Ok(rd) => {
            // Hidden entries are the folder's own (its lock, a prune's checkpoint), not runs.
            let mut names: Vec<String> = rd
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .filter(|name| !name.starts_with('.'))
                .collect();
            names.sort();
            names
        }
    }
}

/// The coverage identity of summary.json, checked from the outside: per
/// entity and side the buckets add up to the rows read.
pub fn assert_coverage_adds_up(run: &Path) {
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    for (name, e) in summary["entities"].as_object().unwrap() {
        for side in ["left", "right"] {
            let c = &e[side]["coverage"];
            let sum: u64 = [
                "rows_matched",
                "rows_missing_other_side",
                "rows_duplicate_key",
                "rows_paired_with_duplicate",
                "rows_null_key",
                "rows_unconvertible_key",
            ]
            .iter()
            .map(|k| c[k].as_u64().unwrap())
            .sum();
            assert_eq!(sum, c["rows_read"].as_u64().unwrap(), "{name} {side}: {c}");
            assert_eq!(c["rows_read"], e[side]["rows"]);
        }
    }
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}
