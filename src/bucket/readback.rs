//! Reading one bucket of both sides back, as if each were the whole file.

use polars::prelude::*;

use super::{First, Partitioned};
use crate::error::{Error, Result};
use crate::source::Loaded;
use crate::spec::Side;

impl Partitioned {
    /// Bucket `b` of both sides, as if each were the whole file: the frame
    /// holds that bucket's rows of `columns` (all present declared columns
    /// when None), in file order; the description is the whole file's.
    pub fn load(&self, b: usize, columns: Option<&[String]>) -> Result<[Loaded; 2]> {
        self.read(b, columns, false)
    }

    /// Bucket `b` of both sides, every present declared column, read for
    /// the last time: its spill files are removed once read, so that the
    /// spill shrinks while the change state grows (the disk holds about
    /// one of them at the peak, not both).
    pub fn take(&self, b: usize) -> Result<[Loaded; 2]> {
        self.read(b, None, true)
    }

    fn read(&self, b: usize, columns: Option<&[String]>, last: bool) -> Result<[Loaded; 2]> {
        let load = |side: Side| -> Result<Loaded> {
            let i = side.idx();
            let wanted: Vec<String> = match columns {
                None => self.present[i].clone(),
                Some(c) => c.iter().filter(|c| self.present[i].contains(c)).cloned().collect(),
            };
            let frame = match b {
                0 => self.first_bucket(side, &wanted, last)?,
                _ => self.spill(side, b, &wanted, last)?,
            };
            let frame = match frame {
                Some(frame) => frame,
                None => {
                    let cols: Vec<Column> = wanted
                        .iter()
                        .map(|n| Column::new_empty(n.as_str().into(), &DataType::String))
                        .collect();
                    DataFrame::new(0, cols).map_err(|e| Error::polars("building an empty bucket", e))?
                }
            };
            let m = &self.meta[i];
            Ok(Loaded {
                path: m.path.clone(),
                rows: frame.height(),
                frame,
                missing: m.missing.clone(),
                physical_types: m.physical_types.clone(),
                sha256: m.sha256.clone(),
                size: m.size,
                hash_micros: 0,
                files: m.files.clone(),
            })
        };
        Ok([load(Side::Left)?, load(Side::Right)?])
    }

    /// The `wanted` columns of one side's spill of bucket `b` (None when no
    /// row fell in it); the file is removed when `last`.
    fn spill(&self, side: Side, b: usize, wanted: &[String], last: bool) -> Result<Option<DataFrame>> {
        let Some(path) = &self.files[side.idx()][b] else {
            return Ok(None);
        };
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let frame = ParquetReader::new(file)
            .with_columns(Some(wanted.to_vec()))
            .finish()
            .map_err(|e| Error::polars(format!("reading spill {}", path.display()), e))?;
        if last {
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        }
        Ok(Some(frame))
    }

    /// The `wanted` columns of one side's first bucket (None when no row
    /// fell in it); taken out of memory when `last`.
    fn first_bucket(&self, side: Side, wanted: &[String], last: bool) -> Result<Option<DataFrame>> {
        let mut first = self.first[side.idx()]
            .lock()
            .map_err(|_| Error::Internal("a spill reader panicked".into()))?;
        let frame = match &*first {
            First::Kept(frame) => frame,
            First::Empty => return Ok(None),
            First::Taken => {
                return Err(Error::Internal(format!(
                    "bucket 0 of the {} side was read twice",
                    side.as_str()
                )))
            }
        };
        let frame = frame
            .select(wanted.iter().map(|c| c.as_str()))
            .map_err(|e| Error::polars("selecting the columns of the first bucket", e))?;
        if last {
            *first = First::Taken;
        }
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::super::partition;
    use crate::test_support::Plain;
    use std::path::Path;

    #[test]
    fn a_bucket_read_for_the_last_time_leaves_no_spill_behind() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let rows: String = (0..40).map(|i| format!("{i},v{i}\n")).collect();
        for side in ["l", "r"] {
            std::fs::write(dir.path().join(format!("{side}.csv")), format!("id,v\n{rows}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let text = format!(
            "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
             [[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = {{ path = \"{0}/l.csv\" }}\nright = {{ path = \"{0}/r.csv\" }}\n\
             [[entity.field]]\nname = \"id\"\ntype = \"int\"\n[[entity.field]]\nname = \"v\"\n",
            dir.path().display()
        );
        let spec = crate::spec::parse(Path::new("t.toml"), &text, String::new()).unwrap_or_else(|e| panic!("{e}"));
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap_or_else(|e| panic!("{e}"));
        let spills = || {
            std::fs::read_dir(&work)
                .map(|d| d.count())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        // A shard keeping bucket 1 alone reads back its rows and nothing else.
        let whole = partition(&spec.entities[0], 3, &work, &Plain, None).unwrap_or_else(|e| panic!("{e}"));
        let all: Vec<[crate::source::Loaded; 2]> = (0..3)
            .map(|b| whole.take(b).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(spills(), 0);
        let own = |b: usize| b == 1;
        let shard = partition(&spec.entities[0], 3, &work, &Plain, Some(&own)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spills(), 2, "bucket 1's two sides");
        for (b, whole) in all.iter().enumerate() {
            let [left, right] = shard.take(b).unwrap_or_else(|e| panic!("{e}"));
            match b {
                1 => {
                    assert!(left.frame.height() > 0);
                    assert!(left.frame.equals(&whole[0].frame) && right.frame.equals(&whole[1].frame));
                }
                _ => assert_eq!((left.frame.height(), right.frame.height()), (0, 0), "bucket {b}"),
            }
        }
        // The rows read are the whole side's, as the summary lists them.
        assert_eq!(shard.meta[0].rows, 40);
        let parts = partition(&spec.entities[0], 3, &work, &Plain, None).unwrap_or_else(|e| panic!("{e}"));
        // The first bucket stays in memory.
        assert_eq!(spills(), 4);
        let mut seen = 0;
        for b in 0..3 {
            // Read as often as needed (the global rule pass reads columns)...
            let some = parts
                .load(b, Some(&["v".to_string()]))
                .unwrap_or_else(|e| panic!("{e}"));
            // ...then once more for the bucket itself, which removes its files.
            let [left, right] = parts.take(b).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(left.frame.height(), some[0].frame.height());
            assert_eq!(left.frame.get_column_names(), ["id", "v"]);
            assert!(left.frame.equals(&right.frame));
            seen += left.frame.height();
            assert_eq!(spills(), 4 - 2 * b);
            // Taken, a bucket is gone.
            assert!(parts.load(b, None).is_err());
        }
        assert_eq!(seen, 40);
    }
}
