//! Repair instructions: what to change in which system so both agree, in
//! the target's own representation, guarded by compare-and-set
//! preconditions and identified by deterministic ids; plus the state file
//! that gives the next run its base for change detection, and `apply`,
//! which executes instructions against a snapshot file.
//!
//! Personal data never appears in an instruction: such fields carry a
//! `value_ref` (where to read the value) and a keyed MAC as `expected`.

pub mod apply;
pub mod plan;
pub mod repr;
pub mod sql;
pub mod state;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::finding::digest_parts;
use crate::normalize::value::text_prefix;
use crate::spec::{RepairsFormat, Spec};

/// Fields whose values never appear in repairs or state: personal data
/// (`pii`) and free text scanned for personal data (`scan = true`). They
/// carry `value_ref` instead of `new_value`, and keyed MACs instead of values
/// and hashes.
pub fn sensitive(field: &crate::spec::Field) -> bool {
    field.is_pii() || field.scan
}

pub const REPAIRS_PARQUET: &str = "repairs.parquet";
pub const REPAIRS_JSONL: &str = "repairs.jsonl";

/// One instruction (one row of repairs.parquet / one line of repairs.jsonl).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Repair {
    pub repair_id: String,
    pub run_id: String,
    pub entity: String,
    pub finding_id: Option<String>,
    /// Display name of the system to change; `both` for a review without one.
    pub target: String,
    /// `left` | `right` | `both`.
    pub target_side: String,
    /// `insert` | `update` | `delete` | `review`.
    pub action: String,
    /// Key of the target row as a JSON object (personal parts tokenized).
    pub key: String,
    pub field: Option<String>,
    /// Target column name (for inserts and updates).
    pub column: Option<String>,
    pub new_value: Option<String>,
    pub value_ref: Option<String>,
    pub expected: Option<String>,
    /// Delete only: the target row's compared columns as the target holds
    /// them, a JSON object column → text (null for null), which `recon sql`
    /// guards the DELETE with; None when one of them is personal data or
    /// has no exact representation (then SQL leaves the delete to a person).
    /// Not part of the id (it follows from the key and `expected`).
    #[serde(default)]
    pub guard: Option<String>,
    pub reason: String,
    pub detail: String,
}

const NULL: &[u8] = b"\x00null";

impl Repair {
    /// Deterministic id over (entity, target, action, key, field,
    /// new_value or value_ref, expected), length-prefixed.
    pub fn compute_id(&self) -> String {
        let value = match (&self.new_value, &self.value_ref) {
            (Some(v), _) => format!("value:{v}"),
            (None, Some(r)) => format!("ref:{r}"),
            (None, None) => String::new(),
        };
        let opt = |o: &Option<String>| -> Vec<u8> { o.as_ref().map_or(NULL.to_vec(), |s| s.as_bytes().to_vec()) };
        let (field, expected) = (opt(&self.field), opt(&self.expected));
        let value: &[u8] = if value.is_empty() { NULL } else { value.as_bytes() };
        let parts: [&[u8]; 7] = [
            self.entity.as_bytes(),
            self.target.as_bytes(),
            self.action.as_bytes(),
            self.key.as_bytes(),
            &field,
            value,
            &expected,
        ];
        hex::encode(&digest_parts(&parts)[..16])
    }
}

fn action_rank(a: &str) -> u8 {
    match a {
        "delete" => 0,
        "insert" => 1,
        "update" => 2,
        _ => 3,
    }
}

/// Sets run ids and repair ids and sorts by (entity, target, key, action, field).
pub fn finish(mut repairs: Vec<Repair>, run_id: &str) -> Vec<Repair> {
    repairs.par_iter_mut().for_each(|r| {
        r.run_id = run_id.to_string();
        r.repair_id = r.compute_id();
    });
    // The positions are sorted (stably: of two instructions with one id,
    // the first met is kept), then the instructions moved once into their
    // places. Sorting the 360-byte instructions themselves moved each
    // about twenty times, through a buffer as large as all of them.
    fn key(r: &Repair) -> (&str, &str, &str, u8, Option<&str>, &str) {
        let field = r.field.as_deref();
        (
            &r.entity,
            &r.target,
            &r.key,
            action_rank(&r.action),
            field,
            &r.repair_id,
        )
    }
    // Each position sorts first by a summary that needs no other memory:
    // the ranks of its entity and target and its key's first 16 bytes; the
    // instructions themselves are read only to break a tie (reading them
    // for every comparison was a cache miss apiece).
    let names = |name: fn(&Repair) -> &str| -> Vec<&str> {
        let set: std::collections::BTreeSet<&str> = repairs.iter().map(name).collect();
        set.into_iter().collect()
    };
    let entities = names(|r| &r.entity);
    let targets = names(|r| &r.target);
    let rank = |names: &[&str], name: &str| names.binary_search(&name).unwrap_or(0) as u64;
    let mut order: Vec<(u64, u128, usize)> = repairs
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let group = rank(&entities, &r.entity) << 32 | rank(&targets, &r.target);
            (group, text_prefix(&r.key), i)
        })
        .collect();
    order.par_sort_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| key(&repairs[a.2]).cmp(&key(&repairs[b.2])))
    });
    permute(&mut repairs, order.into_iter().map(|(_, _, i)| i).collect());
    repairs.dedup_by(|a, b| a.repair_id == b.repair_id);
    repairs
}

/// Puts `items[order[k]]` at place `k` for every `k`, in place, moving each
/// item along the permutation's cycles (`order` must be a permutation of
/// the places).
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    const DONE: usize = usize::MAX;
    for start in 0..items.len() {
        let mut k = start;
        while order[k] != DONE {
            let from = order[k];
            order[k] = DONE;
            if from == start {
                break;
            }
            items.swap(k, from);
            k = from;
        }
    }
}

/// The files of the instruction table that `format` writes, in the order
/// [`read`] prefers them.
pub fn table_files(format: RepairsFormat) -> Vec<&'static str> {
    [(format.parquet, REPAIRS_PARQUET), (format.jsonl, REPAIRS_JSONL)]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
}

/// Writes repairs.parquet and/or repairs.jsonl as `format` says (the same
/// rows in the same order when both), without copying the instructions (a
/// run may hold millions). The CSV files are [`write_csv`]'s.
pub fn write(dir: &Path, repairs: &[Repair], format: RepairsFormat) -> Result<()> {
    let parquet = || -> Result<()> {
        if !format.parquet {
            return Ok(());
        }
        use crate::report::text_column as col;
        let columns = vec![
            col("repair_id", repairs, |r| Some(&r.repair_id)),
            col("run_id", repairs, |r| Some(&r.run_id)),
            col("entity", repairs, |r| Some(&r.entity)),
            col("finding_id", repairs, |r| r.finding_id.as_deref()),
            col("target", repairs, |r| Some(&r.target)),
            col("target_side", repairs, |r| Some(&r.target_side)),
            col("action", repairs, |r| Some(&r.action)),
            col("key", repairs, |r| Some(&r.key)),
            col("field", repairs, |r| r.field.as_deref()),
            col("column", repairs, |r| r.column.as_deref()),
            col("new_value", repairs, |r| r.new_value.as_deref()),
            col("value_ref", repairs, |r| r.value_ref.as_deref()),
            col("expected", repairs, |r| r.expected.as_deref()),
            col("guard", repairs, |r| r.guard.as_deref()),
            col("reason", repairs, |r| Some(&r.reason)),
            col("detail", repairs, |r| Some(&r.detail)),
        ];
        crate::report::write_parquet(&dir.join(REPAIRS_PARQUET), columns, repairs.len())
    };
    let jsonl = || -> Result<()> {
        if !format.jsonl {
            return Ok(());
        }
        write_jsonl(&dir.join(REPAIRS_JSONL), repairs)
    };
    let (parquet, jsonl) = rayon::join(parquet, jsonl);
    parquet?;
    jsonl
}

/// Instructions between two starts of writeback in repairs.jsonl (about
/// 40 MB at the 10M-row pairs' 400 bytes each).
const WRITEBACK_ROWS: usize = 100_000;

fn write_jsonl(path: &Path, repairs: &[Repair]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    // Each line is serialized into a reused buffer, then written at once:
    // serde_json's many small writes go to a Vec's inlined extend rather
    // than through the BufWriter's.
    let mut line = Vec::with_capacity(1024);
    for (i, r) in repairs.iter().enumerate() {
        line.clear();
        serde_json::to_writer(&mut line, r).map_err(|e| Error::json(format!("writing {}", path.display()), e))?;
        line.push(b'\n');
        out.write_all(&line).map_err(|e| Error::io(path, e))?;
        // The disk writes what is written meanwhile, not all at the fsync.
        if i % WRITEBACK_ROWS == WRITEBACK_ROWS - 1 {
            crate::report::start_writeback(out.get_ref());
        }
    }
    let file = out.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Reads a run folder's instructions: repairs.parquet where the run wrote
/// it, else repairs.jsonl (`[run] repairs_format = "jsonl"`). Runs sealed
/// before the format was a choice hold both, with the same rows.
pub fn read(run_dir: &Path) -> Result<Vec<Repair>> {
    if run_dir.join(REPAIRS_PARQUET).exists() {
        return read_parquet(run_dir);
    }
    if run_dir.join(REPAIRS_JSONL).exists() {
        return read_jsonl(run_dir);
    }
    Err(Error::input(
        run_dir,
        format!("holds neither {REPAIRS_PARQUET} nor {REPAIRS_JSONL}: not the folder of a run"),
    ))
}

/// Reads repairs.parquet of a run folder.
pub fn read_parquet(run_dir: &Path) -> Result<Vec<Repair>> {
    use polars::prelude::{ParquetReader, SerReader, StringChunked};
    let path = run_dir.join(REPAIRS_PARQUET);
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::input(&path, format!("not a repairs table: {e}")))?;
    let column = |name: &str| -> Result<StringChunked> {
        df.column(name)
            .and_then(|c| c.str().cloned())
            .map_err(|e| Error::input(&path, format!("no text column `{name}`: {e}")))
    };
    let optional = |c: &StringChunked, row: usize| c.get(row).map(str::to_string);
    let required = |c: &StringChunked, row: usize| c.get(row).unwrap_or_default().to_string();
    let repair_id = column("repair_id")?;
    let run_id = column("run_id")?;
    let entity = column("entity")?;
    let finding_id = column("finding_id")?;
    let target = column("target")?;
    let target_side = column("target_side")?;
    let action = column("action")?;
    let key = column("key")?;
    let field = column("field")?;
    let col = column("column")?;
    let new_value = column("new_value")?;
    let value_ref = column("value_ref")?;
    let expected = column("expected")?;
    // Runs of builds before `guard` have no such column.
    let guard = df.column("guard").ok().and_then(|c| c.str().ok().cloned());
    let reason = column("reason")?;
    let detail = column("detail")?;
    Ok((0..df.height())
        .map(|row| Repair {
            repair_id: required(&repair_id, row),
            run_id: required(&run_id, row),
            entity: required(&entity, row),
            finding_id: optional(&finding_id, row),
            target: required(&target, row),
            target_side: required(&target_side, row),
            action: required(&action, row),
            key: required(&key, row),
            field: optional(&field, row),
            column: optional(&col, row),
            new_value: optional(&new_value, row),
            value_ref: optional(&value_ref, row),
            expected: optional(&expected, row),
            guard: guard.as_ref().and_then(|g| optional(g, row)),
            reason: required(&reason, row),
            detail: required(&detail, row),
        })
        .collect())
}

/// Reads repairs.jsonl of a run folder.
pub fn read_jsonl(run_dir: &Path) -> Result<Vec<Repair>> {
    let path = run_dir.join(REPAIRS_JSONL);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::Input {
                path: path.clone(),
                line: Some(i as u64 + 1),
                field: None,
                message: format!("not a repair instruction: {e}"),
                hint: None,
            })
        })
        .collect()
}

/// `repairs-<target>.csv` per target system: a bulk-upsert shaped file with
/// one row per (entity, key) and one column per target column. Review
/// instructions are left out; personal data columns stay empty (their
/// values are only reachable through `value_ref` and `recon apply`).
pub fn write_csv(dir: &Path, spec: &Spec, repairs: &[Repair]) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for side in crate::spec::Side::BOTH {
        let target = spec.side_name(side);
        let mut columns: Vec<String> = Vec::new();
        for e in &spec.entities {
            for f in &e.fields {
                let c = &f.columns[side.idx()];
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
        // (entity, key) → (action, ids, column → value)
        type Row = (String, Vec<String>, BTreeMap<String, String>);
        let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
        for r in repairs
            .iter()
            .filter(|r| r.target_side == side.as_str() && r.action != "review")
        {
            let e = rows
                .entry((r.entity.clone(), r.key.clone()))
                .or_insert_with(|| (r.action.clone(), Vec::new(), BTreeMap::new()));
            if action_rank(&r.action) < action_rank(&e.0) {
                e.0 = r.action.clone();
            }
            e.1.push(r.repair_id.clone());
            if let (Some(c), Some(v)) = (&r.column, &r.new_value) {
                e.2.insert(c.clone(), v.clone());
            }
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["entity".to_string(), "action".into(), "key".into(), "repair_ids".into()];
        header.extend(columns.iter().cloned());
        let name = format!("repairs-{}.csv", safe_name(target));
        let csv_err = |e: csv::Error| Error::csv(format!("writing {name}"), e);
        w.write_record(&header).map_err(csv_err)?;
        for ((entity, key), (action, ids, values)) in &rows {
            let mut rec = vec![entity.clone(), action.clone(), key.clone(), ids.join(" ")];
            rec.extend(columns.iter().map(|c| values.get(c).cloned().unwrap_or_default()));
            w.write_record(&rec).map_err(csv_err)?;
        }
        let bytes = w.into_inner().map_err(|e| csv_err(e.into_error().into()))?;
        crate::files::write_file(&dir.join(&name), &bytes)?;
        written.push(name);
    }
    Ok(written)
}

fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Counts per entity, target and action, for summary.json.
pub fn counts(repairs: &[Repair]) -> serde_json::Value {
    let mut m: BTreeMap<String, BTreeMap<String, BTreeMap<String, usize>>> = BTreeMap::new();
    for r in repairs {
        *m.entry(r.entity.clone())
            .or_default()
            .entry(r.target.clone())
            .or_default()
            .entry(r.action.clone())
            .or_default() += 1;
    }
    serde_json::json!({ "total": repairs.len(), "by_entity": m })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Repair {
        Repair {
            entity: "e".into(),
            target: "crm".into(),
            target_side: "right".into(),
            action: "update".into(),
            key: r#"{"id":"1"}"#.into(),
            field: Some("name".into()),
            new_value: Some("x".into()),
            expected: Some("y".into()),
            ..Repair::default()
        }
    }

    #[test]
    fn repair_id_is_deterministic_and_covers_the_instruction() {
        let a = r();
        assert_eq!(a.compute_id(), r().compute_id());
        assert_eq!(a.compute_id().len(), 32);
        let mut b = r();
        b.run_id = "other run".into();
        b.detail = "other words".into();
        assert_eq!(a.compute_id(), b.compute_id(), "run and detail are not part of the id");
        for change in [
            |x: &mut Repair| x.new_value = None,
            |x: &mut Repair| x.expected = None,
            |x: &mut Repair| x.expected = Some("z".into()),
            |x: &mut Repair| x.field = None,
            |x: &mut Repair| x.action = "insert".into(),
            |x: &mut Repair| x.target = "callcenter".into(),
        ] {
            let mut c = r();
            change(&mut c);
            assert_ne!(a.compute_id(), c.compute_id());
        }
        // a value and a value_ref with the same text differ
        let mut v = r();
        v.new_value = None;
        v.value_ref = Some("x".into());
        assert_ne!(a.compute_id(), v.compute_id());
    }

    #[test]
    fn permuting_puts_each_item_where_the_order_says() {
        // Every permutation of 5 places, and a long one of several cycles.
        let mut orders: Vec<Vec<usize>> = Vec::new();
        let mut heap = [0usize; 5];
        let mut p: Vec<usize> = (0..5).collect();
        orders.push(p.clone());
        let mut i = 0;
        while i < 5 {
            if heap[i] < i {
                p.swap(if i % 2 == 0 { 0 } else { heap[i] }, i);
                orders.push(p.clone());
                heap[i] += 1;
                i = 0;
            } else {
                heap[i] = 0;
                i += 1;
            }
        }
        assert_eq!(orders.len(), 120);
        orders.push((0..1000).map(|k| (k * 7 + 3) % 1000).collect());
        orders.push(Vec::new());
        for order in orders {
            let items: Vec<String> = (0..order.len()).map(|k| format!("item {k}")).collect();
            let expected: Vec<String> = order.iter().map(|&k| items[k].clone()).collect();
            let mut moved = items.clone();
            permute(&mut moved, order);
            assert_eq!(moved, expected);
        }
    }

    #[test]
    fn finish_sorts_and_sets_ids() {
        let mut a = r();
        a.key = r#"{"id":"2"}"#.into();
        let mut d = r();
        d.action = "delete".into();
        // Two instructions with one id but another reason: the first met stays.
        let (mut first, mut second) = (r(), r());
        first.reason = "first".into();
        second.reason = "second".into();
        let out = finish(vec![a, first, d, second], "run1");
        assert_eq!(out.len(), 3, "identical instructions collapse");
        assert_eq!(out[0].action, "delete");
        assert!(out.iter().all(|x| x.run_id == "run1" && x.repair_id == x.compute_id()));
        assert_eq!(out.iter().filter(|x| x.reason == "first").count(), 1);
        assert!(out.iter().all(|x| x.reason != "second"));
        // Many instructions come out in the order of their sort key.
        let many: Vec<Repair> = (0..500)
            .map(|i| {
                let mut x = r();
                x.key = format!(r#"{{"id":"{}"}}"#, (i * 37) % 500);
                x
            })
            .collect();
        let out = finish(many, "run1");
        assert_eq!(out.len(), 500);
        assert!(out.windows(2).all(|w| w[0].key < w[1].key));
        // Keys sharing their first 16 bytes or shorter, several entities
        // and targets: the order is the full key's.
        let mixed: Vec<Repair> = (0..300)
            .map(|i| {
                let mut x = r();
                x.entity = ["b", "a", "c"][i % 3].into();
                x.target = ["crm", "cc"][i % 2].into();
                x.key = match i % 4 {
                    0 => format!(r#"{{"id":"{i}"}}"#),
                    1 => format!(r#"{{"id":"0123456789abcdef{}"}}"#, i * 7919 % 300),
                    2 => format!("{}", i % 10),
                    _ => format!(r#"{{"id":"0123456789abcdef"}}{}"#, i % 5),
                };
                x
            })
            .collect();
        let mut expected: Vec<(String, String, String)> = mixed
            .iter()
            .map(|x| (x.entity.clone(), x.target.clone(), x.key.clone()))
            .collect();
        expected.sort();
        expected.dedup();
        let got: Vec<(String, String, String)> = finish(mixed, "run1")
            .into_iter()
            .map(|x| (x.entity, x.target, x.key))
            .collect();
        assert_eq!(got, expected);
    }
}
