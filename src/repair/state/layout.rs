//! The columns of state.parquet in its layouts, as they are written
//! ([`StateBatch`]) and read back row by row ([`for_each_row`]). Layouts 2
//! and 3 have a `format` column; layout 1 (earlier builds) does not.
//!
//! Layout 3 has the columns of layout 2; a `both` row whose `field_hashes`
//! and `bases` are both empty is **compact**: the sides agreed on every
//! field, each field is its own base, and only the row hash is kept (the
//! field hashes are recovered from the next run's rows, `recover`).
//!
//! Layout 2: `entity`, `side` (`left`, `right` or `both`), `key`,
//! `row_hash` (16 bytes), `field_hashes` ([`FIELD_HASH_BYTES`] per field),
//! `bases` (empty: every base is the field's own hash; else per field a tag
//! byte, [`BASE_OWN`], [`BASE_NONE`] or [`BASE_HASH`] followed by the
//! base's [`FIELD_HASH_BYTES`]), `fields` and `format` (both set on header
//! rows only). Layout 1: `entity`, `side`, `key`, `hashes` (16 bytes per
//! field, or `=`), `bases` (16 bytes per field, or empty), `fields`.

use std::path::Path;

use polars::prelude::*;

use super::FIELD_HASH_BYTES;
use crate::error::{Error, Result};
use crate::report::{PlainColumn, Stored};
use crate::spec::Side;

/// The base is the field's own hash.
pub(super) const BASE_OWN: u8 = 0;
/// The field has no merge base.
pub(super) const BASE_NONE: u8 = 1;
/// The base's short hash follows.
pub(super) const BASE_HASH: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// Earlier builds: full field hashes per side.
    V1,
    /// Row hash and short field hashes, one `both` row for agreeing sides.
    V2,
    /// Layout 2 with compact `both` rows: a row hash and nothing else.
    V3,
}

impl Layout {
    /// The columns of the layout, in order.
    fn schema(self) -> Schema {
        let text = |n: &str| Field::new(n.into(), DataType::String);
        let bin = |n: &str| Field::new(n.into(), DataType::Binary);
        match self {
            Layout::V1 => Schema::from_iter([
                text("entity"),
                text("side"),
                text("key"),
                bin("hashes"),
                bin("bases"),
                text("fields"),
            ]),
            Layout::V2 | Layout::V3 => Schema::from_iter([
                text("entity"),
                text("side"),
                text("key"),
                bin("row_hash"),
                bin("field_hashes"),
                bin("bases"),
                text("fields"),
                text("format"),
            ]),
        }
    }

    /// How each column is laid out on disk, in the schema's order. Layout
    /// 3 stores its keys (sorted within each run of rows) as
    /// DELTA_BYTE_ARRAY with zstd and its row hashes as 16-byte
    /// fixed-length values: at 1M keys, 5.6 → 1.7 MB and 20.1 → 16.1 MB.
    /// Layouts 1 and 2 are written (by tests) plainly, as the builds that
    /// wrote them did. Any Parquet reader reads each the same.
    fn storage(self) -> Vec<Stored> {
        match self {
            Layout::V1 | Layout::V2 => Vec::new(),
            // No learned codecs: a merge copies the shards' files page
            // for page, and they must hold what one writer writes.
            Layout::V3 => vec![
                Stored::Lz4,
                Stored::Lz4,
                Stored::Sorted,
                Stored::Fixed(std::mem::size_of::<super::Hash>()),
                Stored::Lz4,
                Stored::Lz4,
                Stored::Lz4,
                Stored::Lz4,
            ],
        }
    }

    /// The value of the `format` column (None: layout 1 has none).
    pub(super) fn format(self) -> Option<&'static str> {
        match self {
            Layout::V1 => None,
            Layout::V2 => Some("2"),
            Layout::V3 => Some("3"),
        }
    }

    /// The layout of a file read into `df`: the one its `format` column
    /// names (one value, one this build knows), else 1.
    pub(super) fn of(path: &Path, df: &DataFrame) -> Result<Layout> {
        let Ok(format) = df.column("format") else {
            return Ok(Layout::V1);
        };
        let format = format
            .str()
            .map_err(|e| Error::input(path, format!("previous state has an unexpected shape: {e}")))?;
        let mut found = None;
        for f in format.iter().flatten() {
            let layout = match f {
                "2" => Layout::V2,
                "3" => Layout::V3,
                other => {
                    return Err(Error::input(
                        path,
                        format!("previous state is in format {other}, which this build of recon does not read"),
                    ))
                }
            };
            if found.is_some_and(|l| l != layout) {
                return Err(Error::input(path, "previous state mixes formats 2 and 3"));
            }
            found = Some(layout);
        }
        Ok(found.unwrap_or(Layout::V2))
    }
}

/// Which side(s) a stored row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoredSide {
    One(Side),
    /// Layouts 2 and 3: both sides have these fields, hashes and bases.
    Both,
}

impl StoredSide {
    fn as_str(self) -> &'static str {
        match self {
            StoredSide::One(s) => s.as_str(),
            StoredSide::Both => "both",
        }
    }

    /// The side whose run of rows (and `fields` header) the row is in: a
    /// `both` row is in the left's.
    pub(super) fn run(self) -> Side {
        match self {
            StoredSide::One(s) => s,
            StoredSide::Both => Side::Left,
        }
    }
}

/// One stored row of state.parquet, in any layout (`row_hash` is empty in
/// layout 1, `hashes` is `hashes` there and `field_hashes` in 2 and 3).
pub(super) struct StoredRow<'a> {
    pub(super) entity: &'a str,
    pub(super) side: StoredSide,
    pub(super) key: &'a str,
    pub(super) row_hash: &'a [u8],
    pub(super) hashes: &'a [u8],
    pub(super) bases: &'a [u8],
    pub(super) fields: Option<&'a str>,
}

/// Calls `each` on every row of `df` (a state file read whole or a slice
/// of one) in `layout`.
pub(super) fn for_each_row(
    path: &Path,
    df: &DataFrame,
    layout: Layout,
    mut each: impl FnMut(StoredRow<'_>) -> Result<()>,
) -> Result<()> {
    let bad = |e: PolarsError| Error::input(path, format!("previous state has an unexpected shape: {e}"));
    let text = |name: &str| -> Result<StringChunked> { df.column(name).and_then(|c| c.str().cloned()).map_err(bad) };
    let bin = |name: &str| -> Result<BinaryChunked> { df.column(name).and_then(|c| c.binary().cloned()).map_err(bad) };
    let (entity, side, key, fields) = (text("entity")?, text("side")?, text("key")?, text("fields")?);
    let (row_hash, hashes) = match layout {
        Layout::V1 => (None, bin("hashes")?),
        Layout::V2 | Layout::V3 => (Some(bin("row_hash")?), bin("field_hashes")?),
    };
    let bases = bin("bases")?;
    for i in 0..df.height() {
        let (Some(e), Some(s), Some(k)) = (entity.get(i), side.get(i), key.get(i)) else {
            continue;
        };
        let side = match (s, layout) {
            ("left", _) => StoredSide::One(Side::Left),
            ("right", _) => StoredSide::One(Side::Right),
            ("both", Layout::V2 | Layout::V3) => StoredSide::Both,
            _ => continue,
        };
        each(StoredRow {
            entity: e,
            side,
            key: k,
            row_hash: row_hash.as_ref().and_then(|r| r.get(i)).unwrap_or_default(),
            hashes: hashes.get(i).unwrap_or_default(),
            bases: bases.get(i).unwrap_or_default(),
            fields: fields.get(i),
        })?;
    }
    Ok(())
}

/// One batch of state rows in one layout, laid out as it is written: each
/// column's Parquet plain values (building polars columns first, then
/// walking them again to encode, cost the state's writer a third of its
/// CPU). Its buffers are kept from batch to batch.
pub(super) struct StateBatch {
    layout: Layout,
    pub(super) len: usize,
    /// Bytes of keys, hashes and bases pushed so far.
    pub(super) bytes: usize,
    /// The layout's columns, in order.
    columns: Vec<PlainColumn>,
    /// Which rows are header rows (`fields`, and `format` in layout 2).
    has_fields: crate::columnar::MutableBitmap,
    /// How the columns are stored ([`Layout::storage`]; tests store layout
    /// 3 plainly, as the builds before session 20 did).
    pub(super) storage: Vec<Stored>,
}

impl StateBatch {
    pub(super) fn new(layout: Layout) -> StateBatch {
        let n = layout.schema().len();
        StateBatch {
            layout,
            len: 0,
            bytes: 0,
            columns: (0..n).map(|_| PlainColumn::default()).collect(),
            has_fields: Default::default(),
            storage: layout.storage(),
        }
    }

    pub(super) fn layout(&self) -> Layout {
        self.layout
    }

    pub(super) fn push(&mut self, row: &StoredRow<'_>) {
        self.len += 1;
        self.bytes += row.key.len() + row.row_hash.len() + row.hashes.len() + row.bases.len();
        let c = &mut self.columns;
        c[0].push(row.entity.as_bytes());
        c[1].push(row.side.as_str().as_bytes());
        c[2].push(row.key.as_bytes());
        let rest = match self.layout {
            Layout::V1 => 3,
            Layout::V2 | Layout::V3 => {
                c[3].push(row.row_hash);
                4
            }
        };
        c[rest].push(row.hashes);
        c[rest + 1].push(row.bases);
        self.has_fields.push(row.fields.is_some());
        if let Some(fields) = row.fields {
            crate::report::push_plain(&mut c[rest + 2].values, fields.as_bytes());
            if let Some(format) = self.layout.format() {
                crate::report::push_plain(&mut c[rest + 3].values, format.as_bytes());
            }
        }
    }

    /// Writes the batch as one row group (nothing when it has no row) and
    /// empties it.
    fn write_to<W: std::io::Write>(&mut self, w: &mut crate::report::WorkingWriter<W>) -> PolarsResult<()> {
        if self.len > 0 {
            let has_fields: crate::columnar::Bitmap = std::mem::take(&mut self.has_fields).into();
            let headers = match self.layout {
                Layout::V1 => 5..6,
                Layout::V2 | Layout::V3 => 6..8,
            };
            for c in headers {
                self.columns[c].validity = Some(has_fields.clone());
            }
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
    let w = crate::report::opened(writer, &batch.layout.schema(), &batch.storage, open, internal)?;
    batch.write_to(w).map_err(internal)
}

/// The hash of field `n` stored at `FIELD_HASH_BYTES` per field, widened
/// with zeros to a [`super::Hash`].
pub(super) fn short_at(bytes: &[u8], n: usize) -> Option<super::Hash> {
    bytes
        .get(FIELD_HASH_BYTES * n..FIELD_HASH_BYTES * (n + 1))
        .map(super::hash::widen)
}
