//! `recon apply`: execute a sealed run's instructions against a snapshot
//! file of one target system, honouring every precondition, and write the
//! repaired snapshot atomically in the same format.
//!
//! The result depends only on the run folder, the spec and the input file,
//! so applying twice gives byte-identical output; applying to an already
//! repaired file changes nothing (instructions count as already applied).

use std::collections::BTreeMap;

use polars::prelude::PlHashMap as HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::display::ReportDisplay;
use crate::error::{Error, Result};
use crate::evidence;
use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::prepare::{self, convert, Cell, KeyIndex, PreparedSide, SideKeys};
use crate::source::{self, CsvField};
use crate::spec::{self, Entity, Format, Side, Spec};

use super::repr::{expected_of, to_target_from, NoInverse};
use super::state::row_hashes;
use super::Repair;

mod read;
mod write;

pub(crate) use write::write_atomically;

pub struct ApplyOptions {
    pub run_dir: PathBuf,
    pub target: String,
    pub input: PathBuf,
    pub output: PathBuf,
    pub pubkey: Option<PathBuf>,
    pub spec: Option<PathBuf>,
    pub entity: Option<String>,
    pub keys: KeyRing,
}

/// What happened to one instruction that was not applied.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub repair_id: String,
    pub what: String,
    pub reason: String,
}

/// What became of one instruction, for the JSON report of `recon apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    AlreadyApplied,
    Skipped,
    /// A `review` instruction: left for a person.
    Review,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::AlreadyApplied => "already_applied",
            Outcome::Skipped => "skipped",
            Outcome::Review => "review",
        }
    }
}

/// One instruction of the target as `recon apply` handled it. It carries no
/// value: only the instruction's id, key (personal parts tokenized), field
/// and reason as `repairs` holds them, and why it was skipped.
#[derive(Debug, Clone)]
pub struct Handled {
    pub repair_id: String,
    pub action: String,
    pub key: String,
    pub field: Option<String>,
    /// The instruction's `reason` (why the run planned it).
    pub reason: String,
    pub outcome: Outcome,
    /// Why it was skipped (only for [`Outcome::Skipped`]).
    pub skipped_because: Option<String>,
}

#[derive(Debug, Default)]
pub struct ApplyReport {
    pub entity: String,
    pub target: String,
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
    pub already: usize,
    pub review: usize,
    pub skipped: Vec<Skipped>,
    /// Every instruction for the target, in the order of `repairs`.
    pub instructions: Vec<Handled>,
}

impl ApplyReport {
    /// The JSON report of `recon apply` (reports/README.md, section 8):
    /// counts, then every instruction with its outcome. No values: repair
    /// ids, tokenized keys, field names and reasons only.
    pub fn to_json(&self, run_dir: &Path, input: &Path, output: &Path) -> serde_json::Value {
        let count = |o: Outcome| self.instructions.iter().filter(|h| h.outcome == o).count();
        let instructions: Vec<serde_json::Value> = self
            .instructions
            .iter()
            .map(|h| {
                serde_json::json!({
                    "repair_id": h.repair_id,
                    "action": h.action,
                    "key": h.key,
                    "field": h.field,
                    "reason": h.reason,
                    "outcome": h.outcome.as_str(),
                    "skipped_because": h.skipped_because,
                })
            })
            .collect();
        serde_json::json!({
            "run_dir": run_dir.display().to_string(),
            "entity": self.entity,
            "target": self.target,
            "input": input.display().to_string(),
            "output": output.display().to_string(),
            "ok": self.skipped.is_empty(),
            "counts": {
                "applied": count(Outcome::Applied),
                "already_applied": count(Outcome::AlreadyApplied),
                "skipped": count(Outcome::Skipped),
                "review": count(Outcome::Review),
                "inserted_rows": self.inserted,
                "updated": self.updated,
                "deleted": self.deleted,
            },
            "instructions": instructions,
        })
    }

    /// Writes [`ApplyReport::to_json`] to `path` atomically.
    pub fn write_json(&self, path: &Path, run_dir: &Path, input: &Path, output: &Path) -> Result<()> {
        let json = self.to_json(run_dir, input, output);
        let mut bytes = serde_json::to_vec_pretty(&json).expect("JSON of plain values");
        bytes.push(b'\n');
        write::write_atomically(path, &bytes)
    }
}

pub enum ApplyResult {
    /// The run folder's evidence does not verify: nothing was read or written.
    Refused(Vec<String>),
    Done(ApplyReport),
}

pub fn apply(o: &ApplyOptions) -> Result<ApplyResult> {
    let (pk, _) = crate::keys::trusted_public_key(o.pubkey.as_deref())?;
    let report = evidence::verify_run(&o.run_dir, &pk)?;
    if !report.ok() {
        return Ok(ApplyResult::Refused(
            report.problems.into_iter().map(|p| p.what).collect(),
        ));
    }
    let spec = load_spec(&o.run_dir, o.spec.as_deref())?;
    if spec.entities.iter().any(|e| e.fields.iter().any(super::sensitive)) {
        o.keys.prepare_tokens()?;
    }
    let side = parse_side(&spec, &o.target)?;
    let entity = pick_entity(&spec, side, o.entity.as_deref(), &o.input)?;
    let repairs: Vec<Repair> = super::read(&o.run_dir)?
        .into_iter()
        .filter(|r| r.entity == entity.name && r.target_side == side.as_str())
        .collect();

    let mut src = entity.sources[side.idx()].at_local_file(&o.input);
    if let Some(f) = Format::from_path(&o.input) {
        src.format = f;
    }
    let loaded = source::load(&src, &entity.columns(side))?;
    if !loaded.missing.is_empty() {
        return Err(Error::Input {
            path: o.input.clone(),
            line: None,
            field: None,
            message: format!(
                "does not match the spec's {} columns of entity `{}`: missing {}",
                side.as_str(),
                entity.name,
                loaded.missing.join(", ")
            ),
            hint: Some("pass the snapshot of the target system this run reconciled".into()),
        });
    }
    let prepared = prepare::prepare(entity, side, &loaded);
    let display = ReportDisplay { keys: &o.keys };
    let keys = prepare::side_keys(entity, &prepared, &display);
    let mut doc = Doc::read(&src)?;
    if doc.rows != loaded.rows {
        return Err(Error::Internal(format!(
            "{}: {} rows read for apply but {} for conversion",
            o.input.display(),
            doc.rows,
            loaded.rows
        )));
    }
    let mut ctx = Ctx {
        entity,
        side,
        keys: &o.keys,
        prepared: &prepared,
        by_key: index(&keys),
        source: None,
    };
    let mut out = ApplyReport {
        entity: entity.name.clone(),
        target: spec.side_name(side).to_string(),
        ..ApplyReport::default()
    };
    let mut i = 0;
    while i < repairs.len() {
        let r = &repairs[i];
        match r.action.as_str() {
            "insert" => {
                let mut j = i;
                while j < repairs.len() && repairs[j].action == "insert" && repairs[j].key == r.key {
                    j += 1;
                }
                ctx.insert(&repairs[i..j], &mut doc, &mut out)?;
                i = j;
                continue;
            }
            "update" => ctx.update(r, &mut doc, &mut out)?,
            "delete" => ctx.delete(r, &mut doc, &mut out),
            _ => {
                out.review += 1;
                handled(&mut out, r, Outcome::Review, None);
            }
        }
        i += 1;
    }
    doc.write(&src, &o.output, entity, side)?;
    Ok(ApplyResult::Done(out))
}

/// The spec of the run in `run_dir`: `spec` when given, else the path its
/// summary.json records; its sha256 must be the run's.
pub(crate) fn load_spec(run_dir: &Path, spec: Option<&Path>) -> Result<Spec> {
    let path = run_dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::input(&path, format!("not JSON: {e}")))?;
    let spec_path = match spec {
        Some(p) => p.to_path_buf(),
        None => match summary["spec"]["path"].as_str() {
            Some(p) => PathBuf::from(p),
            None => {
                return Err(Error::usage(
                    "the run folder does not record its spec path",
                    Some("pass the spec with --spec SPEC".into()),
                ))
            }
        },
    };
    if spec.is_none() && !spec_path.exists() {
        return Err(Error::usage(
            format!(
                "the run's spec {} does not exist (the path is as given to `recon run`)",
                spec_path.display()
            ),
            Some("pass the spec with --spec SPEC".into()),
        ));
    }
    // Apply reads no source: placeholders in source paths need no values.
    let spec = spec::load_with(&spec_path, &spec::Params::lenient())?;
    if Some(spec.sha256.as_str()) != summary["spec"]["sha256"].as_str() {
        return Err(Error::input(
            &spec_path,
            "is not the spec this run used (its sha256 differs from summary.json)",
        )
        .with_hint("pass the spec file of the run with --spec; instructions depend on its mappings"));
    }
    Ok(spec)
}

/// The side `target` names: `left`, `right` or a system's display name.
pub(crate) fn parse_side(spec: &Spec, target: &str) -> Result<Side> {
    match target {
        "left" => Ok(Side::Left),
        "right" => Ok(Side::Right),
        t if t == spec.sides[0] => Ok(Side::Left),
        t if t == spec.sides[1] => Ok(Side::Right),
        t => Err(Error::usage(
            format!("unknown target `{t}`"),
            Some(format!("use left, right, `{}` or `{}`", spec.sides[0], spec.sides[1])),
        )),
    }
}

fn pick_entity<'a>(spec: &'a Spec, side: Side, name: Option<&str>, input: &Path) -> Result<&'a Entity> {
    if let Some(n) = name {
        return spec
            .entity(n)
            .ok_or_else(|| Error::usage(format!("the spec has no entity `{n}`"), None));
    }
    let by_name: Vec<&Entity> = spec
        .entities
        .iter()
        .filter(|e| e.sources[side.idx()].path.file_name() == input.file_name())
        .collect();
    match (by_name.as_slice(), spec.entities.as_slice()) {
        ([one], _) => Ok(one),
        (_, [only]) => Ok(only),
        _ => Err(Error::usage(
            format!("cannot tell which entity {} holds", input.display()),
            Some("pass --entity NAME".into()),
        )),
    }
}

fn index(keys: &SideKeys) -> HashMap<String, Vec<usize>> {
    let mut m: HashMap<String, Vec<usize>> = HashMap::default();
    for (row, t) in keys.tuple.iter().enumerate() {
        if t.is_some() {
            m.entry(keys.json[row].to_string()).or_default().push(row);
        }
    }
    m
}

/// The other side's snapshot, for `value_ref`s.
struct SourceSide {
    prepared: PreparedSide,
    rows: HashMap<String, usize>,
}

struct Ctx<'a> {
    entity: &'a Entity,
    side: Side,
    keys: &'a KeyRing,
    prepared: &'a PreparedSide,
    by_key: HashMap<String, Vec<usize>>,
    source: Option<SourceSide>,
}

fn describe(r: &Repair) -> String {
    format!(
        "{} {} {}{}",
        r.action,
        r.entity,
        r.key,
        r.field.as_deref().map(|f| format!(" {f}")).unwrap_or_default()
    )
}

fn handled(out: &mut ApplyReport, r: &Repair, outcome: Outcome, skipped_because: Option<String>) {
    out.instructions.push(Handled {
        repair_id: r.repair_id.clone(),
        action: r.action.clone(),
        key: r.key.clone(),
        field: r.field.clone(),
        reason: r.reason.clone(),
        outcome,
        skipped_because,
    });
}

fn skip(out: &mut ApplyReport, r: &Repair, reason: impl Into<String>) {
    let reason = reason.into();
    handled(out, r, Outcome::Skipped, Some(reason.clone()));
    out.skipped.push(Skipped {
        repair_id: r.repair_id.clone(),
        what: describe(r),
        reason,
    });
}

fn skipped(out: &mut ApplyReport, r: &Repair, reason: impl Into<String>) -> Result<()> {
    skip(out, r, reason);
    Ok(())
}

/// Why an instruction's field or value cannot be resolved; its text is the
/// reason the instruction is skipped.
#[derive(Debug, thiserror::Error)]
enum Unresolved {
    #[error("the spec has no field {0:?}")]
    NoField(Option<String>),
    #[error("value_ref is not JSON")]
    ValueRefNotJson(#[source] serde_json::Error),
    #[error("value_ref names no side")]
    ValueRefNoSide,
    #[error("value_ref points at the target itself")]
    ValueRefIsTarget,
    /// The source snapshot named in the spec cannot be loaded.
    #[error(transparent)]
    Source(Box<Error>),
    #[error("the value_ref row is not (uniquely) in the source snapshot")]
    NotInSource,
    #[error("the source value can no longer be converted")]
    SourceUnconvertible,
    #[error("the source value changed since the run")]
    SourceChanged,
    #[error(transparent)]
    NoInverse(#[from] NoInverse),
}

impl Ctx<'_> {
    fn row(&self, key: &str) -> std::result::Result<Option<usize>, &'static str> {
        match self.by_key.get(key).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(*one)),
            Some(_) => Err("the key is not unique in the target"),
        }
    }

    fn field(&self, r: &Repair) -> std::result::Result<usize, Unresolved> {
        r.field
            .as_deref()
            .and_then(|f| self.entity.field(f))
            .ok_or_else(|| Unresolved::NoField(r.field.clone()))
    }

    /// The raw text to write: `new_value`, or the `value_ref` resolved from
    /// the source snapshot named in the spec.
    fn value(&mut self, r: &Repair, f: usize) -> std::result::Result<Option<String>, Unresolved> {
        let Some(vr) = &r.value_ref else {
            return Ok(r.new_value.clone());
        };
        let vr: serde_json::Value = serde_json::from_str(vr).map_err(Unresolved::ValueRefNotJson)?;
        let from = match vr["side"].as_str() {
            Some("left") => Side::Left,
            Some("right") => Side::Right,
            _ => return Err(Unresolved::ValueRefNoSide),
        };
        if from == self.side {
            return Err(Unresolved::ValueRefIsTarget);
        }
        let s = match self.source.take() {
            Some(s) => s,
            None => self.load_source(from).map_err(|e| Unresolved::Source(Box::new(e)))?,
        };
        let s = self.source.insert(s);
        let key = vr["key"].to_string();
        let row = *s.rows.get(&key).ok_or(Unresolved::NotInSource)?;
        let cell = s.prepared.cell(f, row);
        if cell == &Cell::Bad {
            return Err(Unresolved::SourceUnconvertible);
        }
        let mac = expected_of(self.entity, f, from, cell, self.keys);
        if vr.get("mac").is_some() && vr["mac"].as_str() != mac.as_deref() {
            return Err(Unresolved::SourceChanged);
        }
        Ok(to_target_from(&self.entity.fields[f], from, self.side, cell.value())?)
    }

    /// Side `from`'s snapshot as named in the spec, its rows indexed by key.
    fn load_source(&self, from: Side) -> Result<SourceSide> {
        let src = &self.entity.sources[from.idx()];
        let loaded = source::load(src, &self.entity.columns(from))?;
        let prepared = prepare::prepare(self.entity, from, &loaded);
        let display = ReportDisplay { keys: self.keys };
        let keys = prepare::side_keys(self.entity, &prepared, &display);
        // The source's keys indexed alone (in the index's first slot).
        let unique = KeyIndex::new([&keys, &SideKeys::default()]).unique_rows(crate::spec::Side::Left, &keys);
        let mut rows: HashMap<String, usize> = HashMap::default();
        let mut shared = Vec::new();
        for (json, row) in unique {
            if rows.insert(json.to_string(), row).is_some() {
                shared.push(json);
            }
        }
        // A key text that two keys share (it never should) names no row.
        for json in shared {
            rows.remove(json);
        }
        Ok(SourceSide { prepared, rows })
    }

    /// The canonical value `raw` reads as on the target side.
    fn canonical(&self, f: usize, raw: Option<&str>) -> Option<Option<Value>> {
        convert(&self.entity.fields[f], self.side, raw).ok()
    }

    fn update(&mut self, r: &Repair, doc: &mut Doc, out: &mut ApplyReport) -> Result<()> {
        let f = match self.field(r) {
            Ok(f) => f,
            Err(e) => return skipped(out, r, e.to_string()),
        };
        let row = match self.row(&r.key) {
            Ok(Some(row)) => row,
            Ok(None) => return skipped(out, r, "the row is not in the target"),
            Err(e) => return skipped(out, r, e),
        };
        let raw = match self.value(r, f) {
            Ok(v) => v,
            Err(e) => return skipped(out, r, e.to_string()),
        };
        let cell = self.prepared.cell(f, row);
        if cell != &Cell::Bad && self.canonical(f, raw.as_deref()) == Some(cell.value().cloned()) {
            out.already += 1;
            handled(out, r, Outcome::AlreadyApplied, None);
            return Ok(());
        }
        let current = expected_of(self.entity, f, self.side, cell, self.keys);
        if cell == &Cell::Bad || current != r.expected {
            skip(
                out,
                r,
                "precondition failed: the current value no longer matches `expected`",
            );
            return Ok(());
        }
        let col = doc.col(&self.entity.fields[f].columns[self.side.idx()])?;
        doc.edits.insert((row, col), raw);
        out.updated += 1;
        handled(out, r, Outcome::Applied, None);
        Ok(())
    }

    fn insert(&mut self, group: &[Repair], doc: &mut Doc, out: &mut ApplyReport) -> Result<()> {
        let key = &group[0].key;
        let existing = match self.row(key) {
            Ok(e) => e,
            Err(e) => {
                group.iter().for_each(|r| skip(out, r, e));
                return Ok(());
            }
        };
        let mut values = Vec::new();
        for r in group {
            let resolved = self.field(r).and_then(|f| Ok((f, self.value(r, f)?)));
            match resolved {
                Ok(fv) => values.push(fv),
                Err(e) => {
                    group
                        .iter()
                        .for_each(|r| skip(out, r, format!("row not inserted: {e}")));
                    return Ok(());
                }
            }
        }
        if let Some(row) = existing {
            let same = values.iter().all(|(f, v)| {
                let cell = self.prepared.cell(*f, row);
                cell != &Cell::Bad && self.canonical(*f, v.as_deref()) == Some(cell.value().cloned())
            });
            if same {
                out.already += group.len();
                group
                    .iter()
                    .for_each(|r| handled(out, r, Outcome::AlreadyApplied, None));
            } else {
                group
                    .iter()
                    .for_each(|r| skip(out, r, "precondition failed: a row with this key already exists"));
            }
            return Ok(());
        }
        let mut new_row = vec![None; doc.columns.len()];
        for (f, v) in values {
            let col = doc.col(&self.entity.fields[f].columns[self.side.idx()])?;
            new_row[col] = v;
        }
        doc.inserts.push(new_row);
        out.inserted += 1;
        group.iter().for_each(|r| handled(out, r, Outcome::Applied, None));
        Ok(())
    }

    fn delete(&mut self, r: &Repair, doc: &mut Doc, out: &mut ApplyReport) {
        let row = match self.row(&r.key) {
            Ok(Some(row)) => row,
            Ok(None) => {
                out.already += 1;
                return handled(out, r, Outcome::AlreadyApplied, None);
            }
            Err(e) => return skip(out, r, e),
        };
        let (_, hash) = row_hashes(self.entity, self.prepared, row, self.keys);
        if Some(hex::encode(hash)) != r.expected {
            return skip(out, r, "precondition failed: the row changed since the run");
        }
        doc.deleted[row] = true;
        out.deleted += 1;
        handled(out, r, Outcome::Applied, None);
    }
}

/// A snapshot file as read for rewriting: everything not edited is kept.
struct Doc {
    kind: Kind,
    /// Column names (CSV headers trimmed, as the loader matches them).
    columns: Vec<String>,
    rows: usize,
    edits: BTreeMap<(usize, usize), Option<String>>,
    deleted: Vec<bool>,
    inserts: Vec<Vec<Option<String>>>,
}

enum Kind {
    Csv {
        bom: bool,
        crlf: bool,
        header: Vec<CsvField>,
        records: Vec<Vec<CsvField>>,
    },
    Ndjson {
        lines: Vec<String>,
        /// First non-null JSON value kind per column: 'n'umber, 'b'ool, 's'tring.
        kinds: Vec<char>,
    },
    Parquet {
        df: DataFrame,
    },
}

fn input_err(path: &Path, message: String) -> Error {
    Error::input(path, message)
}

impl Doc {
    fn col(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| Error::Internal(format!("column `{name}` vanished")))
    }

    fn kept(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.rows).filter(|r| !self.deleted[*r])
    }
}
