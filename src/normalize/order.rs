//! The order of two values of one kind, which rules (`min`/`max`,
//! expression comparisons) and column metrics (min and max) share.

use std::cmp::Ordering;

use super::Value;

/// Total order of two values of one kind: numbers (`int` and `decimal` of
/// any scale, exactly), text (by code point), bools (false < true), dates,
/// timestamps. `None` for values of different kinds.
pub fn order(a: &Value, b: &Value) -> Option<Ordering> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_comparison_is_exact_across_scales() {
        let d = |u: i128, s: u32| Value::dec(u, s);
        assert_eq!(order(&d(1050, 2), &d(105, 1)), Some(Ordering::Equal));
        assert_eq!(order(&d(-1, 2), &Value::Int(0)), Some(Ordering::Less));
        assert_eq!(order(&d(-150, 2), &Value::Int(-1)), Some(Ordering::Less));
        assert_eq!(order(&Value::Int(-2), &d(-150, 2)), Some(Ordering::Less));
        assert_eq!(
            order(&d(i128::MAX / 2, 38), &d(i128::MAX / 2 + 1, 38)),
            Some(Ordering::Less)
        );
        assert_eq!(order(&d(1, 38), &d(1, 0)), Some(Ordering::Less));
        assert_eq!(order(&Value::Int(1), &Value::Str("1".into())), None);
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
                    let general = order(&d(a, s), &d(b * 10, s + 1));
                    assert_eq!(order(&d(a, s), &d(b, s)), general, "{a} {b} at {s}");
                }
            }
        }
    }
}
