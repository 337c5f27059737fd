//! Data-quality rules (`[[entity.rule]]`): compiling them from the spec and
//! checking every row of the declared side(s) after normalization.
//!
//! Each violating row is one finding (`category = "quality"`, `kind` = the
//! check). Rules look at prepared (typed) cells, so a rule on a decimal field
//! compares decimals, not text.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use regex::Regex;

use crate::compare::{Display, SideKeys};
use crate::error::SpecError;
use crate::finding::{Category, Finding};
use crate::normalize::{FieldType, Value};
use crate::pii::Validator;
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Entity, Field, RuleSource, Severity, Side};

pub const CHECKS: &[&str] = &["not_null", "unique", "pattern", "range", "allowed", "length", "valid"];

#[derive(Debug, Clone)]
pub enum Check {
    NotNull,
    Unique,
    Pattern(Regex),
    Allowed(BTreeSet<String>),
    Length { min: Option<usize>, max: Option<usize> },
    Range { min: Option<Value>, max: Option<Value> },
    Valid(Validator),
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
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub check: Check,
    /// Field indices (several only for `unique`).
    pub fields: Vec<usize>,
    pub sides: Vec<Side>,
    pub severity: Severity,
    /// False: the rule reports but never fails the run.
    pub fail: bool,
}

type ErrFn<'a> = dyn Fn(Range<usize>, String, Option<String>) -> SpecError + 'a;

impl Rule {
    pub fn compile(
        r: &RuleSource,
        fields: &[Field],
        err: impl Fn(Range<usize>, String, Option<String>) -> SpecError,
    ) -> Result<Rule, SpecError> {
        let err: &ErrFn<'_> = &err;
        let names: Vec<String> = match (&r.field, &r.fields) {
            (Some(f), None) => vec![f.get_ref().clone()],
            (None, Some(fs)) if !fs.get_ref().is_empty() => fs.get_ref().clone(),
            _ => {
                return Err(err(
                    r.id.span(),
                    format!("rule `{}` needs `field` or `fields`", r.id.get_ref()),
                    None,
                ))
            }
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
                    format!("rule `{}` names unknown field `{n}`", r.id.get_ref()),
                    Some(format!(
                        "declared fields: {}",
                        fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                    )),
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
                    format!("unknown side `{other}`"),
                    Some("use left, right or both".into()),
                ));
            }
        };
        let severity = match &r.severity {
            None => Severity::Error,
            Some(s) => Severity::parse(s.get_ref()).ok_or_else(|| {
                err(
                    s.span(),
                    format!("unknown severity `{}`", s.get_ref()),
                    Some(format!("valid severities: {}", Severity::NAMES.join(", "))),
                )
            })?,
        };
        let field = &fields[idx[0]];
        let check = compile_check(r, field, idx.len(), err)?;
        Ok(Rule {
            id: r.id.get_ref().clone(),
            check,
            fields: idx,
            sides,
            severity,
            fail: r.fail.unwrap_or(true),
        })
    }
}

fn compile_check(r: &RuleSource, field: &Field, n_fields: usize, err: &ErrFn<'_>) -> Result<Check, SpecError> {
    let at = r.check.span();
    let name = r.check.get_ref().as_str();
    if n_fields > 1 && name != "unique" {
        return Err(err(
            at,
            format!("check `{name}` takes one `field`; only `unique` takes `fields`"),
            None,
        ));
    }
    Ok(match name {
        "not_null" => Check::NotNull,
        "unique" => Check::Unique,
        "pattern" => {
            let p = r
                .pattern
                .as_ref()
                .ok_or_else(|| err(at.clone(), "check `pattern` needs `pattern = \"regex\"`".into(), None))?;
            let anchored = format!("^(?:{})$", p.get_ref());
            Check::Pattern(Regex::new(&anchored).map_err(|e| err(p.span(), format!("invalid regex: {e}"), None))?)
        }
        "allowed" => {
            let values = match (&r.values, &field.map[0], &field.map[1]) {
                (Some(v), _, _) => v.iter().cloned().collect(),
                (None, Some(m), _) | (None, None, Some(m)) => m.values().cloned().collect(),
                _ => {
                    return Err(err(
                        at,
                        "check `allowed` needs `values = [...]` (or a value map on the field)".into(),
                        None,
                    ))
                }
            };
            Check::Allowed(values)
        }
        "length" => {
            let min = bound_usize(r.min.as_ref()).map_err(|m| err(at.clone(), m, None))?;
            let max = bound_usize(r.max.as_ref()).map_err(|m| err(at.clone(), m, None))?;
            if min.is_none() && max.is_none() {
                return Err(err(at, "check `length` needs `min` and/or `max`".into(), None));
            }
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    return Err(err(at, format!("length min {a} is greater than max {b}"), None));
                }
            }
            Check::Length { min, max }
        }
        "range" => {
            let conv = |v: Option<&toml::Value>| -> Result<Option<Value>, String> {
                match v {
                    None => Ok(None),
                    Some(v) => {
                        let text = match v {
                            toml::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        field.ty[0]
                            .convert(&text)
                            .map(Some)
                            .map_err(|m| format!("range bound `{text}`: {m}"))
                    }
                }
            };
            let min = conv(r.min.as_ref()).map_err(|m| err(at.clone(), m, None))?;
            let max = conv(r.max.as_ref()).map_err(|m| err(at.clone(), m, None))?;
            if min.is_none() && max.is_none() {
                return Err(err(at, "check `range` needs `min` and/or `max`".into(), None));
            }
            if matches!(field.ty[0], FieldType::String | FieldType::Bool { .. }) {
                return Err(err(
                    at,
                    format!(
                        "check `range` needs a numeric, date or timestamp field; `{}` is {}",
                        field.name,
                        field.ty[0].name()
                    ),
                    None,
                ));
            }
            if let (Some(a), Some(b)) = (&min, &max) {
                if order(a, b) == Some(std::cmp::Ordering::Greater) {
                    return Err(err(at, "range min is greater than max".into(), None));
                }
            }
            Check::Range { min, max }
        }
        "valid" => {
            let v = r
                .validator
                .as_ref()
                .ok_or_else(|| err(at.clone(), "check `valid` needs `validator = \"...\"`".into(), None))?;
            Check::Valid(Validator::parse(v.get_ref()).map_err(|m| err(v.span(), m, None))?)
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

fn bound_usize(v: Option<&toml::Value>) -> Result<Option<usize>, String> {
    match v {
        None => Ok(None),
        Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Some(*i as usize)),
        Some(other) => Err(format!("length bound must be a non-negative integer, got {other}")),
    }
}

/// Order of two values of the same numeric, date or timestamp variant.
pub fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Dec { units: x, scale: sx }, Value::Dec { units: y, scale: sy }) if sx == sy => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Ts(x), Value::Ts(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Cross-entity links; reserved for checks that name another entity.
pub fn link_rules(_entities: &mut [Entity]) -> Result<(), (usize, usize, String)> {
    Ok(())
}

/// Runs every rule of `entity` on the prepared sides.
pub fn check(entity: &Entity, sides: [&PreparedSide; 2], keys: [&SideKeys; 2], display: &dyn Display) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in &entity.rules {
        for &side in &rule.sides {
            let s = sides[side.idx()];
            if rule.fields.iter().any(|&f| !s.fields[f].present) {
                continue; // reported once as schema/column_missing
            }
            check_side(entity, rule, s, keys[side.idx()], display, &mut out);
        }
    }
    out
}

fn check_side(
    entity: &Entity,
    rule: &Rule,
    s: &PreparedSide,
    keys: &SideKeys,
    display: &dyn Display,
    out: &mut Vec<Finding>,
) {
    let f = rule.fields[0];
    let field = &entity.fields[f];
    let finding = |row: usize, value: Option<&Value>, detail: String| {
        let shown = value.map(|v| display.value(entity, f, v));
        let (left_value, right_value) = match s.side {
            Side::Left => (shown, None),
            Side::Right => (None, shown),
        };
        Finding {
            entity: entity.name.clone(),
            category: Category::Quality,
            kind: rule.check.name().to_string(),
            rule: rule.id.clone(),
            severity: rule.severity,
            side: s.side.as_str(),
            key: keys.json[row].clone(),
            field: Some(field.name.clone()),
            left_value,
            right_value,
            detail,
        }
    };
    if let Check::Unique = rule.check {
        let mut groups: HashMap<Vec<&Cell>, Vec<usize>> = HashMap::new();
        for row in 0..s.rows {
            let tuple: Vec<&Cell> = rule.fields.iter().map(|&f| s.cell(f, row)).collect();
            if tuple.iter().any(|c| !matches!(c, Cell::Val(_))) {
                continue;
            }
            groups.entry(tuple).or_default().push(row);
        }
        let mut rows: Vec<(usize, usize)> = groups
            .values()
            .filter(|g| g.len() > 1)
            .flat_map(|g| g.iter().map(move |r| (*r, g.len())))
            .collect();
        rows.sort_unstable();
        for (row, n) in rows {
            out.push(finding(
                row,
                s.cell(f, row).value(),
                format!("value is shared by {n} rows"),
            ));
        }
        return;
    }
    for row in 0..s.rows {
        let cell = s.cell(f, row);
        let detail = match (&rule.check, cell) {
            (_, Cell::Bad) => None,
            (Check::NotNull, Cell::Null) => Some("value is null".to_string()),
            (Check::NotNull, Cell::Val(Value::Str(v))) if v.is_empty() => Some("value is empty".to_string()),
            (_, Cell::Null) => None,
            (check, Cell::Val(v)) => violation(check, field, v),
        };
        if let Some(d) = detail {
            out.push(finding(row, cell.value(), d));
        }
    }
}

fn violation(check: &Check, field: &Field, v: &Value) -> Option<String> {
    let text = v.display();
    match check {
        Check::NotNull | Check::Unique => None,
        Check::Pattern(re) => (!re.is_match(&text)).then(|| "value does not match the pattern".into()),
        Check::Allowed(set) => (!set.contains(&text)).then(|| "value is not in the allowed set".into()),
        Check::Length { min, max } => {
            let n = text.chars().count();
            let bad = min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m);
            bad.then(|| {
                format!(
                    "length {n} is outside [{}, {}]",
                    min.map_or("-".into(), |m| m.to_string()),
                    max.map_or("-".into(), |m| m.to_string())
                )
            })
        }
        Check::Range { min, max } => {
            let below = min
                .as_ref()
                .is_some_and(|m| order(v, m) == Some(std::cmp::Ordering::Less));
            let above = max
                .as_ref()
                .is_some_and(|m| order(v, m) == Some(std::cmp::Ordering::Greater));
            (below || above).then(|| {
                if field.is_pii() {
                    "value is out of range".to_string()
                } else {
                    format!("{text} is out of range")
                }
            })
        }
        Check::Valid(validator) => (!validator.is_valid(&text)).then(|| format!("not a valid {}", validator.name())),
    }
}
