//! Phone number normalization to E.164.
//!
//! `phone_e164:CC` answers "which number is written here?", not "is it a
//! real number?". Every text that reads as a phone number of a plausible
//! length is formatted as E.164, assigned or not, so that the same number
//! written two ways compares equal and two different numbers compare as a
//! mismatch; whether a number is valid is for `valid` rules (`cn_mobile`) to
//! judge. Only text that is not a phone number at all is refused (the
//! caller reports it as `unconvertible`): a character other than digits
//! (ASCII or full-width), whitespace, a leading `+` and the separators
//! `- . ( ) /`; no digits; or a digit count that no reading makes a
//! plausible length for the region.
//!
//! Three stages, first answer wins:
//!
//! 1. Mainland-China mobile shapes (`1[3-9]` + 9 digits, with or without
//!    `+86` / `0086` / `86`) by a hand-written fast path: they dominate the
//!    data this engine sees and the `phonenumber` crate is comparatively
//!    slow (regex-driven metadata).
//! 2. The `phonenumber` crate, when it finds a *valid* number: it knows every
//!    region's national-prefix and carrier-code rules. Numbers written with
//!    `+` or the region's international prefix are handed to it without a
//!    region, which it would otherwise apply to a foreign number.
//! 3. Otherwise a plain reading of the digits: country code after `+` or the
//!    region's international prefix (or a bare region code when only that
//!    makes the length plausible), the trunk prefix dropped, and the national
//!    number's length checked against the lengths the region's metadata
//!    lists for its number types (not the local-only lengths, which lack an
//!    area code), at most 15 digits in all. (The crate's own parse of an unassigned
//!    number is unreliable: CN's carrier-code rule turns `12029334921` into
//!    `334921`.)
//!
//! The fast path and stages 2-3 give the same answer for every input the
//! fast path accepts (tested), so it is purely a shortcut.

use std::panic;

use phonenumber::{country, metadata::DATABASE, Metadata, Mode};

use super::error::{ConvertError, DeclarationError};
use super::text::ascii_digit;

/// Longest text read as a phone number (the CN fast path aside). E.164
/// numbers have at most 15 digits; generous room is left for separators and
/// prefixes, while pathological inputs are refused before any parsing.
const MAX_PHONE_INPUT_CHARS: usize = 64;

/// E.164: at most 15 digits, country code included.
const MAX_E164_DIGITS: usize = 15;

/// Normalize `raw` to E.164 (`+8613912345678`), using `region` (ISO 3166
/// alpha-2, e.g. `"CN"`) for numbers written without a country code.
///
/// Errors when the region is unknown or the text is not a phone number (see
/// the module docs); a well-formed but unassigned number is formatted, not
/// refused.
pub fn to_e164(raw: &str, region: &str) -> Result<String, ConvertError> {
    if region == "CN" {
        if let Some(e164) = cn_mobile_fast_path(raw) {
            return Ok(e164);
        }
    }
    without_fast_path(raw, region)
}

/// Stages 2 and 3 of the module docs: what [`to_e164`] answers when the CN
/// fast path does not.
fn without_fast_path(raw: &str, region: &str) -> Result<String, ConvertError> {
    let (id, home) = region_meta(region).ok_or_else(|| ConvertError::UnknownPhoneRegion(region.to_string()))?;
    if raw.chars().count() > MAX_PHONE_INPUT_CHARS {
        return Err(ConvertError::PhoneTooLong(MAX_PHONE_INPUT_CHARS));
    }
    let dialled = Dialled::read(raw).ok_or(ConvertError::PhoneCharacters)?;
    if dialled.digits.is_empty() {
        return Err(ConvertError::PhoneNoDigits);
    }
    if let Some(e164) = via_library(&dialled, id, home) {
        return Ok(e164);
    }
    plain_reading(&dialled, home).ok_or_else(|| ConvertError::ImplausiblePhone {
        region: region.to_string(),
        digits: dialled.digits.len(),
    })
}

/// Check a region code against the `phonenumber` metadata and return it
/// upper-cased.
pub(crate) fn validate_region(region: &str) -> Result<String, DeclarationError> {
    let upper = region.trim().to_ascii_uppercase();
    let well_formed = upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase());
    if well_formed && region_meta(&upper).is_some() {
        Ok(upper)
    } else {
        Err(DeclarationError::UnknownPhoneRegion(region.to_string()))
    }
}

/// The `phonenumber` id and metadata for a region, only if the metadata has
/// an entry for it (the library unwraps that lookup internally, so an id
/// without metadata must never reach it).
fn region_meta(region: &str) -> Option<(country::Id, &'static Metadata)> {
    let id = region.parse::<country::Id>().ok()?;
    DATABASE.by_id(region).map(|meta| (id, meta))
}

/// Recognise `1[3-9]\d{9}`, optionally prefixed by `+86`, `0086` or `86`,
/// after mapping full-width digits and dropping spaces, `-`, `.`, `(`, `)`.
///
/// Deliberately mirrors the shape check only: it accepts every number in the
/// 13x-19x blocks, including ones not (yet) allocated, exactly as the plain
/// reading formats them. Returns `None` to defer to the slower stages.
fn cn_mobile_fast_path(raw: &str) -> Option<String> {
    // Kept characters, on the stack: a CN mobile with its longest prefix
    // ("0086") has 15, so a longer or non-ASCII text is none (the library
    // decides).
    let mut kept = [0u8; 15];
    let mut n = 0;
    for c in raw.chars().map(ascii_digit) {
        if c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')') {
            continue;
        }
        if !c.is_ascii() || n == kept.len() {
            return None;
        }
        kept[n] = c as u8;
        n += 1;
    }
    let cleaned = &kept[..n];
    let national = [&b"+86"[..], b"0086", b"86"]
        .iter()
        .find_map(|prefix| cleaned.strip_prefix(*prefix).filter(|rest| is_cn_mobile(rest)))
        .or_else(|| Some(cleaned).filter(|s| is_cn_mobile(s)))?;
    let mut e164 = String::with_capacity(3 + national.len());
    e164.push_str("+86");
    e164.push_str(std::str::from_utf8(national).ok()?);
    Some(e164)
}

/// `1[3-9]\d{9}`.
fn is_cn_mobile(b: &[u8]) -> bool {
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

/// What was dialled: the digits (ASCII) and whether a `+` came first.
/// Separators carry no meaning, so every later stage sees only this.
#[derive(Debug, PartialEq)]
struct Dialled {
    plus: bool,
    digits: String,
}

impl Dialled {
    /// `None` for a character that has no place in a written phone number
    /// (letters, `#`, `*`, a second or misplaced `+`, …).
    fn read(text: &str) -> Option<Dialled> {
        let mut plus = false;
        let mut digits = String::new();
        for c in text.chars().map(ascii_phone_char) {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if c == '+' && !plus && digits.is_empty() {
                plus = true;
            } else if !is_separator(c) {
                return None;
            }
        }
        Some(Dialled { plus, digits })
    }
}

/// Spacing and grouping characters: whitespace, `- . ( ) /`, Unicode dashes
/// and the full-width forms.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '/' | '\u{2010}'
                ..='\u{2015}' | '\u{2212}' | '\u{FF08}' | '\u{FF09}' | '\u{FF0D}' | '\u{FF0E}' | '\u{FF0F}'
        )
}

/// Full-width digits and plus sign to ASCII.
fn ascii_phone_char(c: char) -> char {
    if c == '\u{FF0B}' {
        '+'
    } else {
        ascii_digit(c)
    }
}

/// Parse through the `phonenumber` crate; the E.164 text only when the crate
/// finds a valid number (its reading of anything else is not trusted).
fn via_library(dialled: &Dialled, id: country::Id, home: &Metadata) -> Option<String> {
    // With a default region the library applies that region's national
    // prefix and carrier rules even after an explicit country code ("+86
    // 139..." or "011 86 139..." with US loses the "1" and becomes a valid
    // CN landline), so numbers with '+' or the region's international
    // prefix are parsed region-free.
    let digits = dialled.digits.as_str();
    let (country, text) = if dialled.plus {
        (None, format!("+{digits}"))
    } else if let Some(rest) = after_international_prefix(digits, home) {
        (None, format!("+{rest}"))
    } else {
        (Some(id), digits.to_string())
    };
    // The library has had panics on odd inputs (internal unwraps); a bad
    // cell must become an "unconvertible" finding, never abort a run.
    panic::catch_unwind(|| {
        let number = phonenumber::parse(country, &text).ok()?;
        phonenumber::is_valid(&number).then(|| number.format().mode(Mode::E164).to_string())
    })
    .ok()
    .flatten()
}

/// What follows the region's international prefix ("00" in CN, "011" in
/// the US), when `digits` start with it and more follows.
fn after_international_prefix<'a>(digits: &'a str, home: &Metadata) -> Option<&'a str> {
    home.international_prefix()
        .and_then(|re| re.find(digits))
        .filter(|m| m.start() == 0 && m.end() < digits.len())
        .map(|m| &digits[m.end()..])
}

/// The digits read literally (stage 3 of the module docs). `home` is the
/// default region's metadata.
fn plain_reading(dialled: &Dialled, home: &Metadata) -> Option<String> {
    let digits = dialled.digits.as_str();
    if dialled.plus {
        return international(digits);
    }
    // When what follows an international prefix is no plausible number, the
    // digits may still be a national number that merely starts like one
    // (CN's "1xxxx00" prefix).
    after_international_prefix(digits, home)
        .and_then(international)
        .or_else(|| national(digits, home))
}

/// Country code, then national number: `digits` as written after `+`.
fn international(digits: &str) -> Option<String> {
    if digits.starts_with('0') {
        return None;
    }
    // Country codes are prefix-free: the first known one is the code. A
    // code shared by several regions (+1: US, CA, JM, …) is read by its
    // main region's rules; numbers valid elsewhere under it reached the
    // library first.
    let (len, code, main) = (1..=3.min(digits.len())).find_map(|len| {
        let code: u16 = digits[..len].parse().ok()?;
        let regions = DATABASE.by_code(&code)?;
        let main = regions
            .iter()
            .find(|m| m.is_main_country_for_code())
            .or(regions.first())?;
        Some((len, code, *main))
    })?;
    let lengths = Lengths::of(main);
    e164(code, drop_trunk_prefix(&digits[len..], main, lengths), lengths)
}

/// `digits` as written for the default region: a bare country code is
/// dropped when only that makes the length plausible (`86 120 2933 4921`),
/// then the trunk prefix (`0` in CN).
fn national(digits: &str, home: &Metadata) -> Option<String> {
    let lengths = Lengths::of(home);
    let code = home.country_code();
    let mut national = digits;
    if let Some(rest) = digits.strip_prefix(code.to_string().as_str()) {
        if !lengths.fits(digits) && lengths.fits(drop_trunk_prefix(rest, home, lengths)) {
            national = rest;
        }
    }
    e164(code, drop_trunk_prefix(national, home, lengths), lengths)
}

/// `national` without the region's trunk prefix, as often as what remains
/// is a plausible length (so that the E.164 text reads back as itself).
fn drop_trunk_prefix<'a>(mut national: &'a str, meta: &Metadata, lengths: Lengths) -> &'a str {
    let Some(prefix) = meta.national_prefix().filter(|p| !p.is_empty()) else {
        return national;
    };
    while let Some(rest) = national.strip_prefix(prefix).filter(|rest| lengths.fits(rest)) {
        national = rest;
    }
    national
}

fn e164(code: u16, national: &str, lengths: Lengths) -> Option<String> {
    let code = code.to_string();
    (lengths.fits(national) && code.len() + national.len() <= MAX_E164_DIGITS).then(|| format!("+{code}{national}"))
}

/// The national significant number lengths of a region's number types
/// (fixed line, mobile, toll free, …; not the local-only lengths, which
/// lack an area code), as a bit set.
#[derive(Clone, Copy, Debug)]
struct Lengths(u32);

impl Lengths {
    fn of(meta: &Metadata) -> Lengths {
        let d = meta.descriptors();
        let types = [
            Some(d.general()),
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ];
        let mut bits = 0u32;
        for &n in types.into_iter().flatten().flat_map(|desc| desc.possible_length()) {
            if n < 32 {
                bits |= 1 << n;
            }
        }
        Lengths(bits)
    }

    fn fits(self, digits: &str) -> bool {
        digits.len() < 32 && self.0 & (1 << digits.len()) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: &str = "+8613912345678";

    #[test]
    fn cn_mobile_spellings() {
        for raw in [
            "13912345678",
            "+86 139 1234 5678",
            "0086-139-1234-5678",
            "+86-13912345678",
            "8613912345678",
            "１３９１２３４５６７８",
            " 139 1234 5678 ",
            "(139) 1234.5678",
            "\u{3000}139\u{3000}1234\u{3000}5678",
        ] {
            assert_eq!(to_e164(raw, "CN").as_deref(), Ok(EXPECTED), "{raw:?}");
        }
    }

    /// The fast path as first written (a `String` per step): the stack
    /// version must answer exactly as it did.
    fn fast_path_reference(raw: &str) -> Option<String> {
        let cleaned: String = raw
            .chars()
            .map(ascii_digit)
            .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')')))
            .collect();
        let national = ["+86", "0086", "86"]
            .iter()
            .find_map(|prefix| {
                cleaned
                    .strip_prefix(prefix)
                    .filter(|rest| is_cn_mobile(rest.as_bytes()))
            })
            .or_else(|| Some(cleaned.as_str()).filter(|s| is_cn_mobile(s.as_bytes())))?;
        Some(format!("+86{national}"))
    }

    #[test]
    fn fast_path_answers_as_the_string_version_did() {
        let mut inputs: Vec<String> = [
            "13912345678",
            "+86 139 1234 5678",
            "0086-139-1234-5678",
            "8613912345678",
            "+8613912345678",
            "00861391234567",
            "008613912345678 ",
            "\u{b}139\u{c}1234\r5678\n",
            "１３９１２３４５６７８",
            "+８６１３９１２３４５６７８",
            "\u{3000}139\u{3000}1234\u{3000}5678",
            "1-3-9-1-2-3-4-5-6-7-8",
            "(((139))) ... 1234 --- 5678",
            "139123456789",
            "0086 0086 13912345678",
            "139 1234 567x",
            "139 1234 567é",
            "+86+13912345678",
            "86",
            "",
            "   ",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        inputs.push(format!("{}13912345678", "-".repeat(100)));
        inputs.push("1".repeat(40));
        for raw in &inputs {
            assert_eq!(cn_mobile_fast_path(raw), fast_path_reference(raw), "{raw:?}");
        }
    }

    #[test]
    fn fast_path_covers_common_shapes() {
        for raw in ["13912345678", "+86 139 1234 5678", "0086-139-1234-5678"] {
            assert_eq!(cn_mobile_fast_path(raw).as_deref(), Some(EXPECTED));
        }
        assert_eq!(cn_mobile_fast_path("12912345678"), None);
        assert_eq!(cn_mobile_fast_path("010-8888 6666"), None);
        assert_eq!(cn_mobile_fast_path("+1 139 1234 5678"), None);
        assert_eq!(cn_mobile_fast_path(""), None);
    }

    #[test]
    fn cn_landline_via_library() {
        assert_eq!(to_e164("010-8888 6666", "CN").as_deref(), Ok("+861088886666"));
        assert_eq!(to_e164("+86 10 8888 6666", "CN").as_deref(), Ok("+861088886666"));
        assert_eq!(to_e164("86 10 8888 6666", "CN").as_deref(), Ok("+861088886666"));
    }

    /// Issue 26: a well-formed number that is not assigned is formatted (a
    /// `valid` rule judges it), the same way however it is written.
    #[test]
    fn unassigned_cn_numbers_are_formatted_not_refused() {
        for raw in [
            "12029334921",
            "120 2933 4921",
            "0086 120 2933 4921",
            "+86 120-2933-4921",
            "86 120 2933 4921",
            "(+86) 120 2933 4921",
            "0 120 2933 4921",
            "１２０２９３３４９２１",
            "＋８６ １２０ ２９３３ ４９２１",
        ] {
            assert_eq!(to_e164(raw, "CN").as_deref(), Ok("+8612029334921"), "{raw:?}");
        }
        // What the library alone says (the old `to_e164`, which refused
        // them): not valid.
        let (id, home) = region_meta("CN").unwrap();
        for raw in ["12029334921", "0086 120 2933 4921"] {
            assert_eq!(via_library(&Dialled::read(raw).unwrap(), id, home), None, "{raw:?}");
        }
        // Unallocated mobile blocks, fast path or not.
        assert_eq!(to_e164("14012345678", "CN").as_deref(), Ok("+8614012345678"));
        assert_eq!(without_fast_path("14012345678", "CN").as_deref(), Ok("+8614012345678"));
        assert_eq!(
            without_fast_path("0086 140 1234 5678", "CN").as_deref(),
            Ok("+8614012345678")
        );
        // A mobile with a digit missing or added still has a plausible CN
        // length (landlines have 7 to 12 digits): formatted, and `cn_mobile`
        // rejects it.
        assert_eq!(to_e164("1391234567", "CN").as_deref(), Ok("+861391234567"));
        assert_eq!(to_e164("139123456789", "CN").as_deref(), Ok("+86139123456789"));
        // Two different invalid numbers stay different.
        assert_eq!(to_e164("12029334922", "CN").as_deref(), Ok("+8612029334922"));
    }

    #[test]
    fn not_a_phone_number_is_refused() {
        let mut refused: Vec<String> = [
            "",
            "   ",
            "\u{3000}",
            "abc",
            "n/a",
            "N/A",
            "none",
            "电话",
            "139 1234 567x",
            "0xd2dc00a30027c9d5",
            "  2 22#:",
            "*139#",
            "tel:+8613912345678",
            "13912345678 ext. 12",
            "+86+13912345678",
            "139+12345678",
            "+",
            "+86",
            "+0086 120 2933 4921",
            "110",
            "12345",
            "123456",
            "99999999999999999999",
            "+86 120 2933 4921 2933 4921",
            "0086 120 2933 4921 2933 4921",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        refused.push("1".repeat(500));
        refused.push(format!("{}1", " ".repeat(200)));
        for raw in &refused {
            assert!(to_e164(raw, "CN").is_err(), "{raw:?}: {:?}", to_e164(raw, "CN"));
        }
        let err = to_e164("n/a", "CN").unwrap_err().to_string();
        assert!(err.starts_with("not a phone number"), "{err}");
        let err = to_e164("123", "CN").unwrap_err().to_string();
        assert_eq!(
            err,
            "not a phone number for region CN: 3 digits read as no number of a plausible length"
        );
    }

    #[test]
    fn other_regions() {
        assert_eq!(to_e164("(650) 253-0000", "US").as_deref(), Ok("+16502530000"));
        assert_eq!(to_e164("1-650-253-0000", "US").as_deref(), Ok("+16502530000"));
        assert_eq!(to_e164("011 86 139 1234 5678", "US").as_deref(), Ok(EXPECTED));
        assert_eq!(to_e164("+86 139 1234 5678", "US").as_deref(), Ok(EXPECTED));
        assert_eq!(
            to_e164("＋８６ １３９ １２３４ ５６７８", "US").as_deref(),
            Ok(EXPECTED)
        );
        assert_eq!(to_e164("+44 20 7946 0958", "CN").as_deref(), Ok("+442079460958"));
        assert_eq!(to_e164("0044 20 7946 0958", "CN").as_deref(), Ok("+442079460958"));
        assert_eq!(to_e164("(+86) 139-1234-5678", "US").as_deref(), Ok(EXPECTED));
        // Unassigned elsewhere: formatted too. A US area code starting with
        // 1 does not exist, so is 0-led one; the numbers are still read.
        assert_eq!(to_e164("+1 123 456 7890", "CN").as_deref(), Ok("+11234567890"));
        assert_eq!(to_e164("(123) 456-7890", "US").as_deref(), Ok("+11234567890"));
        // A bare CN mobile in the US reads as 1 + a 10-digit NANP number.
        assert_eq!(to_e164("13912345678", "US").as_deref(), Ok("+13912345678"));
        assert_eq!(to_e164("+44 20 7946 095", "CN").as_deref(), Ok("+44207946095"));
        // Local-only lengths (no area code), unknown country codes, far too
        // long: refused.
        assert!(to_e164("253-0000", "US").is_err());
        assert!(to_e164("+1 253 0000", "CN").is_err());
        assert!(to_e164("+999 1234 5678", "CN").is_err());
        assert!(to_e164("+44 20 7946 0958 0958 09", "CN").is_err());
        assert!(to_e164("13912345678", "ZZ").is_err());
    }

    #[test]
    fn the_input_length_bound_is_exact() {
        // Spaces are dropped when the number is read: padding changes the
        // length, not the number.
        let number = "+86 139 1234 5678";
        let at_bound = format!("{number}{}", " ".repeat(MAX_PHONE_INPUT_CHARS - number.chars().count()));
        assert_eq!(at_bound.chars().count(), MAX_PHONE_INPUT_CHARS);
        assert_eq!(to_e164(&at_bound, "GB").as_deref(), Ok("+8613912345678"));
        let over = format!("{at_bound} ");
        assert_eq!(
            to_e164(&over, "GB"),
            Err(ConvertError::PhoneTooLong(MAX_PHONE_INPUT_CHARS))
        );
    }

    #[test]
    fn a_digit_string_too_long_for_any_plan_is_implausible_not_a_crash() {
        // 32 digits: the length is checked before it indexes the bit set of
        // plausible lengths (a shift by 32 would overflow).
        for digits in ["1".repeat(32), "9".repeat(33)] {
            assert!(
                matches!(to_e164(&digits, "CN"), Err(ConvertError::ImplausiblePhone { .. })),
                "{digits}"
            );
        }
    }

    #[test]
    fn a_number_of_a_length_no_plan_has_is_implausible() {
        // Five digits fit no CN number type: never an E.164 text.
        assert!(matches!(
            to_e164("12345", "CN"),
            Err(ConvertError::ImplausiblePhone { .. })
        ));
        assert!(matches!(
            to_e164("1234", "GB"),
            Err(ConvertError::ImplausiblePhone { .. })
        ));
    }

    #[test]
    fn an_international_prefix_counts_only_at_the_start() {
        // "00" inside a national number is not an international call, even
        // when the digits after it would make a valid foreign number.
        let inner = to_e164("9900442079460000", "CN");
        assert_ne!(inner.as_deref(), Ok("+442079460000"), "{inner:?}");
        assert_eq!(to_e164("00442079460000", "CN").as_deref(), Ok("+442079460000"));
    }

    #[test]
    fn a_leading_country_code_is_dropped_only_when_that_alone_makes_the_length_plausible() {
        // Ten digits already fit a CN plan: "86" here is part of the number.
        let kept = to_e164("8612345678", "CN");
        assert_ne!(kept.as_deref(), Ok("+8612345678"), "{kept:?}");
    }

    #[test]
    fn validate_region_rules() {
        assert_eq!(validate_region("cn").as_deref(), Ok("CN"));
        assert_eq!(validate_region("GB").as_deref(), Ok("GB"));
        for bad in ["", "C", "CHN", "XX", "1A", "Cn1"] {
            assert!(validate_region(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dialled_keeps_digits_and_a_leading_plus() {
        let read = |s| Dialled::read(s).map(|d| (d.plus, d.digits));
        assert_eq!(read("(+86) 139-1234.5678"), Some((true, "8613912345678".into())));
        assert_eq!(read("＋８６／１３９"), Some((true, "86139".into())));
        assert_eq!(read("139 – 1234"), Some((false, "1391234".into())));
        assert_eq!(read(""), Some((false, String::new())));
        assert_eq!(read("86+139"), None);
        assert_eq!(read("139x"), None);
    }

    #[test]
    fn cn_lengths_from_metadata() {
        let (_, cn) = region_meta("CN").unwrap();
        let lengths = Lengths::of(cn);
        let fits: Vec<usize> = (0..20).filter(|&n| lengths.fits(&"1".repeat(n))).collect();
        assert_eq!(fits, (7..=12).collect::<Vec<_>>());
    }

    /// Deterministic generator so failures are reproducible without a
    /// random-number dependency.
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *state >> 33
    }

    /// The fast path is a shortcut only: on every shape it accepts, in
    /// allocated and unallocated blocks alike, the other stages answer the
    /// same.
    #[test]
    fn fast_path_agrees_with_the_other_stages() {
        let mut state = 42;
        for i in 0..600 {
            let block = 130 + lcg(&mut state) % 70; // 130..=199
            let national = format!("{block}{:08}", lcg(&mut state) % 100_000_000);
            let raw = match i % 6 {
                0 => national.clone(),
                1 => format!("+86 {} {} {}", &national[..3], &national[3..7], &national[7..]),
                2 => format!("0086-{national}"),
                3 => format!("86{national}"),
                4 => format!("(+86) {national}"),
                _ => national.chars().map(full_width).collect(),
            };
            let fast = cn_mobile_fast_path(&raw);
            assert_eq!(fast, Some(format!("+86{national}")), "{raw:?}");
            assert_eq!(
                fast.as_deref(),
                without_fast_path(&raw, "CN").as_deref().ok(),
                "{raw:?}"
            );
        }
    }

    /// Arbitrary text of phone-ish characters never panics, and whatever
    /// is formatted is `+` and digits that format to themselves.
    #[test]
    fn arbitrary_text_never_panics() {
        const ALPHABET: &[char] = &[
            '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '1', '8', '6', '+', ' ', '-', '(', ')', '.', '/',
            'x', '#', '１', '＋', '\u{3000}', 'é',
        ];
        let mut state = 7;
        for _ in 0..3000 {
            let len = (lcg(&mut state) % 24) as usize;
            let raw: String = (0..len)
                .map(|_| ALPHABET[(lcg(&mut state) as usize) % ALPHABET.len()])
                .collect();
            for region in ["CN", "US", "GB", "DE"] {
                if let Ok(e164) = to_e164(&raw, region) {
                    let digits = e164.strip_prefix('+').unwrap_or_else(|| panic!("{raw:?} -> {e164}"));
                    assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{raw:?} {region} -> {e164}");
                    assert_eq!(
                        to_e164(&e164, region).as_ref(),
                        Ok(&e164),
                        "{raw:?} {region}: not stable"
                    );
                }
            }
        }
    }

    fn full_width(c: char) -> char {
        c.to_digit(10).and_then(|d| char::from_u32(0xFF10 + d)).unwrap_or(c)
    }
}
