//! Tolerance-aware equality of canonical values, as drift comparison uses
//! it: [`Tolerance`] from the spec, [`values_equal`] and [`business_date`].
//!
//! Exact arithmetic throughout (a float only for a relative tolerance); any
//! overflow counts as not equal rather than panicking.

use super::error::DeclarationError;
use super::parse::accumulate_digits;
use super::types::MAX_PRECISION;
use super::value::{Instant, Value, NANOS_PER_SEC};
use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400 * 1_000_000;

/// Tolerance for equality after conversion; all `None`/`false` = exact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance as exact decimal `(units, scale)`: `(1, 2)` = 0.01.
    pub abs: Option<(i128, u32)>,
    /// Relative tolerance, a fraction of the larger magnitude.
    pub rel: Option<f64>,
    /// Timestamp tolerance in whole seconds.
    pub seconds: Option<i64>,
    /// Timestamps are equal when they fall on the same business date.
    pub date: bool,
}

impl Tolerance {
    /// Build from spec values. `abs` is the number's text as written in the
    /// spec (`"0.01"`, `"1"`, also `"1e-2"` and TOML `_` digit separators)
    /// and is parsed exactly. `abs` must be >= 0, `rel` finite and >= 0,
    /// `seconds` >= 0.
    pub fn from_spec(
        abs: Option<&str>,
        rel: Option<f64>,
        seconds: Option<i64>,
        date: bool,
    ) -> Result<Tolerance, DeclarationError> {
        let abs = abs.map(parse_tolerance_decimal).transpose()?;
        if let Some(rel) = rel {
            if !rel.is_finite() || rel < 0.0 {
                return Err(DeclarationError::RelativeTolerance(rel));
            }
        }
        if let Some(seconds) = seconds {
            if seconds < 0 {
                return Err(DeclarationError::SecondsTolerance(seconds));
            }
        }
        Ok(Tolerance {
            abs,
            rel,
            seconds,
            date,
        })
    }

    /// True when no tolerance can make unequal values equal (zero-valued
    /// tolerances count as exact).
    pub fn is_exact(&self) -> bool {
        self.abs.is_none_or(|(units, _)| units == 0)
            && self.rel.is_none_or(|rel| rel == 0.0)
            && self.seconds.is_none_or(|s| s == 0)
            && !self.date
    }
}

/// Exact `(units, scale)` of a non-negative decimal, optionally with an
/// exponent, normalized so trailing fraction zeros are dropped.
fn parse_tolerance_decimal(text: &str) -> Result<(i128, u32), DeclarationError> {
    let bad = || DeclarationError::AbsoluteTolerance(text.to_string());
    let cleaned: String = text.trim().chars().filter(|&c| c != '_').collect();
    let body = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // Trailing fraction zeros carry no value; dropping them keeps "1.000…"
    // from overflowing or exceeding the scale limit.
    let frac = frac.trim_end_matches('0');
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let has_digits = mantissa.bytes().any(|b| b.is_ascii_digit());
    if !digits_ok(int) || !digits_ok(frac) || !has_digits {
        return Err(bad());
    }
    let units = accumulate_digits(int.bytes().chain(frac.bytes())).ok_or_else(bad)?;
    let scale = i64::try_from(frac.len()).map_err(|_| bad())? - i64::from(exponent);
    let (units, scale) = apply_scale(units, scale).ok_or_else(bad)?;
    Ok(normalize_scale(units, scale))
}

/// Express `units * 10^-scale` with a non-negative scale of at most 38.
fn apply_scale(units: i128, scale: i64) -> Option<(i128, u32)> {
    if scale >= 0 {
        let scale = u32::try_from(scale).ok().filter(|s| *s <= MAX_PRECISION)?;
        return Some((units, scale));
    }
    let factor = 10i128.checked_pow(u32::try_from(-scale).ok()?)?;
    Some((units.checked_mul(factor)?, 0))
}

fn normalize_scale(mut units: i128, mut scale: u32) -> (i128, u32) {
    while scale > 0 && units % 10 == 0 {
        units /= 10;
        scale -= 1;
    }
    (units, scale)
}

/// Equality used by drift comparison.
///
/// Different variants are never equal. Str/Bool/Date compare exactly (date
/// tolerance is trivially satisfied by equal dates). Int/Dec: exact, within
/// `abs` (exact i128 arithmetic, scales aligned), or within `rel` of the
/// larger magnitude (f64, only for `rel`). Ts: exact, within `seconds`, or —
/// with `date` — on the same calendar date in `business_tz`. Any arithmetic
/// overflow counts as not equal.
pub fn values_equal(a: &Value, b: &Value, tol: &Tolerance, business_tz: Tz) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Date(x), Value::Date(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => numbers_equal((i128::from(*x), 0), (i128::from(*y), 0), tol),
        (Value::Dec { units: x, scale: sx }, Value::Dec { units: y, scale: sy }) => {
            numbers_equal((x.get(), *sx), (y.get(), *sy), tol)
        }
        (Value::Ts(x), Value::Ts(y)) => timestamps_equal(*x, *y, tol, business_tz),
        _ => false,
    }
}

fn numbers_equal(a: (i128, u32), b: (i128, u32), tol: &Tolerance) -> bool {
    let Some((a, b, scale)) = align_scales(a, b) else {
        return false;
    };
    if a == b {
        return true;
    }
    let Some(diff) = a.checked_sub(b).map(i128::unsigned_abs) else {
        return false;
    };
    within_abs(diff, scale, tol.abs) || within_rel(diff, a, b, tol.rel)
}

/// Both numbers as units of the larger scale.
fn align_scales((a, sa): (i128, u32), (b, sb): (i128, u32)) -> Option<(i128, i128, u32)> {
    let scale = sa.max(sb);
    let a = a.checked_mul(10i128.checked_pow(scale - sa)?)?;
    let b = b.checked_mul(10i128.checked_pow(scale - sb)?)?;
    Some((a, b, scale))
}

/// `diff / 10^scale <= units / 10^tol_scale`, cross-multiplied to stay exact.
fn within_abs(diff: u128, scale: u32, abs: Option<(i128, u32)>) -> bool {
    let Some((units, tol_scale)) = abs else {
        return false;
    };
    let Ok(units) = u128::try_from(units) else {
        return false;
    };
    let lhs = 10u128.checked_pow(tol_scale).and_then(|p| diff.checked_mul(p));
    let rhs = 10u128.checked_pow(scale).and_then(|p| units.checked_mul(p));
    matches!((lhs, rhs), (Some(l), Some(r)) if l <= r)
}

fn within_rel(diff: u128, a: i128, b: i128, rel: Option<f64>) -> bool {
    let Some(rel) = rel.filter(|r| r.is_finite() && *r >= 0.0) else {
        return false;
    };
    // Scale-free ratio, so comparing units directly is fine.
    let larger = a.unsigned_abs().max(b.unsigned_abs()) as f64;
    diff as f64 <= rel * larger
}

fn timestamps_equal(a: Instant, b: Instant, tol: &Tolerance, business_tz: Tz) -> bool {
    if a == b {
        return true;
    }
    let diff = (a.nanos() - b.nanos()).unsigned_abs();
    let within_seconds = tol.seconds.is_some_and(|s| {
        u128::try_from(s)
            .ok()
            .and_then(|s| s.checked_mul(u128::from(NANOS_PER_SEC)))
            .is_some_and(|limit| diff <= limit)
    });
    within_seconds || (tol.date && business_date(a.micros(), business_tz) == business_date(b.micros(), business_tz))
}

/// Business date (days since 1970-01-01) of an instant in a time zone.
///
/// Computed from the zone's UTC offset with i128 arithmetic so no input can
/// overflow; instants beyond chrono's range use the UTC date.
pub fn business_date(ts_micros: i64, tz: Tz) -> i32 {
    let offset_secs = DateTime::from_timestamp_micros(ts_micros)
        .map(|utc| tz.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc())
        .unwrap_or(0);
    let local_micros = i128::from(ts_micros) + i128::from(offset_secs) * i128::from(MICROS_PER_SEC);
    let days = local_micros.div_euclid(MICROS_PER_DAY);
    // |i64 micros| / 86.4e9 < 2^27, so this always fits; saturate anyway.
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::testing::{dec, tol, ts, ty};
    use chrono_tz::{America::New_York, Asia::Shanghai, UTC};

    // --- Tolerance ------------------------------------------------------------

    #[test]
    fn tolerance_from_spec() {
        assert_eq!(tol(Some("0.01"), None, None, false).abs, Some((1, 2)));
        assert_eq!(tol(Some("1"), None, None, false).abs, Some((1, 0)));
        assert_eq!(tol(Some("0.0100"), None, None, false).abs, Some((1, 2)));
        assert_eq!(tol(Some("1e-2"), None, None, false).abs, Some((1, 2)));
        assert_eq!(tol(Some("2.5E1"), None, None, false).abs, Some((25, 0)));
        assert_eq!(tol(Some("1_000"), None, None, false).abs, Some((1000, 0)));
        assert_eq!(tol(Some("+0.5"), None, None, false).abs, Some((5, 1)));
        assert_eq!(tol(Some("0.0"), None, None, false).abs, Some((0, 0)));
        assert_eq!(tol(Some("10e-1"), None, None, false).abs, Some((1, 0)));
        // An exponent beyond the fraction's digits multiplies the units.
        assert_eq!(tol(Some("1e2"), None, None, false).abs, Some((100, 0)));
        assert_eq!(tol(Some("2.5E2"), None, None, false).abs, Some((250, 0)));
        assert!(Tolerance::from_spec(Some("1e39"), None, None, false).is_err());
        let long = format!("1.{}", "0".repeat(60));
        assert_eq!(tol(Some(&long), None, None, false).abs, Some((1, 0)));
        for bad in ["-0.01", "abc", "", ".", "1e", "inf", "nan", "1e400", "0.1.2"] {
            assert!(Tolerance::from_spec(Some(bad), None, None, false).is_err(), "{bad}");
        }
        assert!(Tolerance::from_spec(None, Some(-0.1), None, false).is_err());
        assert!(Tolerance::from_spec(None, Some(f64::NAN), None, false).is_err());
        assert!(Tolerance::from_spec(None, Some(f64::INFINITY), None, false).is_err());
        assert!(Tolerance::from_spec(None, None, Some(-1), false).is_err());
    }

    #[test]
    fn tolerance_is_exact() {
        assert!(Tolerance::default().is_exact());
        assert!(tol(Some("0"), Some(0.0), Some(0), false).is_exact());
        assert!(!tol(Some("0.01"), None, None, false).is_exact());
        assert!(!tol(None, Some(0.01), None, false).is_exact());
        assert!(!tol(None, None, Some(1), false).is_exact());
        assert!(!tol(None, None, None, true).is_exact());
    }

    // --- values_equal ---------------------------------------------------------

    fn eq(a: &Value, b: &Value, t: &Tolerance) -> bool {
        values_equal(a, b, t, UTC)
    }

    fn d2(text: &str) -> Value {
        dec(text, "decimal(18,3)").unwrap()
    }

    #[test]
    fn exact_equality() {
        let exact = Tolerance::default();
        assert!(eq(&Value::Str("a".into()), &Value::Str("a".into()), &exact));
        assert!(!eq(&Value::Str("a".into()), &Value::Str("A".into()), &exact));
        assert!(eq(&Value::Bool(true), &Value::Bool(true), &exact));
        assert!(!eq(&Value::Bool(true), &Value::Bool(false), &exact));
        assert!(eq(&Value::Int(7), &Value::Int(7), &exact));
        assert!(!eq(&Value::Int(7), &Value::Int(8), &exact));
        assert!(eq(&Value::Date(3), &Value::Date(3), &exact));
        assert!(!eq(&Value::Date(3), &Value::Date(4), &exact));
        assert!(eq(&d2("-0.00"), &d2("0"), &exact));
        // Scales are aligned before comparing.
        assert!(eq(&Value::dec(1230, 2), &Value::dec(123, 1), &exact));
    }

    #[test]
    fn variant_mismatch_is_never_equal() {
        let loose = tol(Some("1000"), Some(1.0), Some(1000), true);
        assert!(!eq(&Value::Int(1), &Value::dec(1, 0), &loose));
        assert!(!eq(&Value::Str("1".into()), &Value::Int(1), &loose));
        assert!(!eq(&Value::Date(0), &Value::Ts(Instant::from_micros(0)), &loose));
        assert!(!eq(&Value::Bool(true), &Value::Int(1), &loose));
    }

    #[test]
    fn abs_tolerance_is_exact_decimal() {
        let t = tol(Some("0.01"), None, None, false);
        assert!(eq(&d2("10.005"), &d2("10.00"), &t));
        assert!(eq(&d2("10.01"), &d2("10.00"), &t));
        assert!(!eq(&d2("10.02"), &d2("10.00"), &t));
        assert!(!eq(&d2("10.011"), &d2("10.00"), &t));
        assert!(eq(&d2("-10.00"), &d2("-10.01"), &t));
        let one = tol(Some("1"), None, None, false);
        assert!(eq(&Value::Int(5), &Value::Int(6), &one));
        assert!(!eq(&Value::Int(5), &Value::Int(7), &one));
        // 0.5 allows no integer difference.
        let half = tol(Some("0.5"), None, None, false);
        assert!(!eq(&Value::Int(5), &Value::Int(6), &half));
    }

    #[test]
    fn rel_tolerance() {
        let t = tol(None, Some(0.01), None, false);
        assert!(eq(&Value::Int(100), &Value::Int(101), &t));
        assert!(!eq(&Value::Int(100), &Value::Int(102), &t));
        assert!(eq(&d2("100"), &d2("101"), &t));
        assert!(eq(&d2("-100"), &d2("-101"), &t));
        assert!(!eq(&Value::Int(0), &Value::Int(1), &t));
        // A relative tolerance that from_spec refuses, set directly, never
        // makes different numbers equal (infinite or NaN is no tolerance).
        for rel in [f64::INFINITY, f64::NAN, -1.0] {
            let t = Tolerance {
                rel: Some(rel),
                ..Tolerance::default()
            };
            assert!(!eq(&Value::Int(100), &Value::Int(101), &t), "{rel}");
        }
    }

    #[test]
    fn no_overflow_panics() {
        let t = tol(Some("0.01"), Some(0.5), None, false);
        assert!(!eq(
            &Value::Int(i64::MAX),
            &Value::Int(i64::MIN),
            &tol(Some("1"), None, None, false)
        ));
        assert!(eq(&Value::Int(i64::MAX), &Value::Int(i64::MAX - 1), &t));
        let huge = Value::dec(i128::MAX, 0);
        let tiny = Value::dec(i128::MIN, 0);
        assert!(!eq(&huge, &tiny, &t));
        // Aligning i128::MAX to scale 2 overflows: not equal, no panic.
        assert!(!eq(&huge, &Value::dec(1, 2), &t));
        let wide = Tolerance {
            abs: Some((i128::MAX, 38)),
            ..Tolerance::default()
        };
        assert!(!eq(&Value::dec(1, 38), &Value::dec(3, 38), &wide));
        let negative = Tolerance {
            abs: Some((-1, 0)),
            seconds: Some(-5),
            ..Tolerance::default()
        };
        assert!(!eq(&Value::Int(1), &Value::Int(2), &negative));
        // i64::MAX seconds spans any two instants; computed in u128, no overflow.
        assert!(eq(
            &Value::Ts(Instant::from_micros(i64::MIN)),
            &Value::Ts(Instant::from_micros(i64::MAX)),
            &tol(None, None, Some(i64::MAX), false)
        ));
        assert!(!eq(
            &Value::Ts(Instant::from_micros(i64::MIN)),
            &Value::Ts(Instant::from_micros(i64::MAX)),
            &tol(None, None, Some(1), false)
        ));
        assert!(!eq(
            &Value::Ts(Instant::from_micros(0)),
            &Value::Ts(Instant::from_micros(10_000_000)),
            &negative
        ));
    }

    #[test]
    fn seconds_tolerance() {
        let t = tol(None, None, Some(1), false);
        let base = ts("2026-11-24T08:00:00Z");
        assert!(eq(
            &Value::Ts(Instant::from_micros(base)),
            &Value::Ts(Instant::from_micros(base + 1_000_000)),
            &t
        ));
        assert!(eq(
            &Value::Ts(Instant::from_micros(base + 1_000_000)),
            &Value::Ts(Instant::from_micros(base)),
            &t
        ));
        assert!(!eq(
            &Value::Ts(Instant::from_micros(base)),
            &Value::Ts(Instant::from_micros(base + 2_000_000)),
            &t
        ));
        assert!(!eq(
            &Value::Ts(Instant::from_micros(base)),
            &Value::Ts(Instant::from_micros(base + 1_000_001)),
            &t
        ));
        assert!(!eq(
            &Value::Ts(Instant::from_micros(base)),
            &Value::Ts(Instant::from_micros(base + 1)),
            &Tolerance::default()
        ));
    }

    #[test]
    fn date_tolerance_uses_business_zone() {
        let t = tol(None, None, None, true);
        let a = Value::Ts(Instant::from_micros(ts("2026-11-24T15:59:59Z")));
        let b = Value::Ts(Instant::from_micros(ts("2026-11-24T16:00:01Z")));
        assert!(values_equal(&a, &b, &t, UTC));
        assert!(!values_equal(&a, &b, &t, Shanghai));
        assert!(!values_equal(&a, &b, &Tolerance::default(), UTC));
        let c = Value::Ts(Instant::from_micros(ts("2026-11-23T16:00:00Z")));
        assert!(values_equal(&a, &c, &t, Shanghai));
        assert!(values_equal(&Value::Date(5), &Value::Date(5), &t, Shanghai));
        assert!(!values_equal(&Value::Date(5), &Value::Date(6), &t, Shanghai));
    }

    #[test]
    fn business_dates() {
        let day = |s: &str| match ty("date").convert(s).unwrap() {
            Value::Date(d) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(business_date(ts("2026-11-24T15:59:59Z"), Shanghai), day("2026-11-24"));
        assert_eq!(business_date(ts("2026-11-24T16:00:00Z"), Shanghai), day("2026-11-25"));
        assert_eq!(business_date(ts("2026-11-24T03:00:00Z"), New_York), day("2026-11-23"));
        assert_eq!(business_date(-1, UTC), -1);
        assert_eq!(business_date(0, UTC), 0);
        // Extremes must not panic.
        assert!(business_date(i64::MIN, Shanghai) < 0);
        assert!(business_date(i64::MAX, Shanghai) > 0);
    }
}
