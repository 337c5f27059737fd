//! Writing state.parquet: [`StateWriter`] appends entity states a part at a
//! time in layout 3, each side sorted by key, a right row equal to its left
//! twin stored once as the left's row with side `both`, compact (its row
//! hash alone) when each field is its own base; [`StateSink`] runs it on a
//! thread of its own.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use super::hash::short;
use super::layout::{write_batch, Layout, StateBatch, StoredRow, StoredSide, BASE_HASH, BASE_NONE, BASE_OWN};
use super::model::{EntityState, SideState};
use crate::error::{Error, Result};
use crate::evidence::{FileDigest, HashingWriter};
use crate::spec::Side;

/// Rows per Parquet batch when writing the state: bounds the memory of the
/// write to a few hundred MB whatever the snapshot size.
pub(super) const STATE_BATCH: usize = 250_000;
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
    /// Time spent encoding and writing (logged when finished).
    busy: std::time::Duration,
}

impl StateWriter {
    pub fn create(path: &Path) -> Result<StateWriter> {
        StateWriter::create_in(path, Layout::V3)
    }

    /// A writer of `layout` 2 or 3 (tests write layout 2 as the builds
    /// before layout 3 did).
    pub(super) fn create_in(path: &Path, layout: Layout) -> Result<StateWriter> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(StateWriter {
            path: path.to_path_buf(),
            file: HashingWriter::new(file),
            writer: None,
            batch: StateBatch::new(layout),
            busy: std::time::Duration::ZERO,
        })
    }

    fn internal(&self, e: PolarsError) -> Error {
        Error::polars(format!("writing {}", self.path.display()), e)
    }

    /// Appends one entity's state (a bucket's, in a bucketed run) and ends
    /// its row group: the file's row groups are cut where its parts end,
    /// so a run merged from shards, whose per-bucket files are copied row
    /// group by row group ([`StateWriter::append_file`]), writes the same
    /// bytes as one machine.
    pub fn append(&mut self, entity: &str, st: &EntityState) -> Result<()> {
        let clock = std::time::Instant::now();
        let appended = self.append_rows(entity, st).and_then(|()| self.flush());
        self.busy += clock.elapsed();
        appended
    }

    fn append_rows(&mut self, entity: &str, st: &EntityState) -> Result<()> {
        let [left, right] = &st.sides;
        // Right rows with the fields, hashes and bases of their left twin
        // are the left row's, stored once as `both`.
        let both = both_rows(left, right);
        let mut buf = RowBytes::default();
        for side in Side::BOTH {
            let s = &st.sides[side.idx()];
            let names: Vec<&str> = s.slots.iter().map(|&i| st.names[i as usize].as_str()).collect();
            // A state built here has its row hashes; one that lacks them
            // (never written today) gets them now.
            let computed;
            let row_hashes = match s.row_hashes.len() == s.keys.len() {
                true => &s.row_hashes,
                false => {
                    computed = super::hash::state_row_hashes(&names, &s.hashes, s.keys.len());
                    &computed
                }
            };
            let mut order: Vec<u32> = (0..s.keys.len() as u32)
                .filter(|&i| side == Side::Left || !both.right[i as usize])
                .collect();
            order.par_sort_unstable_by(|&a, &b| s.keys[a as usize].cmp(&s.keys[b as usize]));
            let mut first = true;
            for i in order {
                let i = i as usize;
                buf.encode(s, i);
                let header = first.then(|| names.join(","));
                first = false;
                let stored = match side == Side::Left && both.left[i] {
                    true => StoredSide::Both,
                    false => StoredSide::One(side),
                };
                // Agreeing sides whose every field is its own base: the
                // row hash alone (the next run recovers the fields).
                let compact = self.batch.layout() == Layout::V3
                    && stored == StoredSide::Both
                    && buf.bases.is_empty()
                    && !names.is_empty();
                self.batch.push(&StoredRow {
                    entity,
                    side: stored,
                    key: &s.keys[i],
                    row_hash: &row_hashes[i],
                    hashes: if compact { &[] } else { &buf.hashes },
                    bases: &buf.bases,
                    fields: header.as_deref(),
                });
                if self.batch.len >= STATE_BATCH || self.batch.bytes >= STATE_BATCH_BYTES {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    /// Appends a state file this build wrote with [`StateWriter::append`]
    /// (a shard's state of one bucket) as stored: its row groups copied
    /// page for page, not decoded and encoded again (the merge's longest
    /// step when it did), so a run merged from shards writes the rows,
    /// row groups and bytes a single machine writes.
    pub fn append_file(&mut self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let format = polars::prelude::ParquetReader::new(std::io::Cursor::new(&bytes))
            .with_columns(Some(vec!["format".into()]))
            .finish()
            .map_err(|e| Error::input(path, format!("state part unreadable: {e}")))?;
        let layout = Layout::of(path, &format)?;
        if layout != self.batch.layout() {
            return Err(Error::input(
                path,
                format!("a state part in layout {:?}, not {:?}", layout, self.batch.layout()),
            ));
        }
        let clock = std::time::Instant::now();
        // Ends the rows before it in their own row group, and opens the
        // file's writer if this is its first part.
        self.flush()?;
        let Some(w) = self.writer.as_mut() else {
            return Err(Error::Internal(format!(
                "{}: no writer after a flush",
                self.path.display()
            )));
        };
        w.copy_row_groups(bytes)
            .map_err(|e| Error::input(path, format!("state part not copied: {e}")))?;
        crate::report::start_writeback(self.file.get_ref());
        self.busy += clock.elapsed();
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
        let clock = std::time::Instant::now();
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.finish().map_err(|e| self.internal(e))?;
        }
        self.file.get_ref().sync_all().map_err(|e| Error::io(&self.path, e))?;
        let ms = (self.busy + clock.elapsed()).as_millis() as u64;
        tracing::debug!(ms, "state.parquet encoded and written");
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
            .map_err(|e| Error::thread("state writer", e))?;
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

/// The rows stored once as `both`: per left row and per right row, whether
/// it is one of a pair of twins (a matched pair's rows) with the same
/// fields, hashes and bases.
struct BothRows {
    left: Vec<bool>,
    right: Vec<bool>,
}

fn both_rows(left: &SideState, right: &SideState) -> BothRows {
    let mut both = BothRows {
        left: vec![false; left.keys.len()],
        right: vec![false; right.keys.len()],
    };
    if right.slots != left.slots {
        return both;
    }
    for (r, &l) in right.twin.iter().enumerate() {
        if l != u32::MAX && right.same_row(r, left, l as usize) && right.row_hash(r) == left.row_hash(l as usize) {
            both.left[l as usize] = true;
            both.right[r] = true;
        }
    }
    both
}

/// One row's `field_hashes` and `bases` as layout 2 stores them, its
/// buffers reused from row to row.
#[derive(Default)]
struct RowBytes {
    hashes: Vec<u8>,
    bases: Vec<u8>,
}

impl RowBytes {
    /// Row `i` of `s`: each field's short hash (zeros where the row lacks
    /// the field), and the bases, left empty when each is its own hash.
    fn encode(&mut self, s: &SideState, i: usize) {
        let w = s.width();
        self.hashes.clear();
        self.bases.clear();
        let mut all_own = true;
        for j in 0..w {
            let cell = i * w + j;
            let h = s.hashes[cell];
            self.hashes.extend_from_slice(short(&h));
            match s.bases.get(cell, h) {
                Some(b) if s.bases.is_own(cell) || b == h => self.bases.push(BASE_OWN),
                Some(b) => {
                    all_own = false;
                    self.bases.push(BASE_HASH);
                    self.bases.extend_from_slice(short(&b));
                }
                None => {
                    all_own = false;
                    self.bases.push(BASE_NONE);
                }
            }
        }
        if all_own {
            self.bases.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyRing;
    use crate::normalize::Value;
    use crate::prepare::key::KeyIndex;
    use crate::prepare::Cell;
    use crate::repair::state::fingerprint::entity_state;
    use crate::repair::state::hash::widen;
    use crate::repair::state::read::read_state;
    use crate::repair::state::testing::{one_side_state, prepared, spec, text};
    use crate::repair::state::{FIELD_HASH_BYTES, STATE_FILE};

    #[test]
    fn the_sink_writes_every_state_it_is_sent() {
        let spec = spec("[[entity.field]]\nname = \"v\"\n");
        let entity = &spec.entities[0];
        let ring = KeyRing::new(None);
        let display = crate::display::ReportDisplay { keys: &ring };
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
            let keys = crate::prepare::key::side_keys(entity, &side, &display);
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
            let short_hash = hash.map(|h| widen(short(&h)));
            assert_eq!(read[name].field_hash(Side::Right, &key, "v"), short_hash, "{name}");
        }
        assert_eq!(read["a"].sides[0].keys.len(), 300_001);
        // A file that cannot be created is reported at once, naming it.
        let err = StateSink::spawn(&dir.path().join("missing").join(STATE_FILE), 0)
            .err()
            .expect("an error");
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn right_rows_equal_to_their_left_twin_are_stored_once() {
        let spec = spec("[[entity.field]]\nname = \"v\"\n[[entity.field]]\nname = \"w\"\n");
        let entity = &spec.entities[0];
        let ring = KeyRing::new(None);
        let display = crate::display::ReportDisplay { keys: &ring };
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
            crate::prepare::key::side_keys(entity, &left, &display),
            crate::prepare::key::side_keys(entity, &right, &display),
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
        // Layout 3 as this build stores it (sorted keys, fixed-length row
        // hashes) reads back as the plain layout 3 of earlier builds.
        let mut read_back = Vec::new();
        for plain in [false, true] {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join(STATE_FILE);
            let mut writer = StateWriter::create_in(&path, Layout::V3).unwrap_or_else(|e| panic!("{e}"));
            if plain {
                writer.batch.storage = Vec::new();
            }
            writer.append("e", &st).unwrap_or_else(|e| panic!("{e}"));
            writer.finish().unwrap_or_else(|e| panic!("{e}"));
            let df = ParquetReader::new(std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}")))
                .finish()
                .unwrap_or_else(|e| panic!("{e}"));
            let state = super::super::read::read_state_file(&path).unwrap_or_else(|e| panic!("{e}"));
            // What it holds, without the key index and its random seed.
            let held: Vec<String> = state
                .values()
                .flat_map(|e| &e.sides)
                .map(|s| {
                    format!(
                        "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                        s.slots, s.keys, s.hashes, s.row_hashes, s.bases, s.compact, s.compact_fields
                    )
                })
                .collect();
            read_back.push((df, held));
        }
        assert!(read_back[0].0.equals_missing(&read_back[1].0));
        assert_eq!(read_back[0].1, read_back[1].1);
        for layout in [Layout::V2, Layout::V3] {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join(STATE_FILE);
            let mut writer = StateWriter::create_in(&path, layout).unwrap_or_else(|e| panic!("{e}"));
            writer.append("e", &st).unwrap_or_else(|e| panic!("{e}"));
            writer.finish().unwrap_or_else(|e| panic!("{e}"));
            let df = ParquetReader::new(std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}")))
                .finish()
                .unwrap_or_else(|e| panic!("{e}"));
            let text = |name: &str| -> Vec<Option<String>> {
                df.column(name)
                    .and_then(|c| c.str().cloned())
                    .unwrap_or_else(|e| panic!("{e}"))
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect()
            };
            // Sorted by key per side: left a b c d, right b c e; only a is
            // stored once for both sides (b differs, c has its own base on the
            // right, e is the right's only).
            let sides: Vec<String> = text("side").into_iter().flatten().collect();
            assert_eq!(sides, ["both", "left", "left", "left", "right", "right", "right"]);
            let stored = df
                .column("field_hashes")
                .and_then(|c| c.binary().cloned())
                .unwrap_or_else(|e| panic!("{e}"));
            let width = match layout {
                Layout::V3 => 0,
                _ => 2 * FIELD_HASH_BYTES,
            };
            assert_eq!(stored.get(0).map(<[u8]>::len), Some(width), "{layout:?}");
            assert_eq!(stored.get(1).map(<[u8]>::len), Some(2 * FIELD_HASH_BYTES));
            // The header rows name the fields and the format.
            let header = [
                Some("v,w".to_string()),
                None,
                None,
                None,
                Some("v,w".to_string()),
                None,
                None,
            ];
            assert_eq!(text("fields"), header);
            let format = header.map(|h| h.and(layout.format()).map(str::to_string));
            assert_eq!(text("format"), format);
            let read = read_state(dir.path())
                .unwrap_or_else(|e| panic!("{e}"))
                .expect("a state");
            let cut = |h: Option<crate::repair::state::Hash>| h.map(|h| widen(short(&h)));
            for side in Side::BOTH {
                for key in &keys[side.idx()].json {
                    // In layout 3, a (its sides agree, each field its own
                    // base) is compact: its row hash alone.
                    let compact = layout == Layout::V3 && *key == keys[0].json[0];
                    for field in ["v", "w"] {
                        let (want, got) = (&st, &read["e"]);
                        if compact {
                            assert_eq!(got.field_hash(side, key, field), None, "{key} {field}");
                            assert_eq!(got.base(side, key, field), None, "{key} {field}");
                            continue;
                        }
                        assert_eq!(
                            got.field_hash(side, key, field),
                            cut(want.field_hash(side, key, field)),
                            "{key} {field}"
                        );
                        assert_eq!(
                            got.base(side, key, field),
                            cut(want.base(side, key, field)),
                            "{key} {field}"
                        );
                    }
                    let (i, j) = (st.sides[side.idx()].find(key), read["e"].sides[side.idx()].find(key));
                    let row_hash = |s: &SideState, i: Option<usize>| i.and_then(|i| s.row_hash(i));
                    assert_eq!(
                        row_hash(&read["e"].sides[side.idx()], j),
                        row_hash(&st.sides[side.idx()], i),
                        "{key}"
                    );
                }
            }
            assert_eq!(
                read["e"].base(Side::Right, &keys[1].json[2], "v"),
                Some(widen(&[5u8; FIELD_HASH_BYTES]))
            );
            // A file of a later format is refused, naming the file and format.
            let mut later = df.clone();
            let format: Vec<Option<&str>> = text("format").iter().map(|f| f.as_ref().map(|_| "4")).collect();
            later
                .with_column(Column::new("format".into(), format))
                .unwrap_or_else(|e| panic!("{e}"));
            let mut file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
            ParquetWriter::new(&mut file)
                .finish(&mut later)
                .unwrap_or_else(|e| panic!("{e}"));
            let err = read_state(dir.path()).expect_err("an error");
            assert!(
                err.to_string().contains(STATE_FILE) && err.to_string().contains("format 4"),
                "{err}"
            );
        }
    }
}
