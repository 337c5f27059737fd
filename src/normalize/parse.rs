//! Text grammars of the numeric and boolean types: plain decimal literals
//! read exactly into `i64` or `i128` units, and bool spellings.
//!
//! Nothing is rounded or guessed: a literal that does not fit its type is an
//! error that says why.

use super::error::{ConvertError, DecimalOverflow};

/// Sign and digit runs of a plain decimal literal (`[+-]?\d*(\.\d*)?`).
struct NumberParts<'a> {
    negative: bool,
    int_digits: &'a str,
    frac_digits: &'a str,
}

/// Split a plain decimal literal, explaining the most likely mistake when
/// it is not one. Reasons name no type: callers add "cannot convert to T".
fn lex_number(text: &str) -> Result<NumberParts<'_>, ConvertError> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_digits, frac_digits) = body.split_once('.').unwrap_or((body, ""));
    let bad_char = int_digits
        .chars()
        .chain(frac_digits.chars())
        .find(|c| !c.is_ascii_digit());
    if let Some(c) = bad_char {
        let why = match c {
            'e' | 'E' => ConvertError::ScientificNotation,
            ',' | '_' | '\'' | ' ' => ConvertError::ThousandsSeparator,
            '.' => ConvertError::SecondDecimalPoint,
            _ => ConvertError::NotANumber,
        };
        return Err(why);
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(ConvertError::NoDigits);
    }
    Ok(NumberParts {
        negative,
        int_digits,
        frac_digits,
    })
}

pub(super) fn parse_int(text: &str) -> Result<i64, ConvertError> {
    let parts = lex_number(text)?;
    if text.contains('.') {
        return Err(ConvertError::FractionInInt);
    }
    if parts.int_digits.is_empty() {
        return Err(ConvertError::NoDigits);
    }
    // The text is now `[+-]?\d+`, so the only possible failure is overflow.
    text.parse::<i64>().map_err(|_| ConvertError::IntOutOfRange)
}

/// Exact units at `scale`, e.g. "12.3" at scale 2 -> 1230.
pub(super) fn parse_decimal(text: &str, precision: u32, scale: u32) -> Result<i128, ConvertError> {
    let parts = lex_number(text)?;
    let frac = fraction_within_scale(parts.frac_digits, scale)?;
    let int = parts.int_digits.trim_start_matches('0');
    // saturating: FieldType is public, so scale > precision is constructible.
    let max_int_digits = precision.saturating_sub(scale) as usize;
    if int.len() > max_int_digits {
        return Err(ConvertError::DecimalOverflow(Box::new(DecimalOverflow {
            digits: int.len(),
            precision,
            scale,
            allowed: max_int_digits,
        })));
    }
    let missing_zeros = (scale as usize).saturating_sub(frac.len());
    let digits = int
        .bytes()
        .chain(frac.bytes())
        .chain(std::iter::repeat_n(b'0', missing_zeros));
    let magnitude = accumulate_digits(digits).ok_or(ConvertError::Overflow)?;
    Ok(if parts.negative { -magnitude } else { magnitude })
}

/// Fraction digits trimmed to `scale`; extra digits must be zeros because
/// dropping anything else would change the value.
fn fraction_within_scale(frac: &str, scale: u32) -> Result<&str, ConvertError> {
    let scale = scale as usize;
    if frac.len() <= scale {
        return Ok(frac);
    }
    let (kept, extra) = frac.split_at(scale);
    if extra.bytes().all(|b| b == b'0') {
        Ok(kept)
    } else {
        Err(ConvertError::LosesPrecision {
            digits: frac.len(),
            scale: scale as u32,
        })
    }
}

pub(super) fn accumulate_digits(mut digits: impl Iterator<Item = u8>) -> Option<i128> {
    digits.try_fold(0i128, |acc, d| acc.checked_mul(10)?.checked_add(i128::from(d - b'0')))
}

pub(super) fn parse_bool(text: &str, true_values: &[String], false_values: &[String]) -> Result<bool, ConvertError> {
    let lower = text.to_lowercase();
    if true_values.contains(&lower) {
        Ok(true)
    } else if false_values.contains(&lower) {
        Ok(false)
    } else {
        Err(ConvertError::NotABool(Box::new([
            true_values.to_vec(),
            false_values.to_vec(),
        ])))
    }
}

#[cfg(test)]
mod tests {
    use crate::normalize::testing::{dec, ty};
    use crate::normalize::{values_equal, FieldType, Tolerance, TypeOptions, Value};
    use chrono_tz::{America::New_York, Asia::Shanghai, UTC};

    // --- lexing: why a text is not a number -----------------------------------

    #[test]
    fn a_text_that_is_not_a_number_says_why() {
        use super::{lex_number, ConvertError};
        for (text, why) in [
            ("1.2.3", ConvertError::SecondDecimalPoint),
            ("1e5", ConvertError::ScientificNotation),
            ("1,000", ConvertError::ThousandsSeparator),
            ("12a", ConvertError::NotANumber),
            ("-", ConvertError::NoDigits),
        ] {
            assert_eq!(lex_number(text).err(), Some(why), "{text}");
        }
    }

    // --- convert: int ---------------------------------------------------------

    #[test]
    fn int_conversion() {
        let int = ty("int");
        assert_eq!(int.convert("007"), Ok(Value::Int(7)));
        assert_eq!(int.convert("+42"), Ok(Value::Int(42)));
        assert_eq!(int.convert("-0"), Ok(Value::Int(0)));
        assert_eq!(int.convert("9223372036854775807"), Ok(Value::Int(i64::MAX)));
        assert_eq!(int.convert("-9223372036854775808"), Ok(Value::Int(i64::MIN)));
        assert!(int
            .convert("9223372036854775808")
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert!(int
            .convert("-9223372036854775809")
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert!(int.convert("1E+10").unwrap_err().to_string().contains("scientific"));
        assert!(int.convert("1e5").unwrap_err().to_string().contains("scientific"));
        assert!(int.convert("1,000").unwrap_err().to_string().contains("thousands"));
        assert!(int.convert("12.0").unwrap_err().to_string().contains("decimal point"));
        for bad in ["abc", "+", "-", "--1", "+-1", "0x10", "１２", "1.2.3", "NaN", "inf"] {
            assert!(int.convert(bad).is_err(), "{bad}");
        }
    }

    // --- convert: decimal -----------------------------------------------------

    #[test]
    fn decimal_conversion() {
        let d = |t: &str| dec(t, "decimal(18,2)");
        assert_eq!(d("12.3"), Ok(Value::dec(1230, 2)));
        assert_eq!(d("12"), Ok(Value::dec(1200, 2)));
        assert_eq!(d("+0012.34"), Ok(Value::dec(1234, 2)));
        assert_eq!(d("-0.05"), Ok(Value::dec(-5, 2)));
        assert_eq!(d(".5"), Ok(Value::dec(50, 2)));
        assert_eq!(d("5."), Ok(Value::dec(500, 2)));
        assert_eq!(d("-0.00"), d("0"));
        assert_eq!(d("-0.00"), Ok(Value::dec(0, 2)));
        // Trailing zeros beyond the scale lose nothing.
        assert_eq!(d("12.3000"), Ok(Value::dec(1230, 2)));
        assert_eq!(dec("12.0", "decimal(5,0)"), Ok(Value::dec(12, 0)));
        assert!(d("12.345").unwrap_err().to_string().contains("lose precision"));
        assert!(d("1E+10").unwrap_err().to_string().contains("scientific"));
        assert!(d("1.5e3").unwrap_err().to_string().contains("scientific"));
        assert!(d("1,234.50").unwrap_err().to_string().contains("thousands"));
        for bad in ["abc", ".", "-", "+.", "1..2", "1.2.3", "1 000", "NaN"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimal_precision_limits() {
        let d = |t: &str| dec(t, "decimal(5,2)");
        assert_eq!(d("999.99"), Ok(Value::dec(99_999, 2)));
        assert_eq!(d("-999.99"), Ok(Value::dec(-99_999, 2)));
        assert_eq!(d("000999.99"), Ok(Value::dec(99_999, 2)));
        assert!(d("1000").unwrap_err().to_string().contains("overflow"));
        assert!(d("1000.00").unwrap_err().to_string().contains("overflow"));
        let max38 = "9".repeat(38);
        assert_eq!(dec(&max38, "decimal(38,0)"), Ok(Value::dec(max38.parse().unwrap(), 0)));
        assert!(dec(&format!("1{max38}"), "decimal(38,0)").is_err());
        assert_eq!(
            dec("0.5", "decimal(38,38)").unwrap().display(),
            format!("0.5{}", "0".repeat(37))
        );
        assert!(dec("1", "decimal(38,38)").unwrap_err().to_string().contains("overflow"));
        // A hand-built type with scale > precision must not panic.
        let odd = FieldType::Decimal { precision: 2, scale: 5 };
        assert!(odd.convert("1").is_err());
    }

    // --- convert: bool --------------------------------------------------------

    #[test]
    fn bool_conversion() {
        let b = ty("bool");
        for t in ["true", "TRUE", "1", "Yes", "y", "T"] {
            assert_eq!(b.convert(t), Ok(Value::Bool(true)), "{t}");
        }
        for f in ["false", "False", "0", "NO", "n", "f"] {
            assert_eq!(b.convert(f), Ok(Value::Bool(false)), "{f}");
        }
        for bad in ["2", "on", "是", "truee"] {
            assert!(b.convert(bad).is_err(), "{bad}");
        }
        let opts = TypeOptions {
            true_values: Some(vec!["是".into(), "Ja".into()]),
            false_values: Some(vec!["否".into()]),
            ..TypeOptions::default()
        };
        let custom = FieldType::from_spec("bool", &opts, UTC).unwrap();
        assert_eq!(custom.convert("是"), Ok(Value::Bool(true)));
        assert_eq!(custom.convert("JA"), Ok(Value::Bool(true)));
        assert_eq!(custom.convert("否"), Ok(Value::Bool(false)));
        assert!(custom.convert("true").is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let long_digits = "9".repeat(200);
        let inputs = [
            "",
            "\u{0}",
            "+",
            "-",
            ".",
            "e",
            "E5",
            "-.e",
            "1e",
            "0x1F",
            "💥",
            "９９",
            "NaN",
            "-inf",
            "2024-02-30T25:61:61Z",
            "9999-12-31T23:59:59.999999999+14:00",
            "-262144-01-01",
            "+262143-12-31 23:59:59",
            "99999999999999999999",
            "1970-01-01 00:00:00 UTC UTC",
            " UTC",
            "%",
            "%%",
            long_digits.as_str(),
        ];
        let opts = TypeOptions {
            formats: Some(vec!["%s".into(), "%Y%m%d%H%M%S".into(), "%+".into()]),
            ..TypeOptions::default()
        };
        let mut types: Vec<FieldType> = [
            "string",
            "int",
            "decimal(38,0)",
            "decimal(38,38)",
            "decimal(1,0)",
            "bool",
            "date",
            "timestamp",
        ]
        .iter()
        .map(|t| ty(t))
        .collect();
        types.push(FieldType::from_spec("timestamp", &opts, New_York).unwrap());
        for field in &types {
            for input in inputs {
                if let Ok(v) = field.convert(input) {
                    let _ = v.display();
                    assert!(values_equal(&v, &v, &Tolerance::default(), Shanghai));
                }
            }
        }
    }
}
