//! The small boolean expression language of `expr` rules and `where`
//! filters, parsed by recursive descent and type-checked against the
//! entity's fields when the spec is read (`quality::expr` evaluates it on
//! prepared cells); and the order of two values it compares by.
//!
//! Grammar (keywords are case-insensitive):
//!
//! ```text
//! expr      := and ( OR and )*
//! and       := unary ( AND unary )*
//! unary     := NOT unary | primary
//! primary   := "(" expr ")" | predicate
//! predicate := operand ( cmp operand | IS [NOT] NULL )?
//! cmp       := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! operand   := field | "quoted field" | number | 'string' | TRUE | FALSE
//! ```
//!
//! `NOT` binds tighter than `AND`, which binds tighter than `OR`. A bare
//! operand is a condition only when it is a `bool` field (or `TRUE` /
//! `FALSE`). Literals take the type of the field they are compared with:
//! `started_at >= '2026-11-23 00:00:00'` reads the text as that field's
//! timestamp (in each side's zone); numbers compare exactly with `int` and
//! `decimal` fields. Strings use `''` for a quote inside.
//!
//! Nulls follow SQL's three-valued logic: a comparison involving a null (or
//! an unconvertible cell) is *unknown*; `NOT unknown` is unknown; `false AND
//! unknown` is false and `true OR unknown` is true. An `expr` rule reports a
//! row only when its expression is definitely false; a `where` filter keeps
//! a row only when it is definitely true. `= null` is refused: use
//! `IS NULL` / `IS NOT NULL`.

use std::cmp::Ordering;
use std::ops::Range;

use crate::normalize::{FieldType, Value};
use crate::spec::Field;

/// A compile error inside an expression: byte range within its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub at: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

fn fail<T>(at: Range<usize>, message: impl Into<String>, hint: Option<String>) -> Result<T, ExprError> {
    Err(ExprError {
        at,
        message: message.into(),
        hint,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Whether `a op b` holds when `a` is `o` to `b`.
    pub fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(usize),
    /// A literal, converted once per side (a side's type may carry its own zone).
    Lit([Value; 2]),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Cmp(Operand, Op, Operand),
    /// `field IS NULL` (false) / `IS NOT NULL` (true).
    IsNull(usize, bool),
    /// A bool operand used as a condition.
    Truth(Operand),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    pub text: String,
    pub root: Node,
    /// Every field the expression reads, sorted, without repeats.
    pub fields: Vec<usize>,
}

/// Total order of two values of one kind: numbers (`int` and `decimal` of
/// any scale, exactly), text (by code point), bools (false < true), dates,
/// timestamps. `None` for values of different kinds.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Dec { units, scale }) => Some(dec_cmp(*x as i128, 0, units.get(), *scale)),
        (Value::Dec { units, scale }, Value::Int(y)) => Some(dec_cmp(units.get(), *scale, *y as i128, 0)),
        (Value::Dec { units: x, scale: sx }, Value::Dec { units: y, scale: sy }) => {
            Some(dec_cmp(x.get(), *sx, y.get(), *sy))
        }
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Ts(x), Value::Ts(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Exact comparison of `u1 / 10^s1` with `u2 / 10^s2` (scales up to 38)
/// without overflow: integer parts first, then fractions at a common scale.
fn dec_cmp(u1: i128, s1: u32, u2: i128, s2: u32) -> Ordering {
    // One scale (a column's values): the units are in the values' order.
    if s1 == s2 {
        return u1.cmp(&u2);
    }
    let (p1, p2) = (10i128.pow(s1.min(38)), 10i128.pow(s2.min(38)));
    let (i1, f1) = (u1.div_euclid(p1), u1.rem_euclid(p1));
    let (i2, f2) = (u2.div_euclid(p2), u2.rem_euclid(p2));
    i1.cmp(&i2).then_with(|| {
        let s = s1.max(s2).min(38);
        let a = f1 * 10i128.pow(s - s1.min(s));
        let b = f2 * 10i128.pow(s - s2.min(s));
        a.cmp(&b)
    })
}

// ---------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Num(String),
    Str(String),
    Op(Op),
    LParen,
    RParen,
    And,
    Or,
    Not,
    Is,
    Null,
    True,
    False,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Quoted(s) => format!("`{s}`"),
            Tok::Num(s) => format!("number {s}"),
            Tok::Str(_) => "a string".into(),
            Tok::Op(_) => "an operator".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Not => "NOT".into(),
            Tok::Is => "IS".into(),
            Tok::Null => "NULL".into(),
            Tok::True => "TRUE".into(),
            Tok::False => "FALSE".into(),
            Tok::End => "the end of the expression".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<(Tok, Range<usize>)>, ExprError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b'=' => {
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
                Tok::Op(Op::Eq)
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Op(Op::Ne)
            }
            b'<' => match b.get(i + 1) {
                Some(b'=') => {
                    i += 2;
                    Tok::Op(Op::Le)
                }
                Some(b'>') => {
                    i += 2;
                    Tok::Op(Op::Ne)
                }
                _ => {
                    i += 1;
                    Tok::Op(Op::Lt)
                }
            },
            b'>' => {
                if b.get(i + 1) == Some(&b'=') {
                    i += 2;
                    Tok::Op(Op::Ge)
                } else {
                    i += 1;
                    Tok::Op(Op::Gt)
                }
            }
            b'\'' | b'"' | b'`' => {
                let q = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match text[i..].find(q as char) {
                        None => return fail(start..text.len(), "unterminated quote", None),
                        Some(off) => {
                            s.push_str(&text[i..i + off]);
                            i += off + 1;
                            if b.get(i) == Some(&q) {
                                s.push(q as char);
                                i += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                if q == b'\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                }
            }
            b'-' | b'+' | b'0'..=b'9' | b'.' => {
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let s = &text[start..i];
                let digits = s.trim_start_matches(['-', '+']);
                let ok = !digits.is_empty()
                    && digits.matches('.').count() <= 1
                    && !digits.starts_with('.')
                    && !digits.ends_with('.');
                if !ok {
                    return fail(start..i, format!("`{s}` is not a number"), None);
                }
                Tok::Num(s.to_string())
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                    i += 1;
                }
                let word = &text[start..i];
                match word.to_ascii_uppercase().as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    "IS" => Tok::Is,
                    "NULL" => Tok::Null,
                    "TRUE" => Tok::True,
                    "FALSE" => Tok::False,
                    _ => Tok::Ident(word.to_string()),
                }
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return fail(
                    start..start + ch.len_utf8(),
                    format!("unexpected character `{ch}`"),
                    Some(GRAMMAR_HINT.into()),
                );
            }
        };
        out.push((tok, start..i));
    }
    out.push((Tok::End, text.len()..text.len()));
    Ok(out)
}

const GRAMMAR_HINT: &str =
    "expressions use fields, literals (1, 2.5, 'text', true, false), = != < <= > >=, IS [NOT] NULL, AND, OR, NOT and parentheses";

// ---------------------------------------------------------------------------
// Parser

/// Value kind used for type checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Bool,
    Date,
    Timestamp,
}

impl Kind {
    fn of(ty: &FieldType) -> Kind {
        match ty {
            FieldType::String => Kind::Text,
            FieldType::Int | FieldType::Decimal { .. } => Kind::Number,
            FieldType::Bool { .. } => Kind::Bool,
            FieldType::Date { .. } => Kind::Date,
            FieldType::Timestamp { .. } => Kind::Timestamp,
        }
    }
}

/// An operand before type checking.
enum Raw {
    Field(usize, Range<usize>),
    Num(String, Range<usize>),
    Str(String, Range<usize>),
    Bool(bool, Range<usize>),
    Null(Range<usize>),
}

impl Raw {
    fn at(&self) -> Range<usize> {
        match self {
            Raw::Field(_, r) | Raw::Num(_, r) | Raw::Str(_, r) | Raw::Bool(_, r) | Raw::Null(r) => r.clone(),
        }
    }
}

struct Parser<'a> {
    toks: Vec<(Tok, Range<usize>)>,
    pos: usize,
    fields: &'a [Field],
    used: Vec<usize>,
}

/// Parses and type-checks `text` against an entity's fields.
pub fn compile(text: &str, fields: &[Field]) -> Result<Expr, ExprError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        fields,
        used: Vec::new(),
    };
    if p.peek() == &Tok::End {
        return fail(0..text.len(), "the expression is empty", Some(GRAMMAR_HINT.into()));
    }
    let root = p.or()?;
    if p.peek() != &Tok::End {
        let (t, at) = p.toks[p.pos].clone();
        let hint = match t {
            Tok::RParen => Some("this `)` has no matching `(`".to_string()),
            _ => Some("join conditions with AND or OR".to_string()),
        };
        return fail(at, format!("unexpected {}", t.describe()), hint);
    }
    let mut used = p.used;
    used.sort_unstable();
    used.dedup();
    Ok(Expr {
        text: text.to_string(),
        root,
        fields: used,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn next(&mut self) -> (Tok, Range<usize>) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let mut left = self.and()?;
        while self.peek() == &Tok::Or {
            self.next();
            let right = self.and()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        while self.peek() == &Tok::And {
            self.next();
            let right = self.unary()?;
            left = Node::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if self.peek() == &Tok::Not {
            self.next();
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        if self.peek() == &Tok::LParen {
            let (_, open) = self.next();
            let inner = self.or()?;
            let (t, at) = self.next();
            if t != Tok::RParen {
                return fail(
                    at,
                    format!("expected `)` but found {}", t.describe()),
                    Some(format!("the `(` at offset {} is not closed", open.start)),
                );
            }
            return Ok(inner);
        }
        self.predicate()
    }

    fn operand(&mut self) -> Result<Raw, ExprError> {
        let (t, at) = self.next();
        Ok(match t {
            Tok::Ident(name) | Tok::Quoted(name) => {
                let idx = self
                    .fields
                    .iter()
                    .position(|f| f.name == name)
                    .ok_or_else(|| ExprError {
                        at: at.clone(),
                        message: format!("unknown field `{name}`"),
                        hint: Some(format!(
                            "declared fields: {}",
                            self.fields
                                .iter()
                                .map(|f| f.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    })?;
                self.used.push(idx);
                Raw::Field(idx, at)
            }
            Tok::Num(s) => Raw::Num(s, at),
            Tok::Str(s) => Raw::Str(s, at),
            Tok::True => Raw::Bool(true, at),
            Tok::False => Raw::Bool(false, at),
            Tok::Null => Raw::Null(at),
            other => {
                return fail(
                    at,
                    format!("expected a field or a value but found {}", other.describe()),
                    Some(GRAMMAR_HINT.into()),
                )
            }
        })
    }

    fn predicate(&mut self) -> Result<Node, ExprError> {
        let left = self.operand()?;
        match self.peek().clone() {
            Tok::Op(op) => {
                let (_, op_at) = self.next();
                let right = self.operand()?;
                self.comparison(left, op, op_at, right)
            }
            Tok::Is => {
                self.next();
                let negated = if self.peek() == &Tok::Not {
                    self.next();
                    true
                } else {
                    false
                };
                let (t, at) = self.next();
                if t != Tok::Null {
                    return fail(at, format!("expected NULL after IS but found {}", t.describe()), None);
                }
                match left {
                    Raw::Field(f, _) => Ok(Node::IsNull(f, negated)),
                    other => fail(other.at(), "IS NULL applies to a field", None),
                }
            }
            _ => self.truth(left),
        }
    }

    /// A bare operand used as a condition: a bool field or TRUE / FALSE.
    fn truth(&self, raw: Raw) -> Result<Node, ExprError> {
        match raw {
            Raw::Field(f, at) => {
                if Kind::of(&self.fields[f].ty[0]) != Kind::Bool {
                    return fail(
                        at,
                        format!(
                            "`{}` is {}, not a condition",
                            self.fields[f].name,
                            self.fields[f].ty[0].name()
                        ),
                        Some("compare it, e.g. `field = 'value'`, or test `field IS NOT NULL`".into()),
                    );
                }
                Ok(Node::Truth(Operand::Field(f)))
            }
            Raw::Bool(b, _) => Ok(Node::Truth(Operand::Lit([Value::Bool(b), Value::Bool(b)]))),
            other => fail(
                other.at(),
                "a value alone is not a condition",
                Some("compare it with a field, e.g. `field >= 0`".into()),
            ),
        }
    }

    fn comparison(&self, left: Raw, op: Op, op_at: Range<usize>, right: Raw) -> Result<Node, ExprError> {
        if let Raw::Null(at) = &left {
            return fail(at.clone(), "cannot compare with NULL", Some(NULL_HINT.into()));
        }
        if let Raw::Null(at) = &right {
            return fail(at.clone(), "cannot compare with NULL", Some(NULL_HINT.into()));
        }
        match (&left, &right) {
            (Raw::Field(a, _), Raw::Field(b, _)) => {
                let (ka, kb) = (Kind::of(&self.fields[*a].ty[0]), Kind::of(&self.fields[*b].ty[0]));
                if ka != kb {
                    return fail(
                        op_at,
                        format!(
                            "cannot compare `{}` ({}) with `{}` ({})",
                            self.fields[*a].name,
                            self.fields[*a].ty[0].name(),
                            self.fields[*b].name,
                            self.fields[*b].ty[0].name()
                        ),
                        None,
                    );
                }
                Ok(Node::Cmp(Operand::Field(*a), op, Operand::Field(*b)))
            }
            (Raw::Field(f, _), lit) => Ok(Node::Cmp(Operand::Field(*f), op, self.literal(*f, lit)?)),
            (lit, Raw::Field(f, _)) => Ok(Node::Cmp(self.literal(*f, lit)?, op, Operand::Field(*f))),
            _ => fail(
                left.at().start..right.at().end,
                "a comparison needs at least one field",
                None,
            ),
        }
    }

    /// Converts a literal to the type of field `f` on each side.
    fn literal(&self, f: usize, lit: &Raw) -> Result<Operand, ExprError> {
        let field = &self.fields[f];
        let kind = Kind::of(&field.ty[0]);
        let mismatch = |at: Range<usize>, what: &str| {
            fail(
                at,
                format!(
                    "`{}` is {}; it cannot be compared with {what}",
                    field.name,
                    field.ty[0].name()
                ),
                Some(match kind {
                    Kind::Number => "compare numbers with numbers, e.g. `field >= 0`".to_string(),
                    Kind::Bool => "compare with true or false".to_string(),
                    _ => "write the value in quotes, e.g. '2026-11-23'".to_string(),
                }),
            )
        };
        match lit {
            Raw::Num(s, at) => {
                if kind != Kind::Number {
                    return mismatch(at.clone(), "a number");
                }
                let v = number(s).ok_or_else(|| ExprError {
                    at: at.clone(),
                    message: format!("number {s} is too large"),
                    hint: None,
                })?;
                Ok(Operand::Lit([v.clone(), v]))
            }
            Raw::Bool(b, at) => {
                if kind != Kind::Bool {
                    return mismatch(at.clone(), "true/false");
                }
                Ok(Operand::Lit([Value::Bool(*b), Value::Bool(*b)]))
            }
            Raw::Str(s, at) => {
                let conv = |ty: &FieldType| {
                    ty.convert(s).map_err(|m| ExprError {
                        at: at.clone(),
                        message: format!("'{s}' is not a {} value for `{}`: {m}", ty.name(), field.name),
                        hint: None,
                    })
                };
                Ok(Operand::Lit([conv(&field.ty[0])?, conv(&field.ty[1])?]))
            }
            Raw::Field(..) | Raw::Null(_) => fail(lit.at(), "expected a value", None),
        }
    }
}

const NULL_HINT: &str = "a comparison with null is never true; write `field IS NULL` or `field IS NOT NULL`";

/// A numeric literal as an exact `Int` or `Dec` value.
fn number(s: &str) -> Option<Value> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    match digits.split_once('.') {
        None => {
            let v: i64 = digits.parse().ok()?;
            Some(Value::Int(if neg { -v } else { v }))
        }
        Some((int, frac)) => {
            let scale = frac.len() as u32;
            if scale > 38 {
                return None;
            }
            let units: i128 = format!("{int}{frac}").parse().ok()?;
            Some(Value::dec(if neg { -units } else { units }, scale))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::normalize::TypeOptions;

    /// A field `name` of type `ty`, the same on both sides, compared as is.
    pub(crate) fn field(name: &str, ty: &str) -> Field {
        let t = FieldType::from_spec(ty, &TypeOptions::default(), chrono_tz::Tz::UTC).unwrap();
        Field {
            name: name.into(),
            columns: [name.into(), name.into()],
            ty: [t.clone(), t],
            steps: [Vec::new(), Vec::new()],
            map: [None, None],
            keep_unmapped: false,
            default: [None, None],
            tolerance: Default::default(),
            compare: true,
            severity: None,
            pii: None,
            mask: [crate::pii::MaskStyle::Clear, crate::pii::MaskStyle::Clear],
            scan: false,
            authority: None,
            write: [None, None],
        }
    }

    /// The fields the expression tests name, in this order.
    pub(crate) fn fields() -> Vec<Field> {
        vec![
            field("a", "int"),
            field("b", "int"),
            field("amount", "decimal(10,2)"),
            field("name", "string"),
            field("ok", "bool"),
            field("started_at", "timestamp"),
            field("ended_at", "timestamp"),
            field("day", "date"),
        ]
    }

    fn err(text: &str) -> ExprError {
        compile(text, &fields()).expect_err(text)
    }

    #[test]
    fn errors_point_into_the_text() {
        let e = err("a = 1 AND bogus > 2");
        assert_eq!(e.at, 10..15);
        assert!(e.message.contains("unknown field `bogus`"), "{e:?}");
        assert!(e.hint.unwrap().contains("started_at"));
        let e = err("a = 1 AND");
        assert_eq!(e.at, 9..9);
        assert!(e.message.contains("end of the expression"), "{e:?}");
        let e = err("(a = 1");
        assert!(e.message.contains("expected `)`"), "{e:?}");
        let e = err("a = 1)");
        assert_eq!(e.at, 5..6);
        let e = err("a = 1 b = 2");
        assert_eq!(e.at, 6..7);
        assert!(e.hint.unwrap().contains("AND"));
        let e = err("a = 'x");
        assert_eq!(e.at, 4..6);
        assert!(e.message.contains("unterminated"));
        let e = err("a ~ 1");
        assert_eq!(e.at, 2..3);
        let e = err("a = null");
        assert_eq!(e.at, 4..8);
        assert!(e.hint.unwrap().contains("IS NULL"));
        let e = err("started_at > duration");
        assert!(e.message.contains("unknown field"));
        let e = err("started_at > a");
        assert!(e.message.contains("cannot compare"), "{e:?}");
        let e = err("started_at > 5");
        assert!(e.message.contains("cannot be compared with a number"), "{e:?}");
        let e = err("started_at > 'yesterday'");
        assert_eq!(e.at, 13..24);
        let e = err("a");
        assert!(e.message.contains("not a condition"), "{e:?}");
        let e = err("1 = 1");
        assert!(e.message.contains("at least one field"));
        let e = err("");
        assert!(e.message.contains("empty"));
        let e = err("a = 1.2.3");
        assert!(e.message.contains("not a number"));
        let e = err("5 IS NULL");
        assert!(e.message.contains("applies to a field"));
        let e = err("a IS 5");
        assert!(e.message.contains("expected NULL"));
    }

    #[test]
    fn decimal_comparison_is_exact_across_scales() {
        let d = |u: i128, s: u32| Value::dec(u, s);
        assert_eq!(compare(&d(1050, 2), &d(105, 1)), Some(Ordering::Equal));
        assert_eq!(compare(&d(-1, 2), &Value::Int(0)), Some(Ordering::Less));
        assert_eq!(compare(&d(-150, 2), &Value::Int(-1)), Some(Ordering::Less));
        assert_eq!(compare(&Value::Int(-2), &d(-150, 2)), Some(Ordering::Less));
        assert_eq!(
            compare(&d(i128::MAX / 2, 38), &d(i128::MAX / 2 + 1, 38)),
            Some(Ordering::Less)
        );
        assert_eq!(compare(&d(1, 38), &d(1, 0)), Some(Ordering::Less));
        assert_eq!(compare(&Value::Int(1), &Value::Str("1".into())), None);
        // At one scale the units' order is taken as is; it agrees with the
        // integer-and-fraction comparison (the same values, one at the
        // scale and one a digit finer, which takes the general path).
        let units = [
            -1_000_001i128,
            -100,
            -99,
            -1,
            0,
            1,
            5,
            99,
            100,
            12_345,
            i128::MAX / 20,
            i128::MIN / 20,
        ];
        for &a in &units {
            for &b in &units {
                for s in [0u32, 2, 18] {
                    let general = compare(&d(a, s), &d(b * 10, s + 1));
                    assert_eq!(compare(&d(a, s), &d(b, s)), general, "{a} {b} at {s}");
                }
            }
        }
    }
}
