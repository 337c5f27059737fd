//! `state.parquet`: a compact fingerprint of each run's normalized data, the
//! base for change detection in the next run. Cells are hashed to 128 bits:
//! SHA-256 over a length-prefixed typed encoding, truncated; for personal
//! data a keyed HMAC instead, so the file never holds a raw value nor a hash
//! that can be brute-forced without the token key ([`hash`]).
//!
//! The file stores what three-way detection needs and no more (layout 3,
//! the `format` column): per entity, side and key a 128-bit **row hash**
//! (SHA-256 over the field names sorted and each field's 128-bit hash in
//! that order) that says *that* the row changed. A key whose sides agreed
//! on every field (each field its own merge base: most keys, most nights)
//! is one **compact** row, side `both`, holding that row hash and nothing
//! else: which field changed is recovered from the next run's rows
//! ([`recover`]). Other rows keep the fields' hashes cut to
//! [`FIELD_HASH_BYTES`], which say *which* field changed, and merge bases
//! where one is not the field's own hash; a key whose two sides have the
//! same fields, hashes and bases is still one row, side `both`. Layout 2
//! (the same without compact rows) and layout 1 (16-byte field hashes,
//! right rows `=` their left twin, no `format` column) are still read, so
//! the first run after an upgrade detects changes as before.
//!
//! The bounds: a row changed since the previous run goes unseen with
//! probability ≤ 2⁻¹²⁸ (its row hash). For a compact row, the base of a
//! field both sides hold differently now is recovered by finding the one
//! mix of this run's left and right field hashes whose row hash is the
//! stored one: wrong only if another mix collides with it at 128 bits
//! (≤ 2ᵈ⁻¹²⁸ for d differing fields); when no mix or more than one does
//! (both sides changed the row: the same field, or one field alike and
//! another apart), every differing field reads as [`Change::Unknown`] and
//! goes to review. For a row with short field hashes, under a differing
//! row hash a field is changed when its short hash differs; when none
//! does, the change cannot be placed (short hashes collided) and every
//! field of that side reads as [`Change::Unknown`]. A field taken as
//! unchanged when it changed needs its short hash to collide while another
//! field of the same row and side also changed: ≤ 2⁻⁶⁴ per changed field;
//! so does a field compared with a merge base carried from an older run.
//! Drift itself is always compared on values, never on these hashes.
//!
//! `model` holds the in-memory state and its merge bases, `hash` the cell
//! and row hash encoding, `fingerprint` builds this run's state, `changes`
//! compares two states, `recover` rebuilds a compact row's field hashes
//! from this run's, `write` and `read` are the file (`layout` its
//! layouts' columns), and `partition` splits a previous state by bucket.

mod changes;
mod fingerprint;
mod hash;
mod layout;
#[cfg(test)]
mod legacy;
mod model;
mod partition;
mod read;
mod recover;
#[cfg(test)]
mod series;
#[cfg(test)]
mod testing;
mod write;

pub use changes::{changes, Change, Changes, RowComparer};
pub use fingerprint::{entity_state, row_hashes, state_fields};
pub use model::{EntityState, State};
pub use partition::{partition_state, PartitionedState};
pub use read::read_state;
pub use write::{StateSink, StateWriter};

pub const STATE_FILE: &str = "state.parquet";

/// The layout this build writes, in the `format` column of each header row.
pub const STATE_FORMAT: &str = "3";

/// A 128-bit hash.
pub type Hash = [u8; 16];

/// Bytes kept of each field hash in layout 2 (the row hash keeps all 16).
/// 64 bits: a field taken as unchanged that changed needs a collision of
/// these under a differing row hash (2⁻⁶⁴ per changed field, where 32 bits
/// would be one in four billion: over 100M rows a night, once in years).
pub(super) const FIELD_HASH_BYTES: usize = 8;

/// The stored `hashes` of a layout-1 right row equal to its left twin's.
const SAME: &[u8] = b"=";

/// No hash (a field the row lacks) or no merge base: 16 zero bytes, as in
/// the file. A real 128-bit hash is never all zeros in practice.
const NONE: Hash = [0u8; 16];

fn some(h: Hash) -> Option<Hash> {
    (h != NONE).then_some(h)
}
