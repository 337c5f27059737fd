//! Reading a previous run's state.parquet back into a [`State`], in any
//! layout (`layout`): layout 3 with its compact rows, layout 2 with its row
//! hashes, short field hashes and `both` rows, and layout 1 of earlier
//! builds, right rows stored as their left twin and files with a
//! `row_hash` column included.

use std::path::Path;

use polars::prelude::*;

use super::hash::truncate;
use super::layout::{for_each_row, short_at, Layout, StoredSide, BASE_HASH, BASE_NONE, BASE_OWN};
use super::model::{SideState, State};
use super::{Hash, FIELD_HASH_BYTES, NONE, SAME, STATE_FILE};
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
    let clock = std::time::Instant::now();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::input(path, format!("previous state unreadable: {e}")))?;
    let layout = Layout::of(path, &df)?;
    let state = match layout {
        Layout::V1 => read_v1(path, &df),
        Layout::V2 | Layout::V3 => read_v2(path, &df, layout),
    }?;
    let ms = clock.elapsed().as_millis() as u64;
    tracing::debug!(ms, ?layout, path = %path.display(), "previous state read");
    Ok(state)
}

/// Layouts 2 and 3: per row its row hash, short field hashes and the bases
/// that are not the field's own hash; a `both` row stands for both sides,
/// and in layout 3 one with neither field hashes nor bases is compact.
fn read_v2(path: &Path, df: &DataFrame, layout: Layout) -> Result<State> {
    let mut state = State::default();
    // The slots of the current header's fields, and each one's column in
    // the side of the run it heads; `both` rows find their right columns
    // when the first of them comes (a right side without one must not
    // gain the left's fields).
    let mut slots: Vec<u16> = Vec::new();
    let mut columns: Vec<usize> = Vec::new();
    let mut right_columns: Option<Vec<usize>> = None;
    let mut hashes: Vec<Hash> = Vec::new();
    let mut bases: Vec<Hash> = Vec::new();
    let bad = |key: &str, what: &str| {
        Error::input(
            path,
            format!("previous state: the row of {key} has {what} that do not follow its `fields`"),
        )
    };
    // The entity whose header `slots` are (a row of another entity must
    // bring its own).
    let mut headed: Option<String> = None;
    for_each_row(path, df, layout, |row| {
        if row.fields.is_none() && headed.as_deref() != Some(row.entity) {
            return Err(Error::input(
                path,
                format!(
                    "previous state: the rows of entity `{}` start without their `fields` header",
                    row.entity
                ),
            ));
        }
        if row.fields.is_some() {
            headed = Some(row.entity.to_string());
        }
        let st = state.entry(row.entity.to_string()).or_default();
        for s in &mut st.sides {
            s.short = true;
        }
        if let Some(names) = row.fields {
            slots = names
                .split(',')
                .filter(|n| !n.is_empty())
                .map(|n| st.intern(n))
                .collect();
            columns = columns_of(&mut st.sides[row.side.run().idx()], &slots);
            right_columns = None;
        }
        let compact = layout == Layout::V3
            && row.side == StoredSide::Both
            && row.hashes.is_empty()
            && row.bases.is_empty()
            && !slots.is_empty();
        if row.row_hash.len() != 16 || !compact && row.hashes.len() != FIELD_HASH_BYTES * slots.len() {
            return Err(bad(row.key, "hashes"));
        }
        let row_hash = truncate(row.row_hash);
        if compact {
            st.sides[Side::Left.idx()].push_compact(row.key, row_hash, &slots);
            let right = &mut st.sides[Side::Right.idx()];
            right_columns.get_or_insert_with(|| columns_of(right, &slots));
            right.push_compact(row.key, row_hash, &slots);
            return Ok(());
        }
        let targets: &[Side] = match row.side {
            StoredSide::One(Side::Left) | StoredSide::Both => &[Side::Left],
            StoredSide::One(Side::Right) => &[Side::Right],
        };
        let mut fill = |s: &mut SideState, columns: &[usize]| -> Result<()> {
            let w = s.width();
            hashes.clear();
            hashes.resize(w, NONE);
            bases.clear();
            bases.resize(w, NONE);
            let mut at = 0;
            for (n, &j) in columns.iter().enumerate() {
                let h = short_at(row.hashes, n).unwrap_or(NONE);
                hashes[j] = h;
                bases[j] = match row.bases.get(at) {
                    None if row.bases.is_empty() => h,
                    Some(&BASE_OWN) => {
                        at += 1;
                        h
                    }
                    Some(&BASE_NONE) => {
                        at += 1;
                        NONE
                    }
                    Some(&BASE_HASH) => {
                        let base = row
                            .bases
                            .get(at + 1..at + 1 + FIELD_HASH_BYTES)
                            .ok_or_else(|| bad(row.key, "bases"))?;
                        at += 1 + FIELD_HASH_BYTES;
                        super::hash::widen(base)
                    }
                    _ => return Err(bad(row.key, "bases")),
                };
            }
            s.push(row.key, Some(row_hash), &hashes, &bases);
            Ok(())
        };
        for &side in targets {
            fill(&mut st.sides[side.idx()], &columns)?;
        }
        if row.side == StoredSide::Both {
            let right = &mut st.sides[Side::Right.idx()];
            let cols = right_columns.get_or_insert_with(|| columns_of(right, &slots));
            fill(right, cols)?;
        }
        Ok(())
    })?;
    Ok(state)
}

/// The column in `s` of each of the fields in `slots`, added where `s`
/// lacks one.
fn columns_of(s: &mut SideState, slots: &[u16]) -> Vec<usize> {
    slots
        .iter()
        .map(|&slot| match s.slots.iter().position(|&x| x == slot) {
            Some(j) => j,
            None => s.add_slot(slot),
        })
        .collect()
}

/// Layout 1: full field hashes, right rows `=` their left twin.
fn read_v1(path: &Path, df: &DataFrame) -> Result<State> {
    let mut state = State::default();
    // Column in the side's arrays of each stored field, for the current header.
    let mut columns: Vec<usize> = Vec::new();
    // Column in the left side's arrays of each stored field of the current
    // header (where a right twin row's cells are found), worked out once
    // per header rather than per cell.
    let mut twin_columns: Vec<Option<usize>> = Vec::new();
    let mut hashes: Vec<Hash> = Vec::new();
    let mut bases: Vec<Hash> = Vec::new();
    for_each_row(path, df, Layout::V1, |row| {
        let st = state.entry(row.entity.to_string()).or_default();
        let side = row.side.run();
        let twin = match (side, row.hashes == SAME) {
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
            let s = &mut st.sides[side.idx()];
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
        let (s, twin): (&mut SideState, Option<(&SideState, usize)>) = match side {
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
        s.push(row.key, None, &hashes, &bases);
        Ok(())
    })?;
    Ok(state)
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

    #[test]
    fn a_layout_1_twin_row_whose_left_row_is_missing_is_refused() {
        let st = state_of(
            "[[entity.field]]\nname = \"v\"\n",
            vec![text(&["a", "b"]), text(&["1", "2"])],
        );
        // The one-side state stands for both sides: each right row is its
        // left row's twin.
        let mut st = st;
        st.sides[1].twin = vec![0, 1];
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join(STATE_FILE);
        crate::repair::state::legacy::write_v1(&path, &[("e", &st)]).unwrap_or_else(|e| panic!("{e}"));
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}")))
            .finish()
            .unwrap_or_else(|e| panic!("{e}"));
        let hashes = df
            .column("hashes")
            .and_then(|c| c.binary().cloned())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hashes.get(2), Some(SAME));
        let read = read_state(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("a state");
        assert_eq!(read["e"].sides[1].hashes, st.sides[1].hashes);
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
}
