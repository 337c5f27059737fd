//! A text column's rows scattered per destination as Parquet plain values
//! or dictionary indices, read straight from the column's Arrow views.

use polars::prelude::*;
use rayon::prelude::*;

use super::{push_plain, Dictionary, MutableBitmap, PlainColumn};

/// Per column of `frame` (all text), per bucket, the rows `routed` there
/// as Parquet plain values; bucket 0's (kept in memory) and those of
/// buckets without rows are empty.
pub fn scatter_values(frame: &DataFrame, routed: &[u32], counts: &[usize]) -> PolarsResult<Vec<Vec<PlainColumn>>> {
    frame
        .columns()
        .par_iter()
        .map(|c| scatter_column(c.str()?, routed, counts))
        .collect()
}

/// One text column's rows, laid out per bucket as indices into the chunk's
/// dictionary where it has few distinct values ([`chunk_dictionary`]), else
/// as Parquet plain values in one pass over the column (gathering each
/// bucket's rows and encoding them took a sweep over the column per bucket
/// and copied every text twice: at 10M rows in 36 buckets, 40% of the
/// partition's CPU).
fn scatter_column(ca: &StringChunked, routed: &[u32], counts: &[usize]) -> PolarsResult<Vec<PlainColumn>> {
    let spilled = |b: usize| b > 0 && counts[b] > 0;
    let files = (0..counts.len()).filter(|&b| spilled(b)).count();
    if let Some(indexed) = chunk_dictionary(ca, files) {
        return Ok(scatter_indices(indexed, ca.null_count() > 0, routed, counts));
    }
    let room = plain_bytes(ca, routed, counts.len());
    let mut rows = routed.iter().map(|&b| b as usize);
    if ca.null_count() == 0 {
        let mut columns = (0..counts.len())
            .map(|b| match spilled(b) {
                true => PlainColumn::leveled(counts[b], room[b]),
                false => Ok(PlainColumn::default()),
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        for array in ca.downcast_iter() {
            for (i, view) in array.views().iter().enumerate() {
                match rows.next() {
                    Some(0) | None => {}
                    Some(b) => push_view(&mut columns[b].values, view, || array.value(i)),
                }
            }
        }
        return Ok(columns);
    }
    let mut values: Vec<Vec<u8>> = (0..counts.len())
        .map(|b| match spilled(b) {
            true => Vec::with_capacity(room[b]),
            false => Vec::new(),
        })
        .collect();
    let mut valid: Vec<MutableBitmap> = counts
        .iter()
        .enumerate()
        .map(|(b, &n)| MutableBitmap::with_capacity(if spilled(b) { n } else { 0 }))
        .collect();
    for value in ca.downcast_iter().flat_map(|a| a.iter()) {
        match rows.next() {
            Some(0) | None => {}
            Some(b) => {
                valid[b].push(value.is_some());
                if let Some(v) = value {
                    push_plain(&mut values[b], v.as_bytes());
                }
            }
        }
    }
    Ok(values
        .into_iter()
        .zip(valid)
        .map(|(values, valid)| PlainColumn::new(values, Some(valid.into())))
        .collect())
}

/// Most distinct values a spilled chunk's column may have to be written
/// with a dictionary (and at most one per eight rows).
const DICTIONARY_VALUES: usize = 4096;

/// One chunk's column as indices into its distinct values.
struct ChunkDictionary {
    dictionary: std::sync::Arc<Dictionary>,
    /// Per row, its value's place in the dictionary; `u32::MAX` when null.
    ids: Vec<u32>,
}

/// `ca` as indices into its distinct values, when it has few enough
/// (see [`DICTIONARY_VALUES`]) that the dictionary, written once per
/// bucket's file (`files`), takes less than half of what the values would
/// in plain encoding; None otherwise (a column of identifiers, phone
/// numbers or timestamps gives up after a few thousand rows).
///
/// Values are told apart by their views: a text of at most 12 bytes is
/// inline in its view, so equal texts have equal views; a longer one's
/// view names its place in its array's buffers, so equal views are equal
/// texts (those a Parquet dictionary page gave the reader share a place;
/// equal texts at two places take two entries, which costs room, never
/// correctness).
fn chunk_dictionary(ca: &StringChunked, files: usize) -> Option<ChunkDictionary> {
    let limit = DICTIONARY_VALUES.min(ca.len() / 8);
    if limit == 0 || files == 0 {
        return None;
    }
    let mask = (2 * limit).next_power_of_two() - 1;
    // Per slot, 1 + the entry found there; 0 when free.
    let mut slots = vec![0u32; mask + 1];
    let mut keys: Vec<(u128, u32)> = Vec::with_capacity(limit);
    let mut values = Vec::new();
    let mut ids = Vec::with_capacity(ca.len());
    let mut plain = 0usize;
    for (a, array) in ca.downcast_iter().enumerate() {
        let validity = polars_arrow::array::Array::validity(array);
        for (i, view) in array.views().iter().enumerate() {
            if validity.is_some_and(|v| !v.get_bit(i)) {
                ids.push(u32::MAX);
                continue;
            }
            plain += 4 + view.length as usize;
            let key = (view.as_u128(), if view.is_inline() { 0 } else { a as u32 + 1 });
            let folded = (key.0 as u64) ^ ((key.0 >> 64) as u64).rotate_left(29) ^ u64::from(key.1);
            let mut slot = (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & mask;
            loop {
                match slots[slot] {
                    0 => {
                        if keys.len() == limit {
                            return None;
                        }
                        keys.push(key);
                        push_plain(&mut values, array.value(i).as_bytes());
                        slots[slot] = keys.len() as u32;
                        ids.push(keys.len() as u32 - 1);
                        break;
                    }
                    s if keys[s as usize - 1] == key => {
                        ids.push(s - 1);
                        break;
                    }
                    _ => slot = (slot + 1) & mask,
                }
            }
        }
    }
    // A column without a value (all null) stays plain: a dictionary has
    // at least one value.
    if keys.is_empty() || values.len().saturating_mul(files).saturating_mul(2) > plain {
        return None;
    }
    let dictionary = Dictionary {
        values,
        len: keys.len(),
    };
    Some(ChunkDictionary {
        dictionary: std::sync::Arc::new(dictionary),
        ids,
    })
}

/// A chunk's column laid out per bucket as indices into its dictionary
/// ([`PlainColumn::indexed`]); bucket 0's and those of buckets without
/// rows are empty.
fn scatter_indices(chunk: ChunkDictionary, nulls: bool, routed: &[u32], counts: &[usize]) -> Vec<PlainColumn> {
    let spilled = |b: usize| b > 0 && counts[b] > 0;
    let mut indices: Vec<Vec<u32>> = (0..counts.len())
        .map(|b| Vec::with_capacity(if spilled(b) { counts[b] } else { 0 }))
        .collect();
    let mut valid: Vec<MutableBitmap> = (0..counts.len())
        .map(|b| MutableBitmap::with_capacity(if nulls && spilled(b) { counts[b] } else { 0 }))
        .collect();
    for (&b, &id) in routed.iter().zip(&chunk.ids) {
        let b = b as usize;
        if b == 0 {
            continue;
        }
        if nulls {
            valid[b].push(id != u32::MAX);
        }
        if id != u32::MAX {
            indices[b].push(id);
        }
    }
    indices
        .into_iter()
        .zip(valid)
        .enumerate()
        .map(|(b, (indices, valid))| match spilled(b) {
            true => PlainColumn::indexed(chunk.dictionary.clone(), indices, nulls.then(|| valid.into())),
            false => PlainColumn::default(),
        })
        .collect()
}

/// Per bucket, the bytes of plain values its rows of `ca` take (a null
/// row's counted as if it had one), and room for [`push_view`]'s last
/// copy: from the views' lengths, so that no bucket's buffer grows while
/// it is filled (an average per row had some grow, copied into fresh
/// memory).
fn plain_bytes(ca: &StringChunked, routed: &[u32], buckets: usize) -> Vec<usize> {
    let mut bytes = vec![16usize; buckets];
    let mut rows = routed.iter();
    for array in ca.downcast_iter() {
        for view in array.views().iter() {
            if let Some(&b) = rows.next() {
                bytes[b as usize] += 4 + view.length as usize;
            }
        }
    }
    bytes
}

/// Appends a text's plain value from its view: a text of at most 12 bytes
/// is inline in the view, after its length, so its 16 bytes are copied at
/// once and the excess cut (a copy of fixed size, where a call to `memcpy`
/// per text was most of the scatter's time); a longer one is read from its
/// buffer (`text`).
#[inline]
fn push_view<'a>(out: &mut Vec<u8>, view: &polars_arrow::array::View, text: impl FnOnce() -> &'a str) {
    let len = view.length as usize;
    if view.is_inline() {
        let at = out.len();
        let inline = view.as_u128().to_ne_bytes();
        out.extend_from_slice(&view.length.to_le_bytes());
        out.extend_from_slice(&inline[4..16]);
        out.truncate(at + 4 + len);
    } else {
        push_plain(out, text().as_bytes());
    }
}
