//! Text normalization steps applied to raw cell text before typed conversion.
//!
//! Steps are configured per field and per side as a list of spec tokens
//! (`"trim"`, `"phone_e164:CN"`, ...) and applied left to right.

use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

use super::error::{ConvertError, DeclarationError};
use super::phone;

/// Names accepted by [`Step::parse`]. `phone_e164` additionally needs a
/// region suffix, e.g. `phone_e164:CN`.
pub const STEP_NAMES: &[&str] = &[
    "trim",
    "lower",
    "upper",
    "casefold",
    "collapse_whitespace",
    "nfkc",
    "digits_only",
    "empty_is_null",
    "phone_e164",
];

/// One normalization step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Trim leading/trailing Unicode whitespace (`White_Space` property:
    /// includes U+3000 ideographic space and U+00A0 no-break space).
    Trim,
    /// Unicode lowercase (`str::to_lowercase`).
    Lower,
    /// Unicode uppercase (`str::to_uppercase`).
    Upper,
    /// Case-insensitive matching form. This is Unicode *lowercase*
    /// (`str::to_lowercase`), not full Unicode case folding: e.g. `ß` stays
    /// `ß` instead of becoming `ss`. It is therefore currently identical to
    /// [`Step::Lower`]; the separate name records intent in the spec.
    CaseFold,
    /// Replace every run of Unicode whitespace with one ASCII space, then trim.
    CollapseWhitespace,
    /// Unicode NFKC: full-width digits/letters become ASCII, ligatures split, etc.
    Nfkc,
    /// Keep only ASCII digits, after mapping full-width digits to ASCII.
    DigitsOnly,
    /// The empty string becomes null. Whitespace-only text is *not* empty:
    /// put `trim` first if it should be.
    EmptyIsNull,
    /// Parse as a phone number and render it as E.164 (`+8613912345678`).
    PhoneE164 {
        /// ISO 3166 alpha-2 region, upper-case, used for numbers without a
        /// country code.
        region: String,
    },
}

impl Step {
    /// Parse a spec token, e.g. `"trim"` or `"phone_e164:CN"`.
    ///
    /// Names are matched exactly (lower-case). The phone region is accepted
    /// in any case, stored upper-case, and must be a region known to the
    /// `phonenumber` metadata.
    pub fn parse(token: &str) -> Result<Step, DeclarationError> {
        let token = token.trim();
        if let Some(region) = token.strip_prefix("phone_e164:") {
            let region = phone::validate_region(region)?;
            return Ok(Step::PhoneE164 { region });
        }
        match token {
            "trim" => Ok(Step::Trim),
            "lower" => Ok(Step::Lower),
            "upper" => Ok(Step::Upper),
            "casefold" => Ok(Step::CaseFold),
            "collapse_whitespace" => Ok(Step::CollapseWhitespace),
            "nfkc" => Ok(Step::Nfkc),
            "digits_only" => Ok(Step::DigitsOnly),
            "empty_is_null" => Ok(Step::EmptyIsNull),
            "phone_e164" => Err(DeclarationError::PhoneWithoutRegion),
            other => Err(DeclarationError::UnknownStep {
                step: other.to_string(),
                valid: STEP_NAMES.join(", "),
            }),
        }
    }

    /// Spec token for this step; `Step::parse(&s.name())` gives `s` back.
    pub fn name(&self) -> String {
        match self {
            Step::Trim => "trim".into(),
            Step::Lower => "lower".into(),
            Step::Upper => "upper".into(),
            Step::CaseFold => "casefold".into(),
            Step::CollapseWhitespace => "collapse_whitespace".into(),
            Step::Nfkc => "nfkc".into(),
            Step::DigitsOnly => "digits_only".into(),
            Step::EmptyIsNull => "empty_is_null".into(),
            Step::PhoneE164 { region } => format!("phone_e164:{region}"),
        }
    }

    /// Apply this step to one value.
    ///
    /// `Ok(None)`: the value became null (`empty_is_null` on `""`).
    /// `Err(reason)`: the value cannot be normalized (e.g. not a phone
    /// number); the caller reports it as unconvertible with the raw value.
    pub fn apply(&self, value: &str) -> Result<Option<String>, ConvertError> {
        let out = match self {
            Step::Trim => value.trim().to_string(),
            Step::Lower | Step::CaseFold => value.to_lowercase(),
            Step::Upper => value.to_uppercase(),
            Step::CollapseWhitespace => collapse_whitespace(value),
            Step::Nfkc => value.nfkc().collect(),
            Step::DigitsOnly => digits_only(value),
            Step::EmptyIsNull if value.is_empty() => return Ok(None),
            Step::EmptyIsNull => value.to_string(),
            Step::PhoneE164 { region } => phone::to_e164(value, region)?,
        };
        Ok(Some(out))
    }
}

/// Apply `steps` in order. A null input stays null, and the chain stops at
/// the first step that produces null (later steps never see a null).
pub fn apply_steps(steps: &[Step], raw: Option<&str>) -> Result<Option<String>, ConvertError> {
    Ok(apply_steps_borrowed(steps, raw)?.map(Cow::into_owned))
}

/// [`apply_steps`] without a copy where no step changes the text: `trim`
/// and `empty_is_null` borrow from the input (most cells need no change).
pub fn apply_steps_borrowed<'a>(steps: &[Step], raw: Option<&'a str>) -> Result<Option<Cow<'a, str>>, ConvertError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let mut current = Cow::Borrowed(raw);
    for step in steps {
        current = match (step, current) {
            (Step::Trim, Cow::Borrowed(s)) => Cow::Borrowed(s.trim()),
            (Step::Trim, Cow::Owned(s)) if s.trim().len() == s.len() => Cow::Owned(s),
            (Step::EmptyIsNull, c) if c.is_empty() => return Ok(None),
            (Step::EmptyIsNull, c) => c,
            // A normalizer parses a value; blank text holds none: it is null
            // (so a `not_null` rule speaks for it), never unconvertible.
            (Step::PhoneE164 { .. }, c) if c.trim().is_empty() => return Ok(None),
            (step, c) => match step.apply(&c)? {
                Some(next) => Cow::Owned(next),
                None => return Ok(None),
            },
        };
    }
    Ok(Some(current))
}

/// Map a full-width digit (U+FF10..=U+FF19) to its ASCII digit; other chars
/// pass through. Shared with the phone fast path.
pub(crate) fn ascii_digit(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' => {
            // The range is 10 code points wide, so the offset is 0..=9.
            let offset = c as u32 - 0xFF10;
            char::from_digit(offset, 10).unwrap_or(c)
        }
        _ => c,
    }
}

fn collapse_whitespace(value: &str) -> String {
    // split_whitespace uses the same Unicode White_Space set as trim, so
    // leading/trailing runs disappear and inner runs become one space.
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn digits_only(value: &str) -> String {
    value.chars().map(ascii_digit).filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_steps_equal_owned_ones_and_copy_only_on_change() {
        let chains: Vec<Vec<Step>> = vec![
            vec![],
            vec![Step::Trim],
            vec![Step::Trim, Step::EmptyIsNull],
            vec![Step::Lower, Step::Trim],
            vec![Step::Trim, Step::CollapseWhitespace, Step::Trim],
            vec![Step::EmptyIsNull, Step::Upper],
        ];
        for steps in &chains {
            for raw in [
                None,
                Some(""),
                Some("  "),
                Some(" Ab  c "),
                Some("x"),
                Some("\u{3000}全角 "),
            ] {
                let owned = apply_steps(steps, raw);
                let borrowed = apply_steps_borrowed(steps, raw).map(|c| c.map(|c| c.to_string()));
                assert_eq!(borrowed, owned, "{steps:?} on {raw:?}");
            }
        }
        let trimmed = apply_steps_borrowed(&[Step::Trim, Step::EmptyIsNull], Some(" a ")).unwrap();
        assert!(matches!(trimmed, Some(Cow::Borrowed("a"))));
    }

    fn one(step: &str, input: &str) -> Result<Option<String>, ConvertError> {
        Step::parse(step).unwrap().apply(input)
    }

    fn some(s: &str) -> Result<Option<String>, ConvertError> {
        Ok(Some(s.to_string()))
    }

    #[test]
    fn parse_and_name_round_trip() {
        for token in [
            "trim",
            "lower",
            "upper",
            "casefold",
            "collapse_whitespace",
            "nfkc",
            "digits_only",
            "empty_is_null",
            "phone_e164:CN",
            "phone_e164:US",
        ] {
            let step = Step::parse(token).unwrap();
            assert_eq!(step.name(), token);
            assert_eq!(Step::parse(&step.name()).unwrap(), step);
        }
    }

    #[test]
    fn parse_rejects_unknown_and_lists_names() {
        let err = Step::parse("strip").unwrap_err().to_string();
        assert!(err.contains("strip"));
        for name in STEP_NAMES {
            assert!(err.contains(name), "{err} should list {name}");
        }
        assert!(Step::parse("").is_err());
        assert!(Step::parse("Trim").is_err());
    }

    #[test]
    fn parse_phone_region_rules() {
        assert!(Step::parse("phone_e164").unwrap_err().to_string().contains("region"));
        assert!(Step::parse("phone_e164:").is_err());
        assert!(Step::parse("phone_e164:XX").is_err());
        assert!(Step::parse("phone_e164:CHN").is_err());
        assert_eq!(
            Step::parse("phone_e164:cn").unwrap(),
            Step::PhoneE164 { region: "CN".into() }
        );
    }

    #[test]
    fn trim_unicode_whitespace() {
        assert_eq!(one("trim", "  a b  "), some("a b"));
        assert_eq!(one("trim", "\u{3000}abc\u{3000}"), some("abc"));
        assert_eq!(one("trim", "\u{00A0}abc\t\n"), some("abc"));
        assert_eq!(one("trim", "\u{3000} \u{00A0}"), some(""));
        assert_eq!(one("trim", ""), some(""));
    }

    #[test]
    fn case_steps() {
        assert_eq!(one("lower", "AbC Ä"), some("abc ä"));
        assert_eq!(one("upper", "abc ä"), some("ABC Ä"));
        assert_eq!(one("casefold", "ΣΑΣ Straße"), some("σας straße"));
        assert_eq!(one("lower", ""), some(""));
    }

    #[test]
    fn collapse_whitespace_runs() {
        assert_eq!(one("collapse_whitespace", " a \t\u{3000} b\n\nc "), some("a b c"));
        assert_eq!(one("collapse_whitespace", "\u{3000}\u{00A0} "), some(""));
        assert_eq!(one("collapse_whitespace", ""), some(""));
    }

    #[test]
    fn nfkc_full_width() {
        assert_eq!(one("nfkc", "１３９"), some("139"));
        assert_eq!(one("nfkc", "ＡＢＣ"), some("ABC"));
        assert_eq!(one("nfkc", "a\u{3000}b"), some("a b"));
        assert_eq!(one("nfkc", "ﬁ"), some("fi"));
        assert_eq!(one("nfkc", ""), some(""));
    }

    #[test]
    fn digits_only_maps_full_width() {
        assert_eq!(one("digits_only", "+86 (139)-１２３"), some("86139123"));
        assert_eq!(one("digits_only", "abc"), some(""));
        assert_eq!(one("digits_only", "٣"), some(""));
        assert_eq!(one("digits_only", ""), some(""));
    }

    #[test]
    fn empty_is_null_only_for_empty() {
        assert_eq!(one("empty_is_null", ""), Ok(None));
        assert_eq!(one("empty_is_null", " "), some(" "));
        assert_eq!(one("empty_is_null", "x"), some("x"));
    }

    #[test]
    fn phone_step() {
        assert_eq!(one("phone_e164:CN", "139 1234 5678"), some("+8613912345678"));
        assert!(one("phone_e164:CN", "abc").is_err());
        assert!(one("phone_e164:CN", "").is_err());
    }

    #[test]
    fn apply_steps_chain() {
        let steps: Vec<Step> = ["trim", "empty_is_null", "upper"]
            .iter()
            .map(|t| Step::parse(t).unwrap())
            .collect();
        assert_eq!(apply_steps(&steps, None), Ok(None));
        assert_eq!(apply_steps(&steps, Some("\u{3000}\u{3000}")), Ok(None));
        assert_eq!(apply_steps(&steps, Some(" ab ")), some("AB"));
        assert_eq!(apply_steps(&[], Some(" ab ")), some(" ab "));
    }

    #[test]
    fn apply_steps_stops_at_null_and_propagates_errors() {
        // Null short-circuits: the phone step never sees "".
        let steps = [Step::EmptyIsNull, Step::PhoneE164 { region: "CN".into() }];
        assert_eq!(apply_steps(&steps, Some("")), Ok(None));
        assert!(apply_steps(&steps, Some("12345")).is_err());
        let steps = [Step::Nfkc, Step::Trim, Step::PhoneE164 { region: "CN".into() }];
        assert_eq!(
            apply_steps(&steps, Some("\u{3000}１３９１２３４５６７８")),
            some("+8613912345678")
        );
    }
}
