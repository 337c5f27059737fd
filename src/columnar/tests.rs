//! The working files: plain values, pages, codecs and dictionaries read back
//! as written.

use polars::prelude::*;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::write::{Descriptor, ParquetType};

use super::plain::{bit_pack, PAGE_BYTES};
use super::writer::Codec;
use super::*;
use crate::error::Error;

#[test]
fn working_files_are_plain_lz4_parquet_without_dictionaries() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("w.parquet");
    // Few distinct texts: polars' own writer would build a dictionary.
    let status = |i: usize| format!("status number {} of a few", i % 3);
    let schema = Schema::from_iter([Field::new("status".into(), DataType::String)]);
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut writer = WorkingWriter::new(file, &schema).unwrap_or_else(|e| panic!("{e}"));
    for (from, n) in [(0, 5000), (5000, 3000)] {
        let mut column = PlainColumn::default();
        (from..from + n).for_each(|i| push_plain(&mut column.values, status(i).as_bytes()));
        writer.write_plain(n, &mut [column]).unwrap_or_else(|e| panic!("{e}"));
    }
    writer.finish().unwrap_or_else(|e| panic!("{e}"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut reader = ParquetReader::new(file);
    let meta = reader.get_metadata().cloned().unwrap_or_else(|e| panic!("{e}"));
    let read = reader.finish().unwrap_or_else(|e| panic!("{e}"));
    let expected: Vec<String> = (0..8000).map(status).collect();
    assert!(read
        .equals(&DataFrame::new(8000, vec![Column::new("status".into(), expected)]).unwrap_or_else(|e| panic!("{e}"))));
    assert_eq!(meta.row_groups.len(), 2);
    for group in &meta.row_groups {
        for column in group.parquet_columns() {
            assert_eq!(column.compression(), Compression::Lz4Raw);
            assert_eq!(column.dictionary_page_offset(), None);
        }
    }
}

#[test]
fn a_column_lz4_barely_shrinks_is_stored_uncompressed_from_its_next_chunk() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("c.parquet");
    // Phone-like random digits (LZ4 keeps over 80% of them) beside
    // timestamps that share most of their text.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut digits = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        format!("1{:010}", state % 10_000_000_000)
    };
    let stamp = |i: usize| format!("2025-12-{:02} 0{}:00:00", 1 + i % 28, i % 10);
    let schema = Schema::from_iter([
        Field::new("phone".into(), DataType::String),
        Field::new("at".into(), DataType::String),
    ]);
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut writer = WorkingWriter::new(file, &schema).unwrap_or_else(|e| panic!("{e}"));
    let (mut phones, mut stamps) = (Vec::new(), Vec::new());
    for (from, n) in [(0, 20_000), (20_000, 20_000), (40_000, 7)] {
        let [mut p, mut t] = [PlainColumn::default(), PlainColumn::default()];
        for i in from..from + n {
            let phone = digits();
            push_plain(&mut p.values, phone.as_bytes());
            push_plain(&mut t.values, stamp(i).as_bytes());
            phones.push(phone);
            stamps.push(stamp(i));
        }
        writer.write_plain(n, &mut [p, t]).unwrap_or_else(|e| panic!("{e}"));
    }
    writer.finish().unwrap_or_else(|e| panic!("{e}"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut reader = ParquetReader::new(file);
    let meta = reader.get_metadata().cloned().unwrap_or_else(|e| panic!("{e}"));
    let read = reader.finish().unwrap_or_else(|e| panic!("{e}"));
    let expected = DataFrame::new(
        phones.len(),
        vec![Column::new("phone".into(), phones), Column::new("at".into(), stamps)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(read.equals(&expected));
    let codecs: Vec<Vec<Compression>> = meta
        .row_groups
        .iter()
        .map(|g| g.parquet_columns().iter().map(|c| c.compression()).collect())
        .collect();
    // The first chunk of each is compressed while its codec is learned.
    assert_eq!(
        codecs,
        vec![
            vec![Compression::Lz4Raw, Compression::Lz4Raw],
            vec![Compression::Uncompressed, Compression::Lz4Raw],
            vec![Compression::Uncompressed, Compression::Lz4Raw],
        ]
    );
}

#[test]
fn learned_codecs_keep_lz4_only_where_it_saves_a_third() {
    assert_eq!(Codec::learned(300, 199), Codec::Lz4);
    assert_eq!(Codec::learned(300, 200), Codec::Lz4);
    assert_eq!(Codec::learned(300, 201), Codec::Raw);
    assert_eq!(Codec::learned(10, 12), Codec::Raw);
    assert_eq!(Codec::learned(0, 1), Codec::Raw);
}

#[test]
fn plain_values_read_back_as_written_across_pages_and_row_groups() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("p.parquet");
    // Over three pages of text per row group, nulls and empty texts
    // among them, and a binary column without nulls.
    let text = |i: usize| match i % 7 {
        0 => None,
        1 => Some(String::new()),
        _ => Some(format!("value {i} of a column long enough for several pages")),
    };
    let expected = |from: usize, n: usize| -> DataFrame {
        let texts: Vec<Option<String>> = (from..from + n).map(text).collect();
        let bytes: Vec<Vec<u8>> = (from..from + n).map(|i| (i as u64).to_le_bytes().to_vec()).collect();
        DataFrame::new(n, vec![Column::new("t".into(), texts), Column::new("b".into(), bytes)])
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let columns = |from: usize, n: usize| -> [PlainColumn; 2] {
        let mut t = PlainColumn::default();
        let mut valid = polars_arrow::bitmap::MutableBitmap::new();
        let mut b = PlainColumn::default();
        for i in from..from + n {
            valid.push(text(i).is_some());
            if let Some(v) = text(i) {
                push_plain(&mut t.values, v.as_bytes());
            }
            push_plain(&mut b.values, &(i as u64).to_le_bytes());
        }
        t.validity = Some(valid.into());
        [t, b]
    };
    let schema = expected(0, 1).schema().clone();
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut writer = WorkingWriter::new(file, &schema).unwrap_or_else(|e| panic!("{e}"));
    for (from, n) in [(0, 100_000), (100_000, 1)] {
        let mut cols = columns(from, n);
        assert!(n == 1 || cols[0].values.len() > 3 * PAGE_BYTES);
        writer.write_plain(n, &mut cols).unwrap_or_else(|e| panic!("{e}"));
    }
    // Values that end before the rows they claim are refused.
    let [mut short, b] = columns(0, 10);
    short.values.truncate(short.values.len() - 1);
    assert!(writer.write_plain(10, &mut [short, b]).is_err());
    // A column leveled for its rows goes as one page, without a copy;
    // written for another number of rows, it is refused.
    let leveled = |n: usize| {
        let mut t = PlainColumn::leveled(n, 64).unwrap_or_else(|e| panic!("{e}"));
        let mut b = PlainColumn::default();
        for i in 100_001..100_001 + n {
            push_plain(&mut t.values, text(i).unwrap_or_default().as_bytes());
            push_plain(&mut b.values, &(i as u64).to_le_bytes());
        }
        [t, b]
    };
    assert!(writer.write_plain(2, &mut leveled(3)).is_err());
    let mut cols = leveled(3);
    writer.write_plain(3, &mut cols).unwrap_or_else(|e| panic!("{e}"));
    assert!(cols[0].values.is_empty(), "the leveled values were moved into the page");
    writer.finish().unwrap_or_else(|e| panic!("{e}"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let read = ParquetReader::new(file).finish().unwrap_or_else(|e| panic!("{e}"));
    let mut all = expected(0, 100_001);
    let last: Vec<Option<String>> = (100_001..100_004).map(|i| Some(text(i).unwrap_or_default())).collect();
    let last_bytes: Vec<Vec<u8>> = (100_001..100_004).map(|i| (i as u64).to_le_bytes().to_vec()).collect();
    let last = DataFrame::new(
        3,
        vec![Column::new("t".into(), last), Column::new("b".into(), last_bytes)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    all.vstack_mut(&last).unwrap_or_else(|e| panic!("{e}"));
    assert!(read.equals_missing(&all));
}

#[test]
fn pushed_values_are_paged_as_a_walk_over_them_would_page_them() {
    let schema = Schema::from_iter([Field::new("v".into(), DataType::Binary)]);
    let writer = WorkingWriter::new(Vec::new(), &schema).unwrap_or_else(|e| panic!("{e}"));
    let descriptor = Descriptor {
        primitive_type: match &writer.fields[0] {
            ParquetType::PrimitiveType(p) => p.clone(),
            other => panic!("{other:?}"),
        },
        max_def_level: 1,
        max_rep_level: 0,
    };
    // Values of varied sizes, some larger than a page, over several pages.
    let value = |i: usize| vec![(i % 251) as u8; if i % 1000 == 7 { PAGE_BYTES + 3 } else { i % 97 }];
    for rows in [1, 2, 20_000, 60_000] {
        let (mut pushed, mut walked) = (PlainColumn::default(), PlainColumn::default());
        for i in 0..rows {
            pushed.push(&value(i));
            push_plain(&mut walked.values, &value(i));
        }
        let a = pushed
            .pages(rows, &descriptor, Stored::Plain)
            .unwrap_or_else(|e| panic!("{e}"));
        let b = walked
            .pages(rows, &descriptor, Stored::Plain)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.len(), b.len(), "{rows} rows");
        assert!(rows < 20_000 || a.len() > 2, "{rows} rows in {} pages", a.len());
        for (a, b) in a.iter().zip(&b) {
            assert_eq!((a.buffer(), a.num_values()), (b.buffer(), b.num_values()));
        }
        // Pushed for other rows than written: refused.
        assert!(pushed.pages(rows + 1, &descriptor, Stored::Plain).is_err());
        pushed.clear();
        assert!(pushed.values.is_empty() && pushed.marks.is_empty() && pushed.pushed == 0);
    }
}

#[test]
fn bit_packed_runs_decode_as_written() {
    use polars_parquet::parquet::encoding::hybrid_rle::HybridRleDecoder;
    for bits in [1u32, 2, 3, 7, 8, 10, 13, 16, 31, 32] {
        for len in [1usize, 7, 8, 9, 64, 1000, 1030] {
            let max = if bits == 32 { u32::MAX } else { (1u32 << bits) - 1 };
            let values: Vec<u32> = (0..len as u64)
                .map(|i| (i.wrapping_mul(0x9E37_79B9) % (u64::from(max) + 1)) as u32)
                .collect();
            let mut out = Vec::new();
            bit_pack(&mut out, &values, bits);
            let decoded = HybridRleDecoder::new(&out, bits, len)
                .collect()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(decoded, values, "{bits} bits, {len} values");
        }
    }
}

#[test]
fn indexed_columns_check_their_indices_against_their_rows() {
    let schema = Schema::from_iter([Field::new("v".into(), DataType::String)]);
    let mut writer = WorkingWriter::new(Vec::new(), &schema).unwrap_or_else(|e| panic!("{e}"));
    let mut values = Vec::new();
    push_plain(&mut values, b"a");
    push_plain(&mut values, b"b");
    let dictionary = std::sync::Arc::new(Dictionary { values, len: 2 });
    let column = |indices: Vec<u32>, validity: Option<Vec<bool>>| {
        PlainColumn::indexed(dictionary.clone(), indices, validity.map(|v| v.into_iter().collect()))
    };
    // Too few or too many indices for the rows with a value, and an
    // index past the dictionary, are refused.
    assert!(writer.write_plain(3, &mut [column(vec![0, 1], None)]).is_err());
    assert!(writer
        .write_plain(3, &mut [column(vec![0, 1, 1], Some(vec![true, false, true]))])
        .is_err());
    assert!(writer.write_plain(2, &mut [column(vec![0, 2], None)]).is_err());
    assert!(writer
        .write_plain(3, &mut [column(vec![1, 0], Some(vec![true, false, true]))])
        .is_ok());
}

#[test]
fn a_file_without_rows_still_has_the_columns() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("w.parquet");
    let schema = Schema::from_iter([Field::new("key".into(), DataType::String)]);
    let mut writer = None;
    let open = || std::fs::File::create(&path).map_err(|e| Error::io(&path, e));
    opened(&mut writer, &schema, &[], open, |e| {
        Error::polars("opening a working file", e)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    writer
        .map(WorkingWriter::finish)
        .transpose()
        .unwrap_or_else(|e| panic!("{e}"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let read = ParquetReader::new(file).finish().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.height(), 0);
    assert_eq!(read.get_column_names(), ["key"]);
}

#[test]
fn sorted_and_fixed_columns_read_back_as_written_across_pages_and_row_groups() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("s.parquet");
    // Keys sharing their beginnings (some not: a shorter one, an empty
    // one, a null), pushed as the state pushes them or given with
    // validity; 16-byte values beside them.
    let key = |i: usize| match i % 11 {
        0 => None,
        // Only in the first page: a page with one stays plain.
        1 if i < 100 => Some(String::new()),
        2 => Some(format!("{}", i % 5)),
        _ => Some(format!("{{\"id\":\"K{i:010}\",\"part\":{}}}", i % 3)),
    };
    let hash = |i: usize| -> Vec<u8> { (0..16u8).map(|b| (i as u8).wrapping_mul(31).wrapping_add(b)).collect() };
    let schema = Schema::from_iter([
        Field::new("k".into(), DataType::String),
        Field::new("h".into(), DataType::Binary),
        Field::new("p".into(), DataType::String),
    ]);
    let storage = [Stored::Sorted, Stored::Fixed(16), Stored::Sorted];
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut writer = WorkingWriter::with_storage(file, &schema, &storage).unwrap_or_else(|e| panic!("{e}"));
    let groups = [(0, 90_000), (90_000, 1), (90_001, 7)];
    for (from, n) in groups {
        let mut k = PlainColumn::default();
        let mut valid = polars_arrow::bitmap::MutableBitmap::new();
        let (mut h, mut p) = (PlainColumn::default(), PlainColumn::default());
        for i in from..from + n {
            valid.push(key(i).is_some());
            if let Some(v) = key(i) {
                push_plain(&mut k.values, v.as_bytes());
            }
            h.push(&hash(i));
            p.push(format!("pushed {i:08}").as_bytes());
        }
        k.validity = Some(valid.into());
        assert!(n < 90_000 || k.values.len() > PAGE_BYTES && h.values.len() > PAGE_BYTES);
        writer.write_plain(n, &mut [k, h, p]).unwrap_or_else(|e| panic!("{e}"));
    }
    // A value of another width in a fixed column is refused.
    let mut h = PlainColumn::default();
    h.push(&[1u8; 15]);
    let (mut k, mut p) = (PlainColumn::default(), PlainColumn::default());
    k.push(b"a");
    p.push(b"b");
    assert!(writer.write_plain(1, &mut [k, h, p]).is_err());
    writer.finish().unwrap_or_else(|e| panic!("{e}"));

    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut reader = ParquetReader::new(file);
    let meta = reader.get_metadata().cloned().unwrap_or_else(|e| panic!("{e}"));
    let read = reader.finish().unwrap_or_else(|e| panic!("{e}"));
    let rows = 90_008;
    let keys: Vec<Option<String>> = (0..rows).map(key).collect();
    let hashes: Vec<Vec<u8>> = (0..rows).map(hash).collect();
    let pushed: Vec<String> = (0..rows).map(|i| format!("pushed {i:08}")).collect();
    let expected = DataFrame::new(
        rows,
        vec![
            Column::new("k".into(), keys),
            Column::new("h".into(), hashes),
            Column::new("p".into(), pushed),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(read.equals_missing(&expected));
    assert_eq!(meta.row_groups.len(), groups.len());
    for group in &meta.row_groups {
        let columns: Vec<_> = group.parquet_columns().iter().collect();
        use polars_parquet::parquet::schema::types::PhysicalType;
        assert_eq!(columns[0].compression(), Compression::Zstd);
        assert_eq!(columns[1].compression(), Compression::Uncompressed);
        assert_eq!(columns[1].physical_type(), PhysicalType::FixedLenByteArray(16));
        assert_eq!(columns[2].compression(), Compression::Zstd);
    }
    // Fixed storage is for binary columns only.
    assert!(WorkingWriter::with_storage(Vec::new(), &schema, &[Stored::Fixed(16)]).is_err());
}

#[test]
fn a_sorted_page_is_delta_encoded_unless_a_value_is_a_shorter_prefix_of_the_one_before() {
    use polars_parquet::parquet::encoding::Encoding;
    let schema = Schema::from_iter([Field::new("k".into(), DataType::String)]);
    let writer = WorkingWriter::with_storage(Vec::new(), &schema, &[Stored::Sorted]).unwrap_or_else(|e| panic!("{e}"));
    let descriptor = Descriptor {
        primitive_type: match &writer.fields[0] {
            ParquetType::PrimitiveType(p) => p.clone(),
            other => panic!("{other:?}"),
        },
        max_def_level: 1,
        max_rep_level: 0,
    };
    for (values, encoding) in [
        (vec!["100", "101", "11", "2"], Encoding::DeltaByteArray),
        (vec!["100", "100", "1000"], Encoding::DeltaByteArray),
        (vec!["100", "10"], Encoding::Plain),
        (vec!["a", ""], Encoding::Plain),
    ] {
        let mut column = PlainColumn::default();
        values.iter().for_each(|v| column.push(v.as_bytes()));
        let pages = column
            .pages(values.len(), &descriptor, Stored::Sorted)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].encoding(), encoding, "{values:?}");
    }
}

#[test]
fn copied_row_groups_are_the_bytes_their_writer_wrote() {
    let schema = Schema::from_iter([
        Field::new("s".into(), DataType::String),
        Field::new("k".into(), DataType::String),
        Field::new("h".into(), DataType::Binary),
    ]);
    let storage = [Stored::Lz4, Stored::Sorted, Stored::Fixed(16)];
    let batch = |from: usize, n: usize| -> [PlainColumn; 3] {
        let mut c: [PlainColumn; 3] = Default::default();
        for i in from..from + n {
            c[0].push(if i % 3 == 0 { b"both" } else { b"left" });
            c[1].push(format!("{{\"id\":\"K{i:010}\"}}").as_bytes());
            c[2].push(&[(i % 256) as u8; 16]);
        }
        c
    };
    // The bytes of a file written by `fill`.
    let written = |fill: &dyn Fn(&mut WorkingWriter<std::fs::File>)| -> Vec<u8> {
        let file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        let out = std::fs::File::create(file.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut w = WorkingWriter::with_storage(out, &schema, &storage).unwrap_or_else(|e| panic!("{e}"));
        fill(&mut w);
        w.finish().unwrap_or_else(|e| panic!("{e}"));
        std::fs::read(file.path()).unwrap_or_else(|e| panic!("{e}"))
    };
    let write = |groups: &'static [(usize, usize)]| {
        move |w: &mut WorkingWriter<std::fs::File>| {
            for &(from, n) in groups {
                w.write_plain(n, &mut batch(from, n)).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    };
    let whole = written(&write(&[(0, 70_000), (70_000, 5), (70_005, 40_000)]));
    let part = |groups: &'static [(usize, usize)]| written(&write(groups));
    let copied = written(&|w| {
        w.copy_row_groups(part(&[(0, 70_000), (70_000, 5)]))
            .unwrap_or_else(|e| panic!("{e}"));
        write(&[(70_005, 40_000)])(w);
    });
    assert!(whole == copied, "a copy differs from the file written whole");

    // Another schema, or a writer with learned codecs: refused.
    let other = Schema::from_iter([Field::new("s".into(), DataType::String)]);
    let mut w = WorkingWriter::with_storage(Vec::new(), &other, &[Stored::Lz4]).unwrap_or_else(|e| panic!("{e}"));
    assert!(w.copy_row_groups(part(&[(0, 10)])).is_err());
    let mut w = WorkingWriter::with_storage(Vec::new(), &schema, &[Stored::Plain]).unwrap_or_else(|e| panic!("{e}"));
    assert!(w.copy_row_groups(part(&[(0, 10)])).is_err());
    // Not Parquet at all: refused.
    let mut w = WorkingWriter::with_storage(Vec::new(), &schema, &storage).unwrap_or_else(|e| panic!("{e}"));
    assert!(w.copy_row_groups(b"not parquet".to_vec()).is_err());
}
