//! Canonical typed values ([`Value`], [`Instant`]) and their display text.
//!
//! Owns the in-memory representation every stage after conversion shares;
//! converting text to values lives in `types`, `parse` and `datetime`, and
//! comparing them in `tolerance`.

use chrono::{DateTime, NaiveDate, Timelike};

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
pub(super) const EPOCH_DAYS_FROM_CE: i32 = 719_163;
const NANOS_PER_MICRO: u32 = 1_000;
pub(super) const NANOS_PER_SEC: u32 = 1_000_000_000;

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

/// A value as the shards of one run hand it to their merge (`run::part`):
/// one tagged case per variant, a decimal's units as text (JSON numbers
/// stop at 64 bits in many readers).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum ValueText {
    Str(String),
    Int(i64),
    Dec(String, u32),
    Bool(bool),
    Date(i32),
    Ts(i64, u16),
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Value::Str(t) => ValueText::Str(t.to_string()),
            Value::Int(i) => ValueText::Int(*i),
            Value::Dec { units, scale } => ValueText::Dec(units.get().to_string(), *scale),
            Value::Bool(b) => ValueText::Bool(*b),
            Value::Date(d) => ValueText::Date(*d),
            Value::Ts(t) => ValueText::Ts(t.micros, t.sub_nanos),
        };
        v.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        use serde::de::Error;
        Ok(match ValueText::deserialize(d)? {
            ValueText::Str(t) => Value::Str(t.into()),
            ValueText::Int(i) => Value::Int(i),
            ValueText::Dec(units, scale) => {
                let units: i128 = units
                    .parse()
                    .map_err(|e| D::Error::custom(format!("decimal units: {e}")))?;
                if scale > 38 {
                    return Err(D::Error::custom(format!("decimal scale {scale} above 38")));
                }
                Value::Dec {
                    units: Units::new(units),
                    scale,
                }
            }
            ValueText::Bool(b) => Value::Bool(b),
            ValueText::Date(d) => Value::Date(d),
            ValueText::Ts(micros, sub_nanos) if sub_nanos < 1_000 => Value::Ts(Instant { micros, sub_nanos }),
            ValueText::Ts(_, n) => return Err(D::Error::custom(format!("{n} nanoseconds within a microsecond"))),
        })
    }
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

    pub(super) fn of(at: DateTime<chrono::Utc>) -> Result<Instant, super::ConvertError> {
        let nanos = at.nanosecond();
        if nanos >= NANOS_PER_SEC {
            return Err(super::ConvertError::LeapSecond);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_travel_between_shards_exactly() {
        let values = [
            Value::Str("".into()),
            Value::Str("张三 — a text longer than twenty-four bytes".into()),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Dec {
                units: Units::new(-170_141_183_460_469_231_731_687_303_715_884_105_728),
                scale: 38,
            },
            Value::Dec {
                units: Units::new(12_345),
                scale: 2,
            },
            Value::Bool(true),
            Value::Date(-719_162),
            Value::Ts(Instant::from_nanos(-1).unwrap_or_else(|| panic!("in range"))),
            Value::Ts(Instant::from_nanos(1_733_540_400_123_456_789).unwrap_or_else(|| panic!("in range"))),
        ];
        for v in values {
            let text = serde_json::to_string(&v).unwrap_or_else(|e| panic!("{e}"));
            let back: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(back, v, "{text}");
        }
        // A decimal's units travel as text: no reader rounds them.
        let big = Value::Dec {
            units: Units::new(i128::MAX),
            scale: 0,
        };
        let text = serde_json::to_string(&big).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains(&i128::MAX.to_string()), "{text}");
        for bad in [
            r#"{"dec":["1",39]}"#,
            r#"{"dec":["1.5",2]}"#,
            r#"{"ts":[0,1000]}"#,
            r#"{"str":1}"#,
            r#"{"float":1.5}"#,
        ] {
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
        }
    }

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
}
