//! Running rules: every (rule, side) of an entity over its prepared cells,
//! in parallel, one finding per violating key ([`check`], [`Context`],
//! [`Outcome`]).

use std::collections::BTreeMap;

use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};
use rayon::prelude::*;

use super::{global, Baseline, RuleStats};
use crate::display::Display;
use crate::finding::{Category, Finding};
use crate::normalize::{order, set, FieldType, Value};
use crate::prepare::{Cell, PreparedSide, SideKeys};
use crate::spec::rule::{Check, Policy, References, Rule};
use crate::spec::{Entity, Field, Side};

/// What rules may read: every entity's prepared sides and keys, the run's
/// start time and the baseline run.
pub struct Context<'a> {
    pub entities: &'a [Entity],
    pub sides: &'a [[&'a PreparedSide; 2]],
    pub keys: &'a [[&'a SideKeys; 2]],
    pub display: &'a dyn Display,
    /// Run start time: `fresh` ages and `age(...)` are measured from it.
    pub clock: super::expr::Clock,
    pub baseline: &'a Baseline,
    /// Set when entities are checked one bucket at a time: rules that look
    /// across rows read the whole sides' facts from here.
    pub buckets: Option<global::Buckets<'a>>,
}

/// Findings and per-rule statistics of one entity.
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub rules: BTreeMap<String, RuleStats>,
}

/// Runs every rule of entity `e`, each (rule, side) in parallel.
pub fn check(ctx: &Context<'_>, e: usize) -> Outcome {
    let entity = &ctx.entities[e];
    let jobs: Vec<(usize, Side)> = entity
        .rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.sides.iter().map(move |&s| (i, s)))
        .collect();
    let results: Vec<(usize, Side, SideResult)> = jobs
        .par_iter()
        .map(|&(i, side)| (i, side, check_rule_side(ctx, e, &entity.rules[i], side)))
        .collect();
    let mut findings = Vec::new();
    let mut rules: BTreeMap<String, RuleStats> = BTreeMap::new();
    for rule in &entity.rules {
        rules.insert(rule.id.clone(), RuleStats::new(rule));
    }
    for (i, side, res) in results {
        let stats = rules.get_mut(&entity.rules[i].id).expect("stats for every rule");
        stats.add_side(side, &res);
        findings.extend(res.findings);
    }
    Outcome { findings, rules }
}

/// What one rule found on one side.
pub struct SideResult {
    pub findings: Vec<Finding>,
    /// Violating rows (several rows may share one finding when keys repeat).
    pub rows: usize,
    /// Rows the rule looked at (after `where`).
    pub checked: usize,
    /// Check-specific observations for summary.json (row counts, newest timestamp).
    pub observed: Option<serde_json::Value>,
}

struct Emitter<'a> {
    entity: &'a Entity,
    rule: &'a Rule,
    side: Side,
    keys: &'a SideKeys,
    display: &'a dyn Display,
    /// key → index into `out`, and rows folded into it.
    seen: HashMap<String, (usize, usize)>,
    out: Vec<Finding>,
    rows: usize,
}

impl Emitter<'_> {
    fn finding(&self, key: String, field: Option<usize>, value: Option<String>, detail: String) -> Finding {
        let (left_value, right_value) = match self.side {
            Side::Left => (value, None),
            Side::Right => (None, value),
        };
        Finding {
            entity: self.entity.name.clone(),
            category: Category::Quality,
            kind: self.rule.check.name().to_string(),
            rule: self.rule.id.clone(),
            severity: self.rule.severity,
            side: self.side.as_str(),
            key,
            field: field.map(|f| self.entity.fields[f].name.clone()),
            left_value,
            right_value,
            detail,
        }
    }

    /// One violating row; rows sharing a key fold into one finding.
    fn row(&mut self, row: usize, field: Option<usize>, value: Option<&Value>, detail: String) {
        self.rows += 1;
        if let Some((_, n)) = self.seen.get_mut(self.keys.json[row].as_str()) {
            *n += 1;
            return;
        }
        let key = self.keys.json[row].to_string();
        let shown = match (field, value) {
            (Some(f), Some(v)) => Some(self.display.value(self.entity, f, v)),
            _ => None,
        };
        let f = self.finding(key.clone(), field, shown, detail);
        self.seen.insert(key, (self.out.len(), 1));
        self.out.push(f);
    }

    /// A finding about the whole side (key `{}`).
    fn whole(&mut self, field: Option<usize>, value: Option<String>, detail: String) {
        self.rows += 1;
        let f = self.finding("{}".into(), field, value, detail);
        self.out.push(f);
    }

    fn finish(mut self) -> (Vec<Finding>, usize) {
        for (i, n) in self.seen.values() {
            if *n > 1 {
                self.out[*i].detail.push_str(&format!(" ({n} rows share this key)"));
            }
        }
        (self.out, self.rows)
    }
}

fn check_rule_side(ctx: &Context<'_>, e: usize, rule: &Rule, side: Side) -> SideResult {
    let entity = &ctx.entities[e];
    let s = ctx.sides[e][side.idx()];
    let mut needed: Vec<usize> = rule.fields.clone();
    if let Some(f) = &rule.filter {
        needed.extend(&f.fields);
    }
    let missing = needed.iter().any(|&f| !s.fields[f].present)
        || match &rule.check {
            Check::References(r) => match ctx.buckets {
                Some(b) => b
                    .global
                    .target(r.target, &r.to, r.on.target(side))
                    .is_none_or(|t| !t.present),
                None => {
                    let t = ctx.sides[r.target][r.on.target(side).idx()];
                    r.to.iter().any(|&f| !t.fields[f].present)
                }
            },
            _ => false,
        };
    if missing {
        // Reported once as schema/column_missing; the rule cannot run here.
        return SideResult {
            findings: Vec::new(),
            rows: 0,
            checked: 0,
            observed: Some(serde_json::json!({ "skipped": "a column it reads is missing" })),
        };
    }
    let rows: Vec<usize> = match &rule.filter {
        None => (0..s.rows).collect(),
        Some(f) => (0..s.rows).filter(|&r| f.eval(s, r, ctx.clock) == Some(true)).collect(),
    };
    let mut em = Emitter {
        entity,
        rule,
        side,
        keys: ctx.keys[e][side.idx()],
        display: ctx.display,
        seen: HashMap::default(),
        out: Vec::new(),
        rows: 0,
    };
    let mut observed = None;
    match &rule.check {
        Check::Unique => match ctx.buckets.filter(|_| !global::unique_is_local(entity, rule)) {
            Some(b) => match b.global.fact(e, rule_index(entity, rule), side) {
                Some(global::Fact::Counts(counts)) => unique_global(&mut em, s, &rows, counts),
                _ => unique(&mut em, s, &rows),
            },
            None => unique(&mut em, s, &rows),
        },
        Check::Expr(x) => {
            for &row in &rows {
                if x.eval(s, row, ctx.clock) == Some(false) {
                    let values = x
                        .fields
                        .iter()
                        .map(|&f| {
                            let shown = s
                                .cell(f, row)
                                .value()
                                .map_or_else(|| "null".to_string(), |v| ctx.display.value(entity, f, v));
                            format!("{}={shown}", entity.fields[f].name)
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    em.row(row, None, None, format!("`{}` is false ({values})", x.text));
                }
            }
        }
        Check::References(r) => references(ctx, &mut em, s, &rows, r),
        Check::Policy(p) => policy(ctx.display, &mut em, entity, s, &rows, p),
        // A finding about a whole side comes from one bucket only.
        Check::Fresh { .. } | Check::RowCount { .. } if ctx.buckets.is_some_and(|b| !b.first) => {}
        Check::Fresh { max_age_s, text } => {
            let f = rule.fields[0];
            let newest = match ctx
                .buckets
                .and_then(|b| b.global.fact(e, rule_index(entity, rule), side))
            {
                Some(global::Fact::Newest(n)) => *n,
                _ => rows
                    .iter()
                    .filter_map(|&row| match s.cell(f, row) {
                        Cell::Val(Value::Ts(t)) => Some(*t),
                        _ => None,
                    })
                    .max(),
            };
            let now = ctx.clock.now_micros();
            match newest {
                None => {
                    em.whole(
                        Some(f),
                        None,
                        format!("no `{}` timestamp to judge freshness by", entity.fields[f].name),
                    );
                    observed = Some(serde_json::json!({ "newest": null, "max_age_s": max_age_s }));
                }
                Some(t) => {
                    let age_s = (now - t.micros()).div_euclid(1_000_000);
                    let shown = Value::Ts(t);
                    if age_s > *max_age_s {
                        em.whole(
                            Some(f),
                            Some(ctx.display.value(entity, f, &shown)),
                            format!(
                                "newest `{}` is {} old, more than max_age {text}",
                                entity.fields[f].name,
                                human_age(age_s)
                            ),
                        );
                    }
                    observed = Some(serde_json::json!({
                        "newest": shown.display(),
                        "age_s": age_s,
                        "max_age_s": max_age_s,
                    }));
                }
            }
        }
        Check::RowCount { max_change } => {
            let now = ctx.buckets.map_or(s.rows, |b| b.global.rows(e, side));
            let base = ctx.baseline.rows(&entity.name, side);
            observed = Some(match (ctx.baseline.run_id.as_deref(), base) {
                (None, _) => serde_json::json!({
                    "rows": now, "baseline_rows": null, "status": "no baseline: first run",
                }),
                (Some(run), None) => serde_json::json!({
                    "rows": now, "baseline_rows": null,
                    "status": format!("no baseline: run {run} has no rows for this entity and side"),
                }),
                (Some(run), Some(b)) => {
                    let change = if b == 0 {
                        if now == 0 {
                            0.0
                        } else {
                            f64::INFINITY
                        }
                    } else {
                        (now as f64 - b as f64) / b as f64
                    };
                    let bad = change.abs() > *max_change;
                    if bad {
                        em.whole(
                            None,
                            Some(now.to_string()),
                            format!(
                                "{} side has {now} rows, baseline run {run} had {b} ({}, allowed ±{:.1}%)",
                                side.as_str(),
                                if change.is_finite() {
                                    format!("{:+.1}%", change * 100.0)
                                } else {
                                    "from none".to_string()
                                },
                                max_change * 100.0
                            ),
                        );
                    }
                    serde_json::json!({
                        "rows": now,
                        "baseline_rows": b,
                        "change": if change.is_finite() { serde_json::json!(change) } else { serde_json::Value::Null },
                        "status": if bad { "changed beyond max_change" } else { "ok" },
                    })
                }
            });
        }
        check => {
            let f = rule.fields[0];
            let field = &entity.fields[f];
            for &row in &rows {
                let cell = s.cell(f, row);
                let detail = match (check, cell) {
                    (_, Cell::Bad) => None,
                    (Check::NotNull, Cell::Null) => Some("value is null".to_string()),
                    (Check::NotNull, Cell::Val(Value::Str(v))) if v.is_empty() => Some("value is empty".to_string()),
                    (_, Cell::Null) => None,
                    (check, Cell::Val(v)) => violation(check, field, side, v),
                };
                if let Some(d) = detail {
                    em.row(row, Some(f), cell.value(), d);
                }
            }
        }
    }
    let (findings, violating) = em.finish();
    SideResult {
        findings,
        rows: violating,
        checked: rows.len(),
        observed,
    }
}

/// `policy`: each row's set holds only what its `by` value allows. A row
/// whose `by` value has no entry in the policy is reported as such; a null
/// or unconvertible set or `by` value is not judged (`not_null` says so).
fn policy(display: &dyn Display, em: &mut Emitter<'_>, entity: &Entity, s: &PreparedSide, rows: &[usize], p: &Policy) {
    let f = em.rule.fields[0];
    let by_name = &entity.fields[p.by].name;
    for &row in rows {
        let (Cell::Val(held), Cell::Val(by)) = (s.cell(f, row), s.cell(p.by, row)) else {
            continue;
        };
        let Value::Str(held) = held else { continue };
        let by_text = by.display();
        let shown = display.value(entity, p.by, by);
        let detail = match p.allowed.get(&by_text) {
            None => Some(format!("{by_name} `{shown}` has no entry in the policy")),
            Some(allowed) => {
                let outside: Vec<String> = set::elements(held)
                    .into_iter()
                    .filter(|e| !allowed.contains(e))
                    .collect();
                (!outside.is_empty()).then(|| {
                    if entity.fields[f].is_pii() {
                        format!("{by_name} `{shown}` may not hold {} of its elements", outside.len())
                    } else {
                        format!("{by_name} `{shown}` may not hold: {}", set::quoted(&outside))
                    }
                })
            }
        };
        if let Some(d) = detail {
            em.row(row, Some(f), Some(&Value::Str(held.clone())), d);
        }
    }
}

fn human_age(s: i64) -> String {
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else {
        format!("{m}m{}s", s % 60)
    }
}

fn unique(em: &mut Emitter<'_>, s: &PreparedSide, rows: &[usize]) {
    let fields = &em.rule.fields;
    let mut groups: HashMap<Vec<&Cell>, Vec<usize>> = HashMap::default();
    for &row in rows {
        let tuple: Vec<&Cell> = fields.iter().map(|&f| s.cell(f, row)).collect();
        if tuple.iter().any(|c| !matches!(c, Cell::Val(_))) {
            continue;
        }
        groups.entry(tuple).or_default().push(row);
    }
    let mut dup: Vec<(usize, usize)> = groups
        .values()
        .filter(|g| g.len() > 1)
        .flat_map(|g| g.iter().map(move |r| (*r, g.len())))
        .collect();
    dup.sort_unstable();
    let f = fields[0];
    for (row, n) in dup {
        em.row(
            row,
            Some(f),
            s.cell(f, row).value(),
            format!("value is shared by {n} rows"),
        );
    }
}

/// Index of `rule` among its entity's rules.
fn rule_index(entity: &Entity, rule: &Rule) -> usize {
    entity
        .rules
        .iter()
        .position(|r| std::ptr::eq(r, rule))
        .unwrap_or(usize::MAX)
}

/// `unique` against the whole side's tuple counts (bucketed runs).
fn unique_global(em: &mut Emitter<'_>, s: &PreparedSide, rows: &[usize], counts: &HashMap<u128, u32>) {
    let fields = em.rule.fields.clone();
    let f = fields[0];
    for &row in rows {
        let Some(tuple) = global::values(s, &fields, row) else {
            continue;
        };
        let n = counts.get(&global::tuple_hash(&tuple)).copied().unwrap_or(1);
        if n > 1 {
            em.row(
                row,
                Some(f),
                s.cell(f, row).value(),
                format!("value is shared by {n} rows"),
            );
        }
    }
}

fn references(ctx: &Context<'_>, em: &mut Emitter<'_>, s: &PreparedSide, rows: &[usize], r: &References) {
    let target_side = r.on.target(em.side);
    let target = &ctx.entities[r.target];
    let mut present: HashSet<Vec<&Value>> = HashSet::default();
    let global = ctx.buckets.and_then(|b| b.global.target(r.target, &r.to, target_side));
    if global.is_none() {
        let t = ctx.sides[r.target][target_side.idx()];
        present.reserve(t.rows);
        for row in 0..t.rows {
            let tuple: Option<Vec<&Value>> = r.to.iter().map(|&f| t.cell(f, row).value()).collect();
            if let Some(tuple) = tuple {
                present.insert(tuple);
            }
        }
    }
    let fields = em.rule.fields.clone();
    let to_names = r.to_names.join(", ");
    for &row in rows {
        let Some(tuple) = fields
            .iter()
            .map(|&f| s.cell(f, row).value())
            .collect::<Option<Vec<&Value>>>()
        else {
            continue; // a null (or unconvertible) reference points nowhere
        };
        let found = match global {
            Some(g) => g.tuples.contains(&global::tuple_hash(&tuple)),
            None => present.contains(&tuple),
        };
        if found {
            continue;
        }
        let detail = format!(
            "no `{}` row on the {} side has {} = {}",
            target.name,
            target_side.as_str(),
            to_names,
            fields
                .iter()
                .zip(&tuple)
                .map(|(&f, v)| em.display.value(em.entity, f, v))
                .collect::<Vec<_>>()
                .join(", ")
        );
        em.row(row, Some(fields[0]), Some(tuple[0]), detail);
    }
}

fn violation(check: &Check, field: &Field, side: Side, v: &Value) -> Option<String> {
    // Text is shown only where a check reads it or a message shows it:
    // rendering every value first (a decimal formatted per row) had been
    // most of a range rule's time.
    let text = || -> std::borrow::Cow<'_, str> {
        match v {
            Value::Str(s) => std::borrow::Cow::Borrowed(s.as_str()),
            other => std::borrow::Cow::Owned(other.display()),
        }
    };
    match check {
        Check::Pattern(re) => (!re.is_match(&text())).then(|| "value does not match the pattern".into()),
        // A set: every element must be allowed; the others are named
        // (unless the field is personal data).
        Check::Allowed(allowed) if matches!(field.ty[side.idx()], FieldType::Set { .. }) => {
            let outside: Vec<String> = set::elements(&text())
                .into_iter()
                .filter(|e| !allowed.contains(e))
                .collect();
            match (outside.is_empty(), field.is_pii()) {
                (true, _) => None,
                (false, true) => Some(format!("{} elements are not in the allowed set", outside.len())),
                (false, false) => Some(format!("not in the allowed set: {}", set::quoted(&outside))),
            }
        }
        Check::Allowed(set) => (!set.contains(text().as_ref())).then(|| "value is not in the allowed set".into()),
        Check::Length { min, max } => {
            let n = text().chars().count();
            let bad = min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m);
            bad.then(|| {
                format!(
                    "length {n} is outside [{}, {}]",
                    min.map_or("-".into(), |m| m.to_string()),
                    max.map_or("-".into(), |m| m.to_string())
                )
            })
        }
        Check::Range {
            min,
            max,
            min_exclusive,
            max_exclusive,
        } => {
            use std::cmp::Ordering::*;
            let (min, max) = (
                min.as_ref().map(|m| &m[side.idx()]),
                max.as_ref().map(|m| &m[side.idx()]),
            );
            let below = min.is_some_and(|m| match order(v, m) {
                Some(Less) => true,
                Some(Equal) => *min_exclusive,
                _ => false,
            });
            let above = max.is_some_and(|m| match order(v, m) {
                Some(Greater) => true,
                Some(Equal) => *max_exclusive,
                _ => false,
            });
            (below || above).then(|| {
                let bounds = format!(
                    "{}{}, {}{}",
                    if *min_exclusive { "(" } else { "[" },
                    min.map_or("-".into(), Value::display),
                    max.map_or("-".into(), Value::display),
                    if *max_exclusive { ")" } else { "]" },
                );
                if field.is_pii() {
                    format!("value is outside {bounds}")
                } else {
                    format!("{} is outside {bounds}", text())
                }
            })
        }
        Check::Valid(validator) => (!validator.is_valid(&text())).then(|| format!("not a valid {}", validator.name())),
        _ => None,
    }
}
