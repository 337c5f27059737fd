//! Choosing the baseline run, the earlier run that checks comparing with
//! the past (`row_count`) measure against, and reading its row counts
//! into a [`Baseline`] (the type is `quality`'s, which reads it).
//!
//! It is the newest earlier run in the same reports folder that passed
//! (exit code 0), so a bad night that was later fixed and rerun never
//! becomes the yardstick; `--prev` overrides the choice. summary.json records
//! which run it was and why.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::PreviousRun;
use crate::error::{Error, Result};
use crate::quality::Baseline;

pub const REASON_PASSING: &str = "newest earlier passing run";
pub const REASON_PREV: &str = "--prev";
pub const REASON_NONE: &str = "none: first run";
pub const REASON_NONE_PASSING: &str = "none: no earlier run passed";

/// `"baseline"` in summary.json.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BaselineInfo {
    pub run_id: Option<String>,
    pub reason: String,
}

impl BaselineInfo {
    pub fn of(baseline: &Baseline) -> BaselineInfo {
        BaselineInfo {
            run_id: baseline.run_id.clone(),
            reason: baseline.reason.clone(),
        }
    }
}

/// Chooses the baseline among `history` (oldest first), or `prev`.
pub fn choose_baseline(history: &[PreviousRun], prev: Option<&Path>) -> Result<Baseline> {
    if let Some(p) = prev {
        return read(p, REASON_PREV);
    }
    match history.iter().rev().find(|r| r.exit_code == 0) {
        Some(r) => read(&r.path, REASON_PASSING),
        None if history.is_empty() => Ok(Baseline::none(REASON_NONE)),
        None => Ok(Baseline::none(REASON_NONE_PASSING)),
    }
}

/// Reads the row counts of the run folder `dir`.
fn read(dir: &Path, reason: &str) -> Result<Baseline> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::input(&path, format!("baseline summary.json is not valid JSON: {e}")))?;
    let run_id = v
        .get("run_id")
        .and_then(|r| r.as_str())
        .map(String::from)
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().to_string()));
    let mut rows = BTreeMap::new();
    if let Some(entities) = v.get("entities").and_then(|e| e.as_object()) {
        for (name, e) in entities {
            let side = |s: &str| {
                e.get(s)
                    .and_then(|x| x.get("rows"))
                    .and_then(|r| r.as_u64())
                    .map(|r| r as usize)
            };
            rows.insert(name.clone(), [side("left"), side("right")]);
        }
    }
    Ok(Baseline {
        run_id,
        reason: reason.to_string(),
        rows,
    })
}
