//! Evaluating an expression of the spec's small language (`expr` rules
//! and `where` filters; parsed by `spec::expr`) on one prepared row.
//!
//! Nulls follow SQL's three-valued logic: a comparison involving a null (or
//! an unconvertible cell) is *unknown*; `NOT unknown` is unknown; `false AND
//! unknown` is false and `true OR unknown` is true. An `expr` rule reports a
//! row only when its expression is definitely false; a `where` filter keeps
//! a row only when it is definitely true.

use crate::normalize::order;
use crate::normalize::Value;
use crate::prepare::{Cell, PreparedSide};
use crate::spec::expr::{Expr, Node, Operand};

impl Expr {
    /// Three-valued result on one row: `None` is unknown.
    pub fn eval(&self, side: &PreparedSide, row: usize) -> Option<bool> {
        eval(&self.root, side, row)
    }
}

fn operand<'a>(o: &'a Operand, side: &'a PreparedSide, row: usize) -> Option<&'a Value> {
    match o {
        Operand::Field(f) => match side.cell(*f, row) {
            Cell::Val(v) => Some(v),
            Cell::Null | Cell::Bad => None,
        },
        Operand::Lit(v) => Some(&v[side.side.idx()]),
    }
}

fn eval(n: &Node, side: &PreparedSide, row: usize) -> Option<bool> {
    match n {
        Node::And(a, b) => match (eval(a, side, row), eval(b, side, row)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Node::Or(a, b) => match (eval(a, side, row), eval(b, side, row)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Node::Not(a) => eval(a, side, row).map(|v| !v),
        Node::Cmp(a, op, b) => {
            let (x, y) = (operand(a, side, row)?, operand(b, side, row)?);
            order(x, y).map(|o| op.holds(o))
        }
        Node::IsNull(f, negated) => match side.cell(*f, row) {
            Cell::Bad => None,
            Cell::Null => Some(!negated),
            Cell::Val(_) => Some(*negated),
        },
        Node::Truth(o) => match operand(o, side, row)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::PreparedField;
    use crate::spec::expr::compile;
    use crate::spec::expr::tests::fields;
    use crate::spec::{Field, Side};

    /// One row with the given cells (None = null), in `fields()` order.
    fn side(fs: &[Field], row: &[Option<&str>]) -> PreparedSide {
        let fields = fs
            .iter()
            .zip(row)
            .map(|(f, v)| PreparedField {
                present: true,
                cells: vec![match v {
                    None => Cell::Null,
                    Some(t) => Cell::Val(f.ty[0].convert(t).unwrap()),
                }],
                bad: Vec::new(),
            })
            .collect();
        PreparedSide {
            side: Side::Left,
            rows: 1,
            fields,
        }
    }

    fn eval_on(text: &str, row: &[Option<&str>]) -> Option<bool> {
        let fs = fields();
        let e = compile(text, &fs).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        e.eval(&side(&fs, row), 0)
    }

    const ROW: [Option<&str>; 8] = [
        Some("1"),
        Some("2"),
        Some("10.50"),
        Some("Zoë"),
        Some("true"),
        Some("2026-11-23 08:00:00"),
        Some("2026-11-23 08:05:00"),
        Some("2026-11-23"),
    ];

    #[test]
    fn comparisons_and_literals() {
        assert_eq!(eval_on("a < b", &ROW), Some(true));
        assert_eq!(eval_on("a = 1", &ROW), Some(true));
        assert_eq!(eval_on("a == 1 AND b <> 1", &ROW), Some(true));
        assert_eq!(eval_on("1 < b", &ROW), Some(true));
        assert_eq!(eval_on("amount > 10.5", &ROW), Some(false));
        assert_eq!(eval_on("amount >= 10.5", &ROW), Some(true));
        assert_eq!(eval_on("amount = 10.500", &ROW), Some(true));
        assert_eq!(eval_on("amount < 11", &ROW), Some(true));
        assert_eq!(eval_on("a >= -1", &ROW), Some(true));
        assert_eq!(eval_on("name = 'Zoë'", &ROW), Some(true));
        assert_eq!(eval_on("name != 'zoë'", &ROW), Some(true));
        assert_eq!(eval_on("ok", &ROW), Some(true));
        assert_eq!(eval_on("ok = false", &ROW), Some(false));
        assert_eq!(eval_on("ended_at >= started_at", &ROW), Some(true));
        assert_eq!(eval_on("started_at > '2026-11-23T07:59:59Z'", &ROW), Some(true));
        assert_eq!(eval_on("day = '2026/11/23'", &ROW), Some(true));
        assert_eq!(eval_on("\"a\" = 1", &ROW), Some(true));
        assert_eq!(eval_on("name = 'it''s'", &ROW), Some(false));
        assert_eq!(eval_on("TRUE", &ROW), Some(true));
    }

    #[test]
    fn precedence_not_and_or() {
        // OR is weaker than AND: true OR (false AND false)
        assert_eq!(eval_on("a = 1 OR a = 2 AND b = 3", &ROW), Some(true));
        assert_eq!(eval_on("(a = 1 OR a = 2) AND b = 3", &ROW), Some(false));
        // NOT binds tighter than AND: (NOT a = 1) AND ...
        assert_eq!(eval_on("NOT a = 1 AND b = 2", &ROW), Some(false));
        assert_eq!(eval_on("NOT (a = 1 AND b = 3)", &ROW), Some(true));
        assert_eq!(eval_on("not not a = 1", &ROW), Some(true));
        assert_eq!(eval_on("a = 2 or b = 2 and not ok", &ROW), Some(false));
        let fs = fields();
        let e = compile("a = 1 OR b = 2 AND ok", &fs).unwrap();
        assert!(matches!(e.root, Node::Or(_, ref r) if matches!(**r, Node::And(..))));
        assert_eq!(e.fields, vec![0, 1, 4]);
    }

    #[test]
    fn three_valued_nulls() {
        let mut row = ROW;
        row[0] = None; // a is null
        assert_eq!(eval_on("a = 1", &row), None);
        assert_eq!(eval_on("a != 1", &row), None);
        assert_eq!(eval_on("NOT a = 1", &row), None);
        assert_eq!(eval_on("a = 1 AND b = 3", &row), Some(false));
        assert_eq!(eval_on("a = 1 AND b = 2", &row), None);
        assert_eq!(eval_on("a = 1 OR b = 2", &row), Some(true));
        assert_eq!(eval_on("a = 1 OR b = 3", &row), None);
        assert_eq!(eval_on("a IS NULL", &row), Some(true));
        assert_eq!(eval_on("a IS NOT NULL", &row), Some(false));
        assert_eq!(eval_on("a is null or a > 0", &row), Some(true));
        assert_eq!(eval_on("b IS NULL", &row), Some(false));
    }

    #[test]
    fn bad_cells_are_unknown() {
        let fs = fields();
        let mut s = side(&fs, &ROW);
        s.fields[0].cells[0] = Cell::Bad;
        for (text, want) in [("a = 1", None), ("a IS NULL", None), ("a IS NOT NULL", None)] {
            assert_eq!(compile(text, &fs).unwrap().eval(&s, 0), want, "{text}");
        }
    }
}
