//! Evaluating an expression of the spec's small language (`expr` rules
//! and `where` filters; parsed by `spec::expr`) on one prepared row.
//!
//! Nulls follow SQL's three-valued logic: a comparison involving a null (or
//! an unconvertible cell) is *unknown*; `NOT unknown` is unknown; `false AND
//! unknown` is false and `true OR unknown` is true. An `expr` rule reports a
//! row only when its expression is definitely false; a `where` filter keeps
//! a row only when it is definitely true.

use crate::normalize::order;
use crate::normalize::{set, Value};
use crate::prepare::{Cell, PreparedSide};
use crate::spec::expr::{Expr, Node, Operand};

/// The run's start, which `age(...)` measures from: the instant, and the
/// date it is in the run's time zone (a date's age is in whole days).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    now_micros: i64,
    today: i32,
}

impl Clock {
    pub fn new(now: chrono::DateTime<chrono::Utc>, timezone: chrono_tz::Tz) -> Clock {
        let local = now.with_timezone(&timezone).date_naive();
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        Clock {
            now_micros: now.timestamp_micros(),
            today: (local - epoch).num_days() as i32,
        }
    }

    /// Microseconds since the epoch.
    pub fn now_micros(self) -> i64 {
        self.now_micros
    }

    /// Seconds from a date or timestamp to the run's start (None for other values).
    fn age_seconds(self, v: &Value) -> Option<i64> {
        match v {
            Value::Ts(t) => Some((self.now_micros - t.micros()).div_euclid(1_000_000)),
            Value::Date(d) => Some(i64::from(self.today - d) * 86_400),
            _ => None,
        }
    }
}

impl Expr {
    /// Three-valued result on one row: `None` is unknown.
    pub fn eval(&self, side: &PreparedSide, row: usize, clock: Clock) -> Option<bool> {
        eval(&self.root, side, row, clock)
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

fn eval(n: &Node, side: &PreparedSide, row: usize, clock: Clock) -> Option<bool> {
    match n {
        Node::And(a, b) => match (eval(a, side, row, clock), eval(b, side, row, clock)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Node::Or(a, b) => match (eval(a, side, row, clock), eval(b, side, row, clock)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Node::Not(a) => eval(a, side, row, clock).map(|v| !v),
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
        Node::Has { field, elements, all } => match side.cell(*field, row) {
            Cell::Val(Value::Str(canonical)) => {
                let held = set::elements(canonical);
                let has = |e: &String| held.contains(e);
                Some(if *all {
                    elements.iter().all(has)
                } else {
                    elements.iter().any(has)
                })
            }
            _ => None,
        },
        Node::Age { field, op, seconds } => {
            let age = clock.age_seconds(side.cell(*field, row).value()?)?;
            Some(op.holds(age.cmp(seconds)))
        }
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

    /// The run's start in the tests: 2026-11-23 12:00 UTC, 20:00 in Shanghai.
    fn clock() -> Clock {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .to_utc();
        Clock::new(now, chrono_tz::Asia::Shanghai)
    }

    fn eval_on(text: &str, row: &[Option<&str>]) -> Option<bool> {
        let fs = fields();
        let e = compile(text, &fs).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        e.eval(&side(&fs, row), 0, clock())
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
            assert_eq!(compile(text, &fs).unwrap().eval(&s, 0, clock()), want, "{text}");
        }
    }

    /// The access-audit fields: a set of permissions (`;`-separated, a
    /// value map per element on the right), a last-login timestamp, a date.
    fn audit_fields() -> Vec<Field> {
        use crate::spec::expr::tests::field;
        let mut perms = field("perms", "set");
        perms.ty = [
            FieldType::Set {
                separator: Some(";".into()),
            },
            FieldType::Set { separator: None },
        ];
        perms.map[1] = Some(
            [
                ("ExportPII", "export_pii"),
                ("View", "view"),
                ("RefundOk", "refund_approve"),
                ("RefundPay", "refund_issue"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        );
        perms.map[0] = Some(
            ["export_pii", "view", "refund_approve", "refund_issue"]
                .into_iter()
                .map(|a| (a.to_string(), a.to_string()))
                .collect(),
        );
        vec![perms, field("last_login", "timestamp"), field("hired", "date")]
    }

    /// One row of the audit fields, on `side`, typed through the spec's chain.
    fn audit_row(side: Side, row: [Option<&str>; 3]) -> PreparedSide {
        let fs = audit_fields();
        let fields = fs
            .iter()
            .zip(row)
            .map(|(f, v)| PreparedField {
                present: true,
                cells: vec![match crate::prepare::convert(f, side, v) {
                    Ok(Some(v)) => Cell::Val(v),
                    Ok(None) => Cell::Null,
                    Err(_) => Cell::Bad,
                }],
                bad: Vec::new(),
            })
            .collect();
        PreparedSide { side, rows: 1, fields }
    }

    fn audit(text: &str, side: Side, row: [Option<&str>; 3]) -> Option<bool> {
        let e = compile(text, &audit_fields()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        e.eval(&audit_row(side, row), 0, clock())
    }

    use crate::normalize::FieldType;

    #[test]
    fn set_membership() {
        let left = [Some("view;export_pii;view"), None, None];
        let right = [Some(r#"["View","ExportPII"]"#), None, None];
        for (side, row) in [(Side::Left, left), (Side::Right, right)] {
            assert_eq!(audit("contains(perms, 'export_pii')", side, row), Some(true));
            assert_eq!(audit("contains(perms, 'refund_issue')", side, row), Some(false));
            assert_eq!(audit("any_of(perms, 'refund_issue', 'view')", side, row), Some(true));
            assert_eq!(audit("all_of(perms, 'refund_issue', 'view')", side, row), Some(false));
            assert_eq!(audit("ALL_OF(perms, 'export_pii', 'view')", side, row), Some(true));
            assert_eq!(audit("NOT contains(perms, 'export_pii')", side, row), Some(false));
        }
        // Segregation of duties: both refund duties on one account.
        let sod = "NOT (contains(perms, 'refund_approve') AND contains(perms, 'refund_issue'))";
        assert_eq!(
            audit(sod, Side::Left, [Some("refund_approve;refund_issue"), None, None]),
            Some(false)
        );
        assert_eq!(
            audit(sod, Side::Right, [Some(r#"["RefundOk"]"#), None, None]),
            Some(true)
        );
        // No permission at all is null: unknown, never reported by `expr`.
        assert_eq!(audit(sod, Side::Left, [None, None, None]), None);
        assert_eq!(
            audit("contains(perms, 'view')", Side::Left, [Some(";;"), None, None]),
            None
        );
        // An element outside the value map makes the cell unconvertible: unknown.
        assert_eq!(
            audit(
                "contains(perms, 'view')",
                Side::Right,
                [Some(r#"["Root"]"#), None, None]
            ),
            None
        );
    }

    #[test]
    fn age_from_the_run_start() {
        let at = |ts: &'static str| [None, Some(ts), None];
        // 2026-11-23 12:00 UTC is the run's start.
        assert_eq!(
            audit("age(last_login) > 90d", Side::Left, at("2026-08-24 11:59:59")),
            Some(true)
        );
        assert_eq!(
            audit("age(last_login) > 90d", Side::Left, at("2026-08-25 12:00:00")),
            Some(false)
        );
        assert_eq!(
            audit("age(last_login) >= 90d", Side::Left, at("2026-08-25 12:00:00")),
            Some(true)
        );
        assert_eq!(
            audit("age(last_login) < 1h", Side::Left, at("2026-11-23 11:30:00")),
            Some(true)
        );
        assert_eq!(
            audit("90d < age(last_login)", Side::Left, at("2026-08-24 11:59:59")),
            Some(true)
        );
        assert_eq!(
            audit("12h > age(last_login)", Side::Left, at("2026-11-23 11:00:00")),
            Some(true)
        );
        assert_eq!(
            audit("age(last_login) <= 2w", Side::Left, at("2026-11-09 12:00:00")),
            Some(true)
        );
        assert_eq!(audit("age(last_login) > 90d", Side::Left, [None, None, None]), None);
        assert_eq!(
            audit(
                "age(last_login) > 90d OR last_login IS NULL",
                Side::Left,
                [None, None, None]
            ),
            Some(true)
        );
        // A date's age counts days to the run's date in [run] timezone:
        // 20:00 in Shanghai is still 2026-11-23.
        let day = |d: &'static str| [None, None, Some(d)];
        assert_eq!(audit("age(hired) = 1d", Side::Left, day("2026-11-22")), Some(true));
        assert_eq!(audit("age(hired) = 0d", Side::Left, day("2026-11-23")), Some(true));
        assert_eq!(audit("age(hired) < 0s", Side::Left, day("2026-11-24")), Some(true));
    }

    #[test]
    fn a_date_age_follows_the_run_zone() {
        // 2026-11-23 20:00 UTC is 2026-11-24 04:00 in Shanghai.
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T20:00:00Z")
            .unwrap()
            .to_utc();
        let e = compile("age(hired) = 1d", &audit_fields()).unwrap();
        let row = audit_row(Side::Left, [None, None, Some("2026-11-23")]);
        assert_eq!(e.eval(&row, 0, Clock::new(now, chrono_tz::Asia::Shanghai)), Some(true));
        assert_eq!(e.eval(&row, 0, Clock::new(now, chrono_tz::Tz::UTC)), Some(false));
    }

    #[test]
    fn function_errors_name_the_function_and_point_at_it() {
        let fs = audit_fields();
        let err = |text: &str| compile(text, &fs).expect_err(text);
        let e = err("countains(perms, 'view')");
        assert_eq!(e.at, 0..9);
        assert!(e.message.contains("unknown function `countains`"), "{}", e.message);
        assert!(e.hint.as_deref().unwrap_or("").contains("contains(set, 'x')"));
        let e = err("contains(perms, 'exprt_pii')");
        assert_eq!(e.at, 16..27);
        assert!(e.hint.as_deref().unwrap_or("").contains("export_pii"), "{:?}", e.hint);
        for (text, needle) in [
            ("contains(last_login, 'x')", "needs a set field"),
            ("contains(perms, 'view', 'export_pii')", "contains takes one element"),
            ("contains(perms)", "expected `,`"),
            ("contains(perms, view)", "quoted strings"),
            ("contains(perms, 'view') = true", "is a condition"),
            ("age(perms) > 1d", "date or timestamp"),
            ("age(last_login) > 5", "duration"),
            ("age(last_login)", "duration"),
            ("age(last_login, hired) > 1d", "one field"),
            ("age(last_login) > 90x", "not a number or a duration"),
            ("age(last_login) > 1.5d", "not a number or a duration"),
            ("90d < hired", "compared with age"),
            ("hired > 90d", "found duration 90d"),
        ] {
            let e = err(text);
            assert!(e.message.contains(needle), "{text}: {}", e.message);
            assert!(e.at.end <= text.len(), "{text}: {:?}", e.at);
        }
    }
}
