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
mod sections;

use sections::{entities, field_metrics, header, inputs, kinds, masking, repairs, rules, samples, text, trends};

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
