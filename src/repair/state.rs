//! `state.parquet`: a compact fingerprint of each run's normalized data, the
//! base for change detection in the next run. Per entity, side and key: one
//! hash per compared field and its merge base. Hashes are 128 bits: SHA-256
//! over a length-prefixed typed encoding, truncated; for personal data a
//! keyed HMAC instead, so the file never holds a raw value nor a hash that
//! can be brute-forced without the token key.
//!
//! Stored per row: `entity`, `side`, `key` (JSON), `hashes` (the field
//! hashes, 16 bytes each, in the order of the side's last `fields` header),
//! `bases` (the merge bases likewise; empty when each equals its hash) and
//! `fields` (the header, on the first row of a side's run of rows). A right
//! row whose fields, hashes and bases are those of the left row of the
//! same key, written before it, stores `hashes` = `=` ([`SAME`]) and no
//! bases: where the sides agree, as they mostly do, the file holds each
//! hash once.
//!
//! A row changed between two states when any field's hash differs or a
//! field is hashed in one and not the other (matched by name: declaring the
//! fields in another order changes no row). Files of earlier builds also
//! hold a `row_hash` column (a SHA-256 over the field names and hashes,
//! three blocks per row); it is read past, since the field hashes tell the
//! same. A delete's precondition is still that row hash, computed for the
//! one row ([`row_hashes`]).

use polars::prelude::PlHashMap as HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::compare::{KeyIndex, SideKeys};
use crate::error::{Error, Result};
use crate::evidence::{FileDigest, HashingWriter};
use crate::finding::{digest_parts, digest_parts_with};
use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::prepare::{Cell, PreparedSide};
use crate::report::PlainColumn;
use crate::spec::{Entity, Side};

pub const STATE_FILE: &str = "state.parquet";

/// A 128-bit hash.
pub type Hash = [u8; 16];

/// The stored `hashes` of a right row equal to its left twin's.
const SAME: &[u8] = b"=";

/// No hash (a field the row lacks) or no merge base: 16 zero bytes, as in
/// the file. A real 128-bit hash is never all zeros in practice.
const NONE: Hash = [0u8; 16];

fn some(h: Hash) -> Option<Hash> {
    (h != NONE).then_some(h)
}

/// The fingerprint of one side, column-wise: per row its key and
/// `slots.len()` field hashes and merge bases in flat arrays, with a hash
/// index from key to row built when a key is first looked up.
#[derive(Debug, Default, Clone)]
struct SideState {
    /// Field slot (index into the entity state's `names`) of each column.
    slots: Vec<u16>,
    keys: Vec<compact_str::CompactString>,
    /// `keys.len() × slots.len()`, row-major.
    hashes: Vec<Hash>,
    /// Merge base of each cell of `hashes`.
    bases: Bases,
    /// Key → row, built at the first lookup: a run without a previous
    /// state never looks its own rows up by key (building it for every
    /// bucket's two sides was 0.5% of a 10M-row first run).
    index: std::sync::OnceLock<hashbrown::HashTable<u32>>,
    hasher: polars::prelude::PlRandomState,
    /// Prepared row → state row (u32::MAX: none); only for a state built
    /// from prepared sides, to set bases without looking keys up.
    by_row: Vec<u32>,
    /// Right side: state row → the left state row of the same key (u32::MAX:
    /// none), for the matched pairs, set when the state is built; the
    /// writer stores a row equal to its twin once.
    twin: Vec<u32>,
}

impl SideState {
    fn width(&self) -> usize {
        self.slots.len()
    }

    fn find(&self, key: &str) -> Option<usize> {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(key);
        self.index
            .get_or_init(|| self.built_index())
            .find(h, |&i| self.keys[i as usize] == key)
            .map(|&i| i as usize)
    }

    /// Appends a row (a later row with the same key replaces the earlier).
    fn push(&mut self, key: &str, hashes: &[Hash], bases: &[Hash]) {
        use std::hash::BuildHasher;
        let w = self.width();
        if let Some(i) = self.find(key) {
            self.hashes[i * w..(i + 1) * w].copy_from_slice(hashes);
            for (j, (&b, &h)) in bases.iter().zip(hashes).enumerate() {
                self.bases.set(i * w + j, some(b), h);
            }
            return;
        }
        let i = self.keys.len() as u32;
        self.keys.push(key.into());
        self.hashes.extend_from_slice(hashes);
        self.bases.grow(self.hashes.len());
        for (j, (&b, &h)) in bases.iter().zip(hashes).enumerate() {
            self.bases.set(i as usize * w + j, some(b), h);
        }
        // The index (built by `find` above) takes the new row.
        let hasher = &self.hasher;
        let keys = &self.keys;
        if let Some(index) = self.index.get_mut() {
            index.insert_unique(hasher.hash_one(key), i, |&j| hasher.hash_one(keys[j as usize].as_str()));
        }
    }

    /// The state row of prepared row `row` (whose key is `key`).
    fn state_row(&self, row: usize, key: &str) -> Option<usize> {
        match self.by_row.get(row) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            Some(_) => None,
            None => self.find(key),
        }
    }

    /// Whether row `i` has the hashes and merge bases of row `j` of `other`
    /// (a side with the same slots).
    fn same_row(&self, i: usize, other: &SideState, j: usize) -> bool {
        let w = self.width();
        let (a, b) = (i * w, j * w);
        self.hashes[a..a + w] == other.hashes[b..b + w]
            && (0..w).all(|n| {
                let h = self.hashes[a + n];
                self.bases.get(a + n, h) == other.bases.get(b + n, h)
            })
    }

    /// An index over `keys`.
    fn built_index(&self) -> hashbrown::HashTable<u32> {
        use std::hash::BuildHasher;
        let hasher = &self.hasher;
        let keys = &self.keys;
        let mut index = hashbrown::HashTable::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            index.insert_unique(hasher.hash_one(k.as_str()), i as u32, |&j| {
                hasher.hash_one(keys[j as usize].as_str())
            });
        }
        index
    }

    /// Adds a slot column (all rows lack it so far).
    fn add_slot(&mut self, slot: u16) -> usize {
        let (w, n) = (self.width(), self.keys.len());
        let mut hashes = Vec::with_capacity(n * (w + 1));
        let mut bases = Bases::default();
        bases.grow(n * (w + 1));
        for i in 0..n {
            for j in 0..w {
                let h = self.hashes[i * w + j];
                bases.set(i * (w + 1) + j, self.bases.get(i * w + j, h), h);
                hashes.push(h);
            }
            hashes.push(NONE);
        }
        self.hashes = hashes;
        self.bases = bases;
        self.slots.push(slot);
        w
    }
}

/// Merge bases of a side's cells. Most equal the cell's own hash (the sides
/// agreed on it): those are one bit each; the others are kept in a map;
/// a cell with neither has no base. (16 bytes per cell would be a quarter
/// of a run's memory.)
#[derive(Debug, Default, Clone)]
struct Bases {
    own: Vec<u64>,
    other: HashMap<usize, Hash>,
}

impl Bases {
    fn with_cells(cells: usize) -> Bases {
        Bases {
            own: vec![0; cells.div_ceil(64)],
            other: HashMap::default(),
        }
    }

    fn grow(&mut self, cells: usize) {
        self.own.resize(cells.div_ceil(64), 0);
    }

    fn set(&mut self, cell: usize, base: Option<Hash>, own_hash: Hash) {
        let (word, bit) = (cell / 64, 1u64 << (cell % 64));
        self.own[word] &= !bit;
        if !self.other.is_empty() {
            self.other.remove(&cell);
        }
        match base {
            Some(b) if b == own_hash => self.own[word] |= bit,
            Some(b) => {
                self.other.insert(cell, b);
            }
            None => {}
        }
    }

    /// Makes `cell` its own base ([`Bases::set`] with its own hash).
    #[inline]
    fn set_own(&mut self, cell: usize) {
        self.own[cell / 64] |= 1u64 << (cell % 64);
        if !self.other.is_empty() {
            self.other.remove(&cell);
        }
    }

    fn get(&self, cell: usize, own_hash: Hash) -> Option<Hash> {
        if self.own[cell / 64] & (1u64 << (cell % 64)) != 0 {
            Some(own_hash)
        } else {
            self.other.get(&cell).copied()
        }
    }
}

/// Fingerprint of one entity: per side, key JSON → row.
#[derive(Debug, Default, Clone)]
pub struct EntityState {
    /// Field names the sides' slots point at.
    names: Vec<String>,
    sides: [SideState; 2],
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

    /// Row and column of a field in a side.
    fn cell(&self, side: Side, key: &str, field: &str) -> Option<usize> {
        let s = &self.sides[side.idx()];
        let slot = self.name_idx(field)?;
        let j = s.slots.iter().position(|&x| x == slot)?;
        let i = s.find(key)?;
        Some(i * s.width() + j)
    }

    pub fn has_row(&self, side: Side, key: &str) -> bool {
        self.sides[side.idx()].find(key).is_some()
    }

    /// Every field hashed on `side` here or in `other`: its column here
    /// and there.
    fn columns_against(&self, other: &EntityState, side: Side) -> Vec<[Option<usize>; 2]> {
        let (a, b) = (&self.sides[side.idx()], &other.sides[side.idx()]);
        let name_here = |j: usize| self.names[a.slots[j] as usize].as_str();
        let name_there = |j: usize| other.names[b.slots[j] as usize].as_str();
        let mut out: Vec<[Option<usize>; 2]> = (0..a.width())
            .map(|j| [Some(j), (0..b.width()).find(|&k| name_there(k) == name_here(j))])
            .collect();
        out.extend(
            (0..b.width())
                .filter(|&k| !(0..a.width()).any(|j| name_here(j) == name_there(k)))
                .map(|k| [None, Some(k)]),
        );
        out
    }

    pub fn field_hash(&self, side: Side, key: &str, field: &str) -> Option<Hash> {
        self.cell(side, key, field)
            .and_then(|c| some(self.sides[side.idx()].hashes[c]))
    }

    /// The side's hash when both sides last agreed on the field.
    pub fn base(&self, side: Side, key: &str, field: &str) -> Option<Hash> {
        let s = &self.sides[side.idx()];
        self.cell(side, key, field).and_then(|c| s.bases.get(c, s.hashes[c]))
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
        let mismatched: polars::prelude::PlHashSet<(&str, &str)> = drift
            .findings
            .iter()
            .filter(|f| f.kind == "value_mismatch")
            .filter_map(|f| Some((f.key.as_str(), f.field.as_deref()?)))
            .collect();
        let mismatched_keys: polars::prelude::PlHashSet<&str> = mismatched.iter().map(|(k, _)| *k).collect();
        let fields: Vec<usize> = state_fields(entity, sides[0])
            .into_iter()
            .filter(|f| sides[1].fields[*f].present)
            .collect();
        // Column of each compared field on each side.
        let columns: Vec<[Option<usize>; 2]> = fields
            .iter()
            .map(|&f| {
                let slot = self.name_idx(&entity.fields[f].name);
                Side::BOTH.map(|s| slot.and_then(|slot| self.sides[s.idx()].slots.iter().position(|&x| x == slot)))
            })
            .collect();
        let bad: [Vec<Vec<usize>>; 2] = Side::BOTH.map(|s| {
            fields
                .iter()
                .map(|&f| {
                    let mut rows: Vec<usize> = sides[s.idx()].fields[f].bad.iter().map(|b| b.row).collect();
                    rows.sort_unstable();
                    rows
                })
                .collect()
        });
        // Fields with an unconvertible cell on either side (most have none:
        // their pairs need no search).
        let any_bad: Vec<bool> = (0..fields.len())
            .map(|n| Side::BOTH.iter().any(|s| !bad[s.idx()][n].is_empty()))
            .collect();
        // Whether each pair's key has a mismatch, looked up once for both sides.
        let suspects: Vec<bool> = drift
            .pairs
            .par_iter()
            .map(|&(l, _)| mismatched_keys.contains(keys[0].json[l as usize].as_str()))
            .collect();
        // Each side's bases are its own: the two are set side by side.
        let fill = |side: Side, st: &mut SideState| {
            let w = st.width();
            for (&(l, r), &suspect) in drift.pairs.iter().zip(&suspects) {
                let rows = [l as usize, r as usize];
                let key = keys[0].json[rows[0]].as_str();
                let Some(i) = st.state_row(rows[side.idx()], key) else {
                    continue;
                };
                for (n, &f) in fields.iter().enumerate() {
                    let Some(j) = columns[n][side.idx()] else { continue };
                    let unconvertible = any_bad[n]
                        && Side::BOTH
                            .iter()
                            .any(|s| bad[s.idx()][n].binary_search(&rows[s.idx()]).is_ok());
                    let name = entity.fields[f].name.as_str();
                    let ok = !(unconvertible || suspect && mismatched.contains(&(key, name)));
                    // A cell that is its own base needs no look at its hash.
                    match ok {
                        true => st.bases.set_own(i * w + j),
                        false => {
                            let base = previous.and_then(|p| p.base(side, key, name));
                            st.bases.set(i * w + j, base, st.hashes[i * w + j]);
                        }
                    }
                }
            }
        };
        let [left, right] = &mut self.sides;
        rayon::join(|| fill(Side::Left, left), || fill(Side::Right, right));
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

/// [`hash_text`] of a cell (the tests' entry point; hashing goes through
/// [`RowHasher`] and its memos).
#[cfg(test)]
fn hash_cell(
    domain: Option<&str>,
    cell: &Cell,
    raw_bad: Option<&str>,
    keys: &KeyRing,
    buf: &mut String,
    bytes: &mut Vec<u8>,
) -> Hash {
    let (t, text) = cell_text(cell, raw_bad, buf);
    hash_text(domain, t, text, keys, bytes)
}

/// The type tag and display text a cell's hash is taken over.
fn cell_text<'c>(cell: &'c Cell, raw_bad: Option<&'c str>, buf: &'c mut String) -> (&'static str, &'c str) {
    match cell {
        Cell::Null => ("null", ""),
        Cell::Bad => ("bad", raw_bad.unwrap_or_default()),
        Cell::Val(v) => (tag(v), v.text(buf)),
    }
}

/// The 128-bit hash of a cell from its type tag and display text: SHA-256
/// over the length-prefixed tag and text, truncated; for a sensitive field
/// (`domain` given) the keyed HMAC of `tag 0x1f text` instead. `bytes` is
/// scratch.
fn hash_text(domain: Option<&str>, t: &str, text: &str, keys: &KeyRing, bytes: &mut Vec<u8>) -> Hash {
    match domain {
        Some(domain) => match keys.mac_parts(domain, &[t.as_bytes(), b"\x1f", text.as_bytes()]) {
            Some(mac) => truncate(&mac),
            None => truncate(&digest_parts(&[b"mac_unavailable"])),
        },
        None => truncate(&digest_parts_with(&[t.as_bytes(), text.as_bytes()], bytes)),
    }
}

/// Cell hashes one hashing job has just computed for one field, so that a
/// repeated value (a status code, a category, a small count) is hashed
/// once: a direct-mapped table on a fast hash of the text, one cache line
/// per slot. A field whose values rarely repeat turns it off after a
/// trial, paying only the trial.
struct Memo {
    slots: Vec<MemoSlot>,
    trial: crate::memo::Trial,
}

/// One remembered cell; `fingerprint` 0 is an empty slot.
#[repr(C, align(64))]
struct MemoSlot {
    fingerprint: u64,
    tag: &'static str,
    text: compact_str::CompactString,
    hash: Hash,
}

impl Memo {
    const SLOTS: usize = 512;
    /// Longer texts are hashed directly (they seldom repeat). A compared
    /// column of canned text does repeat (the harness pair has none: its
    /// notes are not compared, so not in the state); a remembered text
    /// over 24 bytes is a heap copy, made only on a miss.
    const MAX_TEXT: usize = 64;

    /// A memo whose slots are allocated at its first lookup, or one that
    /// is `off` from the start (hashing a single row).
    fn new(off: bool) -> Memo {
        Memo {
            slots: Vec::new(),
            trial: match off {
                true => crate::memo::Trial::off(),
                false => crate::memo::Trial::default(),
            },
        }
    }

    fn get_or(
        &mut self,
        seed: &polars::prelude::PlRandomState,
        t: &'static str,
        text: &str,
        compute: impl FnOnce() -> Hash,
    ) -> Hash {
        use std::hash::BuildHasher;
        if self.trial.is_off() || text.len() > Self::MAX_TEXT {
            return compute();
        }
        if self.slots.is_empty() {
            self.slots = (0..Self::SLOTS)
                .map(|_| MemoSlot {
                    fingerprint: 0,
                    tag: "",
                    text: compact_str::CompactString::default(),
                    hash: NONE,
                })
                .collect();
        }
        let fingerprint = seed.hash_one(text) | 1;
        let slot = &mut self.slots[fingerprint as usize & (Self::SLOTS - 1)];
        let hit = slot.fingerprint == fingerprint && slot.tag == t && slot.text == text;
        let hash = match hit {
            true => slot.hash,
            false => {
                let hash = compute();
                *slot = MemoSlot {
                    fingerprint,
                    tag: t,
                    text: text.into(),
                    hash,
                };
                hash
            }
        };
        if self.trial.record(hit) {
            self.slots = Vec::new();
        }
        hash
    }
}

/// Fields fingerprinted in the state: compared, non-key fields.
pub fn state_fields(entity: &Entity, side: &PreparedSide) -> Vec<usize> {
    (0..entity.fields.len())
        .filter(|f| entity.fields[*f].compare && !entity.key.contains(f) && side.fields[*f].present)
        .collect()
}

/// Hash of a whole row from its field hashes: SHA-256 over `names` (the
/// digest of the length-prefixed field names), then the 16-byte field
/// hashes in that order, truncated. A delete's precondition (the state
/// compares field hashes instead).
fn row_hash_with(names: &[u8; 32], fields: &[Hash], bytes: &mut Vec<u8>) -> Hash {
    bytes.clear();
    bytes.extend_from_slice(names);
    for h in fields {
        bytes.extend_from_slice(h);
    }
    truncate(&crate::digest::sha256(bytes))
}

/// Field hashes and row hash of one row.
pub fn row_hashes(entity: &Entity, side: &PreparedSide, row: usize, keys: &KeyRing) -> (Vec<(usize, Hash)>, Hash) {
    RowHasher::new(entity, side, state_fields(entity, side), keys).row(row)
}

/// Hashes rows of one side: the fields and their MAC domains worked out once.
struct RowHasher<'a> {
    side: &'a PreparedSide,
    fields: Vec<usize>,
    /// MAC domain of each sensitive field in `fields`.
    domains: Vec<Option<String>>,
    /// Digest of the field names, the start of every row hash.
    names: [u8; 32],
    keys: &'a KeyRing,
    /// Seed of the memos' fast hash.
    seed: polars::prelude::PlRandomState,
}

impl<'a> RowHasher<'a> {
    fn new(entity: &'a Entity, side: &'a PreparedSide, fields: Vec<usize>, keys: &'a KeyRing) -> RowHasher<'a> {
        let domains = fields
            .iter()
            .map(|&f| super::sensitive(&entity.fields[f]).then(|| super::repr::domain(entity, f)))
            .collect();
        let names: Vec<&[u8]> = fields.iter().map(|&f| entity.fields[f].name.as_bytes()).collect();
        RowHasher {
            names: digest_parts(&names),
            side,
            fields,
            domains,
            keys,
            seed: Default::default(),
        }
    }

    fn row(&self, row: usize) -> (Vec<(usize, Hash)>, Hash) {
        let mut out = vec![NONE; self.fields.len()];
        let hash = self.row_into(row, &mut out, &mut self.scratch(false));
        (self.fields.iter().copied().zip(out).collect(), hash)
    }

    /// Scratch space for one job; `memoize` is worth it for many rows only.
    fn scratch(&self, memoize: bool) -> Scratch {
        Scratch {
            text: String::new(),
            bytes: Vec::new(),
            memos: self.fields.iter().map(|_| Memo::new(!memoize)).collect(),
        }
    }

    /// Writes the field hashes of `row` into `out` (one per field, in
    /// order) and returns the row hash.
    fn row_into(&self, row: usize, out: &mut [Hash], scratch: &mut Scratch) -> Hash {
        for (j, slot) in out.iter_mut().enumerate() {
            *slot = self.cell_hash(j, row, scratch);
        }
        row_hash_with(&self.names, out, &mut scratch.bytes)
    }

    /// The field hashes of many rows (`out`: `rows.len() × fields` cell
    /// hashes, row-major), a block of rows at a time and field by field
    /// within a block: each field's cells are then read in order. Row by
    /// row across a wide entity, every cell was a cache miss (200 columns
    /// are more streams than the prefetcher follows).
    fn rows_into(&self, rows: &[(&str, usize)], out: &mut [Hash], scratch: &mut Scratch, twins: Option<&Twins<'_>>) {
        const BLOCK: usize = 256;
        let w = self.fields.len();
        for (b, block) in rows.chunks(BLOCK).enumerate() {
            let first = b * BLOCK;
            for j in 0..w {
                let f = self.fields[j];
                for (i, &(_, row)) in block.iter().enumerate() {
                    let twin = twins.and_then(|t| t.hash(f, row, self.side.cell(f, row)));
                    out[(first + i) * w + j] = match twin {
                        Some(h) => h,
                        None => self.cell_hash(j, row, scratch),
                    };
                }
            }
        }
    }

    /// The hash of field `j`'s cell in `row`, through that field's memo.
    fn cell_hash(&self, j: usize, row: usize, scratch: &mut Scratch) -> Hash {
        let f = self.fields[j];
        let cell = self.side.cell(f, row);
        let raw = match cell {
            Cell::Bad => self.side.fields[f]
                .bad
                .iter()
                .find(|b| b.row == row)
                .map(|b| b.raw.as_str()),
            _ => None,
        };
        let (t, text) = cell_text(cell, raw, &mut scratch.text);
        let bytes = &mut scratch.bytes;
        let domain = self.domains[j].as_deref();
        scratch.memos[j].get_or(&self.seed, t, text, || hash_text(domain, t, text, self.keys, bytes))
    }
}

/// Reused buffers and memos of one hashing job.
struct Scratch {
    text: String,
    bytes: Vec<u8>,
    /// One per hashed field.
    memos: Vec<Memo>,
}

/// The current state of one entity (merge bases are set by `set_bases`).
/// The left side is hashed first; a right cell equal to the cell of its
/// matched left row (`pairs`) takes that cell's hash instead of hashing
/// again (a hash is a function of the cell's type tag and text only).
pub fn entity_state(
    entity: &Entity,
    sides: [&PreparedSide; 2],
    keys: [&SideKeys; 2],
    index: &KeyIndex,
    ring: &KeyRing,
    pairs: &[(u32, u32)],
) -> EntityState {
    // The rows fingerprinted: those whose key is seen once on their side.
    let (rows_l, rows_r) = rayon::join(
        || index.unique_rows(Side::Left, keys[0]),
        || index.unique_rows(Side::Right, keys[1]),
    );
    let left = side_state(entity, sides[0], &rows_l, ring, None);
    let twins = Twins::new(entity, &left, sides, pairs);
    let mut right = side_state(entity, sides[1], &rows_r, ring, Some(&twins));
    right.twin = vec![u32::MAX; right.keys.len()];
    for &(l, r) in pairs {
        let at =
            [(&left, l), (&right, r)].map(|(s, row)| s.by_row.get(row as usize).copied().filter(|&i| i != u32::MAX));
        if let [Some(il), Some(ir)] = at {
            right.twin[ir as usize] = il;
        }
    }
    EntityState {
        names: entity.fields.iter().map(|f| f.name.clone()).collect(),
        sides: [left, right],
    }
}

/// The left side's hashes seen from the right: per right row its matched
/// left row, per right hashed field the left's column of the same field.
struct Twins<'a> {
    left: &'a SideState,
    prepared: &'a PreparedSide,
    /// Right prepared row → left prepared row (u32::MAX: unmatched).
    of_row: Vec<u32>,
    /// Entity field → the left state's column (None: not hashed there).
    columns: Vec<Option<usize>>,
}

impl<'a> Twins<'a> {
    fn new(entity: &Entity, left: &'a SideState, sides: [&'a PreparedSide; 2], pairs: &[(u32, u32)]) -> Twins<'a> {
        let mut of_row = vec![u32::MAX; sides[1].rows];
        for &(l, r) in pairs {
            if let Some(slot) = of_row.get_mut(r as usize) {
                *slot = l;
            }
        }
        let columns = (0..entity.fields.len())
            .map(|f| left.slots.iter().position(|&s| s as usize == f))
            .collect();
        Twins {
            left,
            prepared: sides[0],
            of_row,
            columns,
        }
    }

    /// The hash of the right cell of entity field `f` in `row`, when the
    /// matched left row holds an equal cell (a bad cell is hashed over its
    /// raw text, which the cells do not hold: never reused).
    fn hash(&self, f: usize, row: usize, cell: &Cell) -> Option<Hash> {
        let col = self.columns[f]?;
        let l = *self.of_row.get(row)? as usize;
        let i = *self.left.by_row.get(l)?;
        if i == u32::MAX || matches!(cell, Cell::Bad) || self.prepared.cell(f, l) != cell {
            return None;
        }
        Some(self.left.hashes[i as usize * self.left.width() + col])
    }
}

/// The fingerprint of one prepared side, not yet indexed: its unique-key
/// `rows` hashed in parallel, straight into the flat arrays; cells equal to
/// their left twin's (`twins`, for the right side) copy its hash.
fn side_state(
    entity: &Entity,
    prepared: &PreparedSide,
    rows: &[(&str, usize)],
    ring: &KeyRing,
    twins: Option<&Twins<'_>>,
) -> SideState {
    let fields = state_fields(entity, prepared);
    let w = fields.len();
    let hasher = RowHasher::new(entity, prepared, fields.clone(), ring);
    let mut s = SideState {
        slots: fields.iter().map(|&f| f as u16).collect(),
        keys: rows.par_iter().map(|&(k, _)| k.into()).collect(),
        hashes: vec![NONE; rows.len() * w],
        bases: Bases::with_cells(rows.len() * w),
        by_row: vec![u32::MAX; prepared.rows],
        ..SideState::default()
    };
    // Rows are hashed in parallel jobs of up to 64k rows, each with its own
    // scratch and memos; a few jobs per core even for a small side (the
    // sides are hashed one after the other).
    let chunk = (rows.len() / (4 * rayon::current_num_threads())).clamp(4096, 1 << 16);
    if w > 0 {
        s.hashes
            .par_chunks_mut(chunk * w)
            .zip(rows.par_chunks(chunk))
            .for_each(|(out, rows)| {
                let mut scratch = hasher.scratch(true);
                hasher.rows_into(rows, out, &mut scratch, twins);
            });
    }
    for (i, &(_, row)) in rows.iter().enumerate() {
        s.by_row[row] = i as u32;
    }
    s
}

/// Rows inserted, updated and deleted on one side since the previous state.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct Changes {
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
}

impl Changes {
    pub fn absorb(&mut self, o: &Changes) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.deleted += o.deleted;
    }
}

/// Rows of this run's state against the previous run's, with each side's
/// fields matched by name once (not per row: 200 fields are 40,000 name
/// comparisons). Fields are matched by name, so declaring them in another
/// order changes no row.
pub struct RowComparer<'a> {
    current: &'a EntityState,
    previous: &'a EntityState,
    columns: [Vec<[Option<usize>; 2]>; 2],
}

impl<'a> RowComparer<'a> {
    pub fn new(current: &'a EntityState, previous: &'a EntityState) -> RowComparer<'a> {
        RowComparer {
            current,
            previous,
            columns: Side::BOTH.map(|side| current.columns_against(previous, side)),
        }
    }

    /// Whether the row of `key` on `side` is absent now or differs from its
    /// row in the previous state (which has it).
    pub fn changed(&self, side: Side, key: &str) -> bool {
        let (p, c) = (&self.previous.sides[side.idx()], &self.current.sides[side.idx()]);
        match (p.find(key), c.find(key)) {
            (Some(j), Some(i)) => differs(&self.columns[side.idx()], c, i, p, j),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Whether row `i` of `c` and row `j` of `p` differ in any of `columns`
/// (from [`EntityState::columns_against`]: a field's column in `c` and `p`);
/// a field one of them does not hash counts as [`NONE`] there.
fn differs(columns: &[[Option<usize>; 2]], c: &SideState, i: usize, p: &SideState, j: usize) -> bool {
    let (wc, wp) = (c.width(), p.width());
    columns.iter().any(|&[a, b]| {
        let here = a.map_or(NONE, |a| c.hashes[i * wc + a]);
        let there = b.map_or(NONE, |b| p.hashes[j * wp + b]);
        here != there
    })
}

pub fn changes(prev: &EntityState, cur: &EntityState, side: Side) -> Changes {
    let (p, c) = (&prev.sides[side.idx()], &cur.sides[side.idx()]);
    let columns = cur.columns_against(prev, side);
    let mut out = Changes::default();
    for (i, k) in c.keys.iter().enumerate() {
        match p.find(k) {
            None => out.inserted += 1,
            Some(j) if differs(&columns, c, i, p, j) => out.updated += 1,
            _ => {}
        }
    }
    out.deleted = p.keys.iter().filter(|k| c.find(k).is_none()).count();
    out
}

/// Rows per Parquet batch when writing the state: bounds the memory of the
/// write to a few hundred MB whatever the snapshot size.
const STATE_BATCH: usize = 250_000;
/// ... or once its hashes reach this many bytes (wide entities): a smaller
/// batch is copied less and its memory is reused by the next one.
const STATE_BATCH_BYTES: usize = 32 << 20;

/// state.parquet written a part at a time (a bucketed run appends each
/// bucket's state and drops it). Within a part, rows are sorted by key.
pub struct StateWriter {
    path: PathBuf,
    /// The file, hashed as it is written (the digest goes into the evidence).
    file: HashingWriter<std::fs::File>,
    writer: Option<crate::report::WorkingWriter<std::io::BufWriter<HashingWriter<std::fs::File>>>>,
    batch: StateBatch,
}

impl StateWriter {
    pub fn create(path: &Path) -> Result<StateWriter> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(StateWriter {
            path: path.to_path_buf(),
            file: HashingWriter::new(file),
            writer: None,
            batch: StateBatch::default(),
        })
    }

    fn internal(&self, e: PolarsError) -> Error {
        Error::Internal(format!("writing {}: {e}", self.path.display()))
    }

    pub fn append(&mut self, entity: &str, st: &EntityState) -> Result<()> {
        let left = &st.sides[Side::Left.idx()];
        for side in Side::BOTH {
            let s = &st.sides[side.idx()];
            let w = s.width();
            // Right rows may point at their left twin when both sides hash
            // the same fields in the same order.
            let twins = side == Side::Right && w > 0 && s.slots == left.slots;
            let names: Vec<&str> = s.slots.iter().map(|&i| st.names[i as usize].as_str()).collect();
            let mut order: Vec<u32> = (0..s.keys.len() as u32).collect();
            order.par_sort_unstable_by(|&a, &b| s.keys[a as usize].cmp(&s.keys[b as usize]));
            let mut first = true;
            let mut hashes = Vec::with_capacity(16 * w);
            let mut bases = Vec::with_capacity(16 * w);
            for i in order {
                let i = i as usize;
                hashes.clear();
                bases.clear();
                for j in 0..w {
                    let h = s.hashes[i * w + j];
                    hashes.extend_from_slice(&h);
                    bases.extend_from_slice(&s.bases.get(i * w + j, h).unwrap_or(NONE));
                }
                // Where every base is the field's own hash (the sides agree), store none.
                if bases == hashes {
                    bases.clear();
                }
                let fields = first.then(|| names.join(","));
                first = false;
                let same = twins
                    && s.twin
                        .get(i)
                        .is_some_and(|&l| l != u32::MAX && s.same_row(i, left, l as usize));
                let (hashes, bases) = if same {
                    (SAME, &[][..])
                } else {
                    (&hashes[..], &bases[..])
                };
                self.batch
                    .push(entity, side.as_str(), &s.keys[i], hashes, bases, fields.as_deref());
                if self.batch.len >= STATE_BATCH || self.batch.bytes >= STATE_BATCH_BYTES {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let (file, path) = (&self.file, &self.path);
        let open = || {
            let clone = file.get_ref().try_clone().map_err(|e| Error::io(path, e))?;
            Ok(crate::report::buffered(file.share(clone)))
        };
        write_batch(&mut self.batch, &mut self.writer, open, path)?;
        crate::report::start_writeback(self.file.get_ref());
        Ok(())
    }

    /// Writes what is left, syncs the file and returns its digest.
    pub fn finish(mut self) -> Result<FileDigest> {
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.finish().map_err(|e| self.internal(e))?;
        }
        self.file.get_ref().sync_all().map_err(|e| Error::io(&self.path, e))?;
        Ok(self.file.digest())
    }
}

/// state.parquet written on a thread of its own, so that encoding and
/// writing it (one core, a second or more per million rows) overlaps the
/// rest of the run: the metrics and reports of an in-memory run, the next
/// bucket of a bucketed one. `queue` states wait at most: an in-memory run
/// queues every entity's (they are in memory anyway), a bucketed run none
/// (a rendezvous: the caller waits while an earlier state is being
/// written, so at most one is held besides the one being built).
pub struct StateSink {
    tx: Option<std::sync::mpsc::SyncSender<(String, EntityState)>>,
    thread: Option<std::thread::JoinHandle<Result<FileDigest>>>,
}

impl StateSink {
    /// Creates the file (reporting an error at once) and starts the writer.
    pub fn spawn(path: &Path, queue: usize) -> Result<StateSink> {
        let mut writer = StateWriter::create(path)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<(String, EntityState)>(queue);
        let thread = std::thread::Builder::new()
            .name("recon-state".into())
            .spawn(move || {
                for (entity, state) in rx {
                    writer.append(&entity, &state)?;
                }
                writer.finish()
            })
            .map_err(|e| Error::Internal(format!("cannot start the state writer: {e}")))?;
        Ok(StateSink {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands one entity's (or bucket's) state to the writer.
    pub fn send(&mut self, entity: &str, state: EntityState) -> Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send((entity.to_string(), state)).is_ok());
        match sent {
            Some(true) => Ok(()),
            // The writer stopped early: its own error says why.
            _ => Err(self
                .join()
                .err()
                .unwrap_or_else(|| Error::Internal("the state writer stopped early".into()))),
        }
    }

    /// Waits until everything sent is written and the file is synced;
    /// returns the file's digest.
    pub fn finish(mut self) -> Result<FileDigest> {
        self.join()
    }

    fn join(&mut self) -> Result<FileDigest> {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            None => Err(Error::Internal("the state writer was already stopped".into())),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Internal("the state writer panicked".into())),
        }
    }
}

impl Drop for StateSink {
    /// A failed run still waits for the writer, so that it is not writing
    /// into a run folder being removed.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// One batch of state rows, laid out as it is written: each column's
/// Parquet plain values (building polars columns first, then walking them
/// again to encode, cost the state's writer a third of its CPU). Its
/// buffers are kept from batch to batch.
#[derive(Default)]
struct StateBatch {
    len: usize,
    /// Bytes of keys, hashes and bases pushed so far.
    bytes: usize,
    /// `entity`, `side`, `key`, `hashes`, `bases` and `fields`.
    columns: [PlainColumn; 6],
    /// Which rows have `fields` (only a header row does).
    has_fields: polars_arrow::bitmap::MutableBitmap,
}

/// The columns of `state.parquet`, in order.
fn state_schema() -> Schema {
    Schema::from_iter([
        Field::new("entity".into(), DataType::String),
        Field::new("side".into(), DataType::String),
        Field::new("key".into(), DataType::String),
        Field::new("hashes".into(), DataType::Binary),
        Field::new("bases".into(), DataType::Binary),
        Field::new("fields".into(), DataType::String),
    ])
}

impl StateBatch {
    fn push(&mut self, entity: &str, side: &str, key: &str, hashes: &[u8], bases: &[u8], fields: Option<&str>) {
        self.len += 1;
        self.bytes += key.len() + hashes.len() + bases.len();
        let [e, s, k, h, b, f] = &mut self.columns;
        e.push(entity.as_bytes());
        s.push(side.as_bytes());
        k.push(key.as_bytes());
        h.push(hashes);
        b.push(bases);
        self.has_fields.push(fields.is_some());
        if let Some(fields) = fields {
            crate::report::push_plain(&mut f.values, fields.as_bytes());
        }
    }

    /// Writes the batch as one row group (nothing when it has no row) and
    /// empties it.
    fn write_to<W: std::io::Write>(&mut self, w: &mut crate::report::WorkingWriter<W>) -> PolarsResult<()> {
        if self.len > 0 {
            let has_fields = std::mem::take(&mut self.has_fields);
            self.columns[5].validity = Some(has_fields.into());
            w.write_plain(self.len, &mut self.columns)?;
        }
        for c in &mut self.columns {
            c.clear();
        }
        self.len = 0;
        self.bytes = 0;
        Ok(())
    }
}

fn hash_at(bytes: &[u8], i: usize) -> Option<Hash> {
    bytes.get(16 * i..16 * i + 16).map(truncate)
}

/// Reads a previous run's state; None when the run has none.
pub fn read_state(run_dir: &Path) -> Result<Option<State>> {
    let path = run_dir.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    read_state_file(&path).map(Some)
}

fn read_state_file(path: &Path) -> Result<State> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::input(path, format!("previous state unreadable: {e}")))?;
    let mut state = State::default();
    // Column in the side's arrays of each stored field, for the current header.
    let mut columns: Vec<usize> = Vec::new();
    // Column in the left side's arrays of each stored field of the current
    // header (where a right twin row's cells are found), worked out once
    // per header rather than per cell.
    let mut twin_columns: Vec<Option<usize>> = Vec::new();
    let mut hashes: Vec<Hash> = Vec::new();
    let mut bases: Vec<Hash> = Vec::new();
    for_each_row(path, &df, |row| {
        let st = state.entry(row.entity.to_string()).or_default();
        let twin = match (row.side, row.hashes == SAME) {
            (Side::Right, true) => match st.sides[Side::Left.idx()].find(row.key) {
                Some(l) => Some(l),
                None => {
                    return Err(Error::input(
                        path,
                        format!(
                            "previous state: the right row of {} points at a left row it lacks",
                            row.key
                        ),
                    ))
                }
            },
            _ => None,
        };
        if let Some(names) = row.fields {
            let slots: Vec<u16> = names
                .split(',')
                .filter(|n| !n.is_empty())
                .map(|n| st.intern(n))
                .collect();
            let s = &mut st.sides[row.side.idx()];
            columns = slots
                .iter()
                .map(|&slot| match s.slots.iter().position(|&x| x == slot) {
                    Some(j) => j,
                    None => s.add_slot(slot),
                })
                .collect();
            let left = &st.sides[Side::Left.idx()];
            twin_columns = slots
                .iter()
                .map(|&slot| left.slots.iter().position(|&x| x == slot))
                .collect();
        }
        let [left, right] = &mut st.sides;
        let (s, twin): (&mut SideState, Option<(&SideState, usize)>) = match row.side {
            Side::Left => (left, None),
            Side::Right => (right, twin.map(|l| (&*left, l))),
        };
        let w = s.width();
        hashes.clear();
        hashes.resize(w, NONE);
        bases.clear();
        bases.resize(w, NONE);
        for (n, &j) in columns.iter().enumerate() {
            if let Some((left, l)) = twin {
                // The left twin's cell of the same field.
                let lw = left.width();
                let Some(lj) = twin_columns.get(n).copied().flatten() else {
                    continue;
                };
                let h = left.hashes[l * lw + lj];
                hashes[j] = h;
                bases[j] = left.bases.get(l * lw + lj, h).unwrap_or(NONE);
                continue;
            }
            let Some(h) = hash_at(row.hashes, n) else { continue };
            hashes[j] = h;
            bases[j] = if row.bases.is_empty() {
                h
            } else {
                hash_at(row.bases, n).unwrap_or(NONE)
            };
        }
        s.push(row.key, &hashes, &bases);
        Ok(())
    })?;
    Ok(state)
}

/// One stored row of state.parquet.
struct StoredRow<'a> {
    entity: &'a str,
    side: Side,
    key: &'a str,
    hashes: &'a [u8],
    bases: &'a [u8],
    fields: Option<&'a str>,
}

fn for_each_row(path: &Path, df: &DataFrame, mut each: impl FnMut(StoredRow<'_>) -> Result<()>) -> Result<()> {
    let bad = |e: PolarsError| Error::input(path, format!("previous state has an unexpected shape: {e}"));
    let text = |name: &str| -> Result<StringChunked> { df.column(name).and_then(|c| c.str().cloned()).map_err(bad) };
    let bin = |name: &str| -> Result<BinaryChunked> { df.column(name).and_then(|c| c.binary().cloned()).map_err(bad) };
    let (entity, side, key, fields) = (text("entity")?, text("side")?, text("key")?, text("fields")?);
    let (hashes, bases) = (bin("hashes")?, bin("bases")?);
    for i in 0..df.height() {
        let (Some(e), Some(s), Some(k)) = (entity.get(i), side.get(i), key.get(i)) else {
            continue;
        };
        let side = match s {
            "left" => Side::Left,
            "right" => Side::Right,
            _ => continue,
        };
        each(StoredRow {
            entity: e,
            side,
            key: k,
            hashes: hashes.get(i).unwrap_or_default(),
            bases: bases.get(i).unwrap_or_default(),
            fields: fields.get(i),
        })?;
    }
    Ok(())
}

/// Rows of the previous state read at a time while partitioning it.
const PARTITION_SLICE: usize = 1_000_000;

/// A previous run's state split like this run's buckets (bucketed runs),
/// so each bucket reads only its own keys: entity → one file per bucket.
pub struct PartitionedState {
    files: HashMap<String, Vec<Option<PathBuf>>>,
}

/// Splits `run_dir`'s state.parquet into `work`, one file per entity and
/// bucket; `buckets` gives each entity's bucket count and `bucket_of` the
/// bucket of a key. None when the run has no state.
pub fn partition_state(
    run_dir: &Path,
    work: &Path,
    buckets: &HashMap<String, usize>,
    bucket_of: impl Fn(&str, usize) -> usize,
) -> Result<Option<PartitionedState>> {
    let path = run_dir.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let unreadable = |e: PolarsError| Error::input(&path, format!("previous state unreadable: {e}"));
    let open = || std::fs::File::open(&path).map_err(|e| Error::io(&path, e));
    let rows = ParquetReader::new(open()?).num_rows().map_err(unreadable)?;
    let mut parts: HashMap<(String, usize), Part> = HashMap::default();
    // The `fields` header in force for each entity and side.
    let mut header: HashMap<(String, Side), String> = HashMap::default();
    for offset in (0..rows).step_by(PARTITION_SLICE) {
        let df = ParquetReader::new(open()?)
            .with_slice(Some((offset, PARTITION_SLICE)))
            .finish()
            .map_err(unreadable)?;
        for_each_row(&path, &df, |row| {
            let Some(&n) = buckets.get(row.entity) else {
                return Ok(());
            };
            if let Some(f) = row.fields {
                header.insert((row.entity.to_string(), row.side), f.to_string());
            }
            let Some(names) = header.get(&(row.entity.to_string(), row.side)) else {
                return Ok(());
            };
            let b = bucket_of(row.key, n);
            let part = parts.entry((row.entity.to_string(), b)).or_insert_with(|| Part {
                path: work.join(format!("state-{}-{b:05}.parquet", row.entity)),
                writer: None,
                batch: StateBatch::default(),
                header: None,
            });
            let current = (row.side, names.clone());
            let fields = (part.header.as_ref() != Some(&current)).then_some(names.as_str());
            part.batch
                .push(row.entity, row.side.as_str(), row.key, row.hashes, row.bases, fields);
            part.header = Some(current);
            if part.batch.len >= STATE_BATCH {
                part.flush()?;
            }
            Ok(())
        })?;
    }
    let mut files: HashMap<String, Vec<Option<PathBuf>>> =
        buckets.iter().map(|(e, &n)| (e.clone(), vec![None; n])).collect();
    for ((entity, b), mut part) in parts {
        part.flush()?;
        if let Some(w) = part.writer.take() {
            w.finish()
                .map_err(|e| Error::Internal(format!("writing {}: {e}", part.path.display())))?;
        }
        if let Some(slot) = files.get_mut(&entity).and_then(|v| v.get_mut(b)) {
            *slot = Some(part.path);
        }
    }
    Ok(Some(PartitionedState { files }))
}

/// One entity and bucket of a state being partitioned.
struct Part {
    path: PathBuf,
    writer: Option<crate::report::WorkingWriter<std::io::BufWriter<std::fs::File>>>,
    batch: StateBatch,
    /// The side and `fields` header of the last row written.
    header: Option<(Side, String)>,
}

impl Part {
    fn flush(&mut self) -> Result<()> {
        let path = &self.path;
        let open = || {
            let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
            Ok(crate::report::buffered(file))
        };
        write_batch(&mut self.batch, &mut self.writer, open, path)
    }
}

/// Writes `batch` to `path` as one row group, the writer opened on `open`'s
/// file at the first batch (a state with no row is still a file with the
/// columns).
fn write_batch<W: std::io::Write>(
    batch: &mut StateBatch,
    writer: &mut Option<crate::report::WorkingWriter<W>>,
    open: impl FnOnce() -> Result<W>,
    path: &Path,
) -> Result<()> {
    let internal = |e: PolarsError| Error::Internal(format!("writing {}: {e}", path.display()));
    let w = crate::report::opened(writer, &state_schema(), open, internal)?;
    batch.write_to(w).map_err(internal)
}

impl PartitionedState {
    /// The previous state of one bucket of `entity` (empty when it had no rows there).
    pub fn load(&self, entity: &str, b: usize) -> Result<EntityState> {
        match self.files.get(entity).and_then(|v| v.get(b)).and_then(|p| p.as_ref()) {
            Some(path) => Ok(read_state_file(path)?.remove(entity).unwrap_or_default()),
            None => Ok(EntityState::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_made_its_own_base_reads_as_set_with_its_own_hash() {
        let (h, other) = ([1u8; 16], [2u8; 16]);
        let mut by_set = Bases::with_cells(130);
        let mut by_own = Bases::with_cells(130);
        for b in [&mut by_set, &mut by_own] {
            b.set(3, Some(other), h);
            b.set(129, Some(other), h);
        }
        by_set.set(3, Some(h), h);
        by_own.set_own(3);
        by_set.set(64, Some(h), h);
        by_own.set_own(64);
        for cell in [3, 64, 129, 5] {
            assert_eq!(by_own.get(cell, h), by_set.get(cell, h), "cell {cell}");
        }
        assert_eq!(by_own.get(3, h), Some(h));
        assert_eq!(by_own.get(129, h), Some(other));
        assert_eq!(by_own.get(5, h), None);
    }

    #[test]
    fn cell_and_row_hashes_keep_their_definition() {
        // hash_cell and row_hash_with hash in one call; the values must stay
        // those of the length-prefixed parts and of the streamed row, or
        // every earlier state.parquet would read as changed.
        let ring = KeyRing::new(None);
        let (mut text, mut bytes) = (String::new(), Vec::new());
        let cells = [
            (Cell::Val(Value::Str("R-1 \u{4e2d}".into())), "str", "R-1 \u{4e2d}"),
            (Cell::Val(Value::Int(-42)), "int", "-42"),
            (Cell::Val(Value::dec(-5, 2)), "dec", "-0.05"),
            (
                Cell::Val(Value::Ts(crate::normalize::Instant::from_micros(1_764_000_000_123_456))),
                "ts",
                "2025-11-24T16:00:00.123456Z",
            ),
            (Cell::Null, "null", ""),
        ];
        let mut fields = Vec::new();
        for (cell, t, shown) in &cells {
            let h = hash_cell(None, cell, None, &ring, &mut text, &mut bytes);
            assert_eq!(h, truncate(&digest_parts(&[t.as_bytes(), shown.as_bytes()])), "{t}");
            fields.push(h);
        }
        assert_eq!(
            hash_cell(None, &Cell::Bad, Some("x1"), &ring, &mut text, &mut bytes),
            truncate(&digest_parts(&[b"bad", b"x1"]))
        );
        let names = digest_parts(&[b"a", b"b"]);
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&names);
        for h in &fields {
            ctx.update(h);
        }
        assert_eq!(
            row_hash_with(&names, &fields, &mut bytes),
            truncate(ctx.finish().as_ref())
        );
    }

    fn spec(fields: &str) -> crate::spec::Spec {
        let text = format!(
            "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
             [[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = {{ path = \"l.csv\" }}\nright = {{ path = \"r.csv\" }}\n\
             [[entity.field]]\nname = \"id\"\n{fields}"
        );
        crate::spec::parse(Path::new("t.toml"), &text, String::new()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A prepared side from typed columns (field order), with `bad` rows.
    fn prepared(side: Side, columns: Vec<Vec<Cell>>, bad: &[(usize, usize, &str)]) -> PreparedSide {
        let rows = columns.first().map_or(0, Vec::len);
        let fields = columns
            .into_iter()
            .enumerate()
            .map(|(f, cells)| crate::prepare::PreparedField {
                present: true,
                cells,
                bad: bad
                    .iter()
                    .filter(|b| b.0 == f)
                    .map(|&(_, row, raw)| crate::prepare::BadCell {
                        row,
                        raw: raw.into(),
                        reason: "bad".into(),
                    })
                    .collect(),
            })
            .collect();
        PreparedSide { side, rows, fields }
    }

    #[test]
    fn the_sink_writes_every_state_it_is_sent() {
        let spec = spec("[[entity.field]]\nname = \"v\"\n");
        let entity = &spec.entities[0];
        let ring = KeyRing::new(None);
        let display = crate::run::ReportDisplay { keys: &ring };
        let cells = |n: usize| -> Vec<Vec<Cell>> {
            vec![
                (0..n).map(|r| Cell::Val(Value::Str(format!("k{r}").into()))).collect(),
                (0..n).map(|r| Cell::Val(Value::Int(r as i64))).collect(),
            ]
        };
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut sink = StateSink::spawn(&dir.path().join(STATE_FILE), 0).unwrap_or_else(|e| panic!("{e}"));
        let mut sent = Vec::new();
        for (name, n) in [("b", 3), ("a", 300_001)] {
            let side = prepared(Side::Left, cells(n), &[]);
            let keys = crate::compare::side_keys(entity, &side, &display);
            let st = one_side_state(entity, &side, &keys, &ring);
            sent.push((
                name,
                keys.json[n - 1].to_string(),
                st.field_hash(Side::Right, &keys.json[n - 1], "v"),
            ));
            sink.send(name, st).unwrap_or_else(|e| panic!("{e}"));
        }
        let digest = sink.finish().unwrap_or_else(|e| panic!("{e}"));
        let bytes = std::fs::read(dir.path().join(STATE_FILE)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(digest.size, bytes.len() as u64);
        assert_eq!(digest.sha256, crate::evidence::hash::sha256_hex(&bytes));
        let read = read_state(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("a state file");
        for (name, key, hash) in sent {
            assert!(hash.is_some());
            assert_eq!(read[name].field_hash(Side::Right, &key, "v"), hash, "{name}");
        }
        assert_eq!(read["a"].sides[0].keys.len(), 300_001);
        // A file that cannot be created is reported at once, naming it.
        let err = StateSink::spawn(&dir.path().join("missing").join(STATE_FILE), 0)
            .err()
            .expect("an error");
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn memoized_cell_hashes_equal_direct_ones() {
        // Far more rows than a memo's trial, with repeating values (kept
        // memoized), unique ones (memo turned off), a bad cell whose raw
        // text equals a good value's, and nulls.
        let spec = spec("[[entity.field]]\nname = \"status\"\n[[entity.field]]\nname = \"n\"\ntype = \"int\"\n[[entity.field]]\nname = \"u\"\n");
        let entity = &spec.entities[0];
        let n = 70_000;
        let status = |r: usize| match r % 5 {
            0 => Cell::Null,
            1 => Cell::Val(Value::Str("7".into())),
            2 => Cell::Val(Value::Str("active".into())),
            3 => Cell::Val(Value::Str("inactive".into())),
            // Over 24 bytes: remembered as a heap copy.
            _ => Cell::Val(Value::Str("closed at the customer's request, in writing".into())),
        };
        let columns = vec![
            (0..n).map(|r| Cell::Val(Value::Str(format!("k{r}").into()))).collect(),
            (0..n).map(status).collect(),
            (0..n)
                .map(|r| {
                    if r == 40_001 {
                        Cell::Bad
                    } else {
                        Cell::Val(Value::Int((r % 7) as i64))
                    }
                })
                .collect(),
            (0..n)
                .map(|r| Cell::Val(Value::Str(format!("unique {r}").into())))
                .collect(),
        ];
        let side = prepared(Side::Left, columns, &[(2, 40_001, "7")]);
        let ring = KeyRing::new(None);
        let display = crate::run::ReportDisplay { keys: &ring };
        let keys = crate::compare::side_keys(entity, &side, &display);
        let st = one_side_state(entity, &side, &keys, &ring);
        let s = &st.sides[0];
        assert_eq!(s.keys.len(), n);
        let (mut text, mut bytes) = (String::new(), Vec::new());
        for (i, &row) in [0, 1, 2, 3, 4, 5_000, 40_001, 40_002, 69_999].iter().enumerate() {
            let at = s.find(&keys.json[row]).expect("key");
            let want: Vec<Hash> = (1..4)
                .map(|f| {
                    let raw = (f == 2 && row == 40_001).then_some("7");
                    hash_cell(None, side.cell(f, row), raw, &ring, &mut text, &mut bytes)
                })
                .collect();
            assert_eq!(&s.hashes[at * 3..at * 3 + 3], &want[..], "row {row} ({i})");
        }
        // The bad cell's raw text "7" and the text value "7" differ.
        let bad = s.find(&keys.json[40_001]).expect("key");
        let text_seven = s.find(&keys.json[1]).expect("key");
        assert_ne!(s.hashes[bad * 3 + 1], s.hashes[text_seven * 3]);
    }

    /// The state of `side` standing for both sides (no pairs).
    fn one_side_state(entity: &Entity, side: &PreparedSide, keys: &SideKeys, ring: &KeyRing) -> EntityState {
        entity_state(
            entity,
            [side, side],
            [keys, keys],
            &KeyIndex::new([keys, keys]),
            ring,
            &[],
        )
    }

    /// The state of a one-side entity keyed on field 0, hashing the rest.
    fn state_of(fields: &str, columns: Vec<Vec<Cell>>) -> EntityState {
        let spec = spec(fields);
        let entity = &spec.entities[0];
        let side = prepared(Side::Left, columns, &[]);
        let ring = KeyRing::new(None);
        let display = crate::run::ReportDisplay { keys: &ring };
        let keys = crate::compare::side_keys(entity, &side, &display);
        one_side_state(entity, &side, &keys, &ring)
    }

    fn text(values: &[&str]) -> Vec<Cell> {
        values.iter().map(|v| Cell::Val(Value::Str((*v).into()))).collect()
    }

    #[test]
    fn changes_compare_field_hashes_and_field_sets() {
        let one = "[[entity.field]]\nname = \"v\"\n";
        let two = "[[entity.field]]\nname = \"v\"\n[[entity.field]]\nname = \"w\"\n";
        let prev = state_of(one, vec![text(&["a", "b", "c"]), text(&["1", "2", "3"])]);
        // b changed, c deleted, d inserted.
        let cur = state_of(one, vec![text(&["a", "b", "d"]), text(&["1", "9", "4"])]);
        let want = Changes {
            inserted: 1,
            updated: 1,
            deleted: 1,
        };
        assert_eq!(changes(&prev, &cur, Side::Left), want);
        let key = |k: &str| format!("{{\"id\":\"{k}\"}}");
        let rows = RowComparer::new(&cur, &prev);
        assert!(!rows.changed(Side::Left, &key("a")));
        assert!(rows.changed(Side::Left, &key("b")));
        assert!(rows.changed(Side::Left, &key("c")), "absent now");
        assert!(!rows.changed(Side::Left, &key("d")), "new: nothing to compare");
        // A field hashed now and not before changes every row, and so does
        // one hashed before and not now.
        let wider = state_of(two, vec![text(&["a", "b"]), text(&["1", "2"]), text(&["x", "y"])]);
        assert_eq!(changes(&prev, &wider, Side::Left).updated, 2);
        assert_eq!(changes(&wider, &prev, Side::Left).updated, 2);
        // Rows with no hashed field are still in the state, unchanged.
        let bare = state_of("", vec![text(&["a", "b"])]);
        assert_eq!(bare.sides[0].keys.len(), 2);
        assert_eq!(changes(&bare, &bare, Side::Left), Changes::default());
    }

    #[test]
    fn a_state_file_with_row_hashes_from_earlier_builds_still_reads() {
        let cur = state_of(
            "[[entity.field]]\nname = \"v\"\n",
            vec![text(&["a", "b"]), text(&["1", "2"])],
        );
        let s = &cur.sides[0];
        let key = |i: usize| s.keys[i].to_string();
        // The earlier layout: a row_hash column before the field hashes.
        let rows = 2;
        let mut df = DataFrame::new(
            rows,
            vec![
                Column::new("entity".into(), ["e", "e"]),
                Column::new("side".into(), ["left", "left"]),
                Column::new("key".into(), [key(0), key(1)]),
                Column::new("row_hash".into(), [&[7u8; 16][..], &[8u8; 16][..]]),
                Column::new("hashes".into(), [&s.hashes[0][..], &[9u8; 16][..]]),
                Column::new("bases".into(), [&[][..], &[][..]]),
                Column::new("fields".into(), [Some("v"), None]),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = std::fs::File::create(dir.path().join(STATE_FILE)).unwrap_or_else(|e| panic!("{e}"));
        ParquetWriter::new(file)
            .finish(&mut df)
            .unwrap_or_else(|e| panic!("{e}"));
        let read = read_state(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("a state");
        let prev = &read["e"];
        assert_eq!(prev.field_hash(Side::Left, &key(0), "v"), Some(s.hashes[0]));
        assert_eq!(prev.base(Side::Left, &key(0), "v"), Some(s.hashes[0]));
        let want = Changes {
            inserted: 0,
            updated: 1,
            deleted: 0,
        };
        assert_eq!(changes(prev, &cur, Side::Left), want);
    }

    #[test]
    fn right_cells_take_their_twins_hash_only_when_equal() {
        let spec = spec("[[entity.field]]\nname = \"v\"\n[[entity.field]]\nname = \"w\"\n");
        let entity = &spec.entities[0];
        let ring = KeyRing::new(None);
        let display = crate::run::ReportDisplay { keys: &ring };
        let mut left_v = text(&["1", "2", "3", "4", "5"]);
        left_v[3] = Cell::Bad;
        let left = prepared(
            Side::Left,
            vec![
                text(&["a", "b", "c", "d", "e"]),
                left_v,
                text(&["x", "y", "z", "q", "s"]),
            ],
            &[(1, 3, "raw-left")],
        );
        // b's v differs, c's w is null on the right, d's v is bad on both
        // sides with other raw texts, e's v is bad on the right only.
        let mut right_v = text(&["1", "9", "3", "4", "5"]);
        right_v[3] = Cell::Bad;
        right_v[4] = Cell::Bad;
        let mut right_w = text(&["x", "y", "z", "q", "s"]);
        right_w[2] = Cell::Null;
        let right = prepared(
            Side::Right,
            vec![text(&["a", "b", "c", "d", "e"]), right_v, right_w],
            &[(1, 3, "raw-right"), (1, 4, "5")],
        );
        let keys = [
            crate::compare::side_keys(entity, &left, &display),
            crate::compare::side_keys(entity, &right, &display),
        ];
        let index = KeyIndex::new([&keys[0], &keys[1]]);
        let drift = crate::compare::compare(
            entity,
            [&left, &right],
            [&keys[0], &keys[1]],
            &index,
            chrono_tz::UTC,
            &display,
        );
        assert_eq!(drift.pairs.len(), 5);
        // The state with the pairs' hashes shared, and hashed cell by cell.
        let state = |left: &PreparedSide, pairs: &[(u32, u32)]| {
            entity_state(entity, [left, &right], [&keys[0], &keys[1]], &index, &ring, pairs)
        };
        let (twinned, direct) = (state(&left, &drift.pairs), state(&left, &[]));
        assert_eq!(twinned.sides[1].hashes, direct.sides[1].hashes);
        assert_eq!(twinned.sides[0].hashes, direct.sides[0].hashes);
        // The equal cells share their hash, the others do not.
        let (l, r) = (&twinned.sides[0], &twinned.sides[1]);
        let same: Vec<bool> = (0..l.hashes.len()).map(|c| l.hashes[c] == r.hashes[c]).collect();
        assert_eq!(same, [true, true, false, true, true, false, false, true, false, true]);
        // A field the left lacks is hashed on the right, never taken from
        // another left column.
        let mut lacking = prepared(
            Side::Left,
            vec![
                text(&["a", "b", "c", "d", "e"]),
                text(&["1", "2", "3", "4", "5"]),
                text(&["x", "y", "z", "q", "s"]),
            ],
            &[],
        );
        lacking.fields[1].present = false;
        let (twinned, direct) = (state(&lacking, &drift.pairs), state(&lacking, &[]));
        assert_eq!(twinned.sides[0].width(), 1);
        assert_eq!(twinned.sides[1].hashes, direct.sides[1].hashes);
    }

    #[test]
    fn right_rows_equal_to_their_left_twin_are_stored_once() {
        let spec = spec("[[entity.field]]\nname = \"v\"\n[[entity.field]]\nname = \"w\"\n");
        let entity = &spec.entities[0];
        let ring = KeyRing::new(None);
        let display = crate::run::ReportDisplay { keys: &ring };
        let left = prepared(
            Side::Left,
            vec![
                text(&["a", "b", "c", "d"]),
                text(&["1", "2", "3", "4"]),
                text(&["x", "y", "z", "q"]),
            ],
            &[],
        );
        // b differs on the right, d is the right's only.
        let right = prepared(
            Side::Right,
            vec![
                text(&["a", "b", "c", "e"]),
                text(&["1", "9", "3", "5"]),
                text(&["x", "y", "z", "r"]),
            ],
            &[],
        );
        let keys = [
            crate::compare::side_keys(entity, &left, &display),
            crate::compare::side_keys(entity, &right, &display),
        ];
        // The pairs give the twins.
        let drift = crate::compare::compare(
            entity,
            [&left, &right],
            [&keys[0], &keys[1]],
            &KeyIndex::new([&keys[0], &keys[1]]),
            chrono_tz::UTC,
            &display,
        );
        let mut st = entity_state(
            entity,
            [&left, &right],
            [&keys[0], &keys[1]],
            &KeyIndex::new([&keys[0], &keys[1]]),
            &ring,
            &drift.pairs,
        );
        st.set_bases(entity, [&left, &right], [&keys[0], &keys[1]], &drift, None);
        // A merge base on c's right side only: c is then stored in full.
        let (c_right, v) = (st.sides[1].find(&keys[1].json[2]).expect("c"), 0);
        st.sides[1]
            .bases
            .set(c_right * 2 + v, Some([5u8; 16]), st.sides[1].hashes[c_right * 2 + v]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join(STATE_FILE);
        let mut writer = StateWriter::create(&path).unwrap_or_else(|e| panic!("{e}"));
        writer.append("e", &st).unwrap_or_else(|e| panic!("{e}"));
        writer.finish().unwrap_or_else(|e| panic!("{e}"));
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}")))
            .finish()
            .unwrap_or_else(|e| panic!("{e}"));
        let stored = df
            .column("hashes")
            .and_then(|c| c.binary().cloned())
            .unwrap_or_else(|e| panic!("{e}"));
        let same: Vec<bool> = (0..stored.len()).map(|i| stored.get(i) == Some(SAME)).collect();
        // Sorted by key per side: left a b c d, right a b c e; only a is
        // stored as its twin (b differs, c has its own base, e has none).
        assert_eq!(same, [false, false, false, false, true, false, false, false]);
        let read = read_state(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("a state");
        for side in Side::BOTH {
            for key in &keys[side.idx()].json {
                for field in ["v", "w"] {
                    let (want, got) = (&st, &read["e"]);
                    assert_eq!(
                        got.field_hash(side, key, field),
                        want.field_hash(side, key, field),
                        "{key} {field}"
                    );
                    assert_eq!(got.base(side, key, field), want.base(side, key, field), "{key} {field}");
                }
            }
        }
        assert_eq!(read["e"].base(Side::Right, &keys[1].json[2], "v"), Some([5u8; 16]));
        // A twin row whose left row is missing is refused, naming the file.
        let mut broken = df
            .filter(
                &df.column("side")
                    .and_then(|c| c.str().cloned())
                    .unwrap_or_else(|e| panic!("{e}"))
                    .equal("right"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let mut file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        ParquetWriter::new(&mut file)
            .finish(&mut broken)
            .unwrap_or_else(|e| panic!("{e}"));
        let err = read_state(dir.path()).expect_err("an error");
        assert!(
            err.to_string().contains(STATE_FILE) && err.to_string().contains("left row"),
            "{err}"
        );
    }

    #[test]
    fn unique_rows_skip_repeated_and_null_keys_and_keep_row_order() {
        let json = ["c", "a", "b", "a", "d", "e"];
        let keys = SideKeys {
            json: json.map(Into::into).to_vec(),
            tuple: json
                .iter()
                .enumerate()
                .map(|(row, k)| (row != 4).then(|| smallvec::smallvec![Value::Str((*k).into())]))
                .collect(),
        };
        let index = KeyIndex::new([&keys, &SideKeys::default()]);
        assert_eq!(index.unique_rows(Side::Left, &keys), vec![("c", 0), ("b", 2), ("e", 5)]);
        assert!(index.unique_rows(Side::Right, &SideKeys::default()).is_empty());
    }

    #[test]
    fn bases_keep_own_other_and_none_apart() {
        let (a, b) = ([1u8; 16], [2u8; 16]);
        let mut bases = Bases::with_cells(130);
        bases.set(0, Some(a), a);
        bases.set(64, Some(b), a);
        bases.set(129, None, a);
        assert_eq!(bases.get(0, a), Some(a));
        assert_eq!(bases.get(64, a), Some(b));
        assert_eq!(bases.get(129, a), None);
        // Overwriting clears the earlier kind of base.
        bases.set(64, Some(a), a);
        assert_eq!(bases.get(64, a), Some(a));
        bases.set(0, None, a);
        assert_eq!(bases.get(0, a), None);
    }

    #[test]
    fn a_slot_added_later_keeps_every_hash_and_base() {
        let (a, b, c) = ([1u8; 16], [2u8; 16], [3u8; 16]);
        let mut side = SideState {
            slots: vec![0, 1],
            ..SideState::default()
        };
        side.push("k1", &[a, b], &[a, c]);
        side.push("k2", &[b, a], &[NONE, a]);
        let j = side.add_slot(2);
        assert_eq!(j, 2);
        side.push("k3", &[a, a, b], &[a, a, b]);
        let cell = |side: &SideState, key: &str, j: usize| side.find(key).unwrap() * side.width() + j;
        let base =
            |side: &SideState, key: &str, j: usize| side.bases.get(cell(side, key, j), side.hashes[cell(side, key, j)]);
        assert_eq!(side.hashes[cell(&side, "k1", 1)], b);
        assert_eq!(base(&side, "k1", 0), Some(a));
        assert_eq!(base(&side, "k1", 1), Some(c));
        assert_eq!(base(&side, "k2", 0), None);
        assert_eq!(base(&side, "k2", 1), Some(a));
        assert_eq!(side.hashes[cell(&side, "k2", 2)], NONE);
        assert_eq!(base(&side, "k3", 2), Some(b));
        // A later row with the same key replaces the earlier one.
        side.push("k1", &[b, b, b], &[NONE, NONE, b]);
        assert_eq!(base(&side, "k1", 0), None);
        assert_eq!(base(&side, "k1", 2), Some(b));
        assert_eq!(side.keys.len(), 3);
    }
}
