//! The in-memory state: per entity and side, each row's field hashes and
//! merge bases in flat arrays ([`EntityState`], [`State`]), and setting the
//! merge bases from this run's drift. Knows nothing of files or of how a
//! cell is hashed.

use polars::prelude::PlHashMap as HashMap;
use rayon::prelude::*;

use super::fingerprint::state_fields;
use super::recover::{recover, Recovered};
use super::{some, Hash, NONE};
use crate::prepare::key::SideKeys;
use crate::prepare::PreparedSide;
use crate::spec::{Entity, Side};

/// The fingerprint of one side, column-wise: per row its key and
/// `slots.len()` field hashes and merge bases in flat arrays, with a hash
/// index from key to row built when a key is first looked up.
#[derive(Debug, Default, Clone)]
pub(super) struct SideState {
    /// Field slot (index into the entity state's `names`) of each column.
    pub(super) slots: Vec<u16>,
    pub(super) keys: Vec<compact_str::CompactString>,
    /// `keys.len() × slots.len()`, row-major.
    pub(super) hashes: Vec<Hash>,
    /// Merge base of each cell of `hashes`.
    pub(super) bases: Bases,
    /// Per row its row hash (hash::state_row_hashes): set for a state built
    /// from prepared sides and one read from layout 2; empty for layout 1.
    pub(super) row_hashes: Vec<Hash>,
    /// Read from layout 2 or 3: `hashes` and the bases not their own hash
    /// hold only their first FIELD_HASH_BYTES (the rest zeros), `row_hashes`
    /// the full row hashes.
    pub(super) short: bool,
    /// Read from layout 3: per row 0, or n for a compact row (a row hash
    /// and no field hash: its `hashes` are NONE and it has no base) whose
    /// row hash covers the fields `compact_fields[n - 1]` (slots). Empty
    /// when the side has no compact row.
    pub(super) compact: Vec<u16>,
    pub(super) compact_fields: Vec<Vec<u16>>,
    /// Key → row, built at the first lookup: a run without a previous
    /// state never looks its own rows up by key (building it for every
    /// bucket's two sides was 0.5% of a 10M-row first run).
    pub(super) index: std::sync::OnceLock<hashbrown::HashTable<u32>>,
    pub(super) hasher: polars::prelude::PlRandomState,
    /// Prepared row → state row (u32::MAX: none); only for a state built
    /// from prepared sides, to set bases without looking keys up.
    pub(super) by_row: Vec<u32>,
    /// Right side: state row → the left state row of the same key (u32::MAX:
    /// none), for the matched pairs, set when the state is built; the
    /// writer stores a row equal to its twin once.
    pub(super) twin: Vec<u32>,
}

impl SideState {
    pub(super) fn width(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn find(&self, key: &str) -> Option<usize> {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(key);
        self.index
            .get_or_init(|| self.built_index())
            .find(h, |&i| self.keys[i as usize] == key)
            .map(|&i| i as usize)
    }

    /// The row hash of row `i`, when the state has row hashes.
    pub(super) fn row_hash(&self, i: usize) -> Option<Hash> {
        self.row_hashes.get(i).copied()
    }

    /// The fields (slots) whose hashes row `i`'s row hash covers, when the
    /// row is compact.
    pub(super) fn compact_row(&self, i: usize) -> Option<&[u16]> {
        match self.compact.get(i) {
            Some(&n) if n > 0 => self.compact_fields.get(n as usize - 1).map(Vec::as_slice),
            _ => None,
        }
    }

    /// Appends a compact row: its row hash over the fields `fields` (slots)
    /// and no field hash nor base (a later row with the same key replaces
    /// the earlier).
    pub(super) fn push_compact(&mut self, key: &str, row_hash: Hash, fields: &[u16]) {
        let none = vec![NONE; self.width()];
        self.push(key, Some(row_hash), &none, &none);
        let n = match self.compact_fields.iter().position(|f| f == fields) {
            Some(n) => n + 1,
            None => {
                self.compact_fields.push(fields.to_vec());
                self.compact_fields.len()
            }
        };
        let i = self.find(key).unwrap_or(self.keys.len() - 1);
        self.compact.resize(self.keys.len(), 0);
        self.compact[i] = n as u16;
    }

    /// Appends a row (a later row with the same key replaces the earlier);
    /// `row_hash` is kept when the side keeps row hashes (layout 2).
    pub(super) fn push(&mut self, key: &str, row_hash: Option<Hash>, hashes: &[Hash], bases: &[Hash]) {
        use std::hash::BuildHasher;
        let w = self.width();
        if let Some(i) = self.find(key) {
            if let (Some(h), Some(slot)) = (row_hash, self.row_hashes.get_mut(i)) {
                *slot = h;
            }
            if let Some(n) = self.compact.get_mut(i) {
                *n = 0;
            }
            self.hashes[i * w..(i + 1) * w].copy_from_slice(hashes);
            for (j, (&b, &h)) in bases.iter().zip(hashes).enumerate() {
                self.bases.set(i * w + j, some(b), h);
            }
            return;
        }
        let i = self.keys.len() as u32;
        if let Some(h) = row_hash {
            if self.row_hashes.len() == self.keys.len() {
                self.row_hashes.push(h);
            }
        }
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
    pub(super) fn state_row(&self, row: usize, key: &str) -> Option<usize> {
        match self.by_row.get(row) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            Some(_) => None,
            None => self.find(key),
        }
    }

    /// Whether row `i` has the hashes and merge bases of row `j` of `other`
    /// (a side with the same slots).
    pub(super) fn same_row(&self, i: usize, other: &SideState, j: usize) -> bool {
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
    pub(super) fn add_slot(&mut self, slot: u16) -> usize {
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
pub(super) struct Bases {
    own: Vec<u64>,
    other: HashMap<usize, Hash>,
}

impl Bases {
    pub(super) fn with_cells(cells: usize) -> Bases {
        Bases {
            own: vec![0; cells.div_ceil(64)],
            other: HashMap::default(),
        }
    }

    pub(super) fn grow(&mut self, cells: usize) {
        self.own.resize(cells.div_ceil(64), 0);
    }

    pub(super) fn set(&mut self, cell: usize, base: Option<Hash>, own_hash: Hash) {
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
    pub(super) fn set_own(&mut self, cell: usize) {
        self.own[cell / 64] |= 1u64 << (cell % 64);
        if !self.other.is_empty() {
            self.other.remove(&cell);
        }
    }

    /// Whether `cell`'s base is its own hash.
    pub(super) fn is_own(&self, cell: usize) -> bool {
        self.own[cell / 64] & (1u64 << (cell % 64)) != 0
    }

    pub(super) fn get(&self, cell: usize, own_hash: Hash) -> Option<Hash> {
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
    pub(super) names: Vec<String>,
    pub(super) sides: [SideState; 2],
}

impl EntityState {
    pub(super) fn name_idx(&self, field: &str) -> Option<u16> {
        self.names.iter().position(|n| n == field).map(|i| i as u16)
    }

    pub(super) fn intern(&mut self, field: &str) -> u16 {
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

    /// Whether neither side has a row (a bucket without keys).
    pub fn is_empty(&self) -> bool {
        self.sides.iter().all(|s| s.keys.is_empty())
    }

    pub fn has_row(&self, side: Side, key: &str) -> bool {
        self.sides[side.idx()].find(key).is_some()
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
        // The bases of the previous state's compact rows (no field hash:
        // recovered from this run's rows) of the keys that need one.
        let recovered: HashMap<&str, Recovered> = match previous {
            Some(p) if p.has_compact() => {
                let mut need = mismatched_keys.clone();
                for s in Side::BOTH {
                    for rows in &bad[s.idx()] {
                        need.extend(rows.iter().map(|&row| keys[s.idx()].json[row].as_str()));
                    }
                }
                need.into_iter()
                    .filter_map(|key| Some((key, recover(p, self, key)?)))
                    .collect()
            }
            _ => HashMap::default(),
        };
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
                            let base = previous.and_then(|p| match recovered.get(key) {
                                Some(found) => found.base(p, name),
                                None => p.base(side, key, name),
                            });
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
        side.push("k1", None, &[a, b], &[a, c]);
        side.push("k2", None, &[b, a], &[NONE, a]);
        let j = side.add_slot(2);
        assert_eq!(j, 2);
        side.push("k3", None, &[a, a, b], &[a, a, b]);
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
        side.push("k1", None, &[b, b, b], &[NONE, NONE, b]);
        assert_eq!(base(&side, "k1", 0), None);
        assert_eq!(base(&side, "k1", 2), Some(b));
        assert_eq!(side.keys.len(), 3);
    }
}
