//! Typed conversion of normalized text to canonical values, and the
//! tolerance-aware equality used by drift comparison.
//!
//! Conversion is exact or it fails: nothing is rounded, truncated or guessed,
//! because a silently altered value would make an audit finding wrong.

use chrono::format::{Item, ParseErrorKind, StrftimeItems};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use std::fmt::Write as _;

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;
const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400 * 1_000_000;
const NANOS_PER_MICRO: u32 = 1_000;
const NANOS_PER_SEC: u32 = 1_000_000_000;
/// 10^38 - 1 is the largest 38-digit number and still fits in i128.
const MAX_PRECISION: u32 = 38;

/// Pseudo-format naming RFC 3339 (`2026-11-24T08:00:00Z`,
/// `2026-11-24T08:00:00.5+08:00`; a space instead of `T` is accepted).
pub const RFC3339_FORMAT: &str = "rfc3339";
/// ISO 8601 shapes always accepted after the declared formats. Formats are
/// declared per field (both sides), but a typed side (parquet, ndjson) is
/// rendered by the reader in these shapes, so it must convert whatever the
/// text side declares. They are unambiguous, so accepting them cannot
/// misread a value meant for a declared format.
const ISO_DATE_FORMATS: &[&str] = &["%Y-%m-%d"];
const ISO_TIMESTAMP_FORMATS: &[&str] = &[RFC3339_FORMAT, "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];
const UTC_SUFFIX: &str = " UTC";

const DEFAULT_TRUE: &[&str] = &["true", "1", "yes", "y", "t"];
const DEFAULT_FALSE: &[&str] = &["false", "0", "no", "n", "f"];
const DEFAULT_DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"];
const DEFAULT_TIMESTAMP_FORMATS: &[&str] = &[
    RFC3339_FORMAT,
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
];
const TYPE_NAMES: &str = "string, int, decimal(p,s) with 1<=p<=38 and 0<=s<=p, bool, date, timestamp";

/// A canonical typed value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// Text, stored inline up to 24 bytes.
    Str(compact_str::CompactString),
    Int(i64),
    /// Exact decimal `units / 10^scale`, always stored at the field's
    /// declared scale (at most 38). Build it with [`Value::dec`].
    Dec {
        units: Units,
        scale: u32,
    },
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// A UTC instant, at nanosecond precision.
    Ts(Instant),
}

/// A UTC instant at nanosecond precision: microseconds since the Unix
/// epoch (floored) and the nanoseconds within that microsecond. Ordered as
/// the instants are. Microseconds keep chrono's whole range (a nanosecond
/// count in an `i64` would end in 2262); the extra field keeps a Parquet
/// `timestamp[ns]` exact without growing a [`Value`] past 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instant {
    micros: i64,
    sub_nanos: u16,
}

impl Instant {
    /// The instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: i64) -> Instant {
        Instant { micros, sub_nanos: 0 }
    }

    /// The instant `nanos` nanoseconds after the epoch (`None` past the
    /// microsecond range).
    pub fn from_nanos(nanos: i128) -> Option<Instant> {
        Some(Instant {
            micros: i64::try_from(nanos.div_euclid(1_000)).ok()?,
            sub_nanos: nanos.rem_euclid(1_000) as u16,
        })
    }

    /// Microseconds since the epoch, rounded down.
    pub const fn micros(self) -> i64 {
        self.micros
    }

    /// Nanoseconds within the microsecond (0..1000).
    pub const fn sub_micro_nanos(self) -> u16 {
        self.sub_nanos
    }

    /// Nanoseconds since the epoch.
    pub fn nanos(self) -> i128 {
        i128::from(self.micros) * 1_000 + i128::from(self.sub_nanos)
    }

    /// The instant as a chrono UTC time, `None` beyond chrono's range.
    pub fn to_utc(self) -> Option<DateTime<chrono::Utc>> {
        let at = DateTime::from_timestamp_micros(self.micros)?;
        at.checked_add_signed(chrono::TimeDelta::nanoseconds(i64::from(self.sub_nanos)))
    }

    fn of(at: DateTime<chrono::Utc>) -> Result<Instant, String> {
        let nanos = at.nanosecond();
        if nanos >= NANOS_PER_SEC {
            return Err("leap seconds are not supported".into());
        }
        Ok(Instant {
            micros: at.timestamp_micros(),
            sub_nanos: (nanos % NANOS_PER_MICRO) as u16,
        })
    }
}

/// The `i128` units of a decimal, stored as bytes: byte-aligned, so that a
/// `Value` (and a cell) is 24 bytes. An `i128` field aligns the enum to 16
/// bytes and makes it 32, a third more memory for every cell column.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Units([u8; 16]);

impl Units {
    pub const fn new(units: i128) -> Units {
        Units(units.to_ne_bytes())
    }

    pub const fn get(self) -> i128 {
        i128::from_ne_bytes(self.0)
    }
}

/// A text's first 16 bytes as a big-endian number, zero-padded: where two
/// texts' prefixes differ, they order the texts (bytewise), so most
/// comparisons of a sort or a running min and max need not read the texts.
/// (16, not 8: identifiers such as `K0000000001` share their first 8
/// bytes.)
///
/// Read with at most two loads that may overlap (equal bytes, so OR-ing
/// them is exact), not copied into a zeroed buffer: that copy was a
/// `memcpy` call per value and a stalled load after it (the metrics' min
/// and max, `Extremes::add`, went from 3.2% to 2.35% of a 1M-row profile).
#[inline]
pub fn text_prefix(text: &str) -> u128 {
    let b = text.as_bytes();
    let n = b.len();
    // Big-endian numbers of 16, 8 and 4 bytes from `at` (in range by the
    // match below).
    let be16 = |at: usize| b[at..at + 16].try_into().map_or(0, u128::from_be_bytes);
    let be8 = |at: usize| b[at..at + 8].try_into().map_or(0, u64::from_be_bytes) as u128;
    let be4 = |at: usize| b[at..at + 4].try_into().map_or(0, u32::from_be_bytes) as u128;
    match n {
        16.. => be16(0),
        // Bytes 0..8 at the top, bytes n-8..n moved up to end at byte n.
        8..=15 => be8(0) << 64 | be8(n - 8) << (8 * (16 - n)),
        4..=7 => be4(0) << 96 | be4(n - 4) << (8 * (16 - n)),
        1..=3 => {
            (b[0] as u128) << 120 | (b[n / 2] as u128) << (120 - 8 * (n / 2)) | (b[n - 1] as u128) << (128 - 8 * n)
        }
        0 => 0,
    }
}

impl std::fmt::Debug for Units {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

const _: () = assert!(std::mem::size_of::<Value>() == 24);

impl Value {
    /// A 64-bit hash of the value by `state`, for counting distinct values
    /// of one column: one write to the hasher (text) or one number, where
    /// the derived `Hash` also writes the variant and a text's terminator.
    /// Values of one column share a variant (and a decimal's scale), so
    /// neither needs hashing there.
    #[inline]
    pub fn column_hash(&self, state: &impl std::hash::BuildHasher) -> u64 {
        use std::hash::Hasher;
        match self {
            Value::Str(t) => {
                let mut h = state.build_hasher();
                h.write(t.as_bytes());
                h.finish()
            }
            Value::Int(i) => state.hash_one(*i),
            Value::Ts(t) => state.hash_one(t.nanos()),
            Value::Dec { units, .. } => state.hash_one(units.get()),
            Value::Bool(b) => state.hash_one(*b),
            Value::Date(d) => state.hash_one(*d),
        }
    }

    /// The decimal `units / 10^scale`.
    pub const fn dec(units: i128, scale: u32) -> Value {
        Value::Dec {
            units: Units::new(units),
            scale,
        }
    }

    /// Canonical display: `Str` as-is; `Int` decimal; `Dec` with exactly
    /// `scale` fraction digits (`12.30`, `-0.05`, `7`); `Bool`
    /// `true`/`false`; `Date` `YYYY-MM-DD`; `Ts` RFC 3339 UTC, microseconds
    /// shown only when non-zero, nanoseconds only when they are not whole
    /// microseconds (`2026-11-24T08:00:00Z`, `2026-11-24T08:00:00.123456Z`,
    /// `2026-11-24T08:00:00.123456789Z`).
    /// Appends [`Value::display`] to `out` (no allocation for text,
    /// integers and booleans).
    pub fn write_display(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Dec { units, scale } => write_decimal(out, units.get(), *scale),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Date(days) => write_date(out, *days),
            Value::Ts(t) => write_timestamp(out, *t),
        }
    }

    /// The display text, borrowed for text values and written into `buf`
    /// for the others (no allocation per cell).
    pub fn text<'a>(&'a self, buf: &'a mut String) -> &'a str {
        match self {
            Value::Str(s) => s.as_str(),
            other => {
                buf.clear();
                other.write_display(buf);
                buf.as_str()
            }
        }
    }

    pub fn display(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            other => {
                let mut out = String::new();
                other.write_display(&mut out);
                out
            }
        }
    }
}

/// `units / 10^scale` with exactly `scale` fraction digits and at least one
/// integer digit (`5` at scale 2 is `0.05`).
fn write_decimal(out: &mut String, units: i128, scale: u32) {
    use std::fmt::Write;
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let width = scale as usize;
    // Most amounts fit 64 bits, whose formatting is several times cheaper.
    if let (Ok(abs), Some(p)) = (u64::try_from(abs), 10u64.checked_pow(scale)) {
        let _ = match p {
            1 => write!(out, "{sign}{abs}"),
            p => write!(out, "{sign}{}.{:0width$}", abs / p, abs % p),
        };
        return;
    }
    // Scales above 38 are refused when the type is parsed; 10^38 < 2^128.
    let _ = match 10u128.checked_pow(scale) {
        Some(1) => write!(out, "{sign}{abs}"),
        Some(p) => write!(out, "{sign}{}.{:0width$}", abs / p, abs % p),
        None => write!(out, "<decimal {units} at scale {scale}>"),
    };
}

fn date_from_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_DAYS_FROM_CE)?)
}

fn write_date(out: &mut String, days: i32) {
    use std::fmt::Write;
    let _ = match date_from_days(days) {
        Some(date) => write!(out, "{}", date.format("%Y-%m-%d")),
        // Only reachable for hand-built values beyond chrono's range.
        None => write!(out, "<date out of range: {days} days since 1970-01-01>"),
    };
}

fn write_timestamp(out: &mut String, t: Instant) {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let micros = t.micros();
    let _ = match t.to_utc() {
        Some(dt) if (0..=9999).contains(&dt.year()) => {
            // Written digit by digit: this runs once per timestamp cell in
            // state hashing and reports, and formatting machinery dominated.
            let sub_nanos = t.sub_micro_nanos();
            let t = dt.naive_utc();
            push_digits(out, t.year() as u32, 4);
            for (sep, n) in [
                ('-', t.month()),
                ('-', t.day()),
                ('T', t.hour()),
                (':', t.minute()),
                (':', t.second()),
            ] {
                out.push(sep);
                push_digits(out, n, 2);
            }
            match (dt.timestamp_subsec_micros(), sub_nanos) {
                (0, 0) => {}
                (us, 0) => {
                    out.push('.');
                    push_digits(out, us, 6);
                }
                _ => {
                    out.push('.');
                    push_digits(out, dt.timestamp_subsec_nanos(), 9);
                }
            }
            out.push('Z');
            Ok(())
        }
        Some(dt) if dt.timestamp_subsec_nanos() == 0 => write!(out, "{}", dt.naive_utc().format("%Y-%m-%dT%H:%M:%SZ")),
        Some(dt) if t.sub_micro_nanos() == 0 => write!(out, "{}", dt.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6fZ")),
        Some(dt) => write!(out, "{}", dt.naive_utc().format("%Y-%m-%dT%H:%M:%S%.9fZ")),
        None => write!(out, "<timestamp out of range: {micros} us since epoch>"),
    };
}

/// `n` as exactly `width` (at most 9) decimal digits, zero-padded.
fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 9];
    let mut n = n;
    for d in buf[..width].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(buf[..width].iter().map(|&b| char::from(b)));
}

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
    pub fn from_spec(ty: &str, opts: &TypeOptions, default_tz: Tz) -> Result<FieldType, String> {
        let spec = ty.trim().to_ascii_lowercase();
        let field = match spec.as_str() {
            "string" => FieldType::String,
            "int" => FieldType::Int,
            "bool" => bool_type(opts)?,
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
            other => decimal_type(other)?.ok_or_else(|| format!("unknown type `{ty}`; valid types: {TYPE_NAMES}"))?,
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
    pub fn convert(&self, text: &str) -> Result<Value, String> {
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
        }
    }
}

// ---------------------------------------------------------------------------
// from_spec helpers

fn decimal_type(spec: &str) -> Result<Option<FieldType>, String> {
    let Some(args) = spec
        .strip_prefix("decimal")
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.strip_suffix(')'))
    else {
        return Ok(None);
    };
    let bad = || format!("invalid decimal type `{spec}`: expected decimal(p,s) with 1<=p<=38 and 0<=s<=p");
    let (p, s) = args.split_once(',').ok_or_else(bad)?;
    let precision: u32 = p.trim().parse().map_err(|_| bad())?;
    let scale: u32 = s.trim().parse().map_err(|_| bad())?;
    if !(1..=MAX_PRECISION).contains(&precision) || scale > precision {
        return Err(bad());
    }
    Ok(Some(FieldType::Decimal { precision, scale }))
}

fn bool_type(opts: &TypeOptions) -> Result<FieldType, String> {
    let true_values = spellings(opts.true_values.as_deref(), DEFAULT_TRUE, "true_values")?;
    let false_values = spellings(opts.false_values.as_deref(), DEFAULT_FALSE, "false_values")?;
    if let Some(both) = true_values.iter().find(|v| false_values.contains(v)) {
        return Err(format!(
            "bool spelling `{both}` is in both true_values and false_values"
        ));
    }
    Ok(FieldType::Bool {
        true_values,
        false_values,
    })
}

/// Lower-cased spellings, so conversion lower-cases only the input.
fn spellings(given: Option<&[String]>, default: &[&str], what: &str) -> Result<Vec<String>, String> {
    let values: Vec<String> = match given {
        Some(list) => list.iter().map(|v| v.to_lowercase()).collect(),
        None => default.iter().map(|v| v.to_string()).collect(),
    };
    if values.is_empty() {
        return Err(format!("bool option `{what}` must not be empty"));
    }
    if values.iter().any(String::is_empty) {
        return Err(format!(
            "bool option `{what}` must not contain an empty string; use the empty_is_null step for empty cells"
        ));
    }
    Ok(values)
}

fn formats_or_default(opts: &TypeOptions, default: &[&str], timestamp: bool) -> Result<Vec<String>, String> {
    let Some(formats) = &opts.formats else {
        return Ok(default.iter().map(|f| f.to_string()).collect());
    };
    if formats.is_empty() {
        return Err("option `formats` must not be empty".into());
    }
    for format in formats {
        validate_format(format, timestamp)?;
    }
    Ok(formats.clone())
}

fn validate_format(format: &str, timestamp: bool) -> Result<(), String> {
    if format == RFC3339_FORMAT {
        return if timestamp {
            Ok(())
        } else {
            Err("format `rfc3339` is only valid for timestamps".into())
        };
    }
    let invalid = StrftimeItems::new(format).any(|item| matches!(item, Item::Error));
    if format.is_empty() || invalid {
        return Err(format!(
            "invalid date/time format `{format}` (chrono strftime syntax expected)"
        ));
    }
    // A date format must be renderable from a date alone (no %H, %z, ...).
    if !timestamp && render_date(NaiveDate::MIN, format).is_none() {
        return Err(format!("date format `{format}` uses time or zone fields"));
    }
    Ok(())
}

fn resolve_timezone(name: Option<&str>, default_tz: Tz) -> Result<Tz, String> {
    match name {
        None => Ok(default_tz),
        Some(name) => name
            .trim()
            .parse::<Tz>()
            .map_err(|_| format!("unknown timezone `{name}`; expected an IANA name such as Asia/Shanghai or UTC")),
    }
}

fn reject_inapplicable_options(field: &FieldType, opts: &TypeOptions) -> Result<(), String> {
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
    ];
    match checks.iter().find(|(_, bad)| *bad) {
        Some((option, _)) => Err(format!("option `{option}` does not apply to type {}", field.name())),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// convert helpers

/// The text without surrounding whitespace, which no typed value can carry;
/// empty (or blank) text is an error because null is the caller's decision.
fn non_blank<'a>(text: &'a str, field: &FieldType) -> Result<&'a str, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!(
            "empty value cannot be a {}; add the empty_is_null step to make it null",
            field.name()
        ));
    }
    Ok(trimmed)
}

/// Declared formats, then the ISO fallbacks not already declared.
fn with_iso<'a>(formats: &'a [String], iso: &'a [&'a str]) -> impl Iterator<Item = &'a str> + Clone {
    let extra = iso.iter().copied().filter(|f| !formats.iter().any(|d| d == f));
    formats.iter().map(String::as_str).chain(extra)
}

/// Sign and digit runs of a plain decimal literal (`[+-]?\d*(\.\d*)?`).
struct NumberParts<'a> {
    negative: bool,
    int_digits: &'a str,
    frac_digits: &'a str,
}

/// Split a plain decimal literal, explaining the most likely mistake when
/// it is not one. Reasons name no type: callers add "cannot convert to T".
fn lex_number(text: &str) -> Result<NumberParts<'_>, String> {
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
            'e' | 'E' => "scientific notation is not accepted",
            ',' | '_' | '\'' | ' ' => "thousands separators are not accepted",
            '.' => "more than one decimal point",
            _ => "not a number",
        };
        return Err(why.into());
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err("no digits".into());
    }
    Ok(NumberParts {
        negative,
        int_digits,
        frac_digits,
    })
}

fn parse_int(text: &str) -> Result<i64, String> {
    let parts = lex_number(text)?;
    if text.contains('.') {
        return Err("has a decimal point; declare decimal(p,s) for fractional values".into());
    }
    if parts.int_digits.is_empty() {
        return Err("no digits".into());
    }
    // The text is now `[+-]?\d+`, so the only possible failure is overflow.
    text.parse::<i64>()
        .map_err(|_| "out of range for a 64-bit integer".to_string())
}

/// Exact units at `scale`, e.g. "12.3" at scale 2 -> 1230.
fn parse_decimal(text: &str, precision: u32, scale: u32) -> Result<i128, String> {
    let parts = lex_number(text)?;
    let frac = fraction_within_scale(parts.frac_digits, scale)?;
    let int = parts.int_digits.trim_start_matches('0');
    // saturating: FieldType is public, so scale > precision is constructible.
    let max_int_digits = precision.saturating_sub(scale) as usize;
    if int.len() > max_int_digits {
        return Err(format!(
            "overflow: {} integer digits where decimal({precision},{scale}) allows {max_int_digits}",
            int.len()
        ));
    }
    let missing_zeros = (scale as usize).saturating_sub(frac.len());
    let digits = int
        .bytes()
        .chain(frac.bytes())
        .chain(std::iter::repeat_n(b'0', missing_zeros));
    let magnitude = accumulate_digits(digits).ok_or_else(|| "overflow".to_string())?;
    Ok(if parts.negative { -magnitude } else { magnitude })
}

/// Fraction digits trimmed to `scale`; extra digits must be zeros because
/// dropping anything else would change the value.
fn fraction_within_scale(frac: &str, scale: u32) -> Result<&str, String> {
    let scale = scale as usize;
    if frac.len() <= scale {
        return Ok(frac);
    }
    let (kept, extra) = frac.split_at(scale);
    if extra.bytes().all(|b| b == b'0') {
        Ok(kept)
    } else {
        Err(format!(
            "{} fraction digits exceed scale {scale}; converting would lose precision",
            frac.len()
        ))
    }
}

fn accumulate_digits(mut digits: impl Iterator<Item = u8>) -> Option<i128> {
    digits.try_fold(0i128, |acc, d| acc.checked_mul(10)?.checked_add(i128::from(d - b'0')))
}

fn parse_bool(text: &str, true_values: &[String], false_values: &[String]) -> Result<bool, String> {
    let lower = text.to_lowercase();
    if true_values.contains(&lower) {
        Ok(true)
    } else if false_values.contains(&lower) {
        Ok(false)
    } else {
        Err(format!(
            "expected one of true [{}] or false [{}] (case-insensitive)",
            true_values.join(", "),
            false_values.join(", ")
        ))
    }
}

fn parse_date(text: &str, formats: &[String]) -> Result<i32, String> {
    let mut errors = ParseErrors::default();
    for format in with_iso(formats, ISO_DATE_FORMATS) {
        match NaiveDate::parse_from_str(text, format) {
            Ok(date) if !canonical_if_compact(text, format, date) => {
                errors.note_ambiguous(format);
            }
            Ok(date) => return days_since_epoch(date),
            Err(e) => errors.note(e.kind()),
        }
    }
    Err(errors.message("date", formats))
}

/// For formats whose numeric fields touch (`%Y%m%d`), chrono would read
/// `2024111` as 2024-11-1; only the zero-padded rendering is unambiguous.
fn canonical_if_compact(text: &str, format: &str, date: NaiveDate) -> bool {
    !has_adjacent_fields(format) || render_date(date, format).is_some_and(|r| text.eq_ignore_ascii_case(&r))
}

/// `date.format(format).to_string()` panics when the format names fields a
/// date lacks (`%H`); writing through `fmt::Write` reports it instead.
fn render_date(date: NaiveDate, format: &str) -> Option<String> {
    let mut out = String::new();
    write!(out, "{}", date.format(format)).ok()?;
    Some(out)
}

fn has_adjacent_fields(format: &str) -> bool {
    let mut items = StrftimeItems::new(format).peekable();
    while let Some(item) = items.next() {
        let next_is_field = matches!(items.peek(), Some(Item::Numeric(..)));
        if matches!(item, Item::Numeric(..)) && next_is_field {
            return true;
        }
    }
    false
}

fn days_since_epoch(date: NaiveDate) -> Result<i32, String> {
    date.num_days_from_ce()
        .checked_sub(EPOCH_DAYS_FROM_CE)
        .ok_or_else(|| "date out of range".to_string())
}

/// Keeps the most useful failure across several attempted formats: a value
/// that fit a format's shape but named an impossible date beats a shape
/// mismatch.
#[derive(Default)]
struct ParseErrors {
    impossible: bool,
    ambiguous: Option<String>,
}

impl ParseErrors {
    fn note(&mut self, kind: ParseErrorKind) {
        if matches!(kind, ParseErrorKind::OutOfRange | ParseErrorKind::Impossible) {
            self.impossible = true;
        }
    }

    fn note_ambiguous(&mut self, format: &str) {
        self.ambiguous.get_or_insert_with(|| format.to_string());
    }

    fn message(&self, what: &str, formats: &[String]) -> String {
        if self.impossible {
            return "no such calendar date or time (e.g. 2023-02-29), or a field is out of range".into();
        }
        if let Some(format) = &self.ambiguous {
            return format!("fields must be zero-padded for compact format `{format}`");
        }
        format!(
            "does not match any {what} format ({}; ISO 8601 is also accepted)",
            formats.join(", ")
        )
    }
}

/// A parsed timestamp before it is pinned to an instant.
enum Parsed {
    Instant(DateTime<FixedOffset>),
    Utc(NaiveDateTime),
    Local(NaiveDateTime),
}

/// What a format yields when it parses.
#[derive(Clone, Copy, PartialEq)]
enum FormatKind {
    Rfc3339,
    /// Contains an offset (`%z`, `%:z`, `%#z`, `%+`): an instant.
    Offset,
    /// Contains `%s` (seconds since the epoch): an instant without offset.
    Epoch,
    Naive,
}

fn format_kind(format: &str) -> FormatKind {
    if format == RFC3339_FORMAT {
        return FormatKind::Rfc3339;
    }
    let mut kind = FormatKind::Naive;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        // Skip padding/width/colon modifiers to reach the specifier letter.
        let spec = chars.find(|c| !matches!(c, '-' | '_' | '#' | ':' | '.' | '0'..='9'));
        match spec {
            Some('z') | Some('+') => return FormatKind::Offset,
            Some('s') => kind = FormatKind::Epoch,
            _ => {}
        }
    }
    kind
}

fn parse_with(text: &str, format: &str) -> Result<Parsed, chrono::ParseError> {
    match format_kind(format) {
        FormatKind::Rfc3339 => DateTime::parse_from_rfc3339(text).map(Parsed::Instant),
        FormatKind::Offset => DateTime::parse_from_str(text, format).map(Parsed::Instant),
        FormatKind::Epoch => NaiveDateTime::parse_from_str(text, format).map(Parsed::Utc),
        FormatKind::Naive => NaiveDateTime::parse_from_str(text, format).map(Parsed::Local),
    }
}

fn parse_timestamp(text: &str, formats: &[String], tz: Tz, default_formats: bool) -> Result<Instant, String> {
    // Hot path: with the default formats, `YYYY-MM-DD HH:MM:SS` (space or `T`)
    // is exactly what the first naive default would parse; skip chrono's
    // format interpreter. Anything else takes the general path below.
    if default_formats {
        if let Some(naive) = fast_naive(text) {
            return instant_of(Parsed::Local(naive), tz);
        }
    }
    let candidates = with_iso(formats, ISO_TIMESTAMP_FORMATS);
    let mut errors = ParseErrors::default();
    // Rendered zone-aware columns look like "2026-11-24 08:00:00 UTC": the
    // naive part is already UTC.
    if let Some(naive_text) = text.strip_suffix(UTC_SUFFIX) {
        for format in candidates.filter(|f| format_kind(f) == FormatKind::Naive) {
            match NaiveDateTime::parse_from_str(naive_text, format) {
                Ok(naive) => return instant_of(Parsed::Utc(naive), tz),
                Err(e) => errors.note(e.kind()),
            }
        }
        return Err(errors.message("timestamp", formats));
    }
    for format in candidates {
        match parse_with(text, format) {
            Ok(parsed) => return instant_of(parsed, tz),
            Err(e) => errors.note(e.kind()),
        }
    }
    Err(errors.message("timestamp", formats))
}

/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`, digits checked, date and
/// time validated; None for anything else.
fn fast_naive(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    let shape = b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)
}

fn instant_of(parsed: Parsed, tz: Tz) -> Result<Instant, String> {
    let instant = match parsed {
        Parsed::Instant(dt) => dt.to_utc(),
        Parsed::Utc(naive) => naive.and_utc(),
        // UTC has no transitions to look up.
        Parsed::Local(naive) if matches!(tz, Tz::UTC | Tz::Etc__UTC) => naive.and_utc(),
        Parsed::Local(naive) => tz
            .from_local_datetime(&naive)
            // Ambiguous (DST fold): documented choice of the earlier instant.
            .earliest()
            .ok_or_else(|| format!("local time {naive} does not exist in {tz} (skipped by a DST change)"))?
            .to_utc(),
    };
    Instant::of(instant)
}

// ---------------------------------------------------------------------------
// tolerance and equality

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
    ) -> Result<Tolerance, String> {
        let abs = abs.map(parse_tolerance_decimal).transpose()?;
        if let Some(rel) = rel {
            if !rel.is_finite() || rel < 0.0 {
                return Err(format!("relative tolerance must be finite and >= 0, got {rel}"));
            }
        }
        if let Some(seconds) = seconds {
            if seconds < 0 {
                return Err(format!("seconds tolerance must be >= 0, got {seconds}"));
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
fn parse_tolerance_decimal(text: &str) -> Result<(i128, u32), String> {
    let bad = || format!("absolute tolerance `{text}` is not a non-negative decimal number");
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
    use chrono_tz::{America::New_York, Asia::Shanghai, UTC};

    #[test]
    fn text_prefix_is_the_zero_padded_first_16_bytes_at_every_length() {
        for n in 0..40usize {
            for seed in 0..8u8 {
                let text: String = (0..n)
                    .map(|i| char::from(b'!' + ((i as u8).wrapping_mul(7) ^ seed) % 90))
                    .collect();
                let mut p = [0u8; 16];
                let k = n.min(16);
                p[..k].copy_from_slice(&text.as_bytes()[..k]);
                assert_eq!(text_prefix(&text), u128::from_be_bytes(p), "{text:?}");
            }
        }
        // Multi-byte characters are bytes like any other.
        let text = "客户咨询账单";
        let mut p = [0u8; 16];
        p.copy_from_slice(&text.as_bytes()[..16]);
        assert_eq!(text_prefix(text), u128::from_be_bytes(p));
    }

    #[test]
    fn column_hashes_follow_equality_within_a_column() {
        let state = polars::prelude::PlFixedStateQuality::with_seed(7);
        // Equal texts hash alike however they are stored (inline or on the heap).
        let long = "a text longer than twenty-four bytes";
        let (a, b) = (
            Value::Str(long.into()),
            Value::Str(compact_str::CompactString::from(long.to_string())),
        );
        assert_eq!(a.column_hash(&state), b.column_hash(&state));
        // Distinct values of one column hash apart.
        let columns: [Vec<Value>; 4] = [
            (0..5000).map(Value::Int).collect(),
            (0..5000).map(|i| Value::Str(format!("客户{i}").into())).collect(),
            (0..5000).map(|i| Value::dec(i as i128, 2)).collect(),
            (0..5000).map(Value::Date).collect(),
        ];
        for column in &columns {
            let hashes: std::collections::HashSet<u64> = column.iter().map(|v| v.column_hash(&state)).collect();
            assert_eq!(hashes.len(), column.len());
        }
        assert_ne!(
            Value::Bool(true).column_hash(&state),
            Value::Bool(false).column_hash(&state)
        );
    }

    #[test]
    fn local_times_in_utc_take_the_short_way_to_the_same_instant() {
        let naive = chrono::NaiveDate::from_ymd_opt(2024, 2, 29)
            .and_then(|d| d.and_hms_micro_opt(23, 59, 58, 123_456))
            .expect("a valid time");
        let long_way = Tz::UTC
            .from_local_datetime(&naive)
            .earliest()
            .expect("exists")
            .timestamp_micros();
        for tz in [Tz::UTC, Tz::Etc__UTC] {
            assert_eq!(instant_of(Parsed::Local(naive), tz), Ok(Instant::from_micros(long_way)));
        }
        let shanghai = instant_of(Parsed::Local(naive), Tz::Asia__Shanghai);
        assert_eq!(shanghai, Ok(Instant::from_micros(long_way - 8 * 3_600_000_000)));
    }

    #[test]
    fn write_display_appends_the_display_text() {
        let values = [
            Value::Str("a b".into()),
            Value::Int(-42),
            Value::Int(i64::MIN),
            Value::Bool(true),
            Value::Bool(false),
            Value::dec(-5, 2),
            Value::Date(19_000),
            Value::Ts(Instant::from_micros(1_700_000_000_123_456)),
        ];
        for v in values {
            let mut out = String::from(">");
            v.write_display(&mut out);
            assert_eq!(out, format!(">{}", v.display()));
        }
    }

    fn ty(spec: &str) -> FieldType {
        FieldType::from_spec(spec, &TypeOptions::default(), UTC).unwrap()
    }

    fn ty_tz(spec: &str, tz: &str) -> FieldType {
        let opts = TypeOptions {
            timezone: Some(tz.into()),
            ..TypeOptions::default()
        };
        FieldType::from_spec(spec, &opts, UTC).unwrap()
    }

    fn dec(text: &str, spec: &str) -> Result<Value, String> {
        ty(spec).convert(text)
    }

    fn ts(text: &str) -> i64 {
        match ty("timestamp").convert(text).unwrap() {
            Value::Ts(t) => t.micros(),
            other => panic!("not a timestamp: {other:?}"),
        }
    }

    fn tol(abs: Option<&str>, rel: Option<f64>, seconds: Option<i64>, date: bool) -> Tolerance {
        Tolerance::from_spec(abs, rel, seconds, date).unwrap()
    }

    // --- Value::display -----------------------------------------------------

    #[test]
    fn fast_display_agrees_with_chrono_and_wide_arithmetic() {
        // Digit-by-digit timestamps and 64-bit decimals against chrono's
        // formatter and 128-bit arithmetic, over a spread of values.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let micros = (x >> 1) as i64 % 253_402_300_799_000_000 - 62_135_596_800_000_000;
            let micros = if x % 3 == 0 {
                micros - micros % 1_000_000
            } else {
                micros
            };
            let dt = DateTime::from_timestamp_micros(micros).unwrap().naive_utc();
            let want = if micros.rem_euclid(1_000_000) == 0 {
                dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            };
            assert_eq!(Value::Ts(Instant::from_micros(micros)).display(), want);
            let units = (x as i64 >> (x % 40)) as i128;
            let scale = (x % 19) as u32;
            let p = 10i128.pow(scale);
            let abs = units.unsigned_abs();
            let sign = if units < 0 { "-" } else { "" };
            let want = if scale == 0 {
                format!("{units}")
            } else {
                format!("{sign}{}.{:0w$}", abs / p as u128, abs % p as u128, w = scale as usize)
            };
            assert_eq!(Value::dec(units, scale).display(), want);
        }
    }

    #[test]
    fn display_values() {
        assert_eq!(Value::Str(" a ".into()).display(), " a ");
        assert_eq!(Value::Int(-42).display(), "-42");
        assert_eq!(Value::Int(i64::MIN).display(), "-9223372036854775808");
        assert_eq!(Value::dec(1230, 2).display(), "12.30");
        assert_eq!(Value::dec(-5, 2).display(), "-0.05");
        assert_eq!(Value::dec(7, 0).display(), "7");
        assert_eq!(Value::dec(0, 3).display(), "0.000");
        assert_eq!(
            Value::dec(i128::MIN, 2).display(),
            "-1701411834604692317316873037158841057.28"
        );
        assert_eq!(Value::Bool(true).display(), "true");
        assert_eq!(Value::Bool(false).display(), "false");
        assert_eq!(Value::Date(0).display(), "1970-01-01");
        assert_eq!(Value::Date(-719_162).display(), "0001-01-01");
        assert!(Value::Date(i32::MAX).display().contains("out of range"));
        assert_eq!(Value::Ts(Instant::from_micros(0)).display(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Value::Ts(Instant::from_micros(-1)).display(),
            "1969-12-31T23:59:59.999999Z"
        );
        assert!(Value::Ts(Instant::from_micros(i64::MAX))
            .display()
            .contains("out of range"));
    }

    #[test]
    fn display_round_trips_through_convert() {
        let t = ts("2026-11-24T08:00:00.123456Z");
        let t = Instant::from_micros(t);
        assert_eq!(Value::Ts(t).display(), "2026-11-24T08:00:00.123456Z");
        assert_eq!(ty("timestamp").convert(&Value::Ts(t).display()), Ok(Value::Ts(t)));
        let ns = Instant::from_nanos(t.nanos() + 789).unwrap();
        assert_eq!(Value::Ts(ns).display(), "2026-11-24T08:00:00.123456789Z");
        assert_eq!(ty("timestamp").convert(&Value::Ts(ns).display()), Ok(Value::Ts(ns)));
        let before = Instant::from_nanos(-1).unwrap();
        assert_eq!(Value::Ts(before).display(), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            ty("timestamp").convert(&Value::Ts(before).display()),
            Ok(Value::Ts(before))
        );
        assert_eq!(
            Value::Ts(Instant::from_micros(ts("2026-11-24T08:00:00Z"))).display(),
            "2026-11-24T08:00:00Z"
        );
        let d = ty("date").convert("2024-02-29").unwrap();
        assert_eq!(d.display(), "2024-02-29");
        let x = dec("-12.3", "decimal(10,4)").unwrap();
        assert_eq!(x.display(), "-12.3000");
        assert_eq!(dec(&x.display(), "decimal(10,4)"), Ok(x));
    }

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
            let err = FieldType::from_spec(bad, &no, UTC).unwrap_err();
            assert!(err.contains("decimal"), "{bad}: {err}");
        }
        let err = FieldType::from_spec("float", &no, UTC).unwrap_err();
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
            .contains("Mars/Olympus"));
        let tz_opts = opts(|o| o.timezone = Some("America/New_York".into()));
        assert!(matches!(
            FieldType::from_spec("timestamp", &tz_opts, UTC),
            Ok(FieldType::Timestamp { timezone, .. }) if timezone == New_York
        ));
        // Options that do not apply to the type are errors, not ignored.
        assert!(FieldType::from_spec("date", &tz_opts, UTC)
            .unwrap_err()
            .contains("timezone"));
        let fmt = opts(|o| o.formats = Some(vec!["%d.%m.%Y".into()]));
        assert!(FieldType::from_spec("int", &fmt, UTC).unwrap_err().contains("formats"));
        assert!(FieldType::from_spec("date", &fmt, UTC).is_ok());
        let empty = opts(|o| o.formats = Some(vec![]));
        assert!(FieldType::from_spec("date", &empty, UTC).is_err());
        let bad_fmt = opts(|o| o.formats = Some(vec!["%Q-%m".into()]));
        assert!(FieldType::from_spec("date", &bad_fmt, UTC).unwrap_err().contains("%Q"));
        let timey = opts(|o| o.formats = Some(vec!["%Y%m%d%H".into()]));
        assert!(FieldType::from_spec("date", &timey, UTC).unwrap_err().contains("time"));
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
            .contains("true_values"));
        let overlap = opts(|o| {
            o.true_values = Some(vec!["Y".into()]);
            o.false_values = Some(vec!["y".into()]);
        });
        assert!(FieldType::from_spec("bool", &overlap, UTC)
            .unwrap_err()
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
                let err = ty(spec).convert(blank).unwrap_err();
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

    // --- convert: int ---------------------------------------------------------

    #[test]
    fn int_conversion() {
        let int = ty("int");
        assert_eq!(int.convert("007"), Ok(Value::Int(7)));
        assert_eq!(int.convert("+42"), Ok(Value::Int(42)));
        assert_eq!(int.convert("-0"), Ok(Value::Int(0)));
        assert_eq!(int.convert("9223372036854775807"), Ok(Value::Int(i64::MAX)));
        assert_eq!(int.convert("-9223372036854775808"), Ok(Value::Int(i64::MIN)));
        assert!(int.convert("9223372036854775808").unwrap_err().contains("out of range"));
        assert!(int
            .convert("-9223372036854775809")
            .unwrap_err()
            .contains("out of range"));
        assert!(int.convert("1E+10").unwrap_err().contains("scientific"));
        assert!(int.convert("1e5").unwrap_err().contains("scientific"));
        assert!(int.convert("1,000").unwrap_err().contains("thousands"));
        assert!(int.convert("12.0").unwrap_err().contains("decimal point"));
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
        assert!(d("12.345").unwrap_err().contains("lose precision"));
        assert!(d("1E+10").unwrap_err().contains("scientific"));
        assert!(d("1.5e3").unwrap_err().contains("scientific"));
        assert!(d("1,234.50").unwrap_err().contains("thousands"));
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
        assert!(d("1000").unwrap_err().contains("overflow"));
        assert!(d("1000.00").unwrap_err().contains("overflow"));
        let max38 = "9".repeat(38);
        assert_eq!(dec(&max38, "decimal(38,0)"), Ok(Value::dec(max38.parse().unwrap(), 0)));
        assert!(dec(&format!("1{max38}"), "decimal(38,0)").is_err());
        assert_eq!(
            dec("0.5", "decimal(38,38)").unwrap().display(),
            format!("0.5{}", "0".repeat(37))
        );
        assert!(dec("1", "decimal(38,38)").unwrap_err().contains("overflow"));
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

    // --- convert: date --------------------------------------------------------

    #[test]
    fn date_conversion() {
        let d = ty("date");
        assert_eq!(d.convert("1970-01-01"), Ok(Value::Date(0)));
        assert_eq!(d.convert("1970/01/02"), Ok(Value::Date(1)));
        assert_eq!(d.convert("19691231"), Ok(Value::Date(-1)));
        assert_eq!(d.convert("0001-01-01"), Ok(Value::Date(-719_162)));
        assert_eq!(d.convert("1900-02-28").unwrap().display(), "1900-02-28");
        assert!(d.convert("1900-02-29").is_err());
        assert_eq!(d.convert("2024-02-29").unwrap().display(), "2024-02-29");
        let err = d.convert("2023-02-29").unwrap_err();
        assert!(err.contains("no such calendar date"), "{err}");
        assert!(d.convert("20230229").is_err());
        assert!(d.convert("2023-13-01").is_err());
        assert!(d.convert("2024-01-01T00:00:00").is_err());
        assert!(d.convert("abc").unwrap_err().contains("does not match"));
    }

    #[test]
    fn compact_date_must_be_zero_padded() {
        let d = ty("date");
        assert_eq!(d.convert("20241101").unwrap().display(), "2024-11-01");
        // 2024111 could be 2024-11-1 or 2024-1-11.
        assert!(d.convert("2024111").unwrap_err().contains("zero-padded"));
        // With separators, unpadded fields are unambiguous and accepted.
        assert_eq!(d.convert("2024/2/9").unwrap().display(), "2024-02-09");
    }

    #[test]
    fn date_custom_formats() {
        let opts = TypeOptions {
            formats: Some(vec!["%d.%m.%Y".into(), "%b %d %Y".into()]),
            ..TypeOptions::default()
        };
        let d = FieldType::from_spec("date", &opts, UTC).unwrap();
        assert_eq!(d.convert("24.11.2026").unwrap().display(), "2026-11-24");
        assert_eq!(d.convert("Nov 24 2026").unwrap().display(), "2026-11-24");
        // ISO dates, as typed sources render them, are always accepted.
        assert_eq!(d.convert("2026-11-24").unwrap().display(), "2026-11-24");
        assert!(d.convert("2026/11/24").is_err());
        assert!(d.convert("11.24.2026").unwrap_err().contains("no such calendar date"));
        assert!(d.convert("24-11-2026").unwrap_err().contains("%d.%m.%Y"));
    }

    // --- convert: timestamp ---------------------------------------------------

    const T0: i64 = 1_795_507_200_000_000; // 2026-11-24T08:00:00Z

    #[test]
    fn timestamp_instants() {
        assert_eq!(ts("2026-11-24T08:00:00Z"), T0);
        assert_eq!(ts("2026-11-24T16:00:00+08:00"), T0);
        assert_eq!(ts("2026-11-24 08:00:00Z"), T0);
        assert_eq!(ts("2026-11-24T08:00:00.5Z"), T0 + 500_000);
        assert_eq!(ts("2026-11-24 08:00:00 UTC"), T0);
        assert_eq!(ts("2026-11-24 08:00:00.123456 UTC"), T0 + 123_456);
        // Offsets and UTC markers are honoured whatever the field's zone.
        let sh = ty_tz("timestamp", "Asia/Shanghai");
        assert_eq!(
            sh.convert("2026-11-24T08:00:00Z"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
        assert_eq!(
            sh.convert("2026-11-24 08:00:00 UTC"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
    }

    #[test]
    fn timestamp_naive_formats() {
        assert_eq!(ts("2026-11-24 08:00:00"), T0);
        assert_eq!(ts("2026-11-24T08:00:00"), T0);
        assert_eq!(ts("2026/11/24 08:00:00"), T0);
        assert_eq!(ts("2026-11-24 08:00"), T0);
        assert_eq!(ts("2026-11-24 08:00:00.000001"), T0 + 1);
        assert_eq!(ts("0001-01-01 00:00:00"), -62_135_596_800_000_000);
        assert_eq!(ts("2024-02-29 12:00:00"), 1_709_208_000_000_000);
        let t = ty("timestamp");
        assert!(t
            .convert("2023-02-29 12:00:00")
            .unwrap_err()
            .contains("no such calendar date"));
        assert!(t.convert("2026-11-24").is_err());
        assert!(t.convert("2026-11-24 25:00:00").is_err());
        assert!(t.convert("yesterday").unwrap_err().contains("does not match"));
    }

    #[test]
    fn timestamp_precision_is_exact() {
        let t = ty("timestamp");
        assert_eq!(
            t.convert("2026-11-24T08:00:00.123456000Z"),
            Ok(Value::Ts(Instant::from_micros(T0 + 123_456)))
        );
        // Nanoseconds are kept, so two instants 1 ns apart differ.
        let ns = t.convert("2026-11-24T08:00:00.123456789Z").unwrap();
        assert_eq!(
            ns,
            Value::Ts(Instant::from_nanos(i128::from(T0) * 1000 + 123_456_789).unwrap())
        );
        let next = t.convert("2026-11-24T08:00:00.123456790Z").unwrap();
        assert_ne!(ns, next);
        assert!(!values_equal(&ns, &next, &Tolerance::default(), UTC));
        assert!(values_equal(&ns, &next, &tol(None, None, Some(1), false), UTC));
        assert_eq!(
            t.convert("2026-11-24 08:00:00.0000001"),
            Ok(Value::Ts(Instant::from_nanos(i128::from(T0) * 1000 + 100).unwrap()))
        );
    }

    #[test]
    fn timestamp_zone_shift_without_dst() {
        // Asia/Shanghai is UTC+8 all year: naive local minus 8 hours.
        let sh = ty_tz("timestamp", "Asia/Shanghai");
        assert_eq!(
            sh.convert("2026-11-24 16:00:00"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
        assert_eq!(
            sh.convert("2026-07-01 08:00:00").unwrap().display(),
            "2026-07-01T00:00:00Z"
        );
        // default_tz is used when the options name no zone.
        let dflt = FieldType::from_spec("timestamp", &TypeOptions::default(), Shanghai).unwrap();
        assert_eq!(
            dflt.convert("2026-11-24 16:00:00"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
    }

    #[test]
    fn timestamp_dst_gap_and_fold() {
        let ny = ty_tz("timestamp", "America/New_York");
        let err = ny.convert("2026-03-08 02:30:00").unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
        assert_eq!(
            ny.convert("2026-03-08 03:30:00").unwrap().display(),
            "2026-03-08T07:30:00Z"
        );
        // 01:30 happens twice on 2026-11-01: the earlier (EDT, UTC-4) wins.
        assert_eq!(
            ny.convert("2026-11-01 01:30:00").unwrap().display(),
            "2026-11-01T05:30:00Z"
        );
    }

    #[test]
    fn timestamp_custom_formats() {
        let opts = TypeOptions {
            formats: Some(vec!["%d/%m/%Y %H:%M".into(), "%Y%m%d%H%M%S %z".into(), "%s".into()]),
            timezone: Some("Asia/Shanghai".into()),
            ..TypeOptions::default()
        };
        let t = FieldType::from_spec("timestamp", &opts, UTC).unwrap();
        assert_eq!(t.convert("24/11/2026 16:00"), Ok(Value::Ts(Instant::from_micros(T0))));
        assert_eq!(
            t.convert("20261124080000 +0000"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
        // Epoch seconds are an instant, not Shanghai local time.
        assert_eq!(t.convert("1795507200"), Ok(Value::Ts(Instant::from_micros(T0))));
        // ISO shapes, as typed sources render them, are always accepted.
        assert_eq!(
            t.convert("2026-11-24 16:00:00.000000"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
        assert_eq!(
            t.convert("2026-11-24T16:00:00.000000"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
        assert_eq!(
            t.convert("2026-11-24T08:00:00.000000Z"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
        assert_eq!(
            t.convert("2026-11-24 08:00:00 UTC"),
            Ok(Value::Ts(Instant::from_micros(T0)))
        );
        assert!(t.convert("24/11/2026").is_err());
        assert!(t.convert("2026-11-24").is_err());
    }

    #[test]
    fn format_kinds() {
        assert!(format_kind("rfc3339") == FormatKind::Rfc3339);
        assert!(format_kind("%Y-%m-%d %H:%M:%S%:z") == FormatKind::Offset);
        assert!(format_kind("%Y %#z") == FormatKind::Offset);
        assert!(format_kind("%+") == FormatKind::Offset);
        assert!(format_kind("%s") == FormatKind::Epoch);
        assert!(format_kind("%Y-%m-%d %H:%M:%S%.f") == FormatKind::Naive);
        assert!(format_kind("100%%z %Y") == FormatKind::Naive);
    }

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

    #[test]
    fn fast_timestamp_path_agrees_with_chrono() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        for text in [
            "2026-11-24 08:00:00",
            "2026-11-24T23:59:59",
            "2024-02-29 00:00:00",
            "0001-01-01 00:00:00",
        ] {
            let naive = fast_naive(text).unwrap();
            let slow = NaiveDateTime::parse_from_str(&text.replace('T', " "), "%Y-%m-%d %H:%M:%S").unwrap();
            assert_eq!(naive, slow, "{text}");
        }
        for text in [
            "2023-02-29 10:00:00",
            "2026-13-01 00:00:00",
            "2026-11-24 24:00:00",
            "2026-11-24 08:00",
            "2026-1x-24 08:00:00",
        ] {
            assert_eq!(fast_naive(text), None, "{text}");
        }
        let ty = FieldType::from_spec("timestamp", &TypeOptions::default(), tz).unwrap();
        assert!(ty.convert("2023-02-29 10:00:00").is_err());
        assert_eq!(
            ty.convert("2026-11-24 08:00:00"),
            ty.convert("2026-11-24T08:00:00+08:00")
        );
    }
}
