//! Reading a previous run's state.parquet back into a [`State`], including
//! right rows stored as their left twin and files of earlier builds.

use std::path::Path;

use polars::prelude::*;

use super::hash::truncate;
use super::model::{SideState, State};
use super::{Hash, NONE, SAME, STATE_FILE};
use crate::error::{Error, Result};
use crate::spec::Side;

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

pub(super) fn read_state_file(path: &Path) -> Result<State> {
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
pub(super) struct StoredRow<'a> {
    pub(super) entity: &'a str,
    pub(super) side: Side,
    pub(super) key: &'a str,
    pub(super) hashes: &'a [u8],
    pub(super) bases: &'a [u8],
    pub(super) fields: Option<&'a str>,
}

pub(super) fn for_each_row(
    path: &Path,
    df: &DataFrame,
    mut each: impl FnMut(StoredRow<'_>) -> Result<()>,
) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::state::changes::{changes, Changes};
    use crate::repair::state::testing::{state_of, text};

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
}
