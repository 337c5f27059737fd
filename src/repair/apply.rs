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
use crate::files::write_file;
use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::prepare::{self, convert, Cell, KeyIndex, PreparedSide, SideKeys};
use crate::source::{self, CsvField};
use crate::spec::{self, Encoding, Entity, Format, Side, Source, Spec};

use super::repr::{expected_of, to_target_from};
use super::state::row_hashes;
use super::Repair;

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
    let spec = load_spec(o)?;
    if spec.entities.iter().any(|e| e.fields.iter().any(super::sensitive)) {
        o.keys.prepare_tokens()?;
    }
    let side = parse_side(&spec, &o.target)?;
    let entity = pick_entity(&spec, side, o.entity.as_deref(), &o.input)?;
    let repairs: Vec<Repair> = super::read_jsonl(&o.run_dir)?
        .into_iter()
        .filter(|r| r.entity == entity.name && r.target_side == side.as_str())
        .collect();

    let mut src = entity.sources[side.idx()].clone();
    src.path = o.input.clone();
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
            _ => out.review += 1,
        }
        i += 1;
    }
    doc.write(&src, &o.output, entity, side)?;
    Ok(ApplyResult::Done(out))
}

fn load_spec(o: &ApplyOptions) -> Result<Spec> {
    let path = o.run_dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::input(&path, format!("not JSON: {e}")))?;
    let spec_path = match &o.spec {
        Some(p) => p.clone(),
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
    if o.spec.is_none() && !spec_path.exists() {
        return Err(Error::usage(
            format!(
                "the run's spec {} does not exist (the path is as given to `recon run`)",
                spec_path.display()
            ),
            Some("pass the spec with --spec SPEC".into()),
        ));
    }
    let spec = spec::load(&spec_path)?;
    if Some(spec.sha256.as_str()) != summary["spec"]["sha256"].as_str() {
        return Err(Error::input(
            &spec_path,
            "is not the spec this run used (its sha256 differs from summary.json)",
        )
        .with_hint("pass the spec file of the run with --spec; instructions depend on its mappings"));
    }
    Ok(spec)
}

fn parse_side(spec: &Spec, target: &str) -> Result<Side> {
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

fn skip(out: &mut ApplyReport, r: &Repair, reason: impl Into<String>) {
    out.skipped.push(Skipped {
        repair_id: r.repair_id.clone(),
        what: describe(r),
        reason: reason.into(),
    });
}

fn skipped(out: &mut ApplyReport, r: &Repair, reason: impl Into<String>) -> Result<()> {
    skip(out, r, reason);
    Ok(())
}

impl Ctx<'_> {
    fn row(&self, key: &str) -> std::result::Result<Option<usize>, &'static str> {
        match self.by_key.get(key).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(*one)),
            Some(_) => Err("the key is not unique in the target"),
        }
    }

    fn field(&self, r: &Repair) -> std::result::Result<usize, String> {
        r.field
            .as_deref()
            .and_then(|f| self.entity.field(f))
            .ok_or_else(|| format!("the spec has no field {:?}", r.field))
    }

    /// The raw text to write: `new_value`, or the `value_ref` resolved from
    /// the source snapshot named in the spec.
    fn value(&mut self, r: &Repair, f: usize) -> std::result::Result<Option<String>, String> {
        let Some(vr) = &r.value_ref else {
            return Ok(r.new_value.clone());
        };
        let vr: serde_json::Value = serde_json::from_str(vr).map_err(|_| "value_ref is not JSON".to_string())?;
        let from = match vr["side"].as_str() {
            Some("left") => Side::Left,
            Some("right") => Side::Right,
            _ => return Err("value_ref names no side".into()),
        };
        if from == self.side {
            return Err("value_ref points at the target itself".into());
        }
        if self.source.is_none() {
            let src = &self.entity.sources[from.idx()];
            let loaded = source::load(src, &self.entity.columns(from)).map_err(|e| e.to_string())?;
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
            self.source = Some(SourceSide { prepared, rows });
        }
        let s = self.source.as_ref().ok_or("source not loaded")?;
        let key = vr["key"].to_string();
        let row = *s
            .rows
            .get(&key)
            .ok_or_else(|| "the value_ref row is not (uniquely) in the source snapshot".to_string())?;
        let cell = s.prepared.cell(f, row);
        if cell == &Cell::Bad {
            return Err("the source value can no longer be converted".into());
        }
        let mac = expected_of(self.entity, f, from, cell, self.keys);
        if vr.get("mac").is_some() && vr["mac"].as_str() != mac.as_deref() {
            return Err("the source value changed since the run".into());
        }
        to_target_from(&self.entity.fields[f], from, self.side, cell.value())
    }

    /// The canonical value `raw` reads as on the target side.
    fn canonical(&self, f: usize, raw: Option<&str>) -> Option<Option<Value>> {
        convert(&self.entity.fields[f], self.side, raw).ok()
    }

    fn update(&mut self, r: &Repair, doc: &mut Doc, out: &mut ApplyReport) -> Result<()> {
        let f = match self.field(r) {
            Ok(f) => f,
            Err(e) => return skipped(out, r, e),
        };
        let row = match self.row(&r.key) {
            Ok(Some(row)) => row,
            Ok(None) => return skipped(out, r, "the row is not in the target"),
            Err(e) => return skipped(out, r, e),
        };
        let raw = match self.value(r, f) {
            Ok(v) => v,
            Err(e) => return skipped(out, r, e),
        };
        let cell = self.prepared.cell(f, row);
        if cell != &Cell::Bad && self.canonical(f, raw.as_deref()) == Some(cell.value().cloned()) {
            out.already += 1;
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
            let f = self.field(r);
            let v = f.clone().and_then(|f| self.value(r, f));
            match (f, v) {
                (Ok(f), Ok(v)) => values.push((f, v)),
                (Err(e), _) | (_, Err(e)) => {
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
        Ok(())
    }

    fn delete(&mut self, r: &Repair, doc: &mut Doc, out: &mut ApplyReport) {
        let row = match self.row(&r.key) {
            Ok(Some(row)) => row,
            Ok(None) => return out.already += 1,
            Err(e) => return skip(out, r, e),
        };
        let (_, hash) = row_hashes(self.entity, self.prepared, row, self.keys);
        if Some(hex::encode(hash)) != r.expected {
            return skip(out, r, "precondition failed: the row changed since the run");
        }
        doc.deleted[row] = true;
        out.deleted += 1;
    }
}

/// Writes CSV records so that they read back as the values they hold: a
/// null as an unquoted null text, the empty string (or a text that is one
/// of the source's `null_values`) quoted, a field that was quoted empty in
/// the file quoted again.
struct CsvWriter<'a> {
    src: &'a Source,
    terminator: &'static str,
}

impl CsvWriter<'_> {
    /// The field that reads back as `value`. A null is the first of the
    /// source's `null_values` (the empty cell by default).
    fn field(&self, value: Option<&str>) -> CsvField {
        match value {
            None => CsvField {
                text: self.src.null_values.first().cloned().unwrap_or_default(),
                quoted: false,
            },
            Some(t) => CsvField {
                text: t.to_string(),
                quoted: t.is_empty() || self.src.null_values.iter().any(|n| n == t),
            },
        }
    }

    fn record(&self, out: &mut String, fields: impl Iterator<Item = CsvField>) {
        let (delimiter, quote) = (char::from(self.src.delimiter), char::from(self.src.quote));
        let start = out.len();
        let mut n = 0;
        for f in fields {
            if n > 0 {
                out.push(delimiter);
            }
            n += 1;
            let needs = f.quoted || f.text.contains([delimiter, quote, '\r', '\n']);
            if needs {
                out.push(quote);
                for c in f.text.chars() {
                    if c == quote {
                        out.push(quote);
                    }
                    out.push(c);
                }
                out.push(quote);
            } else {
                out.push_str(&f.text);
            }
        }
        // A record of one empty field would be a blank line, which readers skip.
        if n == 1 && out.len() == start {
            out.push(quote);
            out.push(quote);
        }
        out.push_str(self.terminator);
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

    fn read(src: &Source) -> Result<Doc> {
        let path = &src.path;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (kind, columns, rows) = match src.format {
            Format::Csv => {
                let (text, bom) = match src.encoding {
                    Encoding::Gbk => {
                        let (t, _, bad) = encoding_rs::GB18030.decode(&bytes);
                        if bad {
                            return Err(input_err(path, "contains bytes that are not valid GBK/GB18030".into()));
                        }
                        (t.trim_start_matches('\u{feff}').to_string(), false)
                    }
                    Encoding::Utf8 => {
                        let bom = bytes.starts_with(b"\xEF\xBB\xBF");
                        let body = if bom { &bytes[3..] } else { &bytes[..] };
                        let t = std::str::from_utf8(body).map_err(|_| input_err(path, "invalid UTF-8".into()))?;
                        (t.to_string(), bom)
                    }
                };
                let crlf = text.contains("\r\n");
                let mut all = source::csv_fields(text.as_bytes(), src).map_err(|e| input_err(path, e.to_string()))?;
                if all.is_empty() {
                    return Err(input_err(path, "has no header row".into()));
                }
                let header = all.remove(0);
                let columns = header.iter().map(|h| h.text.trim().to_string()).collect();
                let rows = all.len();
                (
                    Kind::Csv {
                        bom,
                        crlf,
                        header,
                        records: all,
                    },
                    columns,
                    rows,
                )
            }
            Format::Ndjson => {
                let text = String::from_utf8(bytes).map_err(|_| input_err(path, "invalid UTF-8".into()))?;
                let text = text.trim_start_matches('\u{feff}');
                let lines: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| l.trim_end_matches('\r').to_string())
                    .collect();
                let mut columns: Vec<String> = Vec::new();
                let mut kinds: Vec<char> = Vec::new();
                for l in &lines {
                    let obj: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(l).map_err(|e| input_err(path, format!("not a JSON object: {e}")))?;
                    for (k, v) in obj {
                        let kind = match v {
                            serde_json::Value::Null => None,
                            serde_json::Value::Number(_) => Some('n'),
                            serde_json::Value::Bool(_) => Some('b'),
                            _ => Some('s'),
                        };
                        match columns.iter().position(|c| *c == k) {
                            Some(i) => {
                                if kinds[i] == '?' {
                                    kinds[i] = kind.unwrap_or('?');
                                }
                            }
                            None => {
                                columns.push(k);
                                kinds.push(kind.unwrap_or('?'));
                            }
                        }
                    }
                }
                let rows = lines.len();
                (Kind::Ndjson { lines, kinds }, columns, rows)
            }
            Format::Parquet => {
                let df = ParquetReader::new(std::io::Cursor::new(bytes))
                    .finish()
                    .map_err(|e| input_err(path, format!("cannot be read as Parquet: {e}")))?;
                let columns = df.get_column_names().iter().map(|c| c.to_string()).collect();
                let rows = df.height();
                (Kind::Parquet { df }, columns, rows)
            }
        };
        Ok(Doc {
            kind,
            columns,
            rows,
            edits: BTreeMap::new(),
            deleted: vec![false; rows],
            inserts: Vec::new(),
        })
    }

    fn kept(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.rows).filter(|r| !self.deleted[*r])
    }

    /// Writes the repaired snapshot atomically (temporary file, fsync, rename).
    fn write(&self, src: &Source, out: &Path, entity: &Entity, side: Side) -> Result<()> {
        let bytes = match &self.kind {
            Kind::Csv {
                bom,
                crlf,
                header,
                records,
            } => {
                let csv = CsvWriter {
                    src,
                    terminator: if *crlf { "\r\n" } else { "\n" },
                };
                let mut text = String::new();
                csv.record(&mut text, header.iter().cloned());
                for row in self.kept() {
                    let rec = (0..self.columns.len()).map(|c| match self.edits.get(&(row, c)) {
                        Some(v) => csv.field(v.as_deref()),
                        None => records[row].get(c).cloned().unwrap_or_default(),
                    });
                    csv.record(&mut text, rec);
                }
                for new in &self.inserts {
                    csv.record(&mut text, new.iter().map(|v| csv.field(v.as_deref())));
                }
                match src.encoding {
                    Encoding::Gbk => {
                        let (b, _, bad) = encoding_rs::GBK.encode(&text);
                        if bad {
                            return Err(input_err(out, "a repaired value cannot be encoded in GBK".into()));
                        }
                        b.into_owned()
                    }
                    Encoding::Utf8 => {
                        let mut b = if *bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
                        b.extend_from_slice(text.as_bytes());
                        b
                    }
                }
            }
            Kind::Ndjson { lines, kinds } => {
                let mut text = String::new();
                let typed = |c: usize, v: &Option<String>| -> serde_json::Value {
                    match v {
                        None => serde_json::Value::Null,
                        Some(t) => match kinds[c] {
                            'n' => serde_json::from_str::<serde_json::Number>(t)
                                .map(serde_json::Value::Number)
                                .unwrap_or_else(|_| serde_json::Value::String(t.clone())),
                            'b' if t == "true" || t == "false" => serde_json::Value::Bool(t == "true"),
                            _ => serde_json::Value::String(t.clone()),
                        },
                    }
                };
                let ser = |m: &serde_json::Map<String, serde_json::Value>| {
                    serde_json::to_string(m).map_err(|e| Error::Internal(e.to_string()))
                };
                for row in self.kept() {
                    let edits: Vec<(usize, &Option<String>)> = self
                        .edits
                        .range((row, 0)..(row + 1, 0))
                        .map(|((_, c), v)| (*c, v))
                        .collect();
                    if edits.is_empty() {
                        text.push_str(&lines[row]);
                    } else {
                        let mut m: serde_json::Map<String, serde_json::Value> =
                            serde_json::from_str(&lines[row]).map_err(|e| Error::Internal(e.to_string()))?;
                        for (c, v) in edits {
                            m.insert(self.columns[c].clone(), typed(c, v));
                        }
                        text.push_str(&ser(&m)?);
                    }
                    text.push('\n');
                }
                for new in &self.inserts {
                    let m: serde_json::Map<String, serde_json::Value> = new
                        .iter()
                        .enumerate()
                        .map(|(c, v)| (self.columns[c].clone(), typed(c, v)))
                        .collect();
                    text.push_str(&ser(&m)?);
                    text.push('\n');
                }
                text.into_bytes()
            }
            Kind::Parquet { df } => {
                let mut cols = Vec::new();
                for (c, name) in self.columns.iter().enumerate() {
                    let orig = df.column(name).map_err(|e| Error::Internal(e.to_string()))?;
                    let field = entity.fields.iter().find(|f| f.columns[side.idx()] == *name);
                    cols.push(self.parquet_column(c, orig, field, side, out)?);
                }
                let height = self.kept().count() + self.inserts.len();
                let tmp = temp_path(out);
                return crate::report::write_parquet(&tmp, cols, height)
                    .and_then(|()| finish_rename(&tmp, out))
                    .inspect_err(|_| {
                        let _ = std::fs::remove_file(&tmp);
                    });
            }
        };
        let tmp = temp_path(out);
        write_file(&tmp, &bytes)
            .and_then(|()| finish_rename(&tmp, out))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
    }

    /// One output column: kept rows (edited or original) then inserted rows,
    /// in the original column's type.
    fn parquet_column(
        &self,
        c: usize,
        orig: &Column,
        field: Option<&spec::Field>,
        side: Side,
        out: &Path,
    ) -> Result<Column> {
        let internal = |e: PolarsError| Error::Internal(e.to_string());
        let dtype = orig.dtype().clone();
        let name = orig.name().clone();
        let cells: Vec<Option<&Option<String>>> = self
            .kept()
            .map(|r| self.edits.get(&(r, c)))
            .chain(self.inserts.iter().map(|n| Some(&n[c])))
            .collect();
        let kept: Vec<usize> = self.kept().collect();
        let bad = || {
            input_err(
                out,
                format!("a repaired value cannot be stored in Parquet column `{name}` ({dtype})"),
            )
        };
        // Canonical value of new text through the field's conversion.
        let canon = |t: &str| -> Result<Value> {
            let f = field.ok_or_else(bad)?;
            convert(f, side, Some(t)).ok().flatten().ok_or_else(bad)
        };
        let column = match &dtype {
            DataType::String => {
                let o = orig.str().map_err(internal)?;
                let v: Vec<Option<String>> = cells
                    .iter()
                    .enumerate()
                    .map(|(i, e)| match e {
                        Some(v) => (*v).clone(),
                        None => o.get(kept[i]).map(str::to_string),
                    })
                    .collect();
                Column::new(name, v)
            }
            DataType::Boolean => {
                let o = orig.bool().map_err(internal)?;
                let mut v: Vec<Option<bool>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => match canon(t) {
                            Ok(Value::Bool(b)) => Some(b),
                            _ => match t.as_str() {
                                "true" => Some(true),
                                "false" => Some(false),
                                _ => return Err(bad()),
                            },
                        },
                    });
                }
                Column::new(name, v)
            }
            DataType::Float32 | DataType::Float64 => {
                let phys = orig.cast(&DataType::Float64).map_err(internal)?;
                let o = phys.f64().map_err(internal)?;
                let mut v: Vec<Option<f64>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => Some(t.trim().parse::<f64>().map_err(|_| bad())?),
                    });
                }
                Column::new(name, v).cast(&dtype).map_err(internal)?
            }
            DataType::Datetime(unit, tz) => {
                let phys = orig.cast(&DataType::Int64).map_err(internal)?;
                let o = phys.i64().map_err(internal)?;
                let nanos_per: i128 = match unit {
                    TimeUnit::Nanoseconds => 1,
                    TimeUnit::Microseconds => 1_000,
                    TimeUnit::Milliseconds => 1_000_000,
                };
                let mut v: Vec<Option<i64>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => {
                            let Value::Ts(utc) = canon(t)? else { return Err(bad()) };
                            // A naive column holds the local wall time in the field's zone.
                            let nanos = match (tz, field.map(|f| &f.ty[side.idx()])) {
                                (None, Some(crate::normalize::FieldType::Timestamp { timezone, .. })) => {
                                    use chrono::{Offset, TimeZone};
                                    let dt = utc.to_utc().ok_or_else(bad)?;
                                    let offset = timezone.offset_from_utc_datetime(&dt.naive_utc()).fix();
                                    utc.nanos() + i128::from(offset.local_minus_utc()) * 1_000_000_000
                                }
                                _ => utc.nanos(),
                            };
                            if nanos % nanos_per != 0 {
                                return Err(bad());
                            }
                            Some(i64::try_from(nanos / nanos_per).map_err(|_| bad())?)
                        }
                    });
                }
                Column::new(name, v).cast(&dtype).map_err(internal)?
            }
            DataType::Date => {
                let phys = orig.cast(&DataType::Int32).map_err(internal)?;
                let o = phys.i32().map_err(internal)?;
                let mut v: Vec<Option<i32>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => match canon(t)? {
                            Value::Date(d) => Some(d),
                            _ => return Err(bad()),
                        },
                    });
                }
                Column::new(name, v).cast(&dtype).map_err(internal)?
            }
            d if d.is_integer() => {
                let phys = orig.cast(&DataType::Int64).map_err(internal)?;
                let o = phys.i64().map_err(internal)?;
                let mut v: Vec<Option<i64>> = Vec::new();
                for (i, e) in cells.iter().enumerate() {
                    v.push(match e {
                        None => o.get(kept[i]),
                        Some(None) => None,
                        Some(Some(t)) => Some(t.trim().parse::<i64>().map_err(|_| bad())?),
                    });
                }
                Column::new(name, v).cast(&dtype).map_err(internal)?
            }
            _ if cells.iter().all(Option::is_none) || cells.iter().all(|e| matches!(e, None | Some(None))) => {
                let idx: Vec<IdxSize> = kept.iter().map(|&r| r as IdxSize).collect();
                let taken = orig.take_slice(&idx).map_err(internal)?;
                let nulls = Column::full_null(name, self.inserts.len(), &dtype);
                let mut t = taken;
                t.append(&nulls).map_err(internal)?;
                t
            }
            _ => return Err(bad()),
        };
        Ok(column)
    }
}

fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "output".into());
    out.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}

fn finish_rename(tmp: &Path, out: &Path) -> Result<()> {
    std::fs::rename(tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        Error::io(out, e)
    })?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
