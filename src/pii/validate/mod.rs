//! Identifier validators with real checksums.
//!
//! Every validator is a pure predicate over `&str`: it never allocates on the
//! hot path, never panics on hostile input (oversized, non-ASCII, control
//! characters) and never reports the value back in an error.
//!
//! | name                    | accepts                                                                 |
//! |-------------------------|-------------------------------------------------------------------------|
//! | `cn_resident_id`        | 18-char PRC resident ID: province prefix, real birth date in [1900, today], ISO 7064 MOD 11-2 check char (`X`/`x` only last) |
//! | `cn_resident_id_legacy` | the above, or a 15-digit legacy ID (province prefix + real `19YYMMDD` date, no checksum) |
//! | `cn_mobile`             | `1[3-9]` + 9 digits, optionally prefixed by `+86` (E.164); nothing else  |
//! | `luhn`                  | ASCII digits only, at least 2, Luhn checksum                            |
//! | `bank_card`             | `luhn` with 13–19 digits                                                |
//! | `email`                 | pragmatic RFC 5322 subset `local@domain.tld` (ASCII, no spaces, TLD ≥ 2 letters) |
//! | `iban`                  | country + 2 check digits + alphanumeric BBAN, per-country length table, ISO 7064 mod-97 == 1; ASCII spaces ignored, case-insensitive |
//! | `cn_uscc`               | 18-char unified social credit code, GB 32100 check char (mod 31)        |

use chrono::{Datelike, NaiveDate, Utc};

/// A named identifier validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validator {
    /// 18-character PRC resident identity card number.
    CnResidentId,
    /// 18-character resident ID, or a 15-digit legacy (pre-1999) ID.
    CnResidentIdOrLegacy,
    /// Mainland China mobile number (11 digits, optional `+86`).
    CnMobile,
    /// Any digit string (>= 2 digits) passing the Luhn checksum.
    Luhn,
    /// Payment card number: Luhn with 13–19 digits.
    BankCard,
    /// E-mail address (pragmatic RFC 5322 subset).
    Email,
    /// International Bank Account Number.
    Iban,
    /// PRC unified social credit code (统一社会信用代码).
    CnUscc,
}

/// Every accepted validator name, in declaration order.
pub const VALIDATOR_NAMES: &[&str] = &[
    "cn_resident_id",
    "cn_resident_id_legacy",
    "cn_mobile",
    "luhn",
    "bank_card",
    "email",
    "iban",
    "cn_uscc",
];

const ALL: &[Validator] = &[
    Validator::CnResidentId,
    Validator::CnResidentIdOrLegacy,
    Validator::CnMobile,
    Validator::Luhn,
    Validator::BankCard,
    Validator::Email,
    Validator::Iban,
    Validator::CnUscc,
];

/// A `pii` name that names no validator. It lists the valid names but
/// never holds the input (which may be a personal value typed by mistake),
/// only its length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown validator name ({chars} chars); expected one of: {}", VALIDATOR_NAMES.join(", "))]
pub struct UnknownValidator {
    pub chars: usize,
}

impl Validator {
    /// Parse a validator name (ASCII case-insensitive, surrounding whitespace
    /// ignored). The error lists the valid names but never echoes the input.
    pub fn parse(name: &str) -> Result<Validator, UnknownValidator> {
        let wanted = name.trim();
        ALL.iter()
            .copied()
            .find(|v| v.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownValidator {
                chars: name.chars().count(),
            })
    }

    /// The canonical configuration name.
    pub fn name(&self) -> &'static str {
        match self {
            Validator::CnResidentId => "cn_resident_id",
            Validator::CnResidentIdOrLegacy => "cn_resident_id_legacy",
            Validator::CnMobile => "cn_mobile",
            Validator::Luhn => "luhn",
            Validator::BankCard => "bank_card",
            Validator::Email => "email",
            Validator::Iban => "iban",
            Validator::CnUscc => "cn_uscc",
        }
    }

    /// Whether `value` is a valid identifier of this kind (exact value, no
    /// trimming except where the table in the module doc says so).
    pub fn is_valid(&self, value: &str) -> bool {
        match self {
            Validator::CnResidentId => is_cn_resident_id(value),
            Validator::CnResidentIdOrLegacy => is_cn_resident_id(value) || is_cn_resident_id_legacy(value),
            Validator::CnMobile => is_cn_mobile(value),
            Validator::Luhn => value.len() >= 2 && luhn_ok(value.as_bytes()),
            Validator::BankCard => (13..=19).contains(&value.len()) && luhn_ok(value.as_bytes()),
            Validator::Email => is_email(value),
            Validator::Iban => is_iban(value),
            Validator::CnUscc => is_cn_uscc(value),
        }
    }
}

// ---------------------------------------------------------------------------
// PRC resident identity number (GB 11643-1999)
// ---------------------------------------------------------------------------

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Province-level codes (first two digits of the administrative region).
pub(crate) fn is_cn_province_code(d0: u8, d1: u8) -> bool {
    if !d0.is_ascii_digit() || !d1.is_ascii_digit() {
        return false;
    }
    let code = (d0 - b'0') * 10 + (d1 - b'0');
    matches!(
        code,
        11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82 | 83 | 91
    )
}

/// ISO 7064 MOD 11-2 check character (`0`-`9` or `X`) for 17 ASCII digits.
/// Returns `None` if any of the 17 bytes is not an ASCII digit.
pub(crate) fn cn_id_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS.iter())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK.get((sum % 11) as usize).copied()
}

fn digits_value(bytes: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

fn birth_date_ok(year: u32, month: u32, day: u32) -> bool {
    let Ok(y) = i32::try_from(year) else {
        return false;
    };
    if y < 1900 {
        return false;
    }
    match NaiveDate::from_ymd_opt(y, month, day) {
        Some(d) => {
            let today = Utc::now().date_naive();
            d <= today && d.year() >= 1900
        }
        None => false,
    }
}

fn is_cn_resident_id(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let Some(expected) = cn_id_check_char(&b[..17]) else {
        return false;
    };
    let last = b[17].to_ascii_uppercase();
    if last != expected {
        return false;
    }
    if !is_cn_province_code(b[0], b[1]) {
        return false;
    }
    match (
        digits_value(&b[6..10]),
        digits_value(&b[10..12]),
        digits_value(&b[12..14]),
    ) {
        (Some(y), Some(m), Some(d)) => birth_date_ok(y, m, d),
        _ => false,
    }
}

fn is_cn_resident_id_legacy(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 15 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if !is_cn_province_code(b[0], b[1]) {
        return false;
    }
    match (
        digits_value(&b[6..8]),
        digits_value(&b[8..10]),
        digits_value(&b[10..12]),
    ) {
        (Some(yy), Some(m), Some(d)) => birth_date_ok(1900 + yy, m, d),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Mobile
// ---------------------------------------------------------------------------

/// `1[3-9]\d{9}` over exactly 11 bytes.
pub(crate) fn is_cn_mobile_national(b: &[u8]) -> bool {
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

fn is_cn_mobile(value: &str) -> bool {
    let b = value.as_bytes();
    match b.strip_prefix(b"+86") {
        Some(rest) => is_cn_mobile_national(rest),
        None => is_cn_mobile_national(b),
    }
}

// ---------------------------------------------------------------------------
// Luhn
// ---------------------------------------------------------------------------

/// Luhn checksum over ASCII digits; false for empty input or any non-digit.
pub(crate) fn luhn_ok(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum: u32 = 0;
    for (i, b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum = (sum + d) % 10;
    }
    sum == 0
}

// ---------------------------------------------------------------------------
// E-mail
// ---------------------------------------------------------------------------

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b)
}

/// Domain part: >= 2 labels, each 1..=63 of `[A-Za-z0-9-]` not starting or
/// ending with '-', total <= 253, alphabetic TLD of >= 2 letters.
pub(crate) fn is_email_domain(d: &[u8]) -> bool {
    if d.is_empty() || d.len() > 253 {
        return false;
    }
    let mut labels = 0usize;
    let mut last: &[u8] = &[];
    for label in d.split(|&c| c == b'.') {
        if label.is_empty() || label.len() > 63 {
            return false;
        }
        if !label.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
            return false;
        }
        if label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

/// Local part: 1..=64 of RFC 5322 atext or '.', no leading/trailing/double dot.
pub(crate) fn is_email_local(l: &[u8]) -> bool {
    if l.is_empty() || l.len() > 64 {
        return false;
    }
    if l.first() == Some(&b'.') || l.last() == Some(&b'.') {
        return false;
    }
    let mut prev_dot = false;
    for &c in l {
        if c == b'.' {
            if prev_dot {
                return false;
            }
            prev_dot = true;
        } else if is_atext(c) {
            prev_dot = false;
        } else {
            return false;
        }
    }
    true
}

fn is_email(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() > 254 {
        return false;
    }
    let mut parts = b.splitn(2, |&c| c == b'@');
    let (Some(local), Some(domain)) = (parts.next(), parts.next()) else {
        return false;
    };
    !domain.contains(&b'@') && is_email_local(local) && is_email_domain(domain)
}

// ---------------------------------------------------------------------------
// IBAN
// ---------------------------------------------------------------------------

/// (country code, total IBAN length) from the SWIFT IBAN registry.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// Registered IBAN length for an (upper-case) country code.
pub(crate) fn iban_length(country: [u8; 2]) -> Option<usize> {
    IBAN_LENGTHS.iter().find(|(c, _)| **c == country).map(|(_, l)| *l)
}

/// Full structural + mod-97 check of a compact, upper-case IBAN.
pub(crate) fn iban_compact_ok(b: &[u8]) -> bool {
    if !(15..=34).contains(&b.len()) {
        return false;
    }
    // The country code's letters are checked by the registry lookup below.
    if !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
        return false;
    }
    if !b[4..].iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
        return false;
    }
    if iban_length([b[0], b[1]]) != Some(b.len()) {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(b[..4].iter()) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

fn is_iban(value: &str) -> bool {
    let mut buf = [0u8; 34];
    let mut n = 0usize;
    for &c in value.as_bytes() {
        if c == b' ' {
            continue;
        }
        if n == buf.len() {
            return false;
        }
        buf[n] = c.to_ascii_uppercase();
        n += 1;
    }
    iban_compact_ok(&buf[..n])
}

// ---------------------------------------------------------------------------
// Unified social credit code (GB 32100-2015)
// ---------------------------------------------------------------------------

const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

fn uscc_index(c: u8) -> Option<u32> {
    let up = c.to_ascii_uppercase();
    USCC_ALPHABET
        .iter()
        .position(|&a| a == up)
        .and_then(|p| u32::try_from(p).ok())
}

fn is_cn_uscc(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let mut sum: u32 = 0;
    for (c, w) in b[..17].iter().zip(USCC_WEIGHTS.iter()) {
        match uscc_index(*c) {
            Some(v) => sum += v * w,
            None => return false,
        }
    }
    let check = match 31 - (sum % 31) {
        31 => 0,
        c => c,
    };
    uscc_index(b[17]) == Some(check)
}

#[cfg(test)]
mod tests;
