//! Writes generated tables in each system's own export format: the call
//! center exports CSV (tickets in GBK), the CRM exports Parquet, NDJSON and a
//! UTF-8 CSV with a byte-order mark.

use std::path::Path;

use polars::prelude::*;

use super::{Table, Truth};
use crate::error::{Error, Result};

pub fn all(
    out: &Path,
    customers: &(Table, Table),
    calls: &(Table, Table),
    tickets: &(Table, Table),
    accounts: &(Table, Table),
    truth: &Truth,
) -> Result<()> {
    let cc = out.join("callcenter");
    let crm = out.join("crm");
    for d in [&cc, &crm] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    csv(&cc.join("customers.csv"), &customers.0, Encoding::Utf8)?;
    crm_parquet(
        &crm.join("contacts.parquet"),
        &customers.1,
        &["VIP__c"],
        &[],
        &["LastModifiedDate"],
    )?;
    csv(&cc.join("calls.csv"), &calls.0, Encoding::Utf8)?;
    ndjson(
        &crm.join("activities.ndjson"),
        &calls.1,
        &["Leg", "DurationSeconds"],
        &["NeedsTicket__c"],
    )?;
    csv(&cc.join("tickets.csv"), &tickets.0, Encoding::Gbk)?;
    csv(&crm.join("cases.csv"), &tickets.1, Encoding::Utf8Bom)?;
    csv(&cc.join("agents.csv"), &accounts.0, Encoding::Utf8)?;
    crm_parquet(
        &crm.join("users.parquet"),
        &accounts.1,
        &["IsActive"],
        &["PermissionSets"],
        &["LastLoginDate"],
    )?;
    let mut lines = String::new();
    for t in &truth.0 {
        lines.push_str(&serde_json::to_string(t).map_err(|e| Error::json("serializing the ground truth", e))?);
        lines.push('\n');
    }
    write_bytes(&out.join("ground_truth.jsonl"), lines.as_bytes())
}

#[derive(Clone, Copy)]
enum Encoding {
    Utf8,
    Utf8Bom,
    Gbk,
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

fn csv(path: &Path, t: &Table, enc: Encoding) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let writing = |e: csv::Error| Error::csv(format!("writing {}", path.display()), e);
    w.write_record(&t.columns).map_err(writing)?;
    for row in &t.rows {
        w.write_record(row.iter().map(|c| c.as_deref().unwrap_or("")))
            .map_err(writing)?;
    }
    let bytes = w.into_inner().map_err(|e| writing(csv::Error::from(e.into_error())))?;
    let bytes = match enc {
        Encoding::Utf8 => bytes,
        Encoding::Utf8Bom => [b"\xEF\xBB\xBF".as_slice(), &bytes].concat(),
        Encoding::Gbk => {
            let text = String::from_utf8_lossy(&bytes);
            encoding_rs::GBK.encode(&text).0.into_owned()
        }
    };
    write_bytes(path, &bytes)
}

fn ndjson(path: &Path, t: &Table, numeric: &[&str], boolean: &[&str]) -> Result<()> {
    let mut out = String::new();
    for row in &t.rows {
        let mut obj = serde_json::Map::new();
        for (name, cell) in t.columns.iter().zip(row) {
            let v = match cell {
                None => serde_json::Value::Null,
                Some(s) if numeric.contains(name) => s
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .unwrap_or_else(|_| serde_json::Value::String(s.clone())),
                Some(s) if boolean.contains(name) => match s.as_str() {
                    "true" => serde_json::Value::Bool(true),
                    "false" => serde_json::Value::Bool(false),
                    _ => serde_json::Value::String(s.clone()),
                },
                Some(s) => serde_json::Value::String(s.clone()),
            };
            obj.insert((*name).to_string(), v);
        }
        out.push_str(&serde_json::Value::Object(obj).to_string());
        out.push('\n');
    }
    write_bytes(path, out.as_bytes())
}

/// A column of `%Y-%m-%d %H:%M:%S` texts as a naive millisecond Datetime.
fn naive_datetime(name: &str, cells: &[Option<String>]) -> PolarsResult<Column> {
    let ms: Vec<Option<i64>> = cells
        .iter()
        .map(|c| {
            c.as_deref()
                .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok())
                .map(|t| t.and_utc().timestamp_millis())
        })
        .collect();
    Column::new(name.into(), ms).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
}

/// A CRM table in Parquet, typed as a CRM's export would type it: the
/// `booleans` columns Boolean, the `lists` columns lists of text (their
/// cells hold JSON arrays), the `datetimes` columns naive Datetimes, the
/// rest text.
fn crm_parquet(path: &Path, t: &Table, booleans: &[&str], lists: &[&str], datetimes: &[&str]) -> Result<()> {
    let building = |e: PolarsError| Error::polars(format!("building {}", path.display()), e);
    let mut cols = Vec::new();
    for (i, name) in t.columns.iter().enumerate() {
        let cells: Vec<Option<String>> = t.rows.iter().map(|r| r[i].clone()).collect();
        let col = if booleans.contains(name) {
            Column::new(
                (*name).into(),
                cells
                    .iter()
                    .map(|c| c.as_deref().map(|s| s == "true"))
                    .collect::<Vec<_>>(),
            )
        } else if lists.contains(name) {
            let lists: Vec<Series> = cells
                .iter()
                .map(|c| {
                    let items: Vec<String> = c
                        .as_deref()
                        .and_then(|s| serde_json::from_str(s).ok())
                        .unwrap_or_default();
                    Series::new(PlSmallStr::EMPTY, items)
                })
                .collect();
            Series::new((*name).into(), lists).into_column()
        } else if datetimes.contains(name) {
            naive_datetime(name, &cells).map_err(building)?
        } else {
            Column::new((*name).into(), cells)
        };
        cols.push(col);
    }
    crate::report::write_parquet(path, cols, t.rows.len())
}
