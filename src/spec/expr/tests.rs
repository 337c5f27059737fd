//! Tests of the expression language: error positions and hints; and the
//! fields other modules' expression tests use.

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
