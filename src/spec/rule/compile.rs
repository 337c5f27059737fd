//! Compiling a rule from the spec ([`Rule::compile`]): which checks take
//! which fields and options, each check's settings read and validated,
//! and errors located in the spec text (down to a span inside an `expr`).

use std::collections::BTreeSet;
use std::ops::Range;

use regex::Regex;

use super::{Check, On, Policy, References, Rule, CHECKS};
use crate::error::SpecError;
use crate::normalize::{FieldType, Value};
use crate::pii::Validator;
use crate::spec::expr::{self, Expr};
use crate::spec::{Field, RuleSource, Severity, Side};

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
        "policy" => &["by", "allowed"],
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
    opt!("by", r.by);
    opt!("allowed", r.allowed);
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
        match &check {
            Check::Expr(e) => read.extend(&e.fields),
            Check::Policy(p) => read.push(p.by),
            _ => {}
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

pub(super) fn field_names(fields: &[Field]) -> String {
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
    if let Some(f) = field.filter(|f| matches!(f.ty[0], FieldType::Set { .. })) {
        if ["pattern", "length", "range", "valid", "fresh"].contains(&name) {
            return Err(err(
                at,
                format!("rule `{id}`: check `{name}` does not apply to set field `{}`", f.name),
                Some(
                    "for sets use `allowed` (every element), `policy`, or `expr` with contains / any_of / all_of"
                        .into(),
                ),
            ));
        }
    }
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
        "policy" => {
            let field = field.ok_or_else(|| need("a `field` (a set)"))?;
            let set_field = idx[0];
            if !matches!(field.ty[0], FieldType::Set { .. }) {
                return Err(err(
                    at,
                    format!(
                        "rule `{id}`: check `policy` needs a set field; `{}` is {}",
                        field.name,
                        field.ty[0].name()
                    ),
                    Some("declare the field with type = \"set\"".into()),
                ));
            }
            let by =
                r.by.as_ref()
                    .ok_or_else(|| need("`by = \"<field>\"` (e.g. the role)"))?;
            let by_idx = fields.iter().position(|f| &f.name == by.get_ref()).ok_or_else(|| {
                err(
                    by.span(),
                    format!("rule `{id}`: `by` names unknown field `{}`", by.get_ref()),
                    Some(format!("declared fields: {}", field_names(fields))),
                )
            })?;
            if by_idx == set_field {
                return Err(err(by.span(), format!("rule `{id}`: `by` must be another field"), None));
            }
            let allowed = r
                .allowed
                .as_ref()
                .ok_or_else(|| need("`allowed = { <value of by> = [elements…] }`"))?;
            if allowed.get_ref().is_empty() {
                return Err(err(allowed.span(), format!("rule `{id}`: `allowed` is empty"), None));
            }
            // Elements a field with value maps on both sides can never hold
            // are typos: refused, as in `contains(...)`.
            if let Some(known) = field.mapped_values() {
                for element in allowed.get_ref().values().flatten() {
                    if !known.contains(&element.as_str()) {
                        return Err(err(
                            allowed.span(),
                            format!(
                                "rule `{id}`: `{}` never holds `{element}`: it is in neither side's value map",
                                field.name
                            ),
                            None,
                        ));
                    }
                }
            }
            Check::Policy(Policy {
                by: by_idx,
                allowed: allowed
                    .get_ref()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                    .collect(),
            })
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
                if crate::normalize::order(a, b) == Some(std::cmp::Ordering::Greater) {
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

/// Why a rule's duration (`max_age`) is not one; the text follows
/// "rule `<id>`: " in the spec error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration `{0}`")]
    Invalid(String),
    #[error("invalid duration `{0}`: a number needs a unit")]
    NoUnit(String),
    #[error("duration `{0}` must be greater than zero")]
    Zero(String),
}

/// `"36h"`, `"90m"`, `"1d12h"`, `"45s"` → seconds.
pub fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let t = text.trim();
    let bad = || DurationError::Invalid(text.to_string());
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
        return Err(DurationError::NoUnit(text.to_string()));
    }
    if total == 0 {
        return Err(DurationError::Zero(text.to_string()));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of a spec with a set field `p` (maps on both sides), a
    /// text field `role`, a timestamp `t`, and the given rule (or field) tables.
    fn set_spec_error(extra: &str) -> String {
        let text = format!(
            "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
             [[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = {{ path = \"l.csv\" }}\nright = {{ path = \"r.csv\" }}\n\
             [[entity.field]]\nname = \"id\"\n\
             [[entity.field]]\nname = \"p\"\ntype = \"set\"\nseparator = \";\"\nmap = {{ \"x\" = \"view\", \"y\" = \"export\" }}\n\
             [[entity.field]]\nname = \"role\"\n\
             [[entity.field]]\nname = \"t\"\ntype = \"timestamp\"\n{extra}"
        );
        match crate::spec::parse(std::path::Path::new("t.toml"), &text, String::new()) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn set_fields_and_policy_rules_refuse_what_does_not_apply() {
        for (extra, needle) in [
            ("[[entity.field]]\nname = \"s\"\ntype = \"set\"\nseparator = \"\"\n", "`separator` must not be empty"),
            ("[[entity.field]]\nname = \"s\"\nseparator = \";\"\n", "option `separator` does not apply to type string"),
            ("[[entity.field]]\nname = \"s\"\ntype = \"set\"\ntolerance = { abs = 1 }\n", "does not apply to a set field"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"pattern\"\nfield = \"p\"\npattern = \"x\"\n", "does not apply to set field `p`"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"length\"\nfield = \"p\"\nmax = 3\n", "does not apply to set field `p`"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"policy\"\nfield = \"role\"\nby = \"p\"\nallowed = { a = [\"x\"] }\n", "needs a set field"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"policy\"\nfield = \"p\"\nallowed = { a = [\"view\"] }\n", "needs `by"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"policy\"\nfield = \"p\"\nby = \"rol\"\nallowed = { a = [\"view\"] }\n", "`by` names unknown field `rol`"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"policy\"\nfield = \"p\"\nby = \"p\"\nallowed = { a = [\"view\"] }\n", "must be another field"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"policy\"\nfield = \"p\"\nby = \"role\"\n", "needs `allowed"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"policy\"\nfield = \"p\"\nby = \"role\"\nallowed = {}\n", "`allowed` is empty"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"policy\"\nfield = \"p\"\nby = \"role\"\nallowed = { a = [\"vew\"] }\n", "never holds `vew`"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"allowed\"\nfield = \"p\"\nby = \"role\"\n", "option `by` does not apply to check `allowed`"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"expr\"\nexpr = \"contains(p, 'vew')\"\n", "never holds 'vew'"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"expr\"\nexpr = \"size(p) > 1\"\n", "unknown function `size`"),
            ("[[entity.rule]]\nid = \"r\"\ncheck = \"expr\"\nexpr = \"age(t) > 3x\"\n", "not a number or a duration"),
        ] {
            let e = set_spec_error(extra);
            assert!(e.contains(needle), "{extra}\n=> {e}");
            assert!(e.contains("t.toml:"), "no location: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("36h"), Ok(36 * 3600));
        assert_eq!(parse_duration("1d12h"), Ok(36 * 3600));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration(" 45s "), Ok(45));
        for bad in ["", "h", "12", "3 weeks", "1w", "0h", "-1h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inner_spans_of_toml_strings() {
        let text = r#"a = "x >= 1"
b = 'x >= 1'
c = """
x >= 1"""
d = "x\t>= 1""#;
        let at = |needle: &str| text.find(needle).unwrap();
        let b = at("'x");
        let span = |q: &str| {
            let s = at(q);
            let e = text[s + 1..].find(['\n']).map_or(text.len(), |n| s + 1 + n);
            s..e
        };
        // `>=` is at offset 2 of the expression.
        assert_eq!(inner_span(text, span("\"x >="), "x >= 1", 2..4).start, at("\"x >=") + 3);
        assert_eq!(inner_span(text, b..b + 8, "x >= 1", 2..4).start, b + 3);
        let c = at("\"\"\"");
        assert_eq!(inner_span(text, c..text.len(), "x >= 1", 2..4).start, c + 4 + 2);
        // An escape makes positions uncertain: the whole value is blamed.
        let d = at("\"x\\t");
        assert_eq!(inner_span(text, d..text.len(), "x\t>= 1", 2..4), d..text.len());
    }
}
