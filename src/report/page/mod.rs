//! report.html: one self-contained page a person reads — the run's verdict,
//! per-entity counts and coverage, samples of each kind of finding, rules,
//! masking, repairs, and trends over the previous runs.
//!
//! One file, no network: inline CSS (print and dark-mode friendly), charts
//! as inline SVG (`chart`), no script, and a Content-Security-Policy that
//! forbids every fetch. Values appear only in the display form findings
//! carry (masked where personal). The page is rendered from summary.json's
//! values and a bounded sample of findings, so its size does not grow with
//! the number of findings.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

mod chart;
pub mod read;

use chart::{line_chart, Series};

/// The page's file name in a run folder.
pub const FILE: &str = "report.html";
/// Findings shown per entity and kind unless configured otherwise.
pub const DEFAULT_PER_KIND: usize = 100;
/// Earlier runs the trends show unless configured otherwise.
pub const DEFAULT_HISTORY: usize = 30;

/// One finding as the page shows it (the display values findings.parquet holds).
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub entity: String,
    pub category: String,
    pub kind: String,
    pub rule: String,
    pub severity: String,
    pub side: String,
    pub key: String,
    pub field: Option<String>,
    pub left_value: Option<String>,
    pub right_value: Option<String>,
    pub detail: String,
}

/// What the page needs of a run's findings: the first few of each entity
/// and kind, how many there are, and the masking findings counted by field.
/// Counting a finding allocates nothing; only the ones kept are copied.
#[derive(Debug, Default)]
pub struct Findings {
    per_kind: usize,
    /// One per (entity, category, kind), in the order first seen.
    groups: Vec<Group>,
    /// (entity, field, side, kind) → masking findings.
    masking: BTreeMap<(String, String, String, String), usize>,
}

#[derive(Debug)]
struct Group {
    entity: String,
    category: String,
    kind: String,
    count: usize,
    /// The first `per_kind` findings, in order.
    kept: Vec<Sample>,
}

/// The parts of a finding that place it in a group.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub entity: &'a str,
    pub category: &'a str,
    pub kind: &'a str,
    pub field: Option<&'a str>,
    pub side: &'a str,
}

impl Findings {
    pub fn new(per_kind: usize) -> Findings {
        Findings {
            per_kind,
            ..Findings::default()
        }
    }

    /// Counts the finding at `place`; `sample` makes its copy when the
    /// kind has fewer than `per_kind` kept yet.
    pub fn count(&mut self, place: Place<'_>, sample: impl FnOnce() -> Sample) {
        if place.category == "masking" {
            let key = (
                place.entity.to_string(),
                place.field.unwrap_or_default().to_string(),
                place.side.to_string(),
                place.kind.to_string(),
            );
            *self.masking.entry(key).or_default() += 1;
        }
        let found = self
            .groups
            .iter()
            .position(|g| g.kind == place.kind && g.entity == place.entity && g.category == place.category);
        let g = match found {
            Some(i) => &mut self.groups[i],
            None => {
                self.groups.push(Group {
                    entity: place.entity.to_string(),
                    category: place.category.to_string(),
                    kind: place.kind.to_string(),
                    count: 0,
                    kept: Vec::new(),
                });
                let last = self.groups.len() - 1;
                &mut self.groups[last]
            }
        };
        g.count += 1;
        if g.kept.len() < self.per_kind {
            g.kept.push(sample());
        }
    }

    /// Counts `f` and keeps it if its kind has fewer than `per_kind` yet.
    pub fn add(&mut self, f: Sample) {
        let (entity, category, kind, field, side) = (
            f.entity.clone(),
            f.category.clone(),
            f.kind.clone(),
            f.field.clone(),
            f.side.clone(),
        );
        let place = Place {
            entity: &entity,
            category: &category,
            kind: &kind,
            field: field.as_deref(),
            side: &side,
        };
        self.count(place, || f);
    }

    /// The groups by (entity, category.kind).
    fn sorted(&self) -> Vec<&Group> {
        let mut groups: Vec<&Group> = self.groups.iter().collect();
        groups.sort_by(|a, b| (&a.entity, &a.category, &a.kind).cmp(&(&b.entity, &b.category, &b.kind)));
        groups
    }
}

/// Everything the page is rendered from.
pub struct Page<'a> {
    /// Tonight's summary.json.
    pub summary: &'a Value,
    pub findings: &'a Findings,
    /// The summaries of earlier runs of the same reports folder, oldest first.
    pub history: &'a [Value],
    /// The id of the key that signs the run.
    pub key_id: Option<&'a str>,
}

/// The page's sample of `rows` (findings in findings.parquet's order).
pub fn sample_rows(rows: &[super::FindingRow<'_>], per_kind: usize) -> Findings {
    let mut f = Findings::new(per_kind);
    for r in rows {
        let x = r.finding;
        let place = Place {
            entity: &x.entity,
            category: x.category.as_str(),
            kind: &x.kind,
            field: x.field.as_deref(),
            side: x.side,
        };
        f.count(place, || Sample {
            entity: x.entity.clone(),
            category: x.category.as_str().to_string(),
            kind: x.kind.clone(),
            rule: x.rule.clone(),
            severity: x.severity.as_str().to_string(),
            side: x.side.to_string(),
            key: x.key.clone(),
            field: x.field.clone(),
            left_value: x.left_value.clone(),
            right_value: x.right_value.clone(),
            detail: x.detail.clone(),
        });
    }
    f
}

/// The summaries of the last `n` runs of the reports folder `out` that
/// finished before `before` (an RFC 3339 time; every run when `None`),
/// oldest first. A summary that cannot be read is left out of the trends.
pub fn history(out: &std::path::Path, before: Option<&str>, n: usize) -> Vec<Value> {
    let runs = super::previous_runs(out);
    let earlier: Vec<_> = runs
        .iter()
        .filter(|r| before.is_none_or(|b| r.finished_at.as_str() < b))
        .collect();
    earlier[earlier.len().saturating_sub(n)..]
        .iter()
        .filter_map(|r| {
            let text = std::fs::read_to_string(r.path.join("summary.json")).ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect()
}

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = include_str!("style.css");

/// The page, as one HTML document.
pub fn render(p: &Page<'_>) -> String {
    let s = p.summary;
    let run_id = text(&s["run_id"]);
    let mut h = String::with_capacity(64 << 10);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>recon {} — {}</title><style>{STYLE}</style></head><body>",
        escape(&run_id),
        escape(&text(&s["spec"]["name"]))
    );
    header(&mut h, p);
    entities(&mut h, s);
    trends(&mut h, p);
    kinds(&mut h, s);
    rules(&mut h, s);
    masking(&mut h, p.findings);
    repairs(&mut h, s);
    samples(&mut h, p.findings);
    field_metrics(&mut h, p);
    inputs(&mut h, s);
    h.push_str("<footer>Written by recon ");
    h.push_str(&escape(&text(&s["tool"]["version"])));
    h.push_str(" before the run folder was sealed: manifest.json and both signatures cover this page.</footer></body></html>\n");
    h
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// A count, or `–` where there is none (a rule that does not apply to a side).
fn count(v: &Value) -> String {
    match v {
        Value::Null => "–".to_string(),
        v => num(v).to_string(),
    }
}

/// A table cell a test (or a script) can find by `data-k`.
fn cell(h: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = write!(h, "<td data-k=\"{}\">{}</td>", escape(k), escape(&v.to_string()));
}

fn header(h: &mut String, p: &Page<'_>) {
    let s = p.summary;
    let passed = s["exit_code"].as_i64() == Some(0);
    let run_id = text(&s["run_id"]);
    let _ = write!(
        h,
        "<header><h1>recon run <code>{}</code> <span class=\"verdict {}\" data-k=\"status\">{}</span></h1>",
        escape(&run_id),
        if passed { "pass" } else { "fail" },
        if passed { "PASS" } else { "FAIL" }
    );
    h.push_str("<table class=\"facts\">");
    let mut row = |label: &str, k: &str, value: String| {
        let _ = write!(h, "<tr><th>{}</th>", escape(label));
        cell(h, k, value);
        h.push_str("</tr>");
    };
    row("spec", "spec.name", text(&s["spec"]["name"]));
    row("spec SHA-256", "spec.sha256", text(&s["spec"]["sha256"]));
    row(
        "systems",
        "sides",
        format!(
            "{} (left) ↔ {} (right)",
            text(&s["sides"]["left"]),
            text(&s["sides"]["right"])
        ),
    );
    row("started", "started_at", text(&s["started_at"]));
    row("duration", "duration_ms", format!("{} ms", num(&s["duration_ms"])));
    row("exit code", "exit_code", text(&s["exit_code"]));
    row("signing key id", "key_id", p.key_id.unwrap_or("—").to_string());
    row(
        "previous run",
        "previous_run",
        match &s["previous_run"] {
            Value::String(r) => r.clone(),
            _ => "none (the first run of its chain)".into(),
        },
    );
    row("findings", "totals.total", text(&s["totals"]["total"]));
    h.push_str("</table>");
    let hits = s["thresholds_hit"].as_array().cloned().unwrap_or_default();
    let _ = write!(
        h,
        "<h2>Thresholds hit <span class=\"count\" data-k=\"thresholds_hit\">{}</span></h2>",
        hits.len()
    );
    if hits.is_empty() {
        h.push_str("<p>None: no finding reached a failure threshold.</p>");
    } else {
        h.push_str("<ul class=\"hits\">");
        for t in &hits {
            let _ = write!(h, "<li>{}</li>", escape(&text(t)));
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<details class=\"verify\" open><summary>Verify this run</summary><pre>recon verify {id}          # from the reports folder; --chain for the whole chain\n\
         minisign -Vm {id}/manifest.json -p recon.pub\n\
         cd {id} &amp;&amp; jq -r '.subject[] | \"\\(.digest.sha256)  \\(.name)\"' manifest.json | sha256sum -c -</pre></details></header>",
        id = escape(&run_id)
    );
}

fn entities(h: &mut String, s: &Value) {
    let Some(entities) = s["entities"].as_object() else {
        return;
    };
    h.push_str("<section><h2>Entities</h2><table><thead><tr><th>entity</th><th>rows left</th><th>rows right</th><th>matched</th><th>drifted keys</th><th>drift ratio</th><th>findings</th><th>errors</th><th>warnings</th></tr></thead><tbody>");
    for (name, e) in entities {
        let _ = write!(h, "<tr><th>{}</th>", escape(name));
        cell(h, &format!("{name}.left.rows"), num(&e["left"]["rows"]));
        cell(h, &format!("{name}.right.rows"), num(&e["right"]["rows"]));
        cell(h, &format!("{name}.matched"), num(&e["matched"]));
        cell(h, &format!("{name}.drifted_keys"), num(&e["drifted_keys"]));
        cell(
            h,
            &format!("{name}.drift_ratio"),
            format!("{:.2}%", e["drift_ratio"].as_f64().unwrap_or(0.0) * 100.0),
        );
        cell(h, &format!("{name}.findings"), num(&e["counts"]["total"]));
        cell(h, &format!("{name}.errors"), num(&e["counts"]["by_severity"]["error"]));
        cell(
            h,
            &format!("{name}.warnings"),
            num(&e["counts"]["by_severity"]["warning"]),
        );
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    // The coverage identity: every row read is accounted for once.
    h.push_str("<h3>Coverage</h3><p class=\"note\">Every row read is matched, without a match on the other side, a duplicate key, paired with a duplicate, a null key or an unconvertible key.</p><table><thead><tr><th>entity</th><th>side</th><th>rows read</th><th>matched</th><th>missing other side</th><th>duplicate key</th><th>paired with duplicate</th><th>null key</th><th>unconvertible key</th><th>cells compared</th></tr></thead><tbody>");
    for (name, e) in entities {
        for side in ["left", "right"] {
            let c = &e[side]["coverage"];
            let _ = write!(h, "<tr><th>{}</th><td>{side}</td>", escape(name));
            for k in [
                "rows_read",
                "rows_matched",
                "rows_missing_other_side",
                "rows_duplicate_key",
                "rows_paired_with_duplicate",
                "rows_null_key",
                "rows_unconvertible_key",
                "cells_compared",
            ] {
                cell(h, &format!("{name}.{side}.{k}"), num(&c[k]));
            }
            h.push_str("</tr>");
        }
    }
    h.push_str("</tbody></table>");
    h.push_str("</section>");
}

/// Counts by kind and by field, one column per entity.
fn kinds(h: &mut String, s: &Value) {
    let Some(entities) = s["entities"].as_object() else {
        return;
    };
    h.push_str("<section><h2>Findings by kind and field</h2><div class=\"pair\">");
    for (what, by) in [("kind", "by_kind"), ("field", "by_field")] {
        let mut rows: Vec<String> = entities
            .values()
            .filter_map(|e| e["counts"][by].as_object())
            .flat_map(|m| m.keys().cloned())
            .collect();
        rows.sort();
        rows.dedup();
        let _ = write!(h, "<table class=\"matrix\"><thead><tr><th>{what}</th>");
        for name in entities.keys() {
            let _ = write!(h, "<th>{}</th>", escape(name));
        }
        h.push_str("</tr></thead><tbody>");
        for row in &rows {
            let _ = write!(h, "<tr><th>{}</th>", escape(row));
            for (name, e) in entities {
                match e["counts"][by].get(row) {
                    Some(n) => cell(h, &format!("{name}.{what}.{row}"), num(n)),
                    None => h.push_str("<td class=\"zero\"></td>"),
                }
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</div></section>");
}

fn rules(h: &mut String, s: &Value) {
    let Some(entities) = s["entities"].as_object() else {
        return;
    };
    h.push_str("<section><h2>Quality rules</h2><table><thead><tr><th>entity</th><th>rule</th><th>check</th><th>severity</th><th>rows checked (left / right)</th><th>violations left</th><th>violations right</th></tr></thead><tbody>");
    for (name, e) in entities {
        let Some(rules) = e["quality"]["rules"].as_object() else {
            continue;
        };
        for (id, r) in rules {
            let failed = num(&r["violations"]["left"]) + num(&r["violations"]["right"]) > 0;
            let _ = write!(
                h,
                "<tr class=\"{}\"><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td>",
                if failed { "failed" } else { "passed" },
                escape(name),
                escape(id),
                escape(&text(&r["check"])),
                escape(&text(&r["severity"])),
                count(&r["rows_checked"]["left"]),
                count(&r["rows_checked"]["right"])
            );
            // A rule that does not apply to a side has no count there.
            for side in ["left", "right"] {
                cell(h, &format!("{name}.rule.{id}.{side}"), count(&r["violations"][side]));
            }
            h.push_str("</tr>");
        }
    }
    h.push_str("</tbody></table></section>");
}

fn masking(h: &mut String, f: &Findings) {
    h.push_str("<section><h2>Masking</h2>");
    if f.masking.is_empty() {
        h.push_str("<p>No masking finding.</p></section>");
        return;
    }
    h.push_str("<table><thead><tr><th>entity</th><th>field</th><th>side</th><th>kind</th><th>findings</th></tr></thead><tbody>");
    for ((entity, field, side, kind), n) in &f.masking {
        let _ = write!(
            h,
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td>",
            escape(entity),
            escape(field),
            escape(side),
            escape(kind)
        );
        cell(h, &format!("{entity}.masking.{field}.{side}.{kind}"), n);
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></section>");
}

fn repairs(h: &mut String, s: &Value) {
    h.push_str("<section><h2>Repairs</h2>");
    let total = num(&s["repairs"]["total"]);
    let _ = write!(
        h,
        "<p><span data-k=\"repairs.total\">{total}</span> instruction(s) in repairs.parquet; a <em>review</em> is left for a person, never applied.</p>"
    );
    if let Some(by_entity) = s["repairs"]["by_entity"].as_object() {
        h.push_str(
            "<table><thead><tr><th>entity</th><th>authority</th><th>target</th><th>action</th><th>instructions</th></tr></thead><tbody>",
        );
        for (entity, targets) in by_entity {
            let Some(targets) = targets.as_object() else { continue };
            let authority = text(&s["entities"][entity]["authority"]);
            for (target, actions) in targets {
                let Some(actions) = actions.as_object() else { continue };
                for (action, n) in actions {
                    let _ = write!(
                        h,
                        "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td>",
                        escape(entity),
                        escape(&authority),
                        escape(target),
                        escape(action)
                    );
                    cell(h, &format!("{entity}.repairs.{target}.{action}"), num(n));
                    h.push_str("</tr>");
                }
            }
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");
}

fn trends(h: &mut String, p: &Page<'_>) {
    let mut runs: Vec<&Value> = p.history.iter().collect();
    runs.push(p.summary);
    let ids: Vec<String> = runs.iter().map(|r| text(&r["run_id"])).collect();
    let _ = write!(
        h,
        "<section><h2>Trends</h2><p class=\"note\">The last {} run(s) of this reports folder, tonight last.</p><div class=\"charts\">",
        runs.len()
    );
    let categories = ["drift", "quality", "masking", "schema"];
    let series: Vec<Series> = categories
        .iter()
        .map(|c| Series {
            name: (*c).to_string(),
            values: runs
                .iter()
                .map(|r| Some(r["totals"]["by_category"][*c].as_f64().unwrap_or(0.0)))
                .collect(),
        })
        .collect();
    h.push_str(&line_chart(
        "trend-findings",
        "Findings per category",
        &ids,
        &series,
        false,
    ));
    let mut names: Vec<String> = Vec::new();
    for r in &runs {
        if let Some(e) = r["entities"].as_object() {
            for n in e.keys() {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
    }
    let per_entity = |f: &dyn Fn(&Value) -> Option<f64>, suffix: &str| -> Vec<Series> {
        names
            .iter()
            .map(|n| Series {
                name: format!("{n}{suffix}"),
                values: runs.iter().map(|r| r["entities"].get(n).and_then(f)).collect(),
            })
            .collect()
    };
    let mut rows = per_entity(&|e| e["left"]["rows"].as_f64(), " left");
    rows.extend(per_entity(&|e| e["right"]["rows"].as_f64(), " right"));
    h.push_str(&line_chart("trend-rows", "Rows per side", &ids, &rows, false));
    let drift = per_entity(&|e| e["drift_ratio"].as_f64(), "");
    h.push_str(&line_chart("trend-drift", "Drift ratio per entity", &ids, &drift, true));
    let failed = vec![Series {
        name: "rules with violations".into(),
        values: runs.iter().map(|r| Some(failed_rules(r) as f64)).collect(),
    }];
    h.push_str(&line_chart(
        "trend-rules",
        "Rules with violations",
        &ids,
        &failed,
        false,
    ));
    h.push_str("</div></section>");
}

/// Rules with at least one violation on either side, over all entities.
fn failed_rules(summary: &Value) -> usize {
    let Some(entities) = summary["entities"].as_object() else {
        return 0;
    };
    entities
        .values()
        .filter_map(|e| e["quality"]["rules"].as_object())
        .flat_map(|rules| rules.values())
        .filter(|r| num(&r["violations"]["left"]) + num(&r["violations"]["right"]) > 0)
        .count()
}

/// Tonight's null ratio and distinct count per field and side, with the
/// earlier runs' values as a compact series.
fn field_metrics(h: &mut String, p: &Page<'_>) {
    let mut runs: Vec<&Value> = p.history.iter().collect();
    runs.push(p.summary);
    let Some(entities) = p.summary["entities"].as_object() else {
        return;
    };
    h.push_str("<section><h2>Column metrics</h2><table><thead><tr><th>entity</th><th>field</th><th>side</th><th>null ratio</th><th>distinct</th><th>null ratio, earlier runs</th><th>distinct, earlier runs</th></tr></thead><tbody>");
    for (name, e) in entities {
        let Some(fields) = e["quality"]["fields"].as_object() else {
            continue;
        };
        for (field, sides) in fields {
            for side in ["left", "right"] {
                let m = &sides[side];
                if m.is_null() {
                    continue;
                }
                let earlier = |k: &str| -> String {
                    runs[..runs.len() - 1]
                        .iter()
                        .map(|r| match &r["entities"][name]["quality"]["fields"][field][side][k] {
                            Value::Null => "–".to_string(),
                            v if k == "null_rate" => format!("{:.3}", v.as_f64().unwrap_or(0.0)),
                            v => text(v),
                        })
                        .collect::<Vec<_>>()
                        .join(" · ")
                };
                let _ = write!(
                    h,
                    "<tr><th>{}</th><td>{}</td><td>{side}</td>",
                    escape(name),
                    escape(field)
                );
                cell(
                    h,
                    &format!("{name}.{field}.{side}.null_rate"),
                    format!("{:.3}", m["null_rate"].as_f64().unwrap_or(0.0)),
                );
                cell(
                    h,
                    &format!("{name}.{field}.{side}.distinct"),
                    text(&m["distinct_count"]),
                );
                let _ = write!(
                    h,
                    "<td class=\"series\">{}</td><td class=\"series\">{}</td></tr>",
                    escape(&earlier("null_rate")),
                    escape(&earlier("distinct_count"))
                );
            }
        }
    }
    h.push_str("</tbody></table></section>");
}

fn samples(h: &mut String, f: &Findings) {
    h.push_str("<section><h2>Findings</h2>");
    if f.groups.is_empty() {
        h.push_str("<p>No finding.</p></section>");
        return;
    }
    for g in f.sorted() {
        let (entity, kept, total) = (&g.entity, &g.kept, g.count);
        let kind = format!("{}.{}", g.category, g.kind);
        let kind = &kind;
        let bare_kind = kind.split_once('.').map_or(kind.as_str(), |(_, k)| k);
        let _ = write!(
            h,
            "<details class=\"sample\" open><summary><strong>{}</strong> {} <span class=\"count\" data-k=\"{}.sample.{}\">{total}</span></summary>",
            escape(entity),
            escape(kind),
            escape(entity),
            escape(kind)
        );
        h.push_str("<table><thead><tr><th>key</th><th>field</th><th>side</th><th>left</th><th>right</th><th>rule</th><th>severity</th><th>detail</th></tr></thead><tbody>");
        for s in kept {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.key),
                escape(s.field.as_deref().unwrap_or("")),
                escape(&s.side),
                escape(s.left_value.as_deref().unwrap_or("")),
                escape(s.right_value.as_deref().unwrap_or("")),
                escape(&s.rule),
                escape(&s.severity),
                escape(&s.detail)
            );
        }
        h.push_str("</tbody></table>");
        if total > kept.len() {
            let _ = write!(
                h,
                "<p class=\"more\">{} more; all of them: <code>duckdb -c \"SELECT * FROM 'findings.parquet' WHERE entity = '{}' AND kind = '{}'\"</code></p>",
                total - kept.len(),
                escape(&entity.replace('\'', "''")),
                escape(&bare_kind.replace('\'', "''"))
            );
        }
        h.push_str("</details>");
    }
    h.push_str("</section>");
}

fn inputs(h: &mut String, s: &Value) {
    let Some(inputs) = s["inputs"].as_array() else { return };
    h.push_str("<section><h2>Inputs</h2><table><thead><tr><th>entity</th><th>side</th><th>source</th><th>format</th><th>rows</th><th>bytes</th><th>SHA-256</th></tr></thead><tbody>");
    for i in inputs {
        let _ = write!(
            h,
            "<tr><th>{}</th><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code class=\"hash\">{}</code></td></tr>",
            escape(&text(&i["entity"])),
            escape(&text(&i["side"])),
            escape(&text(&i["path"])),
            escape(&text(&i["format"])),
            num(&i["rows"]),
            num(&i["size"]),
            escape(&text(&i["sha256"]))
        );
    }
    h.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere_it_is_shown() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let summary = serde_json::json!({
            "run_id": "r<1>",
            "spec": { "name": "<script>alert(1)</script>" },
            "exit_code": 1,
            "entities": {},
        });
        let mut f = Findings::new(2);
        for i in 0..5 {
            f.add(Sample {
                entity: "e".into(),
                category: "drift".into(),
                kind: "value_mismatch".into(),
                key: format!("{{\"id\":\"<k{i}>\"}}"),
                ..Sample::default()
            });
        }
        let html = render(&Page {
            summary: &summary,
            findings: &f,
            history: &[],
            key_id: Some("ABC"),
        });
        assert!(!html.contains("<script"), "no script, and no injected one");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Content-Security-Policy"));
        assert!(html.contains("3 more; all of them"));
        assert_eq!(
            html.matches("&lt;k0&gt;").count() + html.matches("&lt;k1&gt;").count(),
            2
        );
        assert!(!html.contains("&lt;k2&gt;"), "only the first two of the kind are shown");
        assert!(html.contains(r#"data-k="e.sample.drift.value_mismatch">5<"#));
    }

    #[test]
    fn a_million_findings_make_a_page_of_bounded_size() {
        let summary = serde_json::json!({ "run_id": "big", "exit_code": 1, "entities": {} });
        let mut f = Findings::new(DEFAULT_PER_KIND);
        let kinds = [
            "value_mismatch",
            "missing_left",
            "missing_right",
            "unconvertible",
            "duplicate_key",
        ];
        for i in 0..1_000_000 {
            f.add(Sample {
                entity: format!("e{}", i % 4),
                category: "drift".into(),
                kind: kinds[i % kinds.len()].into(),
                key: format!("{{\"id\":\"K{i:09}\"}}"),
                field: Some("amount".into()),
                left_value: Some(format!("{i}.00")),
                right_value: Some(format!("{}.50", i + 1)),
                detail: "differs by 1.50".into(),
                ..Sample::default()
            });
        }
        let html = render(&Page {
            summary: &summary,
            findings: &f,
            history: &[],
            key_id: None,
        });
        assert!(html.len() < 5 << 20, "{} bytes", html.len());
        assert_eq!(html.matches("<code>{&quot;id&quot;").count(), 20 * DEFAULT_PER_KIND);
        assert!(html.contains("49900 more; all of them"));
    }
}
