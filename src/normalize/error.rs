//! Why normalization refuses a value ([`ConvertError`]) or a declaration
//! ([`DeclarationError`]).
//!
//! The `Display` texts are part of recon's output: a [`ConvertError`] becomes
//! the `detail` of an `unconvertible` finding (after "cannot convert to T: "),
//! a [`DeclarationError`] the message of a spec error. Findings are compared
//! byte for byte across runs, so a text here changes only on purpose.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

/// Why one cell could not be normalized or converted to its declared type.
/// The texts name no type: the finding adds "cannot convert to T".
///
/// Kept to the size of a `String` (payloads of the rare wide variants are
/// boxed), so that a cell's `Result` is no larger than it was as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("empty value cannot be a {0}; add the empty_is_null step to make it null")]
    Empty(String),
    #[error("value is not in the declared value map")]
    NotInValueMap,
    #[error("{0}")]
    NotAList(String),

    // Numbers.
    #[error("scientific notation is not accepted")]
    ScientificNotation,
    #[error("thousands separators are not accepted")]
    ThousandsSeparator,
    #[error("more than one decimal point")]
    SecondDecimalPoint,
    #[error("not a number")]
    NotANumber,
    #[error("no digits")]
    NoDigits,
    #[error("has a decimal point; declare decimal(p,s) for fractional values")]
    FractionInInt,
    #[error("out of range for a 64-bit integer")]
    IntOutOfRange,
    #[error("overflow: {} integer digits where decimal({},{}) allows {}", .0.digits, .0.precision, .0.scale, .0.allowed)]
    DecimalOverflow(Box<DecimalOverflow>),
    #[error("overflow")]
    Overflow,
    #[error("{digits} fraction digits exceed scale {scale}; converting would lose precision")]
    LosesPrecision { digits: usize, scale: u32 },

    // Booleans.
    #[error("expected one of true [{}] or false [{}] (case-insensitive)", .0[0].join(", "), .0[1].join(", "))]
    NotABool(Box<[Vec<String>; 2]>),

    // Dates and timestamps.
    #[error("date out of range")]
    DateOutOfRange,
    #[error("no such calendar date or time (e.g. 2023-02-29), or a field is out of range")]
    NoSuchDateOrTime,
    #[error("fields must be zero-padded for compact format `{0}`")]
    NotZeroPadded(String),
    #[error("does not match any {} format ({}; ISO 8601 is also accepted)", .0.what, .0.formats.join(", "))]
    NoFormatMatches(Box<NoFormatMatches>),
    #[error("local time {} does not exist in {} (skipped by a DST change)", .0.local, .0.zone)]
    SkippedByDst(Box<DstGap>),
    #[error("leap seconds are not supported")]
    LeapSecond,

    // Phone numbers.
    #[error("unknown phone region `{0}`; expected e.g. CN or US")]
    UnknownPhoneRegion(String),
    #[error("not a phone number: longer than {0} characters")]
    PhoneTooLong(usize),
    #[error("not a phone number: only digits, spaces, a leading `+` and `- . ( ) /` are allowed")]
    PhoneCharacters,
    #[error("not a phone number: no digits")]
    PhoneNoDigits,
    #[error("not a phone number for region {region}: {digits} digits read as no number of a plausible length")]
    ImplausiblePhone { region: String, digits: usize },
}

/// Integer digits beyond what a `decimal(precision,scale)` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalOverflow {
    pub digits: usize,
    pub precision: u32,
    pub scale: u32,
    pub allowed: usize,
}

/// A local time that a daylight-saving change skips in its zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DstGap {
    pub local: NaiveDateTime,
    pub zone: Tz,
}

/// Text that matched none of the formats tried for a date or timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoFormatMatches {
    /// `"date"` or `"timestamp"`.
    pub what: &'static str,
    /// The declared formats (the ISO fallbacks are not listed).
    pub formats: Vec<String>,
}

/// A type, option, normalization step or tolerance in the spec that recon
/// cannot use; the spec reader places it at its line and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeclarationError {
    #[error("unknown type `{ty}`; valid types: {valid}")]
    UnknownType { ty: String, valid: &'static str },
    #[error("invalid decimal type `{0}`: expected decimal(p,s) with 1<=p<=38 and 0<=s<=p")]
    InvalidDecimal(String),
    #[error("bool spelling `{0}` is in both true_values and false_values")]
    SpellingInBoth(String),
    #[error("bool option `{0}` must not be empty")]
    NoSpellings(&'static str),
    #[error("bool option `{0}` must not contain an empty string; use the empty_is_null step for empty cells")]
    EmptySpelling(&'static str),
    #[error("option `formats` must not be empty")]
    NoFormats,
    #[error("format `rfc3339` is only valid for timestamps")]
    Rfc3339ForDate,
    #[error("invalid date/time format `{0}` (chrono strftime syntax expected)")]
    InvalidFormat(String),
    #[error("date format `{0}` uses time or zone fields")]
    TimeInDateFormat(String),
    #[error("unknown timezone `{0}`; expected an IANA name such as Asia/Shanghai or UTC")]
    UnknownTimezone(String),
    #[error("`separator` must not be empty; leave it out when the column holds lists")]
    EmptySeparator,
    #[error("option `{option}` does not apply to type {ty}")]
    InapplicableOption { option: &'static str, ty: String },
    #[error(
        "unknown phone region `{0}`; expected an ISO 3166 alpha-2 code \
         known to the phone metadata, e.g. CN or US"
    )]
    UnknownPhoneRegion(String),
    #[error("step `phone_e164` needs a region, e.g. `phone_e164:CN`")]
    PhoneWithoutRegion,
    #[error(
        "unknown normalization step `{step}`; valid steps: {valid} \
         (phone_e164 as `phone_e164:<REGION>`, e.g. `phone_e164:CN`)"
    )]
    UnknownStep { step: String, valid: String },
    #[error("relative tolerance must be finite and >= 0, got {0}")]
    RelativeTolerance(f64),
    #[error("seconds tolerance must be >= 0, got {0}")]
    SecondsTolerance(i64),
    #[error("absolute tolerance `{0}` is not a non-negative decimal number")]
    AbsoluteTolerance(String),
}
