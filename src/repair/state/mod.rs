//! `state.parquet`: a compact fingerprint of each run's normalized data, the
//! base for change detection in the next run. Cells are hashed to 128 bits:
//! SHA-256 over a length-prefixed typed encoding, truncated; for personal
//! data a keyed HMAC instead, so the file never holds a raw value nor a hash
//! that can be brute-forced without the token key ([`hash`]).
//!
//! The file stores what three-way detection needs and no more (layout 2,
//! the `format` column): per entity, side and key a 128-bit **row hash**
//! (SHA-256 over the field names sorted and each field's 128-bit hash in
//! that order) that says *that* the row changed, the fields' hashes cut to
//! [`FIELD_HASH_BYTES`] that say *which* field did, and merge bases only
//! where one is not the field's own hash. A key whose two sides have the
//! same fields, hashes and bases is one row, side `both`. Layout 1 (every
//! build before it: 16-byte field hashes, right rows `=` their left twin,
//! no `format` column) is still read, so the first run after an upgrade
//! detects changes as before.
//!
//! The bounds: a row changed since the previous run goes unseen with
//! probability ≤ 2⁻¹²⁸ (its row hash). Under a differing row hash a field
//! is changed when its short hash differs; when none does, the change
//! cannot be placed (short hashes collided) and every field of that side
//! reads as [`Change::Unknown`], which planning sends to review. A field
//! taken as unchanged when it changed needs its short hash to collide while
//! another field of the same row and side also changed: ≤ 2⁻⁶⁴ per changed
//! field; so does a field compared with a merge base carried from an older
//! run. Drift itself is always compared on values, never on these hashes.
//!
//! `model` holds the in-memory state and its merge bases, `hash` the cell
//! and row hash encoding, `fingerprint` builds this run's state, `changes`
//! compares two states, `write` and `read` are the file (`layout` its two
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
pub const STATE_FORMAT: &str = "2";

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
