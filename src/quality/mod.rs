//! Data-quality rules (`[[entity.rule]]`): compiling them from the spec and
//! checking every row of the declared side(s) after normalization.
//!
//! Each violating row is one finding (`category = "quality"`, `kind` = the
//! check). Rules look at prepared (typed) cells, so a rule on a decimal field
//! compares decimals, not text. Rules never read a source again: every rule
//! of every entity runs over the cells prepared once per side, and
//! `references` reads the other entity's prepared side.
//!
//! Rows sharing one key (duplicate keys) give one finding per rule, side and
//! key, so a finding id is never repeated within a run; the detail says how
//! many rows it stands for.

pub mod expr;
pub mod global;
pub mod metrics;

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};
use std::ops::Range;

use rayon::prelude::*;
use regex::Regex;

use crate::compare::{Display, SideKeys};
use crate::error::SpecError;
use crate::finding::{Category, Finding};
use crate::normalize::{FieldType, Value};
use crate::pii::Validator;
use crate::prepare::{Cell, PreparedSide};
use crate::report::Baseline;
use crate::spec::{Entity, Field, RuleSource, Severity, Side};
pub use expr::Expr;
pub use metrics::{FieldStats, QualitySummary, RuleStats};

pub const CHECKS: &[&str] = &[
    "not_null",
    "unique",
    "pattern",
    "range",
    "allowed",
    "length",
    "valid",
    "references",
    "fresh",
    "expr",
    "row_count",
];

/// Which side of the other entity a `references` rule looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Same,
    Other,
    Fixed(Side),
}

impl On {
    pub fn target(self, side: Side) -> Side {
        match self {
            On::Same => side,
            On::Other => side.other(),
            On::Fixed(s) => s,
        }
    }
}

#[derive(Debug, Clone)]
pub struct References {
    /// Name of the other entity, as written.
    pub entity: String,
    /// Index of the other entity (set by [`link_rules`]).
    pub target: usize,
    /// Field names in the other entity, as written.
    pub to_names: Vec<String>,
    /// Field indices in the other entity (set by [`link_rules`]).
    pub to: Vec<usize>,
    pub on: On,
}

#[derive(Debug, Clone)]
pub enum Check {
    NotNull,
    Unique,
    Pattern(Regex),
    Allowed(BTreeSet<String>),
    Length {
        min: Option<usize>,
        max: Option<usize>,
    },
    /// Bounds converted per side (naive timestamps read in each side's zone).
    Range {
        min: Option<[Value; 2]>,
        max: Option<[Value; 2]>,
        min_exclusive: bool,
        max_exclusive: bool,
    },
    Valid(Validator),
    Expr(Expr),
    References(References),
    /// Newest timestamp at most `max_age_s` seconds before the run start.
    Fresh {
        max_age_s: i64,
        text: String,
    },
    /// Row count within `max_change` (ratio) of the baseline run's.
    RowCount {
        max_change: f64,
    },
}

impl Check {
    pub fn name(&self) -> &'static str {
        match self {
            Check::NotNull => "not_null",
            Check::Unique => "unique",
            Check::Pattern(_) => "pattern",
            Check::Allowed(_) => "allowed",
            Check::Length { .. } => "length",
            Check::Range { .. } => "range",
            Check::Valid(_) => "valid",
            Check::Expr(_) => "expr",
            Check::References(_) => "references",
            Check::Fresh { .. } => "fresh",
            Check::RowCount { .. } => "row_count",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub check: Check,
    /// Field indices checked (several for `unique` and `references`; for
    /// `expr` every field the expression reads; none for `row_count`).
    pub fields: Vec<usize>,
    pub sides: Vec<Side>,
    pub severity: Severity,
    /// False: the rule reports but never fails the run.
    pub fail: bool,
    /// `where`: only rows where this is definitely true are checked.
    pub filter: Option<Expr>,
}

type ErrFn<'a> = dyn Fn(Range<usize>, String, Option<String>) -> SpecError + 'a;

/// How many fields a check takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    None,
    One,
    Many,
}

fn arity(check: &str) -> Arity {
    match check {
        "expr" | "row_count" => Arity::None,
        "unique" | "references" => Arity::Many,
        _ => Arity::One,
    }
}

/// Check-specific options each check accepts.
fn options_of(check: &str) -> &'static [&'static str] {
    match check {
        "pattern" => &["pattern"],
        "allowed" => &["values"],
        "length" => &["min", "max"],
        "range" => &["min", "max", "min_exclusive", "max_exclusive"],
        "valid" => &["validator", "allow_legacy"],
        "expr" => &["expr"],
        "references" => &["entity", "to", "to_fields", "on"],
        "fresh" => &["max_age"],
        "row_count" => &["max_change"],
        _ => &[],
    }
}

/// Where an option's value sits in `text`, or the rule id.
fn present_options(r: &RuleSource) -> Vec<(&'static str, Range<usize>)> {
    let mut out = Vec::new();
    macro_rules! opt {
        ($name:literal, $f:expr) => {
            if let Some(v) = &$f {
                out.push(($name, v.span()));
            }
        };
    }
    opt!("pattern", r.pattern);
    opt!("values", r.values);
    opt!("min", r.min);
    opt!("max", r.max);
    opt!("min_exclusive", r.min_exclusive);
    opt!("max_exclusive", r.max_exclusive);
    opt!("validator", r.validator);
    opt!("allow_legacy", r.allow_legacy);
    opt!("expr", r.expr);
    opt!("entity", r.entity);
    opt!("to", r.to);
    opt!("to_fields", r.to_fields);
    opt!("on", r.on);
    opt!("max_age", r.max_age);
    opt!("max_change", r.max_change);
    out
}

/// The byte range, in the spec text, of `inner` within the TOML string value
/// at `outer` whose content is `value`; `outer` when escapes make the
/// positions uncertain.
pub fn inner_span(text: &str, outer: Range<usize>, value: &str, inner: Range<usize>) -> Range<usize> {
    let raw = text.get(outer.clone()).unwrap_or("");
    for q in ["\"\"\"", "'''", "\"", "'"] {
        if let Some(rest) = raw.strip_prefix(q) {
            let mut skip = q.len();
            let mut rest = rest;
            if q.len() == 3 {
                if let Some(r) = rest.strip_prefix("\r\n") {
                    skip += 2;
                    rest = r;
                } else if let Some(r) = rest.strip_prefix('\n') {
                    skip += 1;
                    rest = r;
                }
            }
            if rest.starts_with(value) {
                let base = outer.start + skip;
                return base + inner.start..base + inner.end;
            }
            break;
        }
    }
    outer
}

impl Rule {
    /// Compiles one raw rule against its entity's fields. `text` is the
    /// spec text (for positions inside expressions); `err` builds a located
    /// spec error from a span of `text`, a message and an optional hint.
    pub fn compile(
        r: &RuleSource,
        fields: &[Field],
        text: &str,
        err: impl Fn(Range<usize>, String, Option<String>) -> SpecError,
    ) -> Result<Rule, SpecError> {
        let err: &ErrFn<'_> = &err;
        let id = r.id.get_ref();
        let check_name = r.check.get_ref().as_str();
        if !CHECKS.contains(&check_name) {
            return Err(err(
                r.check.span(),
                format!("rule `{id}`: unknown check `{check_name}`"),
                Some(format!("valid checks: {}", CHECKS.join(", "))),
            ));
        }
        let allowed = options_of(check_name);
        for (name, span) in present_options(r) {
            if !allowed.contains(&name) {
                return Err(err(
                    span,
                    format!("rule `{id}`: option `{name}` does not apply to check `{check_name}`"),
                    Some(if allowed.is_empty() {
                        format!("check `{check_name}` takes no options")
                    } else {
                        format!("check `{check_name}` takes: {}", allowed.join(", "))
                    }),
                ));
            }
        }
        let names: Vec<String> = match (arity(check_name), &r.field, &r.fields) {
            (_, Some(_), Some(f)) => {
                return Err(err(
                    f.span(),
                    format!("rule `{id}`: give `field` or `fields`, not both"),
                    None,
                ))
            }
            (Arity::None, Some(_), _) | (Arity::None, _, Some(_)) => {
                let span = r
                    .field
                    .as_ref()
                    .map(|f| f.span())
                    .or(r.fields.as_ref().map(|f| f.span()));
                return Err(err(
                    span.unwrap_or(r.id.span()),
                    format!("rule `{id}`: check `{check_name}` takes no `field`"),
                    Some(match check_name {
                        "expr" => "the fields are the ones the expression names".to_string(),
                        _ => "a row count is per entity and side".to_string(),
                    }),
                ));
            }
            (Arity::None, None, None) => Vec::new(),
            (_, Some(f), None) => vec![f.get_ref().clone()],
            (Arity::Many, None, Some(fs)) if !fs.get_ref().is_empty() => fs.get_ref().clone(),
            (Arity::One, None, Some(fs)) if fs.get_ref().len() == 1 => fs.get_ref().clone(),
            (Arity::One, None, Some(fs)) => {
                return Err(err(
                    fs.span(),
                    format!("rule `{id}`: check `{check_name}` takes one `field`"),
                    Some("only `unique` and `references` take several `fields`".into()),
                ))
            }
            _ => return Err(err(r.id.span(), format!("rule `{id}` needs `field` or `fields`"), None)),
        };
        let mut idx = Vec::new();
        for n in &names {
            let i = fields.iter().position(|f| &f.name == n).ok_or_else(|| {
                let span = r
                    .field
                    .as_ref()
                    .map(|f| f.span())
                    .or(r.fields.as_ref().map(|f| f.span()))
                    .unwrap_or(r.id.span());
                err(
                    span,
                    format!("rule `{id}` names unknown field `{n}`"),
                    Some(format!("declared fields: {}", field_names(fields))),
                )
            })?;
            idx.push(i);
        }
        let sides = match r.side.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("both") => vec![Side::Left, Side::Right],
            Some("left") => vec![Side::Left],
            Some("right") => vec![Side::Right],
            Some(other) => {
                let span = r.side.as_ref().map(|s| s.span()).unwrap_or(r.id.span());
                return Err(err(
                    span,
                    format!("rule `{id}`: unknown side `{other}`"),
                    Some("use left, right or both".into()),
                ));
            }
        };
        let severity = match &r.severity {
            None => Severity::Error,
            Some(s) => Severity::parse(s.get_ref()).ok_or_else(|| {
                err(
                    s.span(),
                    format!("rule `{id}`: unknown severity `{}`", s.get_ref()),
                    Some(format!("valid severities: {}", Severity::NAMES.join(", "))),
                )
            })?,
        };
        let compile_expr = |s: &toml::Spanned<String>, what: &str| -> Result<Expr, SpecError> {
            expr::compile(s.get_ref(), fields).map_err(|e| {
                err(
                    inner_span(text, s.span(), s.get_ref(), e.at),
                    format!("rule `{id}`: {what}: {}", e.message),
                    e.hint,
                )
            })
        };
        let filter = match &r.filter {
            None => None,
            Some(_) if check_name == "row_count" => {
                let span = r.filter.as_ref().map(|f| f.span()).unwrap_or(r.id.span());
                return Err(err(
                    span,
                    format!("rule `{id}`: check `row_count` takes no `where`"),
                    Some("row counts are compared with the baseline run's whole-side counts".into()),
                ));
            }
            Some(w) => Some(compile_expr(w, "where")?),
        };
        let check = compile_check(r, fields, &idx, err, &compile_expr)?;
        let mut read = idx.clone();
        if let Check::Expr(e) = &check {
            read.extend(&e.fields);
        }
        Ok(Rule {
            id: id.clone(),
            check,
            fields: read,
            sides,
            severity,
            fail: r.fail.unwrap_or(true),
            filter,
        })
    }
}

fn field_names(fields: &[Field]) -> String {
    fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
}

type ExprFn<'a> = dyn Fn(&toml::Spanned<String>, &str) -> Result<Expr, SpecError> + 'a;

fn compile_check(
    r: &RuleSource,
    fields: &[Field],
    idx: &[usize],
    err: &ErrFn<'_>,
    compile_expr: &ExprFn<'_>,
) -> Result<Check, SpecError> {
    let at = r.check.span();
    let id = r.id.get_ref();
    let name = r.check.get_ref().as_str();
    let field = idx.first().map(|&i| &fields[i]);
    let need = |what: &str| err(at.clone(), format!("rule `{id}`: check `{name}` needs {what}"), None);
    Ok(match name {
        "not_null" => Check::NotNull,
        "unique" => Check::Unique,
        "pattern" => {
            let p = r.pattern.as_ref().ok_or_else(|| need("`pattern = \"regex\"`"))?;
            let anchored = format!("^(?:{})$", p.get_ref());
            Check::Pattern(Regex::new(&anchored).map_err(|e| {
                err(
                    p.span(),
                    format!("rule `{id}`: invalid regex: {}", e.to_string().replace('\n', " ")),
                    Some(
                        "patterns use the Rust regex syntax (https://docs.rs/regex) and are anchored at both ends"
                            .into(),
                    ),
                )
            })?)
        }
        "allowed" => {
            let field = field.ok_or_else(|| need("a `field`"))?;
            let values: BTreeSet<String> = match (&r.values, &field.map) {
                (Some(v), _) => v.get_ref().iter().cloned().collect(),
                (None, [None, None]) => return Err(need("`values = [...]` (or a value map on the field)")),
                (None, maps) => maps.iter().flatten().flat_map(|m| m.values().cloned()).collect(),
            };
            Check::Allowed(values)
        }
        "length" => {
            let min = bound_usize(r.min.as_ref()).map_err(|(s, m)| err(s, m, None))?;
            let max = bound_usize(r.max.as_ref()).map_err(|(s, m)| err(s, m, None))?;
            if min.is_none() && max.is_none() {
                return Err(need("`min` and/or `max`"));
            }
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    let span = r.min.as_ref().map_or(at.clone(), |m| m.span());
                    return Err(err(
                        span,
                        format!("rule `{id}`: length min {a} is greater than max {b}"),
                        None,
                    ));
                }
            }
            Check::Length { min, max }
        }
        "range" => {
            let field = field.ok_or_else(|| need("a `field`"))?;
            if matches!(field.ty[0], FieldType::String | FieldType::Bool { .. }) {
                return Err(err(
                    at,
                    format!(
                        "rule `{id}`: check `range` needs a numeric, date or timestamp field; `{}` is {}",
                        field.name,
                        field.ty[0].name()
                    ),
                    Some("declare the field's `type`, or use `length` / `allowed` for text".into()),
                ));
            }
            let conv = |v: Option<&toml::Spanned<toml::Value>>| -> Result<Option<[Value; 2]>, SpecError> {
                let Some(v) = v else { return Ok(None) };
                let text = match v.get_ref() {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let one = |ty: &FieldType| {
                    ty.convert(&text).map_err(|m| {
                        err(
                            v.span(),
                            format!("rule `{id}`: range bound `{text}` is not a {}: {m}", ty.name()),
                            None,
                        )
                    })
                };
                Ok(Some([one(&field.ty[0])?, one(&field.ty[1])?]))
            };
            let min = conv(r.min.as_ref())?;
            let max = conv(r.max.as_ref())?;
            if min.is_none() && max.is_none() {
                return Err(need("`min` and/or `max`"));
            }
            if let (Some([a, _]), Some([b, _])) = (&min, &max) {
                if order(a, b) == Some(std::cmp::Ordering::Greater) {
                    let span = r.min.as_ref().map_or(at.clone(), |m| m.span());
                    return Err(err(
                        span,
                        format!(
                            "rule `{id}`: range min {} is greater than max {}",
                            a.display(),
                            b.display()
                        ),
                        None,
                    ));
                }
            }
            Check::Range {
                min,
                max,
                min_exclusive: r.min_exclusive.as_ref().is_some_and(|b| *b.get_ref()),
                max_exclusive: r.max_exclusive.as_ref().is_some_and(|b| *b.get_ref()),
            }
        }
        "valid" => {
            let v = r.validator.as_ref().ok_or_else(|| need("`validator = \"...\"`"))?;
            let mut validator = Validator::parse(v.get_ref()).map_err(|_| {
                err(
                    v.span(),
                    format!("rule `{id}`: unknown validator `{}`", v.get_ref()),
                    Some(format!(
                        "valid validators: {}",
                        crate::pii::validate::VALIDATOR_NAMES.join(", ")
                    )),
                )
            })?;
            if let Some(l) = &r.allow_legacy {
                match (validator, *l.get_ref()) {
                    (Validator::CnResidentId, true) => validator = Validator::CnResidentIdOrLegacy,
                    (Validator::CnResidentId | Validator::CnResidentIdOrLegacy, _) => {}
                    _ => {
                        return Err(err(
                            l.span(),
                            format!("rule `{id}`: `allow_legacy` applies to validator `cn_resident_id` only"),
                            None,
                        ))
                    }
                }
            }
            Check::Valid(validator)
        }
        "expr" => {
            let e = r
                .expr
                .as_ref()
                .ok_or_else(|| need("`expr = \"...\"`, e.g. `ended_at >= started_at`"))?;
            Check::Expr(compile_expr(e, "expr")?)
        }
        "references" => {
            let entity = r
                .entity
                .as_ref()
                .ok_or_else(|| need("`entity = \"...\"` (the entity it points to)"))?;
            let to_names: Vec<String> = match (&r.to, &r.to_fields) {
                (Some(_), Some(t)) => {
                    return Err(err(
                        t.span(),
                        format!("rule `{id}`: give `to` or `to_fields`, not both"),
                        None,
                    ))
                }
                (Some(t), None) => vec![t.get_ref().clone()],
                (None, Some(t)) => t.get_ref().clone(),
                (None, None) => idx.iter().map(|&i| fields[i].name.clone()).collect(),
            };
            if to_names.len() != idx.len() {
                let span = r.to_fields.as_ref().map(|t| t.span()).unwrap_or(at);
                return Err(err(
                    span,
                    format!(
                        "rule `{id}`: {} field(s) point to {} field(s)",
                        idx.len(),
                        to_names.len()
                    ),
                    Some("`fields` and `to_fields` pair up one to one".into()),
                ));
            }
            let on = match r.on.as_ref().map(|o| o.get_ref().as_str()) {
                None | Some("same") => On::Same,
                Some("other") => On::Other,
                Some("left") => On::Fixed(Side::Left),
                Some("right") => On::Fixed(Side::Right),
                Some(other) => {
                    return Err(err(
                        r.on.as_ref().map_or(at, |o| o.span()),
                        format!("rule `{id}`: unknown `on` value `{other}`"),
                        Some("use same, other, left or right".into()),
                    ))
                }
            };
            Check::References(References {
                entity: entity.get_ref().clone(),
                target: usize::MAX,
                to_names,
                to: Vec::new(),
                on,
            })
        }
        "fresh" => {
            let field = field.ok_or_else(|| need("a `field`"))?;
            if !matches!(field.ty[0], FieldType::Timestamp { .. }) {
                return Err(err(
                    at,
                    format!(
                        "rule `{id}`: check `fresh` needs a timestamp field; `{}` is {}",
                        field.name,
                        field.ty[0].name()
                    ),
                    Some("declare type = \"timestamp\" on the field".into()),
                ));
            }
            let m = r.max_age.as_ref().ok_or_else(|| need("`max_age`, e.g. \"36h\""))?;
            let max_age_s = parse_duration(m.get_ref()).map_err(|msg| {
                err(
                    m.span(),
                    format!("rule `{id}`: {msg}"),
                    Some("durations are numbers with units s, m, h, d: \"90m\", \"36h\", \"1d12h\"".into()),
                )
            })?;
            Check::Fresh {
                max_age_s,
                text: m.get_ref().clone(),
            }
        }
        "row_count" => {
            let max_change = match &r.max_change {
                None => 0.2,
                Some(v) => {
                    let x = match v.get_ref() {
                        toml::Value::Float(f) => Some(*f),
                        toml::Value::Integer(i) => Some(*i as f64),
                        _ => None,
                    };
                    match x {
                        Some(x) if x.is_finite() && x >= 0.0 => x,
                        _ => {
                            return Err(err(
                                v.span(),
                                format!("rule `{id}`: `max_change` must be a ratio >= 0, e.g. 0.2"),
                                None,
                            ))
                        }
                    }
                }
            };
            Check::RowCount { max_change }
        }
        other => {
            return Err(err(
                at,
                format!("unknown check `{other}`"),
                Some(format!("valid checks: {}", CHECKS.join(", "))),
            ))
        }
    })
}

fn bound_usize(v: Option<&toml::Spanned<toml::Value>>) -> Result<Option<usize>, (Range<usize>, String)> {
    match v {
        None => Ok(None),
        Some(s) => match s.get_ref() {
            toml::Value::Integer(i) if *i >= 0 => Ok(Some(*i as usize)),
            other => Err((
                s.span(),
                format!("length bound must be a non-negative integer, got {other}"),
            )),
        },
    }
}

/// `"36h"`, `"90m"`, `"1d12h"`, `"45s"` → seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("invalid duration `{text}`");
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total = n.checked_mul(unit).and_then(|x| total.checked_add(x)).ok_or_else(bad)?;
    }
    if !num.is_empty() {
        return Err(format!("invalid duration `{text}`: a number needs a unit"));
    }
    if total == 0 {
        return Err(format!("duration `{text}` must be greater than zero"));
    }
    Ok(total)
}

/// Order of two values of one kind: numbers of any scale (exactly), text,
/// bools, dates, timestamps; `None` across kinds.
pub fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    expr::compare(a, b)
}

/// A `references` rule that cannot be resolved: which entity and rule, and
/// which key to blame.
#[derive(Debug)]
pub struct LinkError {
    pub entity: usize,
    pub rule: usize,
    pub at: LinkAt,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAt {
    Entity,
    To,
}

/// Resolves the other entity and fields of every `references` rule.
pub fn link_rules(entities: &mut [Entity]) -> Result<(), LinkError> {
    let mut updates = Vec::new();
    for (ei, e) in entities.iter().enumerate() {
        for (ri, rule) in e.rules.iter().enumerate() {
            let Check::References(r) = &rule.check else { continue };
            let fail = |at, message: String, hint: Option<String>| LinkError {
                entity: ei,
                rule: ri,
                at,
                message,
                hint,
            };
            let target = entities.iter().position(|t| t.name == r.entity).ok_or_else(|| {
                fail(
                    LinkAt::Entity,
                    format!("rule `{}` references unknown entity `{}`", rule.id, r.entity),
                    Some(format!(
                        "declared entities: {}",
                        entities.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                )
            })?;
            let t = &entities[target];
            let mut to = Vec::new();
            for (name, &from) in r.to_names.iter().zip(&rule.fields) {
                let i = t.field(name).ok_or_else(|| {
                    fail(
                        LinkAt::To,
                        format!(
                            "rule `{}` points to unknown field `{name}` of entity `{}`",
                            rule.id, t.name
                        ),
                        Some(format!("fields of `{}`: {}", t.name, field_names(&t.fields))),
                    )
                })?;
                let (a, b) = (&e.fields[from], &t.fields[i]);
                if a.ty[0].name() != b.ty[0].name() {
                    return Err(fail(
                        LinkAt::To,
                        format!(
                            "rule `{}`: `{}` is {} but `{}.{}` is {}; values of different types never match",
                            rule.id,
                            a.name,
                            a.ty[0].name(),
                            t.name,
                            b.name,
                            b.ty[0].name()
                        ),
                        Some("declare the same `type` on both fields".into()),
                    ));
                }
                to.push(i);
            }
            updates.push((ei, ri, target, to));
        }
    }
    for (ei, ri, target, to) in updates {
        if let Check::References(r) = &mut entities[ei].rules[ri].check {
            r.target = target;
            r.to = to;
        }
    }
    Ok(())
}

/// What rules may read: every entity's prepared sides and keys, the run's
/// start time and the baseline run.
pub struct Context<'a> {
    pub entities: &'a [Entity],
    pub sides: &'a [[&'a PreparedSide; 2]],
    pub keys: &'a [[&'a SideKeys; 2]],
    pub display: &'a dyn Display,
    /// Run start time: `fresh` ages are measured from it.
    pub now: chrono::DateTime<chrono::Utc>,
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
        Some(f) => (0..s.rows).filter(|&r| f.eval(s, r) == Some(true)).collect(),
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
                if x.eval(s, row) == Some(false) {
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
            let now = ctx.now.timestamp_micros();
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

#[cfg(test)]
mod tests;
