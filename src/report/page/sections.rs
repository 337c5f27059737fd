//! The sections of report.html, top to bottom: header and verdict,
//! entities and coverage, trends, counts by kind and field, rules,
//! masking, repairs, the findings of each kind, column metrics, inputs.
//! Each writes its HTML into the page; numbers a reader (or a test) looks
//! up carry a `data-k` key.

use std::fmt::Write;

use serde_json::Value;

use super::chart::{line_chart, Series};
use super::{escape, Findings, Page};

pub(super) fn text(v: &Value) -> String {
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

pub(super) fn header(h: &mut String, p: &Page<'_>) {
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

pub(super) fn entities(h: &mut String, s: &Value) {
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
pub(super) fn kinds(h: &mut String, s: &Value) {
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

pub(super) fn rules(h: &mut String, s: &Value) {
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

pub(super) fn masking(h: &mut String, f: &Findings) {
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

pub(super) fn repairs(h: &mut String, s: &Value) {
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

pub(super) fn trends(h: &mut String, p: &Page<'_>) {
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
pub(super) fn field_metrics(h: &mut String, p: &Page<'_>) {
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

pub(super) fn samples(h: &mut String, f: &Findings) {
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

pub(super) fn inputs(h: &mut String, s: &Value) {
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
