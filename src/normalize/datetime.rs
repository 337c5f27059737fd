//! Text grammars of dates and timestamps: declared chrono formats, the ISO
//! 8601 shapes always accepted beside them, time zones, DST gaps and folds,
//! and the fast path for the default timestamp shape.

use super::error::{ConvertError, DstGap, NoFormatMatches};
use super::value::{Instant, EPOCH_DAYS_FROM_CE};
use chrono::format::{Item, ParseErrorKind, StrftimeItems};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use std::fmt::Write as _;

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

/// Declared formats, then the ISO fallbacks not already declared.
fn with_iso<'a>(formats: &'a [String], iso: &'a [&'a str]) -> impl Iterator<Item = &'a str> + Clone {
    let extra = iso.iter().copied().filter(|f| !formats.iter().any(|d| d == f));
    formats.iter().map(String::as_str).chain(extra)
}

pub(super) fn parse_date(text: &str, formats: &[String]) -> Result<i32, ConvertError> {
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
    Err(errors.error("date", formats))
}

/// For formats whose numeric fields touch (`%Y%m%d`), chrono would read
/// `2024111` as 2024-11-1; only the zero-padded rendering is unambiguous.
fn canonical_if_compact(text: &str, format: &str, date: NaiveDate) -> bool {
    !has_adjacent_fields(format) || render_date(date, format).is_some_and(|r| text.eq_ignore_ascii_case(&r))
}

/// `date.format(format).to_string()` panics when the format names fields a
/// date lacks (`%H`); writing through `fmt::Write` reports it instead.
pub(super) fn render_date(date: NaiveDate, format: &str) -> Option<String> {
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

fn days_since_epoch(date: NaiveDate) -> Result<i32, ConvertError> {
    date.num_days_from_ce()
        .checked_sub(EPOCH_DAYS_FROM_CE)
        .ok_or(ConvertError::DateOutOfRange)
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

    fn error(&self, what: &'static str, formats: &[String]) -> ConvertError {
        if self.impossible {
            return ConvertError::NoSuchDateOrTime;
        }
        if let Some(format) = &self.ambiguous {
            return ConvertError::NotZeroPadded(format.clone());
        }
        ConvertError::NoFormatMatches(Box::new(NoFormatMatches {
            what,
            formats: formats.to_vec(),
        }))
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

pub(super) fn parse_timestamp(
    text: &str,
    formats: &[String],
    tz: Tz,
    default_formats: bool,
) -> Result<Instant, ConvertError> {
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
        return Err(errors.error("timestamp", formats));
    }
    for format in candidates {
        match parse_with(text, format) {
            Ok(parsed) => return instant_of(parsed, tz),
            Err(e) => errors.note(e.kind()),
        }
    }
    Err(errors.error("timestamp", formats))
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

fn instant_of(parsed: Parsed, tz: Tz) -> Result<Instant, ConvertError> {
    let instant = match parsed {
        Parsed::Instant(dt) => dt.to_utc(),
        Parsed::Utc(naive) => naive.and_utc(),
        // UTC has no transitions to look up.
        Parsed::Local(naive) if matches!(tz, Tz::UTC | Tz::Etc__UTC) => naive.and_utc(),
        Parsed::Local(naive) => tz
            .from_local_datetime(&naive)
            // Ambiguous (DST fold): documented choice of the earlier instant.
            .earliest()
            .ok_or_else(|| ConvertError::SkippedByDst(Box::new(DstGap { local: naive, zone: tz })))?
            .to_utc(),
    };
    Instant::of(instant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::testing::{dec, tol, ts, ty, ty_tz};
    use crate::normalize::{values_equal, FieldType, Tolerance, TypeOptions, Value};
    use chrono_tz::{Asia::Shanghai, UTC};

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
        let err = d.convert("2023-02-29").unwrap_err().to_string();
        assert!(err.contains("no such calendar date"), "{err}");
        assert!(d.convert("20230229").is_err());
        assert!(d.convert("2023-13-01").is_err());
        assert!(d.convert("2024-01-01T00:00:00").is_err());
        assert!(d.convert("abc").unwrap_err().to_string().contains("does not match"));
    }

    #[test]
    fn compact_date_must_be_zero_padded() {
        let d = ty("date");
        assert_eq!(d.convert("20241101").unwrap().display(), "2024-11-01");
        // 2024111 could be 2024-11-1 or 2024-1-11.
        assert!(d.convert("2024111").unwrap_err().to_string().contains("zero-padded"));
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
        assert!(d
            .convert("11.24.2026")
            .unwrap_err()
            .to_string()
            .contains("no such calendar date"));
        assert!(d.convert("24-11-2026").unwrap_err().to_string().contains("%d.%m.%Y"));
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
            .to_string()
            .contains("no such calendar date"));
        assert!(t.convert("2026-11-24").is_err());
        assert!(t.convert("2026-11-24 25:00:00").is_err());
        assert!(t
            .convert("yesterday")
            .unwrap_err()
            .to_string()
            .contains("does not match"));
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
        let err = ny.convert("2026-03-08 02:30:00").unwrap_err().to_string();
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
