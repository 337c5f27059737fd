//! Declared field types ([`FieldType`], [`TypeOptions`]): reading them from
//! the spec and converting normalized text to a [`Value`] of the type.
//!
//! Conversion is exact or it fails: nothing is rounded, truncated or guessed,
//! because a silently altered value would make an audit finding wrong. The
//! text grammars themselves live in `parse` (numbers, booleans) and
//! `datetime` (dates, timestamps).

use super::datetime::{parse_date, parse_timestamp, render_date, RFC3339_FORMAT};
use super::error::{ConvertError, DeclarationError};
use super::parse::{parse_bool, parse_decimal, parse_int};
use super::value::Value;
use chrono::format::{Item, StrftimeItems};
use chrono::NaiveDate;
use chrono_tz::Tz;

/// 10^38 - 1 is the largest 38-digit number and still fits in i128.
pub(super) const MAX_PRECISION: u32 = 38;

const DEFAULT_TRUE: &[&str] = &["true", "1", "yes", "y", "t"];
const DEFAULT_FALSE: &[&str] = &["false", "0", "no", "n", "f"];
pub const DEFAULT_DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"];
pub const DEFAULT_TIMESTAMP_FORMATS: &[&str] = &[
    RFC3339_FORMAT,
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
];
const TYPE_NAMES: &str = "string, int, decimal(p,s) with 1<=p<=38 and 0<=s<=p, bool, date, timestamp, set";

/// Declared type of a field on one side.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    String,
    Int,
    Decimal {
        precision: u32,
        scale: u32,
    },
    /// Spellings are stored lower-case and matched case-insensitively.
    Bool {
        true_values: Vec<String>,
        false_values: Vec<String>,
    },
    /// chrono strftime formats, tried in order.
    Date {
        formats: Vec<String>,
    },
    /// chrono strftime formats (or [`RFC3339_FORMAT`]), tried in order.
    /// Naive text is local time in `timezone`.
    Timestamp {
        formats: Vec<String>,
        timezone: Tz,
        /// The formats are the defaults, so `YYYY-MM-DD HH:MM:SS` takes
        /// the fast path (decided once here, not by comparing the five
        /// formats for every cell).
        default_formats: bool,
    },
    /// A set of text elements (see [`super::set`]): delimited by
    /// `separator`, or a list (JSON array text) without one.
    Set {
        separator: Option<String>,
    },
}

/// Optional per-type settings from the spec. Options that do not apply to
/// the declared type are rejected rather than ignored, so a misplaced option
/// cannot silently change nothing.
#[derive(Debug, Clone, Default)]
pub struct TypeOptions {
    /// Date/timestamp formats (chrono strftime; `"rfc3339"` for timestamps).
    pub formats: Option<Vec<String>>,
    /// IANA zone for naive timestamps, e.g. `"Asia/Shanghai"`.
    pub timezone: Option<String>,
    pub true_values: Option<Vec<String>>,
    pub false_values: Option<Vec<String>>,
    /// `set`: the text between elements (none: the column holds lists).
    pub separator: Option<String>,
}

impl FieldType {
    /// Parse `"string" | "int" | "decimal(p,s)" | "bool" | "date" |
    /// "timestamp"` (case-insensitive, spaces allowed inside `decimal(...)`).
    ///
    /// Defaults: bool true = `true,1,yes,y,t`, false = `false,0,no,n,f`;
    /// date formats `%Y-%m-%d`, `%Y/%m/%d`, `%Y%m%d`; timestamp formats
    /// `rfc3339`, `%Y-%m-%d %H:%M:%S%.f`, `%Y-%m-%dT%H:%M:%S%.f`,
    /// `%Y/%m/%d %H:%M:%S`, `%Y-%m-%d %H:%M`. Naive timestamps are read in
    /// `opts.timezone`, else `default_tz`. Unknown zones, invalid formats,
    /// empty or overlapping bool spellings and options that do not apply to
    /// the type are errors.
    pub fn from_spec(ty: &str, opts: &TypeOptions, default_tz: Tz) -> Result<FieldType, DeclarationError> {
        let spec = ty.trim().to_ascii_lowercase();
        let field = match spec.as_str() {
            "string" => FieldType::String,
            "int" => FieldType::Int,
            "bool" => bool_type(opts)?,
            "set" => FieldType::Set {
                separator: match &opts.separator {
                    Some(sep) if sep.is_empty() => return Err(DeclarationError::EmptySeparator),
                    sep => sep.clone(),
                },
            },
            "date" => FieldType::Date {
                formats: formats_or_default(opts, DEFAULT_DATE_FORMATS, false)?,
            },
            "timestamp" => {
                let formats = formats_or_default(opts, DEFAULT_TIMESTAMP_FORMATS, true)?;
                FieldType::Timestamp {
                    default_formats: formats.iter().eq(DEFAULT_TIMESTAMP_FORMATS),
                    formats,
                    timezone: resolve_timezone(opts.timezone.as_deref(), default_tz)?,
                }
            }
            other => decimal_type(other)?.ok_or_else(|| DeclarationError::UnknownType {
                ty: ty.to_string(),
                valid: TYPE_NAMES,
            })?,
        };
        reject_inapplicable_options(&field, opts)?;
        Ok(field)
    }

    /// Spec name, e.g. `"decimal(18,2)"`; parses back with [`FieldType::from_spec`].
    pub fn name(&self) -> String {
        match self {
            FieldType::String => "string".into(),
            FieldType::Int => "int".into(),
            FieldType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            FieldType::Bool { .. } => "bool".into(),
            FieldType::Date { .. } => "date".into(),
            FieldType::Timestamp { .. } => "timestamp".into(),
            FieldType::Set { .. } => "set".into(),
        }
    }

    /// Convert normalized text to a typed value, exactly or not at all.
    ///
    /// Rules: for non-string types surrounding whitespace is ignored (it
    /// carries no value) and empty or blank text is an error (use the
    /// `empty_is_null` step to make it null); int/decimal accept a
    /// leading `+`/`-` and leading zeros, reject scientific notation and
    /// thousands separators; decimal fraction digits beyond the scale are
    /// accepted only if they are zeros (anything else would lose precision);
    /// integer digits beyond `precision - scale` overflow. Compact date
    /// formats (adjacent fields such as `%Y%m%d`) require zero-padded fields
    /// because otherwise the split is ambiguous. Timestamps with `Z`/offset
    /// (or a trailing ` UTC`) are instants; naive ones are local time in the
    /// field's zone: a nonexistent local time (DST gap) is an error, an
    /// ambiguous one (DST fold) takes the earlier instant. Fractions are
    /// kept to the nanosecond (more digits must be zeros). Besides the declared formats, ISO 8601 dates
    /// (`%Y-%m-%d`) and timestamps (RFC 3339, `%Y-%m-%d[T ]%H:%M:%S%.f`, and
    /// `... UTC`) are always accepted, as typed sources render them so.
    pub fn convert(&self, text: &str) -> Result<Value, ConvertError> {
        let text = match self {
            FieldType::String => text,
            _ => non_blank(text, self)?,
        };
        match self {
            FieldType::String => Ok(Value::Str(text.into())),
            FieldType::Int => parse_int(text).map(Value::Int),
            FieldType::Decimal { precision, scale } => {
                let units = parse_decimal(text, *precision, *scale)?;
                Ok(Value::dec(units, *scale))
            }
            FieldType::Bool {
                true_values,
                false_values,
            } => parse_bool(text, true_values, false_values).map(Value::Bool),
            FieldType::Date { formats } => parse_date(text, formats).map(Value::Date),
            FieldType::Timestamp {
                formats,
                timezone,
                default_formats,
            } => parse_timestamp(text, formats, *timezone, *default_formats).map(Value::Ts),
            // Only elements that are all empty: no set. Callers that can
            // hold a null (the loaders' typing) go through `set::convert`.
            FieldType::Set { separator } => {
                super::set::convert(text, separator.as_deref())?.ok_or_else(|| ConvertError::Empty(self.name()))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// from_spec helpers

fn decimal_type(spec: &str) -> Result<Option<FieldType>, DeclarationError> {
    let Some(args) = spec
        .strip_prefix("decimal")
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.strip_suffix(')'))
    else {
        return Ok(None);
    };
    let bad = || DeclarationError::InvalidDecimal(spec.to_string());
    let (p, s) = args.split_once(',').ok_or_else(bad)?;
    let precision: u32 = p.trim().parse().map_err(|_| bad())?;
    let scale: u32 = s.trim().parse().map_err(|_| bad())?;
    if !(1..=MAX_PRECISION).contains(&precision) || scale > precision {
        return Err(bad());
    }
    Ok(Some(FieldType::Decimal { precision, scale }))
}

fn bool_type(opts: &TypeOptions) -> Result<FieldType, DeclarationError> {
    let true_values = spellings(opts.true_values.as_deref(), DEFAULT_TRUE, "true_values")?;
    let false_values = spellings(opts.false_values.as_deref(), DEFAULT_FALSE, "false_values")?;
    if let Some(both) = true_values.iter().find(|v| false_values.contains(v)) {
        return Err(DeclarationError::SpellingInBoth(both.clone()));
    }
    Ok(FieldType::Bool {
        true_values,
        false_values,
    })
}

/// Lower-cased spellings, so conversion lower-cases only the input.
fn spellings(given: Option<&[String]>, default: &[&str], what: &'static str) -> Result<Vec<String>, DeclarationError> {
    let values: Vec<String> = match given {
        Some(list) => list.iter().map(|v| v.to_lowercase()).collect(),
        None => default.iter().map(|v| v.to_string()).collect(),
    };
    if values.is_empty() {
        return Err(DeclarationError::NoSpellings(what));
    }
    if values.iter().any(String::is_empty) {
        return Err(DeclarationError::EmptySpelling(what));
    }
    Ok(values)
}

fn formats_or_default(opts: &TypeOptions, default: &[&str], timestamp: bool) -> Result<Vec<String>, DeclarationError> {
    let Some(formats) = &opts.formats else {
        return Ok(default.iter().map(|f| f.to_string()).collect());
    };
    if formats.is_empty() {
        return Err(DeclarationError::NoFormats);
    }
    for format in formats {
        validate_format(format, timestamp)?;
    }
    Ok(formats.clone())
}

fn validate_format(format: &str, timestamp: bool) -> Result<(), DeclarationError> {
    if format == RFC3339_FORMAT {
        return if timestamp {
            Ok(())
        } else {
            Err(DeclarationError::Rfc3339ForDate)
        };
    }
    let invalid = StrftimeItems::new(format).any(|item| matches!(item, Item::Error));
    if format.is_empty() || invalid {
        return Err(DeclarationError::InvalidFormat(format.to_string()));
    }
    // A date format must be renderable from a date alone (no %H, %z, ...).
    if !timestamp && render_date(NaiveDate::MIN, format).is_none() {
        return Err(DeclarationError::TimeInDateFormat(format.to_string()));
    }
    Ok(())
}

fn resolve_timezone(name: Option<&str>, default_tz: Tz) -> Result<Tz, DeclarationError> {
    match name {
        None => Ok(default_tz),
        Some(name) => name
            .trim()
            .parse::<Tz>()
            .map_err(|_| DeclarationError::UnknownTimezone(name.to_string())),
    }
}

fn reject_inapplicable_options(field: &FieldType, opts: &TypeOptions) -> Result<(), DeclarationError> {
    let date_like = matches!(field, FieldType::Date { .. } | FieldType::Timestamp { .. });
    let checks = [
        ("formats", opts.formats.is_some() && !date_like),
        (
            "timezone",
            opts.timezone.is_some() && !matches!(field, FieldType::Timestamp { .. }),
        ),
        (
            "true_values",
            opts.true_values.is_some() && !matches!(field, FieldType::Bool { .. }),
        ),
        (
            "false_values",
            opts.false_values.is_some() && !matches!(field, FieldType::Bool { .. }),
        ),
        (
            "separator",
            opts.separator.is_some() && !matches!(field, FieldType::Set { .. }),
        ),
    ];
    match checks.iter().find(|(_, bad)| *bad) {
        Some((option, _)) => Err(DeclarationError::InapplicableOption {
            option,
            ty: field.name(),
        }),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// convert helpers

/// The text without surrounding whitespace, which no typed value can carry;
/// empty (or blank) text is an error because null is the caller's decision.
fn non_blank<'a>(text: &'a str, field: &FieldType) -> Result<&'a str, ConvertError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ConvertError::Empty(field.name()));
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::testing::ty;
    use crate::normalize::Instant;
    use chrono_tz::{America::New_York, Asia::Shanghai, UTC};

    // --- FieldType::from_spec / name -----------------------------------------

    #[test]
    fn type_names_round_trip() {
        for spec in [
            "string",
            "int",
            "decimal(18,2)",
            "decimal(38,38)",
            "decimal(1,0)",
            "bool",
            "date",
            "timestamp",
        ] {
            assert_eq!(ty(spec).name(), spec);
            assert_eq!(ty(&ty(spec).name()), ty(spec));
        }
        assert_eq!(ty(" Decimal( 10 , 3 ) ").name(), "decimal(10,3)");
        assert_eq!(ty("INT"), FieldType::Int);
    }

    #[test]
    fn type_spec_errors() {
        let no = TypeOptions::default();
        for bad in [
            "",
            "integer",
            "float",
            "decimal",
            "decimal()",
            "decimal(0,0)",
            "decimal(39,2)",
            "decimal(5,6)",
            "decimal(5)",
            "decimal(5,-1)",
            "decimal(a,b)",
            "decimal(5,2,1)",
            "decimal(5,2",
        ] {
            let err = FieldType::from_spec(bad, &no, UTC).unwrap_err().to_string();
            assert!(err.contains("decimal"), "{bad}: {err}");
        }
        let err = FieldType::from_spec("float", &no, UTC).unwrap_err().to_string();
        for name in ["string", "int", "decimal(p,s)", "bool", "date", "timestamp"] {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn type_defaults() {
        assert_eq!(
            ty("bool"),
            FieldType::Bool {
                true_values: ["true", "1", "yes", "y", "t"].map(String::from).to_vec(),
                false_values: ["false", "0", "no", "n", "f"].map(String::from).to_vec(),
            }
        );
        assert_eq!(
            ty("date"),
            FieldType::Date {
                formats: ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"].map(String::from).to_vec()
            }
        );
        let FieldType::Timestamp {
            formats,
            timezone,
            default_formats,
        } = FieldType::from_spec("timestamp", &TypeOptions::default(), Shanghai).unwrap()
        else {
            panic!("not a timestamp type");
        };
        assert_eq!(timezone, Shanghai);
        assert_eq!(formats[0], "rfc3339");
        assert_eq!(formats.len(), 5);
        assert!(default_formats);
        // Declared formats take the fast path only when they are the
        // defaults: a day-before-month format reads `2025-03-02` as 3 February.
        let declared = |formats: Vec<String>| {
            let opts = TypeOptions {
                formats: Some(formats),
                ..TypeOptions::default()
            };
            FieldType::from_spec("timestamp", &opts, UTC).unwrap()
        };
        let defaults = declared(DEFAULT_TIMESTAMP_FORMATS.iter().map(|f| f.to_string()).collect());
        assert!(matches!(
            defaults,
            FieldType::Timestamp {
                default_formats: true,
                ..
            }
        ));
        let day_first = declared(vec!["%Y-%d-%m %H:%M:%S".into()]);
        assert!(matches!(
            day_first,
            FieldType::Timestamp {
                default_formats: false,
                ..
            }
        ));
        let feb3 = chrono::NaiveDate::from_ymd_opt(2025, 2, 3)
            .and_then(|d| d.and_hms_opt(4, 5, 6))
            .map(|t| Instant::from_micros(t.and_utc().timestamp_micros()));
        assert_eq!(day_first.convert("2025-03-02 04:05:06").ok(), feb3.map(Value::Ts));
        assert_ne!(defaults.convert("2025-03-02 04:05:06").ok(), feb3.map(Value::Ts));
    }

    #[test]
    fn type_options_validation() {
        let opts = |f: fn(&mut TypeOptions)| {
            let mut o = TypeOptions::default();
            f(&mut o);
            o
        };
        let tz_opts = opts(|o| o.timezone = Some("Mars/Olympus".into()));
        assert!(FieldType::from_spec("timestamp", &tz_opts, UTC)
            .unwrap_err()
            .to_string()
            .contains("Mars/Olympus"));
        let tz_opts = opts(|o| o.timezone = Some("America/New_York".into()));
        assert!(matches!(
            FieldType::from_spec("timestamp", &tz_opts, UTC),
            Ok(FieldType::Timestamp { timezone, .. }) if timezone == New_York
        ));
        // Options that do not apply to the type are errors, not ignored.
        assert!(FieldType::from_spec("date", &tz_opts, UTC)
            .unwrap_err()
            .to_string()
            .contains("timezone"));
        let fmt = opts(|o| o.formats = Some(vec!["%d.%m.%Y".into()]));
        assert!(FieldType::from_spec("int", &fmt, UTC)
            .unwrap_err()
            .to_string()
            .contains("formats"));
        assert!(FieldType::from_spec("date", &fmt, UTC).is_ok());
        let empty = opts(|o| o.formats = Some(vec![]));
        assert!(FieldType::from_spec("date", &empty, UTC).is_err());
        let bad_fmt = opts(|o| o.formats = Some(vec!["%Q-%m".into()]));
        assert!(FieldType::from_spec("date", &bad_fmt, UTC)
            .unwrap_err()
            .to_string()
            .contains("%Q"));
        let timey = opts(|o| o.formats = Some(vec!["%Y%m%d%H".into()]));
        assert!(FieldType::from_spec("date", &timey, UTC)
            .unwrap_err()
            .to_string()
            .contains("time"));
        // Hand-built (unvalidated) types must not panic either.
        let raw = FieldType::Date {
            formats: vec!["%Y%m%d%H".into()],
        };
        assert!(raw.convert("2024010112").is_err());
        let rfc = opts(|o| o.formats = Some(vec!["rfc3339".into()]));
        assert!(FieldType::from_spec("date", &rfc, UTC).is_err());
        assert!(FieldType::from_spec("timestamp", &rfc, UTC).is_ok());
        let tv = opts(|o| o.true_values = Some(vec!["ja".into()]));
        assert!(FieldType::from_spec("string", &tv, UTC)
            .unwrap_err()
            .to_string()
            .contains("true_values"));
        let overlap = opts(|o| {
            o.true_values = Some(vec!["Y".into()]);
            o.false_values = Some(vec!["y".into()]);
        });
        assert!(FieldType::from_spec("bool", &overlap, UTC)
            .unwrap_err()
            .to_string()
            .contains("both"));
        let empty_spelling = opts(|o| o.false_values = Some(vec!["".into()]));
        assert!(FieldType::from_spec("bool", &empty_spelling, UTC).is_err());
        let no_spelling = opts(|o| o.true_values = Some(vec![]));
        assert!(FieldType::from_spec("bool", &no_spelling, UTC).is_err());
    }

    // --- convert: string, empty, whitespace -----------------------------------

    #[test]
    fn string_is_verbatim() {
        let s = ty("string");
        assert_eq!(s.convert(""), Ok(Value::Str("".into())));
        assert_eq!(s.convert("\u{3000}x "), Ok(Value::Str("\u{3000}x ".into())));
    }

    #[test]
    fn empty_and_blank_rejected_for_typed() {
        for spec in ["int", "decimal(10,2)", "bool", "date", "timestamp"] {
            for blank in ["", " ", "\u{3000}", "\u{00A0}\t"] {
                let err = ty(spec).convert(blank).unwrap_err().to_string();
                assert!(err.contains("empty_is_null"), "{spec} {blank:?}: {err}");
            }
        }
    }

    #[test]
    fn surrounding_whitespace_ignored_for_typed() {
        assert_eq!(ty("int").convert(" 1\u{3000}"), Ok(Value::Int(1)));
        assert_eq!(ty("bool").convert("\u{00A0}y "), Ok(Value::Bool(true)));
        assert_eq!(ty("date").convert(" 1970-01-01\t"), Ok(Value::Date(0)));
        assert_eq!(
            ty("timestamp").convert(" 1970-01-01T00:00:00Z "),
            Ok(Value::Ts(Instant::from_micros(0)))
        );
        assert_eq!(ty("string").convert(" x "), Ok(Value::Str(" x ".into())));
    }
}
