//! Shorthands shared by the normalize unit tests: a type from its spec
//! name, a converted decimal or timestamp, a tolerance.

use super::{ConvertError, FieldType, Tolerance, TypeOptions, Value};
use chrono_tz::UTC;

pub(super) fn ty(spec: &str) -> FieldType {
    FieldType::from_spec(spec, &TypeOptions::default(), UTC).unwrap()
}

pub(super) fn ty_tz(spec: &str, tz: &str) -> FieldType {
    let opts = TypeOptions {
        timezone: Some(tz.into()),
        ..TypeOptions::default()
    };
    FieldType::from_spec(spec, &opts, UTC).unwrap()
}

pub(super) fn dec(text: &str, spec: &str) -> Result<Value, ConvertError> {
    ty(spec).convert(text)
}

pub(super) fn ts(text: &str) -> i64 {
    match ty("timestamp").convert(text).unwrap() {
        Value::Ts(t) => t.micros(),
        other => panic!("not a timestamp: {other:?}"),
    }
}

pub(super) fn tol(abs: Option<&str>, rel: Option<f64>, seconds: Option<i64>, date: bool) -> Tolerance {
    Tolerance::from_spec(abs, rel, seconds, date).unwrap()
}
