//! The end of a run: summary.json, type changes since the previous run,
//! the pass/fail decision and the evidence predicate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::evidence;
use crate::exit::ExitCode;
use crate::finding::{Category, Finding};
use crate::repair;
use crate::report::{self, EntitySummary, SideInfo, Summary};
use crate::spec::{Side, Spec};

use super::*;

/// summary.json: the summary plus `repairs` (counts per entity, target and
/// action) and `changes` (rows inserted/updated/deleted per entity and side
/// since the previous run; null without a previous state).
pub(super) fn summary_with_repairs(
    summary: &Summary,
    results: &[EntityResult],
    repairs: &[repair::Repair],
) -> Result<String> {
    let changes: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .map(|r| {
            let c = r
                .changes
                .as_ref()
                .map(|[l, rt]| serde_json::json!({ "left": l, "right": rt }));
            (r.name.clone(), c.unwrap_or(serde_json::Value::Null))
        })
        .collect();
    // Appended after the summary's own keys, keeping their order.
    let base = serde_json::to_string_pretty(summary).map_err(|e| Error::json("serializing summary.json", e))?;
    let body = base.trim_end().strip_suffix('}').unwrap_or(&base).trim_end();
    let mut out = body.to_string();
    for (name, value) in [
        ("repairs", repair::counts(repairs)),
        ("changes", serde_json::Value::Object(changes)),
    ] {
        let pretty = serde_json::to_string_pretty(&value)
            .map_err(|e| Error::json(format!("serializing `{name}` of summary.json"), e))?;
        out.push_str(&format!(",\n  \"{name}\": {}", pretty.replace('\n', "\n  ")));
    }
    out.push_str("\n}\n");
    Ok(out)
}

/// `schema/type_changed` for every declared column whose physical type differs
/// from the one the previous run's summary recorded for the same source.
pub(super) fn type_changes(spec: &Spec, previous: &Path, results: &mut [EntityResult]) {
    let Ok(text) = std::fs::read_to_string(previous.join("summary.json")) else {
        return;
    };
    let Ok(prev) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    let Some(inputs) = prev.get("inputs").and_then(|v| v.as_array()) else {
        return;
    };
    for r in results.iter_mut() {
        let Some(entity) = spec.entity(&r.name) else { continue };
        for side in Side::BOTH {
            let before = inputs
                .iter()
                .find(|i| i["entity"] == r.name.as_str() && i["side"] == side.as_str());
            let Some(before) = before.and_then(|i| i.get("columns")) else {
                continue;
            };
            for f in &entity.fields {
                let col = &f.columns[side.idx()];
                let (Some(old), Some(new)) = (
                    before.get(col).and_then(|v| v.as_str()),
                    r.inputs[side.idx()].physical_types.get(col),
                ) else {
                    continue;
                };
                if old != new {
                    r.findings.push(Finding {
                        entity: r.name.clone(),
                        category: Category::Schema,
                        kind: "type_changed".into(),
                        rule: f.name.clone(),
                        severity: entity.drift_severity("type_changed"),
                        side: side.as_str(),
                        key: "{}".into(),
                        field: Some(f.name.clone()),
                        left_value: None,
                        right_value: None,
                        detail: format!("column `{col}` changed type from {old} to {new} since the previous run"),
                    });
                }
            }
        }
    }
}

/// Exit 1 when a counted finding reaches `[fail] on`, or when an entity's
/// drift ratio exceeds `max_drift_ratio` (when set, drift is judged by ratio).
pub(super) fn decide(spec: &Spec, results: &[EntityResult]) -> (ExitCode, Vec<String>) {
    let mut hit = Vec::new();
    let silent: BTreeSet<(&str, &str)> = spec
        .entities
        .iter()
        .flat_map(|e| {
            e.rules
                .iter()
                .filter(|r| !r.fail)
                .map(move |r| (e.name.as_str(), r.id.as_str()))
        })
        .collect();
    for r in results {
        let rows = r.rows[0].max(r.rows[1]).max(1) as f64;
        let ratio = r.drifted_keys as f64 / rows;
        let mut counted = BTreeMap::<String, usize>::new();
        for f in &r.findings {
            // `fail = false` silences that quality rule only (a drift finding's
            // `rule` is a field name, which a rule id may equal).
            let silenced = f.category == Category::Quality && silent.contains(&(f.entity.as_str(), f.rule.as_str()));
            if f.severity < spec.fail.on || silenced {
                continue;
            }
            if f.category == Category::Drift && spec.fail.max_drift_ratio.is_some() {
                continue;
            }
            *counted
                .entry(format!("{}.{}", f.category.as_str(), f.kind))
                .or_default() += 1;
        }
        for (kind, n) in counted {
            hit.push(format!(
                "{}: {n} {kind} finding(s) at or above severity {}",
                r.name,
                spec.fail.on.as_str()
            ));
        }
        if let Some(max) = spec.fail.max_drift_ratio {
            if ratio > max {
                hit.push(format!(
                    "{}: drift ratio {ratio:.6} exceeds max_drift_ratio {max}",
                    r.name
                ));
            }
        }
    }
    let code = if hit.is_empty() { ExitCode::Ok } else { ExitCode::Failed };
    (code, hit)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn build_summary(
    spec: &Spec,
    run_id: &str,
    results: &[EntityResult],
    started: chrono::DateTime<chrono::Utc>,
    finished: chrono::DateTime<chrono::Utc>,
    clock: Instant,
    exit: ExitCode,
    thresholds_hit: Vec<String>,
    previous: Option<&Path>,
    baseline: report::BaselineInfo,
    metrics: BTreeMap<String, serde_json::Value>,
) -> Summary {
    let mut totals = report::summary::Counts::default();
    let mut entities = BTreeMap::new();
    let mut inputs = Vec::new();
    let spec_dir = spec.path.parent().unwrap_or(Path::new(""));
    for r in results {
        let mut counts = report::summary::Counts::default();
        for f in &r.findings {
            counts.add(f);
            totals.add(f);
        }
        let rows = r.rows[0].max(r.rows[1]).max(1) as f64;
        entities.insert(
            r.name.clone(),
            EntitySummary {
                left: SideInfo {
                    rows: r.rows[0],
                    coverage: r.coverage[0].clone(),
                },
                right: SideInfo {
                    rows: r.rows[1],
                    coverage: r.coverage[1].clone(),
                },
                matched: r.matched,
                drifted_keys: r.drifted_keys,
                drift_ratio: r.drifted_keys as f64 / rows,
                counts,
                quality: r.quality.clone(),
                authority: spec
                    .entity(&r.name)
                    .map(|e| e.authority.reason(&spec.sides))
                    .unwrap_or_default(),
            },
        );
        let entity = spec.entity(&r.name);
        for side in Side::BOTH {
            let m = &r.inputs[side.idx()];
            let files = listed_files(&m.path, &m.files, spec_dir);
            // Of the files as listed here, so it can be recomputed from them.
            let sha256 = if files.len() > 1 {
                crate::source::listing_sha256(&files)
            } else {
                m.sha256.clone()
            };
            inputs.push(report::summary::InputFile {
                entity: r.name.clone(),
                side: side.as_str().into(),
                path: relative(&m.path, spec_dir),
                format: entity
                    .map(|e| e.sources[side.idx()].format.as_str().to_string())
                    .unwrap_or_default(),
                sha256,
                size: m.size,
                rows: m.rows,
                columns: m.physical_types.clone(),
                files,
            });
        }
    }
    let mut tool = BTreeMap::new();
    tool.insert("name".into(), "recon".into());
    tool.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    let mut spec_info = BTreeMap::new();
    spec_info.insert("name".into(), spec.name.clone());
    spec_info.insert(
        "file".into(),
        spec.path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
    );
    spec_info.insert("sha256".into(), spec.sha256.clone());
    // As given on the command line; `recon apply` reads the spec from here.
    spec_info.insert("path".into(), spec.path.to_string_lossy().to_string());
    let mut sides = BTreeMap::new();
    sides.insert("left".into(), spec.sides[0].clone());
    sides.insert("right".into(), spec.sides[1].clone());
    Summary {
        run_id: run_id.to_string(),
        tool,
        spec: spec_info,
        sides,
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        finished_at: finished.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        duration_ms: clock.elapsed().as_millis(),
        exit_code: exit.code(),
        status: if exit == ExitCode::Ok {
            "passed".into()
        } else {
            "failed".into()
        },
        thresholds_hit,
        previous_run: previous
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string()),
        baseline,
        totals,
        entities,
        inputs,
        metrics,
        token_key_id: None,
        token_key_changed: false,
    }
}

/// The files of an input as the summary lists them: none for a source that
/// is its one plain local file (the input's own path and hash say it all).
fn listed_files(path: &Path, files: &[crate::source::InputFile], spec_dir: &Path) -> Vec<crate::source::InputFile> {
    if let [only] = files {
        if Path::new(&only.name) == path && only.etag.is_none() && only.version.is_none() {
            return Vec::new();
        }
    }
    files
        .iter()
        .map(|f| crate::source::InputFile {
            name: if crate::storage::is_url(&f.name) {
                f.name.clone()
            } else {
                relative(Path::new(&f.name), spec_dir)
            },
            ..f.clone()
        })
        .collect()
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

pub(super) fn predicate(spec: &Spec, s: &Summary, previous: Option<&Path>) -> Result<serde_json::Value> {
    let previous_manifest_sha256 = match previous {
        Some(p) => evidence::manifest_sha256(p)?,
        None => None,
    };
    let by_category: BTreeMap<&str, usize> = Category::ALL
        .iter()
        .map(|c| (c.as_str(), s.totals.by_category.get(c.as_str()).copied().unwrap_or(0)))
        .collect();
    Ok(serde_json::json!({
        "run_id": s.run_id,
        "tool": s.tool,
        "spec": { "name": spec.name, "file": s.spec.get("file"), "sha256": spec.sha256 },
        "inputs": s.inputs,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "exit_code": s.exit_code,
        "totals": { "findings": s.totals.total, "by_category": by_category },
        "previous_manifest_sha256": previous_manifest_sha256,
        "state_format": crate::repair::state::STATE_FORMAT,
    }))
}
