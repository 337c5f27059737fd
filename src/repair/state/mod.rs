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
//!
//! `model` holds the in-memory state and its merge bases, `hash` the cell
//! and row hash encoding, `fingerprint` builds this run's state, `changes`
//! compares two states, `write` and `read` are the file, and `partition`
//! splits a previous state by bucket.

mod changes;
mod fingerprint;
mod hash;
mod model;
mod partition;
mod read;
#[cfg(test)]
mod testing;
mod write;

pub use changes::{changes, Changes, RowComparer};
pub use fingerprint::{entity_state, row_hashes, state_fields};
pub use model::{EntityState, State};
pub use partition::{partition_state, PartitionedState};
pub use read::read_state;
pub use write::{StateSink, StateWriter};

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
