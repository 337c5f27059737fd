//! Large and wide pairs for benchmarks and scale tests: generated in chunks
//! (bounded memory) straight to Parquet, with a spec beside them.
//!
//! `large`: ~12 columns of text, integers, decimals, timestamps, a phone and
//! a free-text note, with 1% of keys drifted across every drift kind.
//! `wide`: `cols` mapped columns, with an exact ground truth.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Truth;
use crate::error::{Error, Result};

const CHUNK: usize = 500_000;

struct ChunkWriter {
    writer: polars::io::parquet::write::BatchedWriter<File>,
    path: PathBuf,
}

impl ChunkWriter {
    fn create(path: &Path, first: &DataFrame) -> Result<ChunkWriter> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let writer = ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .batched(first.schema())
            .map_err(|e| writing(path, e))?;
        Ok(ChunkWriter {
            writer,
            path: path.to_path_buf(),
        })
    }

    fn write(&mut self, df: &DataFrame) -> Result<()> {
        self.writer.write_batch(df).map_err(|e| writing(&self.path, e))
    }

    fn finish(self) -> Result<()> {
        self.writer.finish().map(|_| ()).map_err(|e| writing(&self.path, e))
    }
}

fn writing(path: &Path, e: PolarsError) -> Error {
    Error::polars(format!("writing {}", path.display()), e)
}

const LARGE_COLUMNS: [&str; 12] = [
    "id",
    "name",
    "phone",
    "amount",
    "qty",
    "status",
    "created_at",
    "updated_at",
    "city",
    "channel",
    "score",
    "note",
];

/// One generated row: Some(cells) per side, None when the row is absent.
fn large_row(rng: &mut ChaCha8Rng, i: u64) -> [Option<Vec<String>>; 2] {
    const CITIES: [&str; 6] = ["北京", "上海", "广州", "深圳", "杭州", "成都"];
    const NOTES: [&str; 4] = [
        "客户咨询账单，已解答",
        "Customer asked about the invoice; resolved",
        "回访 2026-11-24 10:00 完成",
        "订单号20261124083015123 已处理",
    ];
    let phone = format!(
        "1{}{:09}",
        rng.random_range(3..10u8),
        rng.random_range(0..1_000_000_000u64)
    );
    let cents: i64 = rng.random_range(0..10_000_000);
    let created = 1_763_856_000 + rng.random_range(0..86_400 * 30i64);
    let ts = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let note = if rng.random_range(0..1000) == 0 {
        format!("客户来电，电话{phone}。")
    } else {
        NOTES[(i % 4) as usize].to_string()
    };
    let row = vec![
        format!("K{i:010}"),
        format!("客户{}", i % 100_000),
        phone.clone(),
        format!("{}.{:02}", cents / 100, cents % 100),
        rng.random_range(0..500).to_string(),
        ["A", "I", "P"][(i % 3) as usize].to_string(),
        ts(created),
        ts(created + rng.random_range(0..86_400)),
        CITIES[(i % 6) as usize].to_string(),
        ["phone", "web", "wechat"][(i % 3) as usize].to_string(),
        rng.random_range(0..100).to_string(),
        note,
    ];
    let mut right = row.clone();
    right[2] = format!("+86 {} {} {}", &phone[..3], &phone[3..7], &phone[7..]);
    // 1% drift spread over the kinds: missing either side, mismatches, unconvertible.
    match rng.random_range(0..1000) {
        0 | 1 => return [Some(row), None],
        2 | 3 => return [None, Some(right)],
        4 => right[3] = format!("{}.{:02}", cents / 100 + 1, cents % 100),
        5 => right[4] = "9999".into(),
        6 => right[5] = "I".into(),
        7 => right[6] = ts(created + 3600),
        8 => right[3] = "n/a".into(),
        9 => right[8] = "南京".into(),
        _ => {}
    }
    [Some(row), Some(right)]
}

fn text_frame(columns: &[String], rows: &[Vec<String>]) -> Result<DataFrame> {
    let cols = columns
        .iter()
        .enumerate()
        .map(|(c, name)| {
            Column::new(
                name.as_str().into(),
                rows.iter().map(|r| r[c].as_str()).collect::<Vec<_>>(),
            )
        })
        .collect();
    DataFrame::new(rows.len(), cols).map_err(|e| Error::polars("building a generated chunk", e))
}

/// Writes `left.parquet`, `right.parquet` and `large.toml` with `rows` keys.
pub fn large(out: &Path, rows: u64, seed: u64) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let columns: Vec<String> = LARGE_COLUMNS.iter().map(|c| c.to_string()).collect();
    let mut writers: [Option<ChunkWriter>; 2] = [None, None];
    let mut i = 0u64;
    while i < rows {
        let n = CHUNK.min((rows - i) as usize);
        let mut sides: [Vec<Vec<String>>; 2] = [Vec::with_capacity(n), Vec::with_capacity(n)];
        for _ in 0..n {
            let [l, r] = large_row(&mut rng, i);
            sides[0].extend(l);
            sides[1].extend(r);
            i += 1;
        }
        for (s, name) in ["left.parquet", "right.parquet"].iter().enumerate() {
            let df = text_frame(&columns, &sides[s])?;
            if writers[s].is_none() {
                writers[s] = Some(ChunkWriter::create(&out.join(name), &df)?);
            }
            if let Some(w) = writers[s].as_mut() {
                w.write(&df)?;
            }
        }
    }
    for w in writers.into_iter().flatten() {
        w.finish()?;
    }
    let spec = out.join("large.toml");
    std::fs::write(&spec, LARGE_SPEC).map_err(|e| Error::io(&spec, e))
}

const LARGE_SPEC: &str = r#"# Benchmark pair written by `recon generate --large ROWS`.
[run]
name = "large"
timezone = "Asia/Shanghai"

[sides]
left = "callcenter"
right = "crm"

[[entity]]
name = "record"
key = ["id"]
authority = "right"
left = { path = "left.parquet", timezone = "UTC" }
right = { path = "right.parquet", timezone = "UTC" }

  [[entity.field]]
  name = "id"

  [[entity.field]]
  name = "name"
  normalize = ["trim"]

  [[entity.field]]
  name = "phone"
  normalize = ["trim", "phone_e164:CN"]
  pii = "cn_mobile"

  [[entity.field]]
  name = "amount"
  type = "decimal(18,2)"
  tolerance = { abs = 0.01 }

  [[entity.field]]
  name = "qty"
  type = "int"

  [[entity.field]]
  name = "status"
  map = { "A" = "active", "I" = "inactive", "P" = "pending" }

  [[entity.field]]
  name = "created_at"
  type = "timestamp"
  tolerance = { seconds = 1 }

  [[entity.field]]
  name = "updated_at"
  type = "timestamp"
  compare = false

  [[entity.field]]
  name = "city"

  [[entity.field]]
  name = "channel"

  [[entity.field]]
  name = "score"
  type = "int"

  [[entity.field]]
  name = "note"
  scan = true
  compare = false

  [[entity.rule]]
  id = "phone-required"
  check = "not_null"
  field = "phone"

  [[entity.rule]]
  id = "amount-non-negative"
  check = "range"
  field = "amount"
  min = "0"
"#;

/// Writes a pair with `cols` mapped columns (`left.csv`, `right.parquet`,
/// `wide.toml`) and returns the exact drift it holds.
pub fn wide(out: &Path, rows: usize, cols: usize, seed: u64) -> Result<Truth> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut truth = Truth::default();
    let names: Vec<String> = std::iter::once("id".to_string())
        .chain((0..cols).map(|c| format!("c{c:03}")))
        .collect();
    let mut left = Vec::with_capacity(rows);
    let mut right = Vec::with_capacity(rows);
    for i in 0..rows {
        let id = format!("W{i:06}");
        let mut l = vec![id.clone()];
        for c in 0..cols {
            l.push(match c % 3 {
                0 => format!("v{}", rng.random_range(0..1000)),
                1 => rng.random_range(-5000..5000).to_string(),
                _ => format!("{}.{:02}", rng.random_range(0..10_000), rng.random_range(0..100)),
            });
        }
        let mut r = l.clone();
        if i % 7 == 3 {
            let c = rng.random_range(0..cols);
            r[c + 1] = match c % 3 {
                0 => format!("{}x", l[c + 1]),
                1 => (l[c + 1].parse::<i64>().unwrap_or(0) + 1).to_string(),
                _ => format!(
                    "{}.00",
                    l[c + 1].split('.').next().unwrap_or("0").parse::<i64>().unwrap_or(0) + 1
                ),
            };
            let key = super::truth::key1("id", &id);
            truth.add("wide", "drift", "value_mismatch", "both", &key, Some(&names[c + 1]));
        }
        left.push(l);
        right.push(r);
    }
    let left_path = out.join("left.csv");
    let writing = |e: csv::Error| Error::csv(format!("writing {}", left_path.display()), e);
    let mut w = csv::Writer::from_path(&left_path).map_err(writing)?;
    w.write_record(&names).map_err(writing)?;
    for l in &left {
        w.write_record(l).map_err(writing)?;
    }
    w.flush().map_err(|e| Error::io(&left_path, e))?;
    let df = text_frame(&names, &right)?;
    crate::report::write_parquet(&out.join("right.parquet"), df.columns().to_vec(), right.len())?;
    let mut spec = String::from(
        "[run]\nname = \"wide\"\n[sides]\nleft = \"a\"\nright = \"b\"\n[[entity]]\nname = \"wide\"\nkey = [\"id\"]\nleft = { path = \"left.csv\" }\nright = { path = \"right.parquet\" }\n  [[entity.field]]\n  name = \"id\"\n",
    );
    for c in 0..cols {
        let ty = ["string", "int", "decimal(12,2)"][c % 3];
        spec.push_str(&format!(
            "  [[entity.field]]\n  name = \"c{c:03}\"\n  type = \"{ty}\"\n"
        ));
    }
    let path = out.join("wide.toml");
    std::fs::write(&path, spec).map_err(|e| Error::io(&path, e))?;
    Ok(truth)
}
