//! A sealed run read back for its page (`recon report RUN`): the sample of
//! findings.parquet, the signing key id from the manifest, and the run's
//! summary. Reads only; the run folder is never written.

use std::path::Path;

use polars::prelude::*;
use serde_json::Value;

use super::{Findings, Place, Sample};
use crate::error::{Error, Result};

/// The run's summary.json.
pub fn summary(run_dir: &Path) -> Result<Value> {
    let path = run_dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::input(&path, format!("is not valid JSON: {e}")))
}

/// The id of the key that signed the run (from manifest.json), if any.
pub fn key_id(run_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run_dir.join("manifest.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["predicate"]["signing_key_id"].as_str().map(String::from)
}

/// The first `per_kind` findings of each entity and kind of the run's
/// findings.parquet, and the counts of all of them.
pub fn sample(run_dir: &Path, per_kind: usize) -> Result<Findings> {
    let path = run_dir.join("findings.parquet");
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::input(&path, format!("cannot be read as Parquet: {e}")))?;
    let column = |name: &str| -> Result<StringChunked> {
        df.column(name)
            .and_then(|c| c.str().cloned())
            .map_err(|e| Error::input(&path, format!("column `{name}`: {e}")))
    };
    let names = [
        "entity",
        "category",
        "kind",
        "rule",
        "severity",
        "side",
        "key",
        "field",
        "left_value",
        "right_value",
        "detail",
    ];
    let cols: Vec<StringChunked> = names.iter().map(|n| column(n)).collect::<Result<_>>()?;
    let mut f = Findings::new(per_kind);
    for i in 0..df.height() {
        let get = |c: usize| cols[c].get(i);
        let owned = |c: usize| get(c).map(String::from);
        let place = Place {
            entity: get(0).unwrap_or_default(),
            category: get(1).unwrap_or_default(),
            kind: get(2).unwrap_or_default(),
            field: get(7),
            side: get(5).unwrap_or_default(),
        };
        f.count(place, || Sample {
            entity: owned(0).unwrap_or_default(),
            category: owned(1).unwrap_or_default(),
            kind: owned(2).unwrap_or_default(),
            rule: owned(3).unwrap_or_default(),
            severity: owned(4).unwrap_or_default(),
            side: owned(5).unwrap_or_default(),
            key: owned(6).unwrap_or_default(),
            field: owned(7),
            left_value: owned(8),
            right_value: owned(9),
            detail: owned(10).unwrap_or_default(),
        });
    }
    Ok(f)
}
