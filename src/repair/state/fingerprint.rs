//! This run's state of an entity built from its prepared sides: the
//! fingerprinted fields, each unique-key row hashed in parallel, and a
//! right cell equal to its matched left cell taking that cell's hash.

use rayon::prelude::*;

use super::hash::{cell_text, hash_text, row_hash_with, state_row_hashes, Memo};
use super::model::{Bases, EntityState, SideState};
use super::{Hash, NONE};
use crate::finding::digest_parts;
use crate::keys::KeyRing;
use crate::prepare::key::{KeyIndex, SideKeys};
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Entity, Side};

/// Fields fingerprinted in the state: compared, non-key fields.
pub fn state_fields(entity: &Entity, side: &PreparedSide) -> Vec<usize> {
    (0..entity.fields.len())
        .filter(|f| entity.fields[*f].compare && !entity.key.contains(f) && side.fields[*f].present)
        .collect()
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
            .map(|&f| crate::repair::sensitive(&entity.fields[f]).then(|| crate::repair::repr::domain(entity, f)))
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
    let names: Vec<&str> = fields.iter().map(|&f| entity.fields[f].name.as_str()).collect();
    s.row_hashes = state_row_hashes(&names, &s.hashes, rows.len());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::Value;
    use crate::repair::state::hash::hash_cell;
    use crate::repair::state::testing::{one_side_state, prepared, spec, text};

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
        let display = crate::display::ReportDisplay { keys: &ring };
        let keys = crate::prepare::key::side_keys(entity, &side, &display);
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

    #[test]
    fn right_cells_take_their_twins_hash_only_when_equal() {
        let spec = spec("[[entity.field]]\nname = \"v\"\n[[entity.field]]\nname = \"w\"\n");
        let entity = &spec.entities[0];
        let ring = KeyRing::new(None);
        let display = crate::display::ReportDisplay { keys: &ring };
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
            crate::prepare::key::side_keys(entity, &left, &display),
            crate::prepare::key::side_keys(entity, &right, &display),
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
}
