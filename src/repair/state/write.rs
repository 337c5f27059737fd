//! Writing state.parquet: [`StateWriter`] appends entity states a part at a
//! time, sorted by key, storing a right row equal to its left twin once;
//! [`StateSink`] runs it on a thread of its own.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use super::model::EntityState;
use super::{NONE, SAME};
use crate::error::{Error, Result};
use crate::evidence::{FileDigest, HashingWriter};
use crate::report::PlainColumn;
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
}

impl StateWriter {
    pub fn create(path: &Path) -> Result<StateWriter> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(StateWriter {
            path: path.to_path_buf(),
            file: HashingWriter::new(file),
            writer: None,
            batch: StateBatch::default(),
        })
    }

    fn internal(&self, e: PolarsError) -> Error {
        Error::polars(format!("writing {}", self.path.display()), e)
    }

    pub fn append(&mut self, entity: &str, st: &EntityState) -> Result<()> {
        let left = &st.sides[Side::Left.idx()];
        for side in Side::BOTH {
            let s = &st.sides[side.idx()];
            let w = s.width();
            // Right rows may point at their left twin when both sides hash
            // the same fields in the same order.
            let twins = side == Side::Right && w > 0 && s.slots == left.slots;
            let names: Vec<&str> = s.slots.iter().map(|&i| st.names[i as usize].as_str()).collect();
            let mut order: Vec<u32> = (0..s.keys.len() as u32).collect();
            order.par_sort_unstable_by(|&a, &b| s.keys[a as usize].cmp(&s.keys[b as usize]));
            let mut first = true;
            let mut hashes = Vec::with_capacity(16 * w);
            let mut bases = Vec::with_capacity(16 * w);
            for i in order {
                let i = i as usize;
                hashes.clear();
                bases.clear();
                for j in 0..w {
                    let h = s.hashes[i * w + j];
                    hashes.extend_from_slice(&h);
                    bases.extend_from_slice(&s.bases.get(i * w + j, h).unwrap_or(NONE));
                }
                // Where every base is the field's own hash (the sides agree), store none.
                if bases == hashes {
                    bases.clear();
                }
                let fields = first.then(|| names.join(","));
                first = false;
                let same = twins
                    && s.twin
                        .get(i)
                        .is_some_and(|&l| l != u32::MAX && s.same_row(i, left, l as usize));
                let (hashes, bases) = if same {
                    (SAME, &[][..])
                } else {
                    (&hashes[..], &bases[..])
                };
                self.batch
                    .push(entity, side.as_str(), &s.keys[i], hashes, bases, fields.as_deref());
                if self.batch.len >= STATE_BATCH || self.batch.bytes >= STATE_BATCH_BYTES {
                    self.flush()?;
                }
            }
        }
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
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.finish().map_err(|e| self.internal(e))?;
        }
        self.file.get_ref().sync_all().map_err(|e| Error::io(&self.path, e))?;
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

/// One batch of state rows, laid out as it is written: each column's
/// Parquet plain values (building polars columns first, then walking them
/// again to encode, cost the state's writer a third of its CPU). Its
/// buffers are kept from batch to batch.
#[derive(Default)]
pub(super) struct StateBatch {
    pub(super) len: usize,
    /// Bytes of keys, hashes and bases pushed so far.
    bytes: usize,
    /// `entity`, `side`, `key`, `hashes`, `bases` and `fields`.
    columns: [PlainColumn; 6],
    /// Which rows have `fields` (only a header row does).
    has_fields: crate::columnar::MutableBitmap,
}

/// The columns of `state.parquet`, in order.
fn state_schema() -> Schema {
    Schema::from_iter([
        Field::new("entity".into(), DataType::String),
        Field::new("side".into(), DataType::String),
        Field::new("key".into(), DataType::String),
        Field::new("hashes".into(), DataType::Binary),
        Field::new("bases".into(), DataType::Binary),
        Field::new("fields".into(), DataType::String),
    ])
}

impl StateBatch {
    pub(super) fn push(
        &mut self,
        entity: &str,
        side: &str,
        key: &str,
        hashes: &[u8],
        bases: &[u8],
        fields: Option<&str>,
    ) {
        self.len += 1;
        self.bytes += key.len() + hashes.len() + bases.len();
        let [e, s, k, h, b, f] = &mut self.columns;
        e.push(entity.as_bytes());
        s.push(side.as_bytes());
        k.push(key.as_bytes());
        h.push(hashes);
        b.push(bases);
        self.has_fields.push(fields.is_some());
        if let Some(fields) = fields {
            crate::report::push_plain(&mut f.values, fields.as_bytes());
        }
    }

    /// Writes the batch as one row group (nothing when it has no row) and
    /// empties it.
    fn write_to<W: std::io::Write>(&mut self, w: &mut crate::report::WorkingWriter<W>) -> PolarsResult<()> {
        if self.len > 0 {
            let has_fields = std::mem::take(&mut self.has_fields);
            self.columns[5].validity = Some(has_fields.into());
            w.write_plain(self.len, &mut self.columns)?;
        }
        for c in &mut self.columns {
            c.clear();
        }
        self.len = 0;
        self.bytes = 0;
        Ok(())
    }
}

/// Writes `batch` to `path` as one row group, the writer opened on `open`'s
/// file at the first batch (a state with no row is still a file with the
/// columns).
pub(super) fn write_batch<W: std::io::Write>(
    batch: &mut StateBatch,
    writer: &mut Option<crate::report::WorkingWriter<W>>,
    open: impl FnOnce() -> Result<W>,
    path: &Path,
) -> Result<()> {
    let internal = |e: PolarsError| Error::polars(format!("writing {}", path.display()), e);
    let w = crate::report::opened(writer, &state_schema(), open, internal)?;
    batch.write_to(w).map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyRing;
    use crate::normalize::Value;
    use crate::prepare::key::KeyIndex;
    use crate::prepare::Cell;
    use crate::repair::state::fingerprint::entity_state;
    use crate::repair::state::read::read_state;
    use crate::repair::state::testing::{one_side_state, prepared, spec, text};
    use crate::repair::state::STATE_FILE;

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
            assert_eq!(read[name].field_hash(Side::Right, &key, "v"), hash, "{name}");
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
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join(STATE_FILE);
        let mut writer = StateWriter::create(&path).unwrap_or_else(|e| panic!("{e}"));
        writer.append("e", &st).unwrap_or_else(|e| panic!("{e}"));
        writer.finish().unwrap_or_else(|e| panic!("{e}"));
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}")))
            .finish()
            .unwrap_or_else(|e| panic!("{e}"));
        let stored = df
            .column("hashes")
            .and_then(|c| c.binary().cloned())
            .unwrap_or_else(|e| panic!("{e}"));
        let same: Vec<bool> = (0..stored.len()).map(|i| stored.get(i) == Some(SAME)).collect();
        // Sorted by key per side: left a b c d, right a b c e; only a is
        // stored as its twin (b differs, c has its own base, e has none).
        assert_eq!(same, [false, false, false, false, true, false, false, false]);
        let read = read_state(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("a state");
        for side in Side::BOTH {
            for key in &keys[side.idx()].json {
                for field in ["v", "w"] {
                    let (want, got) = (&st, &read["e"]);
                    assert_eq!(
                        got.field_hash(side, key, field),
                        want.field_hash(side, key, field),
                        "{key} {field}"
                    );
                    assert_eq!(got.base(side, key, field), want.base(side, key, field), "{key} {field}");
                }
            }
        }
        assert_eq!(read["e"].base(Side::Right, &keys[1].json[2], "v"), Some([5u8; 16]));
        // A twin row whose left row is missing is refused, naming the file.
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
