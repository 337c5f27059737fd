//! `state.parquet`: a compact fingerprint of each run's normalized data, the
//! base for change detection in the next run. Per entity, side and key: one
//! row hash (`field` null) and one hash per compared field. Hashes are 128
//! bits (32 hex): SHA-256 over a length-prefixed typed encoding, truncated;
//! for personal data a keyed HMAC instead, so the file never holds a raw
//! value nor a hash that can be brute-forced without the token key.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use polars::prelude::*;

use crate::compare::SideKeys;
use crate::error::{Error, Result};
use crate::finding::digest_parts;
use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Entity, Side};

pub const STATE_FILE: &str = "state.parquet";

/// Hashes of one entity: (side, key JSON, field or None for the row) → hash.
#[derive(Debug, Default, Clone)]
pub struct EntityState {
    pub hashes: HashMap<(Side, String, Option<String>), String>,
    /// Three-way merge base per (side, key, field): the side's hash when the
    /// two sides last agreed on the field (carried forward while they differ).
    pub bases: HashMap<(Side, String, String), String>,
}

impl EntityState {
    pub fn get(&self, side: Side, key: &str, field: Option<&str>) -> Option<&str> {
        self.hashes
            .get(&(side, key.to_string(), field.map(str::to_string)))
            .map(String::as_str)
    }

    pub fn base(&self, side: Side, key: &str, field: &str) -> Option<&str> {
        self.bases
            .get(&(side, key.to_string(), field.to_string()))
            .map(String::as_str)
    }

    /// Sets the merge base of every compared field of every matched pair:
    /// this run's hashes where the sides agree (no mismatch, both
    /// convertible), else the previous base, if any.
    pub fn set_bases(
        &mut self,
        entity: &Entity,
        sides: [&PreparedSide; 2],
        keys: [&SideKeys; 2],
        drift: &crate::compare::Drift,
        previous: Option<&EntityState>,
    ) {
        let mismatched: std::collections::HashSet<(&str, &str)> = drift
            .findings
            .iter()
            .filter(|f| f.kind == "value_mismatch")
            .filter_map(|f| Some((f.key.as_str(), f.field.as_deref()?)))
            .collect();
        let fields: Vec<usize> = state_fields(entity, sides[0])
            .into_iter()
            .filter(|f| sides[1].fields[*f].present)
            .collect();
        let mut bases = HashMap::new();
        for &(l, r) in &drift.pairs {
            let key = keys[0].json[l as usize].as_str();
            let rows = [l as usize, r as usize];
            for &f in &fields {
                let name = entity.fields[f].name.as_str();
                let bad = Side::BOTH
                    .iter()
                    .any(|s| sides[s.idx()].cell(f, rows[s.idx()]) == &Cell::Bad);
                let agreed = !bad && !mismatched.contains(&(key, name));
                for side in Side::BOTH {
                    let base = if agreed {
                        self.get(side, key, Some(name))
                    } else {
                        previous.and_then(|p| p.base(side, key, name))
                    };
                    if let Some(b) = base {
                        bases.insert((side, key.to_string(), name.to_string()), b.to_string());
                    }
                }
            }
        }
        self.bases = bases;
    }

    pub fn has_row(&self, side: Side, key: &str) -> bool {
        self.get(side, key, None).is_some()
    }

    fn rows(&self, side: Side) -> BTreeMap<&str, &str> {
        self.hashes
            .iter()
            .filter(|((s, _, f), _)| *s == side && f.is_none())
            .map(|((_, k, _), h)| (k.as_str(), h.as_str()))
            .collect()
    }
}

/// Whole state of a run: entity name → its hashes.
pub type State = HashMap<String, EntityState>;

fn tag(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "str",
        Value::Int(_) => "int",
        Value::Dec { .. } => "dec",
        Value::Bool(_) => "bool",
        Value::Date(_) => "date",
        Value::Ts(_) => "ts",
    }
}

/// 128-bit hash of one normalized cell.
pub fn cell_hash(entity: &Entity, field: usize, cell: &Cell, raw_bad: Option<&str>, keys: &KeyRing) -> String {
    let (t, text): (&str, String) = match cell {
        Cell::Null => ("null", String::new()),
        Cell::Bad => ("bad", raw_bad.unwrap_or_default().to_string()),
        Cell::Val(v) => (tag(v), v.display()),
    };
    if super::sensitive(&entity.fields[field]) {
        let mac = keys.mac(&super::repr::domain(entity, field), &format!("{}\u{1f}{}", t, text));
        return mac.chars().take(32).collect();
    }
    hex::encode(&digest_parts(&[t.as_bytes(), text.as_bytes()])[..16])
}

/// Fields fingerprinted in the state: compared, non-key fields.
pub fn state_fields(entity: &Entity, side: &PreparedSide) -> Vec<usize> {
    (0..entity.fields.len())
        .filter(|f| entity.fields[*f].compare && !entity.key.contains(f) && side.fields[*f].present)
        .collect()
}

/// Hash of a whole row from its field hashes.
pub fn row_hash(entity: &Entity, fields: &[(usize, String)]) -> String {
    let mut parts: Vec<&[u8]> = Vec::new();
    for (f, h) in fields {
        parts.push(entity.fields[*f].name.as_bytes());
        parts.push(h.as_bytes());
    }
    hex::encode(&digest_parts(&parts)[..16])
}

/// Field hashes and row hash of one row.
pub fn row_hashes(entity: &Entity, side: &PreparedSide, row: usize, keys: &KeyRing) -> (Vec<(usize, String)>, String) {
    let fields: Vec<(usize, String)> = state_fields(entity, side)
        .into_iter()
        .map(|f| {
            let cell = side.cell(f, row);
            let raw = match cell {
                Cell::Bad => side.fields[f].bad.iter().find(|b| b.row == row).map(|b| b.raw.as_str()),
                _ => None,
            };
            (f, cell_hash(entity, f, cell, raw, keys))
        })
        .collect();
    let row = row_hash(entity, &fields);
    (fields, row)
}

/// Rows of one side whose key is non-null and unique: key JSON → row.
pub fn unique_rows(keys: &SideKeys) -> BTreeMap<&str, usize> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (row, t) in keys.tuple.iter().enumerate() {
        if t.is_some() {
            *count.entry(keys.json[row].as_str()).or_default() += 1;
        }
    }
    keys.tuple
        .iter()
        .enumerate()
        .filter(|(row, t)| t.is_some() && count[keys.json[*row].as_str()] == 1)
        .map(|(row, _)| (keys.json[row].as_str(), row))
        .collect()
}

/// The current state of one entity.
pub fn entity_state(entity: &Entity, sides: [&PreparedSide; 2], keys: [&SideKeys; 2], ring: &KeyRing) -> EntityState {
    let mut hashes = HashMap::new();
    for side in Side::BOTH {
        let prepared = sides[side.idx()];
        for (key, row) in unique_rows(keys[side.idx()]) {
            let (fields, rh) = row_hashes(entity, prepared, row, ring);
            for (f, h) in fields {
                hashes.insert((side, key.to_string(), Some(entity.fields[f].name.clone())), h);
            }
            hashes.insert((side, key.to_string(), None), rh);
        }
    }
    EntityState {
        hashes,
        bases: HashMap::new(),
    }
}

/// Rows inserted, updated and deleted on one side since the previous state.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct Changes {
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
}

pub fn changes(prev: &EntityState, cur: &EntityState, side: Side) -> Changes {
    let (p, c) = (prev.rows(side), cur.rows(side));
    let mut out = Changes::default();
    for (k, h) in &c {
        match p.get(k) {
            None => out.inserted += 1,
            Some(ph) if ph != h => out.updated += 1,
            _ => {}
        }
    }
    out.deleted = p.keys().filter(|k| !c.contains_key(*k)).count();
    out
}

/// Writes the state of every entity, sorted, as state.parquet.
pub fn write_state(path: &Path, states: &[(&str, &EntityState)]) -> Result<()> {
    type Row<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a str, Option<&'a str>);
    let mut rows: Vec<Row<'_>> = Vec::new();
    for (entity, st) in states {
        for ((side, key, field), hash) in &st.hashes {
            let base = field.as_deref().and_then(|f| st.base(*side, key, f));
            rows.push((entity, side.as_str(), key, field.as_deref(), hash, base));
        }
    }
    rows.sort_unstable();
    let col = |name: &str, v: Vec<Option<&str>>| Column::new(name.into(), v);
    let columns = vec![
        col("entity", rows.iter().map(|r| Some(r.0)).collect()),
        col("side", rows.iter().map(|r| Some(r.1)).collect()),
        col("key", rows.iter().map(|r| Some(r.2)).collect()),
        col("field", rows.iter().map(|r| r.3).collect()),
        col("hash", rows.iter().map(|r| Some(r.4)).collect()),
        col("base", rows.iter().map(|r| r.5).collect()),
    ];
    crate::report::write_parquet(path, columns, rows.len())
}

/// Reads a previous run's state; None when the run has none.
pub fn read_state(run_dir: &Path) -> Result<Option<State>> {
    let path = run_dir.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::input(&path, format!("previous state unreadable: {e}")))?;
    let bad = |e: PolarsError| Error::input(&path, format!("previous state has an unexpected shape: {e}"));
    let get = |name: &str| -> Result<StringChunked> { df.column(name).and_then(|c| c.str().cloned()).map_err(bad) };
    let (entity, side, key, field, hash) = (get("entity")?, get("side")?, get("key")?, get("field")?, get("hash")?);
    // Older state files have no merge bases.
    let base = get("base").ok();
    let mut state = State::new();
    for i in 0..df.height() {
        let (Some(e), Some(s), Some(k), Some(h)) = (entity.get(i), side.get(i), key.get(i), hash.get(i)) else {
            continue;
        };
        let side = match s {
            "left" => Side::Left,
            "right" => Side::Right,
            _ => continue,
        };
        let st = state.entry(e.to_string()).or_default();
        if let (Some(f), Some(b)) = (field.get(i), base.as_ref().and_then(|b| b.get(i))) {
            st.bases.insert((side, k.to_string(), f.to_string()), b.to_string());
        }
        st.hashes
            .insert((side, k.to_string(), field.get(i).map(str::to_string)), h.to_string());
    }
    Ok(Some(state))
}
