//! A shard's part: what one shard of a run hands to the merge, and the
//! checks that the parts of one run belong together.
//!
//! A part is a folder `OUT/.shards/RUN_ID/I/` (or the same prefix in a
//! bucket): `part.json` (the shard's entity results, its column metrics'
//! accumulators, and what it ran on: spec, inputs, bucket plan, previous
//! run, clock), one `state-E-B.parquet` per bucket with change state, and
//! `done.json` written last, listing every file with its SHA-256. A part
//! without `done.json` is unfinished; a retried shard removes its old part
//! first, so a part is never a mix of two attempts. Everything but
//! `done.json` is a function of the inputs, so a retry writes the same
//! bytes (its timings live in `done.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compare::Coverage;
use crate::error::{Error, Result};
use crate::finding::Finding;
use crate::quality::metrics::{EntityAcc, RuleStats};
use crate::repair::state::Changes;
use crate::repair::Repair;

/// The folder under OUT that holds the parts of sharded runs.
pub const SHARDS_DIR: &str = ".shards";
pub const PART_FILE: &str = "part.json";
/// The completion marker, written last.
pub const DONE_FILE: &str = "done.json";
/// The part layout this build writes and reads (2: state files with
/// sorted keys, fixed-length row hashes and fixed codecs, copied by the
/// merge page for page).
pub const PART_FORMAT: u32 = 2;

/// The folder of shard `index`'s part of run `run_id` under `out`.
pub fn part_dir(out: &Path, run_id: &str, index: usize) -> PathBuf {
    out.join(SHARDS_DIR).join(run_id).join(index.to_string())
}

/// The file of bucket `b`'s change state of entity `e`.
pub fn state_file(e: usize, b: usize) -> String {
    format!("state-{e}-{b}.parquet")
}

/// Shard `index` of `count`: it reconciles the buckets `b` with
/// `b % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn owns(&self, bucket: usize) -> bool {
        bucket % self.count == self.index
    }
}

/// The spec the shards ran, as its file read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartSpec {
    /// As given on the shard's command line (summary.json records it).
    pub path: String,
    pub sha256: String,
    pub text: String,
}

/// One input as a shard read it (no timings).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartInput {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub rows: usize,
    pub physical_types: BTreeMap<String, String>,
    pub files: Vec<crate::source::InputFile>,
}

/// One entity's result over a shard's buckets.
#[derive(Debug, Serialize, Deserialize)]
pub struct PartEntity {
    pub name: String,
    pub findings: Vec<Finding>,
    pub coverage: [Coverage; 2],
    pub matched: usize,
    pub drifted_keys: usize,
    pub rows: [usize; 2],
    pub inputs: [PartInput; 2],
    pub rules: BTreeMap<String, RuleStats>,
    pub repairs: Vec<Repair>,
    pub changes: Option<[Changes; 2]>,
    /// The column metrics' accumulators, finished at the merge.
    pub metrics: EntityAcc,
}

/// What one shard hands to the merge.
#[derive(Debug, Serialize, Deserialize)]
pub struct Part {
    pub format: u32,
    pub run_id: String,
    pub shard: usize,
    pub shards: usize,
    pub spec: PartSpec,
    /// Per entity (spec order): buckets.
    pub buckets: Vec<usize>,
    /// Per entity (spec order): both inputs' SHA-256.
    pub inputs: Vec<(String, [String; 2])>,
    /// The instant `fresh` and `age(...)` measured from (RFC 3339), when
    /// the spec has such rules.
    pub clock: Option<String>,
    pub previous_run: Option<String>,
    pub baseline_run: Option<String>,
    pub token_key_id: Option<String>,
    pub token_key_changed: bool,
    pub entities: Vec<PartEntity>,
}

/// One file of a part as `done.json` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileSum {
    pub sha256: String,
    pub size: u64,
}

/// The completion marker.
#[derive(Debug, Serialize, Deserialize)]
pub struct Done {
    pub format: u32,
    pub run_id: String,
    pub shard: usize,
    pub shards: usize,
    pub files: BTreeMap<String, FileSum>,
    pub started_at: String,
    pub finished_at: String,
    pub seconds: f64,
}

/// Empties `dir` for a new attempt of its shard: the old marker goes first,
/// so that no reader takes the folder for finished meanwhile.
pub fn clear(dir: &Path) -> Result<()> {
    let done = dir.join(DONE_FILE);
    if done.exists() {
        std::fs::remove_file(&done).map_err(|e| Error::io(&done, e))?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Writes `part.json` into `dir` (its state files already there), then the
/// marker listing every file.
pub fn write(dir: &Path, part: &Part, started: chrono::DateTime<chrono::Utc>) -> Result<Done> {
    let json = serde_json::to_vec(part).map_err(|e| Error::json("writing a shard's part", e))?;
    crate::files::write_file(&dir.join(PART_FILE), &json)?;
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name == DONE_FILE {
            continue;
        }
        files.insert(name, sum(&entry.path())?);
    }
    let finished = chrono::Utc::now();
    let done = Done {
        format: PART_FORMAT,
        run_id: part.run_id.clone(),
        shard: part.shard,
        shards: part.shards,
        files,
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        finished_at: finished.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        seconds: (finished - started).num_milliseconds() as f64 / 1000.0,
    };
    let text = serde_json::to_vec_pretty(&done).map_err(|e| Error::json("writing a shard's marker", e))?;
    crate::files::write_file(&dir.join(DONE_FILE), &text)?;
    Ok(done)
}

fn sum(path: &Path) -> Result<FileSum> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hashing = crate::evidence::HashingWriter::new(std::io::sink());
    std::io::copy(&mut file, &mut hashing).map_err(|e| Error::io(path, e))?;
    let digest = hashing.digest();
    Ok(FileSum {
        sha256: digest.sha256,
        size: digest.size,
    })
}

/// How far the shards of a run under `root` are: the indices with a
/// marker, and the shard count one of those markers names (None: none yet).
pub fn progress(root: &Path) -> Result<(Vec<usize>, Option<usize>)> {
    let mut done = Vec::new();
    let mut count = None;
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok((done, count));
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let Ok(i) = entry.file_name().to_string_lossy().parse::<usize>() else {
            continue;
        };
        let marker = entry.path().join(DONE_FILE);
        let Ok(text) = std::fs::read(&marker) else { continue };
        let d: Done = serde_json::from_slice(&text)
            .map_err(|e| Error::input(&marker, format!("not a shard's completion marker: {e}")))?;
        count = count.or(Some(d.shards));
        done.push(i);
    }
    done.sort_unstable();
    Ok((done, count))
}

/// Whether every shard of a run has its marker, by [`progress`].
pub fn all_done(done: &[usize], count: Option<usize>) -> bool {
    count.is_some_and(|n| (0..n).all(|i| done.contains(&i)))
}

/// A part read back and checked against its marker.
pub struct ReadPart {
    pub dir: PathBuf,
    pub part: Part,
    pub done: Done,
}

/// A finished shard's marker, its files checked against it.
pub struct Marked {
    pub index: usize,
    pub dir: PathBuf,
    pub done: Done,
}

impl Marked {
    /// The state files of this part: (entity, bucket, path).
    pub fn state_files(&self) -> Vec<(usize, usize, PathBuf)> {
        self.done
            .files
            .keys()
            .filter_map(|name| {
                let (e, b) = name.strip_prefix("state-")?.strip_suffix(".parquet")?.split_once('-')?;
                Some((e.parse().ok()?, b.parse().ok()?, self.dir.join(name)))
            })
            .collect()
    }
}

/// Reads every part of run `run_id` under `root` (`OUT/.shards/RUN_ID`)
/// and checks that they are all there and belong together: one shard
/// count, every index from 0, the same spec, inputs, bucket plan, clock,
/// previous run and token key. Each problem is an error naming the part.
pub fn read_all(root: &Path, run_id: &str) -> Result<Vec<ReadPart>> {
    parse_all(read_markers(root, run_id)?, run_id)
}

/// The markers of run `run_id` under `root`, one per shard from 0 to the
/// count they name, each part's files checked against its marker (side by
/// side); what is missing, unfinished or changed is an error naming it.
pub fn read_markers(root: &Path, run_id: &str) -> Result<Vec<Marked>> {
    use rayon::prelude::*;
    let fail = |message: String| Error::usage(message, None);
    if !root.is_dir() {
        return Err(Error::usage(
            format!(
                "no shard of run {run_id} has written a part ({} does not exist)",
                root.display()
            ),
            Some("run the shards first: recon run SPEC --shard I/N --run-id ID --out OUT".into()),
        ));
    }
    let mut indices: Vec<(usize, PathBuf)> = Vec::new();
    let mut unfinished = Vec::new();
    for entry in std::fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(i) = name.parse::<usize>() else { continue };
        if entry.path().join(DONE_FILE).exists() {
            indices.push((i, entry.path()));
        } else {
            unfinished.push(i);
        }
    }
    indices.sort();
    let marked: Vec<Marked> = indices
        .par_iter()
        .map(|(i, dir)| read_marker(dir, *i, run_id))
        .collect::<Result<_>>()?;
    let Some(first) = marked.first() else {
        return Err(fail(format!(
            "no shard of run {run_id} has finished (no {DONE_FILE} under {})",
            root.display()
        )));
    };
    let count = first.done.shards;
    for m in &marked {
        if m.done.shards != count {
            return Err(fail(format!(
                "the shards of run {run_id} disagree on their count: shard {} ran as one of {}, shard {} as one of {}",
                first.index, count, m.index, m.done.shards
            )));
        }
    }
    let present: Vec<usize> = marked.iter().map(|m| m.index).collect();
    if let Some(beyond) = present.iter().find(|&&i| i >= count) {
        return Err(fail(format!(
            "shard {beyond} of run {run_id} is beyond its count of {count}"
        )));
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !present.contains(i))
        .map(|i| match unfinished.contains(&i) {
            true => format!("{i} (unfinished: no {DONE_FILE})"),
            false => i.to_string(),
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(
            format!(
                "run {run_id} is missing shard(s) {} of {count} under {}",
                missing.join(", "),
                root.display()
            ),
            Some("rerun the missing shards with the same --run-id and --shard I/N, then merge again".into()),
        ));
    }
    Ok(marked)
}

/// The parts of checked markers, parsed side by side (a part of a 10M-row
/// run is tens of MB of JSON), each against its marker, all against the first.
pub fn parse_all(marked: Vec<Marked>, run_id: &str) -> Result<Vec<ReadPart>> {
    use rayon::prelude::*;
    let parts: Vec<ReadPart> = marked
        .into_par_iter()
        .map(|m| parse_one(m, run_id))
        .collect::<Result<_>>()?;
    if let Some((first, rest)) = parts.split_first() {
        for p in rest {
            agree(&first.part, &p.part)?;
        }
    }
    Ok(parts)
}

fn read_marker(dir: &Path, index: usize, run_id: &str) -> Result<Marked> {
    let done_path = dir.join(DONE_FILE);
    let text = std::fs::read(&done_path).map_err(|e| Error::io(&done_path, e))?;
    let done: Done = serde_json::from_slice(&text)
        .map_err(|e| Error::input(&done_path, format!("not a shard's completion marker: {e}")))?;
    if done.format != PART_FORMAT {
        return Err(Error::input(
            &done_path,
            format!("a part in format {}, this build reads {PART_FORMAT}", done.format),
        ));
    }
    if done.run_id != run_id {
        return Err(Error::input(
            &done_path,
            format!("belongs to run {}, not {run_id}", done.run_id),
        ));
    }
    if done.shard != index {
        return Err(Error::input(
            &done_path,
            format!(
                "is shard {} of {}, but lies in the folder of shard {index}",
                done.shard, done.shards
            ),
        ));
    }
    for (name, want) in &done.files {
        let path = dir.join(name);
        if !path.exists() {
            return Err(Error::input(&path, "listed in the shard's done.json but missing"));
        }
        let got = sum(&path)?;
        if &got != want {
            return Err(Error::input(
                &path,
                format!(
                    "its SHA-256 {} is not the {} its shard recorded: the part was changed or is incomplete",
                    got.sha256, want.sha256
                ),
            ));
        }
    }
    if !done.files.contains_key(PART_FILE) {
        return Err(Error::input(&done_path, format!("lists no {PART_FILE}")));
    }
    Ok(Marked {
        index,
        dir: dir.to_path_buf(),
        done,
    })
}

fn parse_one(m: Marked, run_id: &str) -> Result<ReadPart> {
    let part_path = m.dir.join(PART_FILE);
    let bytes = std::fs::read(&part_path).map_err(|e| Error::io(&part_path, e))?;
    let part: Part =
        serde_json::from_slice(&bytes).map_err(|e| Error::input(&part_path, format!("not a shard's part: {e}")))?;
    if part.run_id != run_id {
        return Err(Error::input(
            &part_path,
            format!("belongs to run {}, not {run_id}", part.run_id),
        ));
    }
    if part.shard != m.index || part.shards != m.done.shards {
        return Err(Error::input(
            &part_path,
            format!(
                "is shard {} of {}, but lies in the folder of shard {} of {}",
                part.shard, part.shards, m.index, m.done.shards
            ),
        ));
    }
    Ok(ReadPart {
        dir: m.dir,
        part,
        done: m.done,
    })
}

/// Fails, naming the difference, unless shards `a` and `b` ran the same run.
fn agree(a: &Part, b: &Part) -> Result<()> {
    let differ = |what: &str, x: String, y: String| {
        Err(Error::usage(
            format!(
                "shards {} and {} of run {} ran on different {what}: {x} and {y}",
                a.shard, b.shard, a.run_id
            ),
            Some("rerun every shard of the run with the same spec, inputs and options".into()),
        ))
    };
    if a.spec.sha256 != b.spec.sha256 {
        return differ("specs", a.spec.sha256.clone(), b.spec.sha256.clone());
    }
    if a.inputs != b.inputs {
        let (x, y) = a
            .inputs
            .iter()
            .zip(&b.inputs)
            .find(|(x, y)| x != y)
            .map(|(x, y)| (format!("{} {:?}", x.0, x.1), format!("{} {:?}", y.0, y.1)))
            .unwrap_or_default();
        return differ("inputs", x, y);
    }
    if a.buckets != b.buckets {
        return differ("bucket counts", format!("{:?}", a.buckets), format!("{:?}", b.buckets));
    }
    if a.clock != b.clock {
        return differ("clocks", format!("{:?}", a.clock), format!("{:?}", b.clock));
    }
    if a.previous_run != b.previous_run || a.baseline_run != b.baseline_run {
        return differ(
            "previous runs",
            format!("{:?}", a.previous_run),
            format!("{:?}", b.previous_run),
        );
    }
    if a.token_key_id != b.token_key_id {
        return differ(
            "token keys",
            format!("{:?}", a.token_key_id),
            format!("{:?}", b.token_key_id),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(shard: usize, shards: usize) -> Part {
        Part {
            format: PART_FORMAT,
            run_id: "r1".into(),
            shard,
            shards,
            spec: PartSpec {
                path: "s.toml".into(),
                sha256: "aa".into(),
                text: "[run]".into(),
            },
            buckets: vec![4],
            inputs: vec![("e".into(), ["l".into(), "r".into()])],
            clock: None,
            previous_run: None,
            baseline_run: None,
            token_key_id: None,
            token_key_changed: false,
            entities: Vec::new(),
        }
    }

    /// Writes shard `p`'s part under `root` as a shard does.
    fn write_part(root: &Path, p: &Part) -> PathBuf {
        let dir = root.join(p.shard.to_string());
        clear(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join(state_file(0, p.shard)), b"state bytes").unwrap_or_else(|e| panic!("{e}"));
        write(&dir, p, chrono::Utc::now()).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    fn error(root: &Path) -> String {
        match read_all(root, "r1") {
            Ok(_) => panic!("the parts were taken"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_part_lies_under_the_runs_shards_folder_and_names_its_state_files() {
        assert_eq!(
            part_dir(Path::new("out"), "r1", 3),
            Path::new("out").join(SHARDS_DIR).join("r1").join("3")
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let written = write_part(dir.path(), &part(1, 2));
        std::fs::write(written.join(state_file(2, 11)), b"more").unwrap_or_else(|e| panic!("{e}"));
        write(&written, &part(1, 2), chrono::Utc::now()).unwrap_or_else(|e| panic!("{e}"));
        let marked = read_markers(dir.path(), "r1");
        // Shard 0 is missing: the markers are not taken.
        assert!(marked.is_err());
        write_part(dir.path(), &part(0, 2));
        let marked = read_markers(dir.path(), "r1").unwrap_or_else(|e| panic!("{e}"));
        let mut files = marked[1].state_files();
        files.sort();
        assert_eq!(
            files,
            [
                (0, 1, written.join("state-0-1.parquet")),
                (2, 11, written.join("state-2-11.parquet"))
            ]
        );
        // part.json and done.json are no state files.
        assert_eq!(marked[0].state_files().len(), 1);
    }

    #[test]
    fn a_part_json_that_contradicts_its_marker_is_refused() {
        // The marker says shard 1 of 2; the part it lists, shard 1 of 3 or shard 0 of 2.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (shard, shards) in [(1, 3), (0, 2)] {
            let written = write_part(dir.path(), &part(1, 2));
            let mut p = part(1, 2);
            (p.shard, p.shards) = (shard, shards);
            let json = serde_json::to_vec(&p).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(written.join(PART_FILE), json).unwrap_or_else(|e| panic!("{e}"));
            let marker = read_marker(&written, 1, "r1");
            // The marker no longer matches the file...
            assert!(marker.is_err());
            // ...and were it rewritten to match, the part still contradicts it.
            let mut done = write(&written, &part(1, 2), chrono::Utc::now()).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(
                written.join(PART_FILE),
                serde_json::to_vec(&p).unwrap_or_else(|e| panic!("{e}")),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            done.files.insert(
                PART_FILE.into(),
                sum(&written.join(PART_FILE)).unwrap_or_else(|e| panic!("{e}")),
            );
            let m = Marked {
                index: 1,
                dir: written.clone(),
                done,
            };
            let err = parse_one(m, "r1").err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(&format!("is shard {shard} of {shards}")), "{err}");
        }
    }

    #[test]
    fn a_shard_owns_every_nth_bucket() {
        let s = Shard { index: 1, count: 3 };
        let owned: Vec<usize> = (0..10).filter(|&b| s.owns(b)).collect();
        assert_eq!(owned, [1, 4, 7]);
        // Every bucket has exactly one owner.
        for b in 0..50 {
            assert_eq!((0..3).filter(|&i| Shard { index: i, count: 3 }.owns(b)).count(), 1);
        }
    }

    #[test]
    fn parts_that_belong_together_are_read_back_in_shard_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for i in [2, 0, 1] {
            write_part(dir.path(), &part(i, 3));
        }
        let parts = read_all(dir.path(), "r1").unwrap_or_else(|e| panic!("{e}"));
        let order: Vec<usize> = parts.iter().map(|p| p.part.shard).collect();
        assert_eq!(order, [0, 1, 2]);
        assert!(parts[1].done.files.contains_key("state-0-1.parquet"));
        assert_eq!(
            progress(dir.path()).unwrap_or_else(|e| panic!("{e}")),
            (vec![0, 1, 2], Some(3))
        );
        assert!(all_done(&[0, 1, 2], Some(3)));
        assert!(!all_done(&[0, 2], Some(3)) && !all_done(&[], None));
    }

    #[test]
    fn a_missing_unfinished_changed_or_foreign_part_is_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        assert!(error(&root.join("none")).contains("no shard of run r1 has written a part"));
        write_part(root, &part(0, 3));
        let unfinished = write_part(root, &part(1, 3));
        std::fs::remove_file(unfinished.join(DONE_FILE)).unwrap_or_else(|e| panic!("{e}"));
        let err = error(root);
        assert!(
            err.contains("missing shard(s) 1 (unfinished: no done.json), 2 of 3"),
            "{err}"
        );
        write_part(root, &part(1, 3));
        write_part(root, &part(2, 3));
        assert!(read_all(root, "r1").is_ok());
        // A state file changed after the marker.
        std::fs::write(root.join("2").join(state_file(0, 2)), b"other bytes").unwrap_or_else(|e| panic!("{e}"));
        let err = error(root);
        assert!(err.contains("state-0-2.parquet") && err.contains("SHA-256"), "{err}");
        write_part(root, &part(2, 3));
        // Parts of another run, count, spec, inputs, plan or previous run.
        type Change<'a> = &'a dyn Fn(&mut Part);
        let cases: [(&str, Change<'_>); 6] = [
            ("belongs to run r0", &|p| p.run_id = "r0".into()),
            ("disagree on their count", &|p| p.shards = 4),
            ("different specs", &|p| p.spec.sha256 = "bb".into()),
            ("different inputs: e", &|p| p.inputs[0].1[1] = "r2".into()),
            ("different bucket counts", &|p| p.buckets = vec![8]),
            ("different previous runs", &|p| p.previous_run = Some("r0".into())),
        ];
        for (needle, change) in cases {
            let mut p = part(2, 3);
            change(&mut p);
            let dir = write_part(root, &p);
            if p.run_id != "r1" {
                // The marker names the part's own run.
                let done = dir.join(DONE_FILE);
                let text = std::fs::read_to_string(&done).unwrap_or_else(|e| panic!("{e}"));
                std::fs::write(&done, text.replace("\"r0\"", "\"r1\"")).unwrap_or_else(|e| panic!("{e}"));
            }
            let err = error(root);
            assert!(err.contains(needle), "{needle}: {err}");
            write_part(root, &part(2, 3));
        }
        assert!(read_all(root, "r1").is_ok());
    }
}
