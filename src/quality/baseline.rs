//! The baseline run's row counts: what a `row_count` rule measures each
//! side against. Which earlier run is the baseline, and reading its counts
//! from its summary.json, is `report`'s: it knows the run folders.

use std::collections::BTreeMap;

use crate::spec::Side;

/// The chosen baseline and the row counts it recorded.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub run_id: Option<String>,
    pub reason: String,
    /// entity → [left rows, right rows] as recorded in its summary.json.
    pub rows: BTreeMap<String, [Option<usize>; 2]>,
}

impl Baseline {
    pub fn none(reason: &str) -> Baseline {
        Baseline {
            run_id: None,
            reason: reason.to_string(),
            rows: BTreeMap::new(),
        }
    }

    pub fn rows(&self, entity: &str, side: Side) -> Option<usize> {
        self.rows.get(entity).and_then(|r| r[side.idx()])
    }
}
