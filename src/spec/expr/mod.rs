//! The small boolean expression language of `expr` rules and `where`
//! filters, parsed by recursive descent and type-checked against the
//! entity's fields when the spec is read (`quality::expr` evaluates it on
//! prepared cells). Values compare by `normalize::order`.
//!
//! Grammar (keywords are case-insensitive):
//!
//! ```text
//! expr      := and ( OR and )*
//! and       := unary ( AND unary )*
//! unary     := NOT unary | primary
//! primary   := "(" expr ")" | member | age | predicate
//! member    := ( CONTAINS | ANY_OF | ALL_OF ) "(" field ( "," 'string' )+ ")"
//! age       := AGE "(" field ")" cmp duration | duration cmp AGE "(" field ")"
//! predicate := operand ( cmp operand | IS [NOT] NULL )?
//! cmp       := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! operand   := field | "quoted field" | number | 'string' | TRUE | FALSE
//! duration  := whole number then s | m | h | d | w   (e.g. 90d)
//! ```
//!
//! Functions: `contains(set, 'x')` holds when the set field holds the
//! element `x`; `any_of(set, 'x', 'y', …)` when it holds at least one of
//! them, `all_of(…)` when it holds every one (elements are canonical, after
//! the field's steps and value map). `age(field)` is the time from a date or
//! timestamp to the run's start (a date's age counts whole days up to the
//! run's start date in `[run] timezone`), compared with a duration:
//! `age(last_login) > 90d`.
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

mod lex;
#[cfg(test)]
pub(crate) mod tests;

use std::cmp::Ordering;
use std::ops::Range;

use crate::normalize::{FieldType, Value};
use crate::spec::Field;
use lex::{lex, Tok, GRAMMAR_HINT};

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
    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            same => same,
        }
    }

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
    /// `contains` / `any_of` (`all` false) / `all_of` (`all` true) on a set field.
    Has {
        field: usize,
        elements: Vec<String>,
        all: bool,
    },
    /// `age(field) op seconds`.
    Age {
        field: usize,
        op: Op,
        seconds: i64,
    },
}

/// The functions an expression may call, as the error for an unknown one lists them.
pub const FUNCTIONS: &str =
    "contains(set, 'x'), any_of(set, 'x', 'y', ...), all_of(set, 'x', 'y', ...), age(date or timestamp) compared with a duration such as 90d";

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    pub text: String,
    pub root: Node,
    /// Every field the expression reads, sorted, without repeats.
    pub fields: Vec<usize>,
}

impl Expr {
    /// Whether the expression reads the run's clock (`age(...)`).
    pub fn uses_clock(&self) -> bool {
        fn walk(n: &Node) -> bool {
            match n {
                Node::And(a, b) | Node::Or(a, b) => walk(a) || walk(b),
                Node::Not(a) => walk(a),
                Node::Age { .. } => true,
                Node::Cmp(..) | Node::IsNull(..) | Node::Truth(_) | Node::Has { .. } => false,
            }
        }
        walk(&self.root)
    }
}

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
    Set,
}

impl Kind {
    fn of(ty: &FieldType) -> Kind {
        match ty {
            FieldType::String => Kind::Text,
            FieldType::Int | FieldType::Decimal { .. } => Kind::Number,
            FieldType::Bool { .. } => Kind::Bool,
            FieldType::Date { .. } => Kind::Date,
            FieldType::Timestamp { .. } => Kind::Timestamp,
            FieldType::Set { .. } => Kind::Set,
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
        if let (Tok::Ident(name), Some(Tok::LParen)) = (self.peek().clone(), self.toks.get(self.pos + 1).map(|t| &t.0))
        {
            return self.call(&name);
        }
        if let Tok::Duration(seconds, text) = self.peek().clone() {
            let (_, at) = self.next();
            let (t, op_at) = self.next();
            let Tok::Op(op) = t else {
                return fail(
                    op_at,
                    format!("expected a comparison after duration {text}"),
                    Some(FUNCTIONS.into()),
                );
            };
            let (name, name_at) = self.next();
            let is_age = matches!(&name, Tok::Ident(n) if n.eq_ignore_ascii_case("age"));
            if !is_age || self.peek() != &Tok::LParen {
                return fail(
                    at.start..name_at.end,
                    "a duration is compared with age(field)",
                    Some(FUNCTIONS.into()),
                );
            }
            let field = self.age_field(name_at)?;
            return Ok(Node::Age {
                field,
                op: op.flipped(),
                seconds,
            });
        }
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

    /// A function call: `contains`, `any_of`, `all_of` (conditions of
    /// their own) or `age` (compared with a duration).
    fn call(&mut self, name: &str) -> Result<Node, ExprError> {
        let (_, name_at) = self.next();
        match name.to_ascii_lowercase().as_str() {
            f @ ("contains" | "any_of" | "all_of") => {
                self.next(); // (
                let (field, field_at) = self.field_argument(f)?;
                if Kind::of(&self.fields[field].ty[0]) != Kind::Set {
                    return fail(
                        field_at,
                        format!(
                            "{f} needs a set field; `{}` is {}",
                            self.fields[field].name,
                            self.fields[field].ty[0].name()
                        ),
                        Some("declare the field with type = \"set\"".into()),
                    );
                }
                let mut elements = Vec::new();
                loop {
                    let (t, at) = self.next();
                    match t {
                        Tok::Comma => {}
                        Tok::RParen if !elements.is_empty() => break,
                        other => {
                            return fail(
                                at,
                                format!("expected `,` and an element in {f}(...) but found {}", other.describe()),
                                Some(FUNCTIONS.into()),
                            )
                        }
                    }
                    let (t, at) = self.next();
                    let Tok::Str(element) = t else {
                        return fail(
                            at,
                            format!(
                                "{f}'s elements are quoted strings, e.g. 'export_pii'; found {}",
                                t.describe()
                            ),
                            None,
                        );
                    };
                    self.known_element(field, &element, at)?;
                    elements.push(element);
                }
                if f == "contains" && elements.len() != 1 {
                    return fail(
                        name_at,
                        "contains takes one element",
                        Some("use any_of or all_of for several".into()),
                    );
                }
                if matches!(self.peek(), Tok::Op(_)) {
                    let (_, at) = self.next();
                    return fail(at, format!("{f}(...) is a condition; it is not compared"), None);
                }
                Ok(Node::Has {
                    field,
                    elements,
                    all: f == "all_of",
                })
            }
            "age" => {
                let field = self.age_field(name_at.clone())?;
                let (t, at) = self.next();
                let Tok::Op(op) = t else {
                    return fail(
                        at,
                        format!(
                            "age(...) is compared with a duration, e.g. age(x) > 90d; found {}",
                            t.describe()
                        ),
                        None,
                    );
                };
                let (t, at) = self.next();
                let Tok::Duration(seconds, _) = t else {
                    return fail(
                        at,
                        format!(
                            "age(...) is compared with a duration such as 90d, 12h or 30m; found {}",
                            t.describe()
                        ),
                        None,
                    );
                };
                Ok(Node::Age { field, op, seconds })
            }
            _ => fail(
                name_at,
                format!("unknown function `{name}`"),
                Some(format!("functions: {FUNCTIONS}")),
            ),
        }
    }

    /// `(field)` of an `age` call whose name is at `name_at`.
    fn age_field(&mut self, name_at: Range<usize>) -> Result<usize, ExprError> {
        self.next(); // (
        let (field, at) = self.field_argument("age")?;
        if !matches!(Kind::of(&self.fields[field].ty[0]), Kind::Date | Kind::Timestamp) {
            return fail(
                at,
                format!(
                    "age needs a date or timestamp field; `{}` is {}",
                    self.fields[field].name,
                    self.fields[field].ty[0].name()
                ),
                None,
            );
        }
        let (t, at) = self.next();
        if t != Tok::RParen {
            return fail(
                name_at.start..at.end,
                format!("age takes one field; expected `)` but found {}", t.describe()),
                None,
            );
        }
        Ok(field)
    }

    /// A function's first argument: a field.
    fn field_argument(&mut self, function: &str) -> Result<(usize, Range<usize>), ExprError> {
        match self.operand()? {
            Raw::Field(f, at) => Ok((f, at)),
            other => fail(other.at(), format!("{function}'s first argument is a field"), None),
        }
    }

    /// Refuses an element a set field with value maps on both sides can
    /// never hold (a typo would make the condition silently never true).
    fn known_element(&self, field: usize, element: &str, at: Range<usize>) -> Result<(), ExprError> {
        let f = &self.fields[field];
        let Some(known) = f.mapped_values().filter(|known| !known.contains(&element)) else {
            return Ok(());
        };
        fail(
            at,
            format!(
                "`{}` never holds '{element}': it is in neither side's value map",
                f.name
            ),
            Some(format!("elements: {}", known.join(", "))),
        )
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
