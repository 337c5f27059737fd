//! `quality_metrics.parquet`: the quality metrics of summary.json in long
//! form, one row per (entity, side, field or rule, metric), so trends across
//! runs can be charted with a query such as
//! `SELECT run_id, value FROM 'reports/*/quality_metrics.parquet' WHERE metric = 'null_rate'`.
//!
//! Columns (all strings): `run_id`, `entity`, `side`, `field` (null for
//! rule and entity rows), `rule` (null for field and entity rows), `metric`,
//! `value` (null when there is none, e.g. `min` of an all-null column).

use std::path::Path;

use polars::prelude::*;

use super::write_parquet;
use crate::error::Result;
use crate::quality::QualitySummary;

#[derive(Default)]
struct Long {
    entity: Vec<Option<String>>,
    side: Vec<Option<String>>,
    field: Vec<Option<String>>,
    rule: Vec<Option<String>>,
    metric: Vec<Option<String>>,
    value: Vec<Option<String>>,
}

impl Long {
    fn push(
        &mut self,
        entity: &str,
        side: &str,
        field: Option<&str>,
        rule: Option<&str>,
        metric: &str,
        value: Option<String>,
    ) {
        self.entity.push(Some(entity.to_string()));
        self.side.push(Some(side.to_string()));
        self.field.push(field.map(String::from));
        self.rule.push(rule.map(String::from));
        self.metric.push(Some(metric.to_string()));
        self.value.push(value);
    }
}

/// One entity's metrics: name, rows per side, quality summary.
pub struct EntityMetrics<'a> {
    pub entity: &'a str,
    pub rows: [usize; 2],
    pub quality: &'a QualitySummary,
}

pub fn write_quality_metrics(path: &Path, run_id: &str, entities: &[EntityMetrics<'_>]) -> Result<()> {
    let mut l = Long::default();
    for e in entities {
        for (side, rows) in ["left", "right"].iter().zip(e.rows) {
            l.push(e.entity, side, None, None, "rows", Some(rows.to_string()));
        }
        for (field, sides) in &e.quality.fields {
            for (side, s) in sides {
                let f = Some(field.as_str());
                l.push(e.entity, side, f, None, "null_count", Some(s.null_count.to_string()));
                l.push(e.entity, side, f, None, "null_rate", Some(s.null_rate.to_string()));
                l.push(e.entity, side, f, None, "bad_count", Some(s.bad_count.to_string()));
                l.push(
                    e.entity,
                    side,
                    f,
                    None,
                    "distinct_count",
                    Some(s.distinct_count.to_string()),
                );
                l.push(e.entity, side, f, None, "min", s.min.clone());
                l.push(e.entity, side, f, None, "max", s.max.clone());
            }
        }
        for (rule, r) in &e.quality.rules {
            for (side, n) in &r.violations {
                l.push(e.entity, side, None, Some(rule), "violations", Some(n.to_string()));
            }
            for (side, n) in &r.violating_rows {
                l.push(e.entity, side, None, Some(rule), "violating_rows", Some(n.to_string()));
            }
        }
    }
    let height = l.entity.len();
    let col = |name: &str, v: Vec<Option<String>>| Column::new(name.into(), v);
    let columns = vec![
        col("run_id", vec![Some(run_id.to_string()); height]),
        col("entity", l.entity),
        col("side", l.side),
        col("field", l.field),
        col("rule", l.rule),
        col("metric", l.metric),
        col("value", l.value),
    ];
    write_parquet(path, columns, height)
}
