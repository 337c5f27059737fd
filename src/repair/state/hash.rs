//! How a cell and a row are hashed: the type-tagged, length-prefixed
//! encoding (SHA-256, or a keyed HMAC for personal data) truncated to 128
//! bits, and the memo that hashes a repeated value once. The encoding is a
//! contract: changing it makes every earlier state.parquet read as changed.

use super::{Hash, FIELD_HASH_BYTES, NONE};
use crate::finding::{digest_parts, digest_parts_with};
use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::prepare::Cell;

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

pub(super) fn truncate(d: &[u8]) -> Hash {
    let mut h = [0u8; 16];
    h.copy_from_slice(&d[..16]);
    h
}

/// The first [`FIELD_HASH_BYTES`] of a hash: what layout 2 stores of a field.
pub(super) fn short(h: &Hash) -> &[u8] {
    &h[..FIELD_HASH_BYTES]
}

/// A stored short hash widened with zeros to a [`Hash`] (a state read from
/// layout 2 holds these; compared with [`short`] of a full hash).
pub(super) fn widen(d: &[u8]) -> Hash {
    let mut h = NONE;
    h[..d.len()].copy_from_slice(d);
    h
}

/// [`hash_text`] of a cell (the tests' entry point; hashing goes through
/// [`RowHasher`] and its memos).
#[cfg(test)]
pub(super) fn hash_cell(
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
pub(super) fn cell_text<'c>(cell: &'c Cell, raw_bad: Option<&'c str>, buf: &'c mut String) -> (&'static str, &'c str) {
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
pub(super) fn hash_text(domain: Option<&str>, t: &str, text: &str, keys: &KeyRing, bytes: &mut Vec<u8>) -> Hash {
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
pub(super) struct Memo {
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
    pub(super) fn new(off: bool) -> Memo {
        Memo {
            slots: Vec::new(),
            trial: match off {
                true => crate::memo::Trial::off(),
                false => crate::memo::Trial::default(),
            },
        }
    }

    pub(super) fn get_or(
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

/// Hash of a whole row from its field hashes: SHA-256 over `names` (the
/// digest of the length-prefixed field names), then the 16-byte field
/// hashes in that order, truncated. A delete's precondition (the state
/// compares field hashes instead).
pub(super) fn row_hash_with(names: &[u8; 32], fields: &[Hash], bytes: &mut Vec<u8>) -> Hash {
    bytes.clear();
    bytes.extend_from_slice(names);
    for h in fields {
        bytes.extend_from_slice(h);
    }
    truncate(&crate::digest::sha256(bytes))
}

/// The state's row hash of rows of the fields `names`, one row at a
/// time: [`state_row_hashes`] with the names' order and digest worked out
/// once.
pub(super) struct RowHasher {
    order: Vec<usize>,
    digest: [u8; 32],
    row: Vec<Hash>,
    bytes: Vec<u8>,
}

impl RowHasher {
    pub(super) fn new(names: &[&str]) -> RowHasher {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by_key(|&j| names[j]);
        let sorted: Vec<&[u8]> = order.iter().map(|&j| names[j].as_bytes()).collect();
        RowHasher {
            digest: crate::finding::digest_parts(&sorted),
            order,
            row: Vec::with_capacity(names.len()),
            bytes: Vec::new(),
        }
    }

    /// The row hash of a row whose fields have `hashes` (in the order of
    /// the names given to [`RowHasher::new`]).
    pub(super) fn hash(&mut self, hashes: &[Hash]) -> Hash {
        self.row.clear();
        self.row.extend(self.order.iter().map(|&j| hashes[j]));
        row_hash_with(&self.digest, &self.row, &mut self.bytes)
    }
}

/// The state's row hashes of a side's rows (`hashes`: `width` per row,
/// row-major, of the fields named `names`): [`row_hash_with`] over the
/// field names sorted and the hashes in that order, so that declaring the
/// fields in another order changes no row hash.
pub(super) fn state_row_hashes(names: &[&str], hashes: &[Hash], rows: usize) -> Vec<Hash> {
    use rayon::prelude::*;
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&j| names[j]);
    let sorted: Vec<&[u8]> = order.iter().map(|&j| names[j].as_bytes()).collect();
    let digest = crate::finding::digest_parts(&sorted);
    let w = names.len();
    if w == 0 {
        return vec![row_hash_with(&digest, &[], &mut Vec::new()); rows];
    }
    hashes
        .par_chunks(w)
        .with_min_len(4096)
        .map_init(
            || (Vec::with_capacity(w), Vec::new()),
            |(row, bytes), cells| {
                row.clear();
                row.extend(order.iter().map(|&j| cells[j]));
                row_hash_with(&digest, row, bytes)
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn one_row_hashes_as_a_side_of_rows_does_in_any_field_order() {
        let (a, b, c) = ([1u8; 16], [2u8; 16], [3u8; 16]);
        let rows = [a, b, c, c, b, a];
        let many = state_row_hashes(&["x", "z", "y"], &rows, 2);
        let mut row = RowHasher::new(&["x", "z", "y"]);
        assert_eq!(row.hash(&[a, b, c]), many[0]);
        assert_eq!(row.hash(&[c, b, a]), many[1]);
        assert_eq!(RowHasher::new(&["y", "x", "z"]).hash(&[c, a, b]), many[0]);
        assert_ne!(many[0], many[1]);
    }
}
