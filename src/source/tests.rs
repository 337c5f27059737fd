//! Every format streamed in chunks reads as the whole file does.

use super::*;

fn source(path: &Path, format: Format) -> Source {
    Source {
        path: path.to_path_buf(),
        location: crate::spec::Location::Local(path.to_path_buf()),
        storage: Default::default(),
        format,
        encoding: Encoding::Utf8,
        delimiter: b',',
        quote: b'"',
        timezone: chrono_tz::UTC,
        null_values: vec![String::new()],
        allow_empty: false,
        table: None,
    }
}

/// The chunks of a file, stacked, are the file as `load` reads it, and
/// the description (hash, size, types, missing columns) is the same.
fn chunks_equal_whole(src: &Source, columns: &[String]) {
    let whole = load(src, columns).unwrap();
    let mut parts: Vec<DataFrame> = Vec::new();
    let meta = for_each_chunk(src, columns, 7, |f| {
        // Parquet slices follow uniform row groups up to 4x the chunk.
        assert!(f.height() <= 4 * 7);
        parts.push(f);
        Ok(())
    })
    .unwrap();
    let mut stacked = parts[0].clone();
    for p in &parts[1..] {
        stacked.vstack_mut(p).unwrap();
    }
    assert!(stacked.equals_missing(&whole.frame));
    assert_eq!(
        (meta.rows, &meta.sha256, meta.size, &meta.physical_types, &meta.missing),
        (
            whole.rows,
            &whole.sha256,
            whole.size,
            &whole.physical_types,
            &whole.missing
        )
    );
}

#[test]
fn parquet_csv_and_ndjson_stream_in_chunks_equal_to_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let n = 50;
    let mut df = df!(
        "id" => (0..n).map(|i| format!("K{i:03}")).collect::<Vec<_>>(),
        "amount" => (0..n).map(|i| (i % 3 != 0).then_some(i as i64 * 7)).collect::<Vec<_>>(),
    )
    .unwrap();
    let pq = dir.path().join("x.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .with_row_group_size(Some(9))
        .finish(&mut df)
        .unwrap();
    let columns = vec!["id".to_string(), "amount".to_string(), "absent".to_string()];
    chunks_equal_whole(&source(&pq, Format::Parquet), &columns);
    let csv = dir.path().join("x.csv");
    let text: String = std::iter::once("id,amount\n".to_string())
        .chain((0..n).map(|i| format!("K{i:03},{}\n", i * 7)))
        .collect();
    std::fs::write(&csv, &text).unwrap();
    chunks_equal_whole(&source(&csv, Format::Csv), &columns);
    let bom = dir.path().join("bom.csv");
    std::fs::write(&bom, [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()).unwrap();
    chunks_equal_whole(&source(&bom, Format::Csv), &columns);
    let nd = dir.path().join("x.ndjson");
    let text: String = (0..n)
        .map(|i| format!("{{\"id\":\"K{i:03}\",\"amount\":{}}}\n", i * 7))
        .collect::<Vec<_>>()
        .join(if n % 2 == 0 { "\n" } else { "" });
    std::fs::write(&nd, text).unwrap();
    let src = source(&nd, Format::Ndjson);
    chunks_equal_whole(&src, &columns[..2]);
    // A declared column no record has: a null column in every chunk,
    // reported missing at the end, as by a whole read.
    let meta = for_each_chunk(&src, &columns, 7, |f| {
        assert_eq!(f.column("absent").unwrap().null_count(), f.height());
        Ok(())
    })
    .unwrap();
    assert_eq!(meta.missing, load(&src, &columns).unwrap().missing);
    assert_eq!(meta.missing, vec!["absent".to_string()]);
}

#[test]
fn streamed_errors_name_the_line_like_a_whole_read() {
    let dir = tempfile::tempdir().unwrap();
    let columns = vec!["id".to_string()];
    for (name, bytes, line, format) in [
        ("ragged.csv", b"id,v\n1,a\n2,b\n3,c,d\n".to_vec(), 4, Format::Csv),
        ("latin1.csv", b"id,v\n1,a\n2,b\n3,\xE9t\xE9\n".to_vec(), 4, Format::Csv),
        (
            "bad.ndjson",
            b"{\"id\":1}\n\n{\"id\":2}\n[1]\n".to_vec(),
            4,
            Format::Ndjson,
        ),
        (
            "latin1.ndjson",
            b"{\"id\":1}\n{\"id\":\"\xE9\"}\n".to_vec(),
            2,
            Format::Ndjson,
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let src = source(&path, format);
        let whole = load(&src, &columns).unwrap_err().to_string();
        let streamed = for_each_chunk(&src, &columns, 2, |_| Ok(())).unwrap_err().to_string();
        assert!(streamed.contains(&format!("{name}:{line}")), "{streamed}");
        assert!(whole.contains(&format!("{name}:{line}")), "{whole}");
    }
}

#[test]
fn an_allowed_empty_ndjson_or_zero_row_parquet_streams_as_it_loads() {
    let dir = tempfile::tempdir().unwrap();
    let columns = vec!["id".to_string(), "v".to_string()];
    for (name, text) in [("zero.ndjson", ""), ("blank.ndjson", "\n \n\n")] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut src = source(&path, Format::Ndjson);
        assert!(load(&src, &columns).is_err(), "{name}: an error unless allowed");
        src.allow_empty = true;
        chunks_equal_whole(&src, &columns);
        let whole = load(&src, &columns).unwrap();
        assert_eq!((whole.rows, whole.frame.height()), (0, 0), "{name}");
        assert_eq!(whole.frame.get_column_names(), ["id", "v"], "{name}");
        assert!(whole.missing.is_empty(), "{name}: {:?}", whole.missing);
        let types = column_types(&src, &columns).unwrap();
        assert_eq!(types, vec![("id".to_string(), None), ("v".to_string(), None)]);
    }
    let pq = dir.path().join("zero.parquet");
    let mut df = df!("id" => Vec::<String>::new(), "v" => Vec::<String>::new()).unwrap();
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    // allowed or not: a zero-row Parquet file holds its schema
    let src = source(&pq, Format::Parquet);
    chunks_equal_whole(&src, &columns);
    assert_eq!(load(&src, &columns).unwrap().rows, 0);
}
