//! `state.parquet`: a compact fingerprint of each run's normalized data, the
//! base for change detection in the next run. Per entity, side and key: one
//! row hash (`field` null) and one hash per compared field. Hashes are 128
//! bits (32 hex): SHA-256 over a length-prefixed typed encoding, truncated;
//! for personal data a keyed HMAC instead, so the file never holds a raw
//! value nor a hash that can be brute-forced without the token key.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use crate::compare::SideKeys;
use crate::error::{Error, Result};
use crate::finding::digest_parts;
use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Entity, Side};

pub const STATE_FILE: &str = "state.parquet";

/// A 128-bit hash.
pub type Hash = [u8; 16];

/// One row's fingerprint: row hash, and per field (index into the entity
/// state's `names`) its hash and three-way merge base.
#[derive(Debug, Default, Clone)]
pub struct RowState {
    pub hash: Hash,
    pub fields: Vec<(u16, Hash, Option<Hash>)>,
}

/// Fingerprint of one entity: per side, key JSON → row.
#[derive(Debug, Default, Clone)]
pub struct EntityState {
    /// Field names the rows' field indices point at.
    names: Vec<String>,
    rows: [HashMap<String, RowState>; 2],
}

impl EntityState {
    fn name_idx(&self, field: &str) -> Option<u16> {
        self.names.iter().position(|n| n == field).map(|i| i as u16)
    }

    fn intern(&mut self, field: &str) -> u16 {
        match self.name_idx(field) {
            Some(i) => i,
            None => {
                self.names.push(field.to_string());
                (self.names.len() - 1) as u16
            }
        }
    }

    fn field(&self, side: Side, key: &str, field: &str) -> Option<&(u16, Hash, Option<Hash>)> {
        let i = self.name_idx(field)?;
        self.rows[side.idx()].get(key)?.fields.iter().find(|f| f.0 == i)
    }

    pub fn has_row(&self, side: Side, key: &str) -> bool {
        self.rows[side.idx()].contains_key(key)
    }

    pub fn row_hash(&self, side: Side, key: &str) -> Option<Hash> {
        self.rows[side.idx()].get(key).map(|r| r.hash)
    }

    pub fn field_hash(&self, side: Side, key: &str, field: &str) -> Option<Hash> {
        self.field(side, key, field).map(|f| f.1)
    }

    /// The side's hash when both sides last agreed on the field.
    pub fn base(&self, side: Side, key: &str, field: &str) -> Option<Hash> {
        self.field(side, key, field).and_then(|f| f.2)
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
        for &(l, r) in &drift.pairs {
            let key = keys[0].json[l as usize].as_str();
            let rows = [l as usize, r as usize];
            for &f in &fields {
                let name = entity.fields[f].name.as_str();
                let bad = Side::BOTH
                    .iter()
                    .any(|s| sides[s.idx()].cell(f, rows[s.idx()]) == &Cell::Bad);
                let agreed = !bad && !mismatched.contains(&(key, name));
                let Some(idx) = self.name_idx(name) else { continue };
                for side in Side::BOTH {
                    if let Some(row) = self.rows[side.idx()].get_mut(key) {
                        if let Some(slot) = row.fields.iter_mut().find(|x| x.0 == idx) {
                            slot.2 = if agreed {
                                Some(slot.1)
                            } else {
                                previous.and_then(|p| p.base(side, key, name))
                            };
                        }
                    }
                }
            }
        }
    }
}

/// Whole state of a run: entity name → its fingerprint.
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

fn truncate(d: &[u8]) -> Hash {
    let mut h = [0u8; 16];
    h.copy_from_slice(&d[..16]);
    h
}

/// 128-bit hash of one normalized cell (keyed MAC for sensitive fields).
pub fn cell_hash(entity: &Entity, field: usize, cell: &Cell, raw_bad: Option<&str>, keys: &KeyRing) -> Hash {
    let (t, text): (&str, String) = match cell {
        Cell::Null => ("null", String::new()),
        Cell::Bad => ("bad", raw_bad.unwrap_or_default().to_string()),
        Cell::Val(v) => (tag(v), v.display()),
    };
    if super::sensitive(&entity.fields[field]) {
        let mac = keys.mac(&super::repr::domain(entity, field), &format!("{t}\u{1f}{text}"));
        return match hex::decode(mac.get(..32).unwrap_or_default()) {
            Ok(b) if b.len() == 16 => truncate(&b),
            _ => truncate(&digest_parts(&[mac.as_bytes()])),
        };
    }
    truncate(&digest_parts(&[t.as_bytes(), text.as_bytes()]))
}

/// Fields fingerprinted in the state: compared, non-key fields.
pub fn state_fields(entity: &Entity, side: &PreparedSide) -> Vec<usize> {
    (0..entity.fields.len())
        .filter(|f| entity.fields[*f].compare && !entity.key.contains(f) && side.fields[*f].present)
        .collect()
}

/// Hash of a whole row from its field hashes.
pub fn row_hash(entity: &Entity, fields: &[(usize, Hash)]) -> Hash {
    let mut parts: Vec<&[u8]> = Vec::new();
    for (f, h) in fields {
        parts.push(entity.fields[*f].name.as_bytes());
        parts.push(h);
    }
    truncate(&digest_parts(&parts))
}

/// Field hashes and row hash of one row.
pub fn row_hashes(entity: &Entity, side: &PreparedSide, row: usize, keys: &KeyRing) -> (Vec<(usize, Hash)>, Hash) {
    let fields: Vec<(usize, Hash)> = state_fields(entity, side)
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

/// The current state of one entity (merge bases are set by `set_bases`).
pub fn entity_state(entity: &Entity, sides: [&PreparedSide; 2], keys: [&SideKeys; 2], ring: &KeyRing) -> EntityState {
    let mut st = EntityState {
        names: entity.fields.iter().map(|f| f.name.clone()).collect(),
        ..EntityState::default()
    };
    for side in Side::BOTH {
        let prepared = sides[side.idx()];
        let rows: Vec<(&str, usize)> = unique_rows(keys[side.idx()]).into_iter().collect();
        st.rows[side.idx()] = rows
            .into_par_iter()
            .map(|(key, row)| {
                let (fields, hash) = row_hashes(entity, prepared, row, ring);
                let fields = fields.into_iter().map(|(f, h)| (f as u16, h, None)).collect();
                (key.to_string(), RowState { hash, fields })
            })
            .collect();
    }
    st
}

/// Rows inserted, updated and deleted on one side since the previous state.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct Changes {
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
}

pub fn changes(prev: &EntityState, cur: &EntityState, side: Side) -> Changes {
    let (p, c) = (&prev.rows[side.idx()], &cur.rows[side.idx()]);
    let mut out = Changes::default();
    for (k, r) in c {
        match p.get(k) {
            None => out.inserted += 1,
            Some(pr) if pr.hash != r.hash => out.updated += 1,
            _ => {}
        }
    }
    out.deleted = p.keys().filter(|k| !c.contains_key(*k)).count();
    out
}

/// Writes the state of every entity, sorted, as state.parquet.
pub fn write_state(path: &Path, states: &[(&str, &EntityState)]) -> Result<()> {
    let mut cols: [Vec<Option<String>>; 6] = Default::default();
    let mut sorted: Vec<&(&str, &EntityState)> = states.iter().collect();
    sorted.sort_by_key(|(e, _)| *e);
    for (entity, st) in sorted {
        for side in Side::BOTH {
            let mut keys: Vec<&String> = st.rows[side.idx()].keys().collect();
            keys.sort_unstable();
            for key in keys {
                let row = &st.rows[side.idx()][key];
                let mut fields: Vec<&(u16, Hash, Option<Hash>)> = row.fields.iter().collect();
                fields.sort_by_key(|f| &st.names[f.0 as usize]);
                let entries = std::iter::once((None, row.hash, None)).chain(
                    fields
                        .into_iter()
                        .map(|f| (Some(st.names[f.0 as usize].clone()), f.1, f.2)),
                );
                for (field, hash, base) in entries {
                    cols[0].push(Some(entity.to_string()));
                    cols[1].push(Some(side.as_str().to_string()));
                    cols[2].push(Some(key.clone()));
                    cols[3].push(field);
                    cols[4].push(Some(hex::encode(hash)));
                    cols[5].push(base.map(hex::encode));
                }
            }
        }
    }
    let height = cols[0].len();
    let names = ["entity", "side", "key", "field", "hash", "base"];
    let columns = names
        .iter()
        .zip(cols)
        .map(|(n, v)| Column::new((*n).into(), v))
        .collect();
    crate::report::write_parquet(path, columns, height)
}

fn unhex(s: &str) -> Option<Hash> {
    let b = hex::decode(s).ok()?;
    (b.len() == 16).then(|| truncate(&b))
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
        let Some(h) = unhex(h) else { continue };
        if !state.contains_key(e) {
            state.insert(e.to_string(), EntityState::default());
        }
        let Some(st) = state.get_mut(e) else { continue };
        let field = field
            .get(i)
            .map(|f| (st.intern(f), base.as_ref().and_then(|b| b.get(i)).and_then(unhex)));
        let rows = &mut st.rows[side.idx()];
        if !rows.contains_key(k) {
            rows.insert(k.to_string(), RowState::default());
        }
        let Some(row) = rows.get_mut(k) else { continue };
        match field {
            None => row.hash = h,
            Some((idx, b)) => row.fields.push((idx, h, b)),
        }
    }
    Ok(Some(state))
}
