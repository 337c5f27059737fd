//! summary.json: counts per entity, category, kind, field, side and severity;
//! coverage; inputs; thresholds hit. Also the short human summary.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compare::Coverage;
use crate::finding::Finding;

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub total: usize,
    pub by_category: BTreeMap<String, usize>,
    pub by_kind: BTreeMap<String, usize>,
    pub by_field: BTreeMap<String, usize>,
    pub by_side: BTreeMap<String, usize>,
    pub by_severity: BTreeMap<String, usize>,
}

impl Counts {
    pub fn add(&mut self, f: &Finding) {
        self.total += 1;
        *self.by_category.entry(f.category.as_str().into()).or_default() += 1;
        *self
            .by_kind
            .entry(format!("{}.{}", f.category.as_str(), f.kind))
            .or_default() += 1;
        if let Some(field) = &f.field {
            *self.by_field.entry(field.clone()).or_default() += 1;
        }
        *self.by_side.entry(f.side.into()).or_default() += 1;
        *self.by_severity.entry(f.severity.as_str().into()).or_default() += 1;
    }
}

#[derive(Debug, Serialize)]
pub struct SideInfo {
    pub rows: usize,
    pub coverage: Coverage,
}

#[derive(Debug, Serialize)]
pub struct EntitySummary {
    pub left: SideInfo,
    pub right: SideInfo,
    pub matched: usize,
    pub drifted_keys: usize,
    pub drift_ratio: f64,
    pub counts: Counts,
    /// Column metrics and rule results (see `quality::metrics`).
    pub quality: crate::quality::QualitySummary,
    /// Who wins a difference in repairs, as repair `reason`s name it
    /// (`authority:<system>`, `latest`, `three_way`, `none`).
    pub authority: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    pub entity: String,
    pub side: String,
    /// Path relative to the spec file's folder (never absolute).
    pub path: String,
    pub format: String,
    pub sha256: String,
    pub size: u64,
    pub rows: usize,
    /// Physical type of each declared column as the file stores it
    /// (`utf8` for CSV, `json` for NDJSON, the Parquet type otherwise).
    pub columns: BTreeMap<String, String>,
    /// Each file read, when the source is more than its one local file (a
    /// folder, a glob, an object in a bucket, a compressed file): name
    /// (path relative to the spec's folder, or URL), size, SHA-256, and the
    /// store's ETag and version id. `sha256` above is then the SHA-256 of
    /// the `<sha256>  <name>` lines of these files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<crate::source::InputFile>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub run_id: String,
    pub tool: BTreeMap<String, String>,
    pub spec: BTreeMap<String, String>,
    pub sides: BTreeMap<String, String>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u128,
    pub exit_code: u8,
    pub status: String,
    pub thresholds_hit: Vec<String>,
    pub previous_run: Option<String>,
    /// The run that checks against the past (`row_count`) compared with, and why.
    pub baseline: super::BaselineInfo,
    pub totals: Counts,
    pub entities: BTreeMap<String, EntitySummary>,
    pub inputs: Vec<InputFile>,
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Id of the token key personal data was tokenized under (none when the
    /// spec has no personal data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_key_id: Option<String>,
    /// The token key differs from the previous run's: tokens and the ids of
    /// findings keyed by personal data changed, and change detection
    /// restarted (the previous state was not used).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub token_key_changed: bool,
}

/// The few lines a person reads on stderr after a run.
pub fn human_summary(s: &Summary, folder: &str) -> String {
    let mut out = String::new();
    let status = if s.exit_code == 0 { "PASS" } else { "FAIL" };
    out.push_str(&format!(
        "recon {} — {} finding(s) — {status}\n",
        s.run_id, s.totals.total
    ));
    if s.token_key_changed {
        out.push_str(&format!(
            "  WARNING: the token key (id {}) is not the previous run's: personal-data tokens and the ids of findings keyed by them changed, and change detection restarted (no three-way base tonight). If the key was not rotated on purpose, restore the previous token key.\n",
            s.token_key_id.as_deref().unwrap_or("?")
        ));
    }
    for (name, e) in &s.entities {
        let kinds: Vec<String> = e.counts.by_kind.iter().map(|(k, n)| format!("{k}={n}")).collect();
        out.push_str(&format!(
            "  {name}: {} left / {} right rows, {} matched, {} finding(s){}\n",
            e.left.rows,
            e.right.rows,
            e.matched,
            e.counts.total,
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        ));
        for (side, info) in [("left", &e.left), ("right", &e.right)] {
            let c = &info.coverage;
            out.push_str(&format!(
                "    coverage {side}: {} read = {} matched + {} missing on other side + {} duplicate key + {} paired with duplicate + {} null key + {} unconvertible key; {} field(s) compared per matched row\n",
                c.rows_read, c.rows_matched, c.rows_missing_other_side, c.rows_duplicate_key,
                c.rows_paired_with_duplicate, c.rows_null_key, c.rows_unconvertible_key,
                c.fields_compared_per_matched_row
            ));
        }
    }
    match &s.baseline.run_id {
        Some(id) => out.push_str(&format!("  baseline: {id} ({})\n", s.baseline.reason)),
        None => out.push_str(&format!("  baseline: {}\n", s.baseline.reason)),
    }
    for t in &s.thresholds_hit {
        out.push_str(&format!("  threshold hit: {t}\n"));
    }
    out.push_str(&format!("  run folder: {folder}\n"));
    out
}
