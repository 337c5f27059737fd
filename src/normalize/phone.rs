//! Phone number normalization to E.164.
//!
//! Mainland-China mobile numbers dominate the data this engine sees, and the
//! `phonenumber` crate is comparatively slow (regex-driven metadata), so the
//! common CN shapes are recognised by a hand-written fast path. Everything
//! else goes through `phonenumber` with full validation.

use std::panic;

use phonenumber::{country, metadata::DATABASE, Mode};

use super::text::ascii_digit;

/// Longest input handed to the `phonenumber` crate. E.164 numbers have at
/// most 15 digits; generous room is left for separators, prefixes and
/// extensions, while pathological inputs are rejected before the library
/// sees them.
const MAX_PHONE_INPUT_CHARS: usize = 64;

/// Normalize `raw` to E.164 (`+8613912345678`), using `region` (ISO 3166
/// alpha-2, e.g. `"CN"`) for numbers written without a country code.
///
/// Errors when the region is unknown or the text is not a valid number for
/// it.
pub fn to_e164(raw: &str, region: &str) -> Result<String, String> {
    if region == "CN" {
        if let Some(e164) = cn_mobile_fast_path(raw) {
            return Ok(e164);
        }
    }
    via_library(raw, region)
}

/// Check a region code against the `phonenumber` metadata and return it
/// upper-cased.
pub(crate) fn validate_region(region: &str) -> Result<String, String> {
    let upper = region.trim().to_ascii_uppercase();
    let well_formed = upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase());
    if well_formed && region_id(&upper).is_some() {
        Ok(upper)
    } else {
        Err(format!(
            "unknown phone region `{region}`; expected an ISO 3166 alpha-2 code \
             known to the phone metadata, e.g. CN or US"
        ))
    }
}

/// The `phonenumber` id for a region, only if the metadata has an entry for
/// it (the library unwraps that lookup internally, so an id without metadata
/// must never reach it).
fn region_id(region: &str) -> Option<country::Id> {
    let id = region.parse::<country::Id>().ok()?;
    DATABASE.by_id(region).map(|_| id)
}

/// Recognise `1[3-9]\d{9}`, optionally prefixed by `+86`, `0086` or `86`,
/// after mapping full-width digits and dropping spaces, `-`, `.`, `(`, `)`.
///
/// Deliberately mirrors the shape check only: it accepts every number in the
/// 13x-19x blocks, including ones not (yet) allocated, which the metadata
/// would reject. Returns `None` to defer to the library.
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

/// Full parse and validation through the `phonenumber` crate.
fn via_library(raw: &str, region: &str) -> Result<String, String> {
    let invalid = || format!("not a valid phone number for region {region}");
    let id = region_id(region).ok_or_else(|| format!("unknown phone region `{region}`; expected e.g. CN or US"))?;
    let mapped: String = raw.trim().chars().map(ascii_phone_char).collect();
    if mapped.is_empty() || mapped.chars().count() > MAX_PHONE_INPUT_CHARS {
        return Err(invalid());
    }
    // With a default region the library strips that region's national
    // prefix even after an explicit country code ("+86 139..." with US
    // loses the "1"), so numbers written with '+' are parsed region-free.
    let country = if mapped.trim_start_matches(['(', ' ']).starts_with('+') {
        None
    } else {
        Some(id)
    };
    // The library has had panics on odd inputs (internal unwraps); a bad
    // cell must become an "unconvertible" finding, never abort a run.
    let parsed = panic::catch_unwind(|| {
        let number = phonenumber::parse(country, &mapped).ok()?;
        phonenumber::is_valid(&number).then(|| number.format().mode(Mode::E164).to_string())
    });
    parsed.ok().flatten().ok_or_else(invalid)
}

/// Full-width digits and plus sign to ASCII.
fn ascii_phone_char(c: char) -> char {
    if c == '\u{FF0B}' {
        '+'
    } else {
        ascii_digit(c)
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
    }

    #[test]
    fn invalid_numbers() {
        for raw in ["12345", "abc", "", "   ", "+86", "1391234567", "139123456789"] {
            let err = to_e164(raw, "CN").unwrap_err();
            assert_eq!(err, "not a valid phone number for region CN", "{raw:?}");
        }
        let long = "1".repeat(500);
        assert!(to_e164(&long, "CN").is_err());
        assert!(to_e164("0xd2dc00a30027c9d5", "CN").is_err());
        assert!(to_e164("  2 22#:", "CN").is_err());
    }

    #[test]
    fn other_regions() {
        assert_eq!(to_e164("(650) 253-0000", "US").as_deref(), Ok("+16502530000"));
        assert_eq!(to_e164("+86 139 1234 5678", "US").as_deref(), Ok(EXPECTED));
        assert_eq!(
            to_e164("＋８６ １３９ １２３４ ５６７８", "US").as_deref(),
            Ok(EXPECTED)
        );
        assert_eq!(to_e164("+44 20 7946 0958", "CN").as_deref(), Ok("+442079460958"));
        assert_eq!(to_e164("(+86) 139-1234-5678", "US").as_deref(), Ok(EXPECTED));
        // The fast path is CN-only: a bare CN mobile is not a US number.
        assert!(to_e164("13912345678", "US").is_err());
        assert!(to_e164("13912345678", "ZZ").is_err());
    }

    #[test]
    fn validate_region_rules() {
        assert_eq!(validate_region("cn").as_deref(), Ok("CN"));
        assert_eq!(validate_region("GB").as_deref(), Ok("GB"));
        for bad in ["", "C", "CHN", "XX", "1A", "Cn1"] {
            assert!(validate_region(bad).is_err(), "{bad:?}");
        }
    }

    /// Deterministic generator so failures are reproducible without a
    /// random-number dependency.
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *state >> 33
    }

    #[test]
    fn fast_path_agrees_with_library() {
        // Allocated mobile blocks, so the library's validation accepts them.
        const PREFIXES: &[&str] = &[
            "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
            "156", "157", "158", "159", "166", "177", "180", "181", "182", "183", "184", "185", "186", "187", "188",
            "189", "198", "199",
        ];
        let mut state = 42;
        for i in 0..400 {
            let prefix = PREFIXES[(lcg(&mut state) as usize) % PREFIXES.len()];
            let national = format!("{prefix}{:08}", lcg(&mut state) % 100_000_000);
            let raw = match i % 4 {
                0 => national.clone(),
                1 => format!("+86 {} {} {}", &national[..3], &national[3..7], &national[7..]),
                2 => format!("0086-{national}"),
                _ => national.chars().map(full_width).collect(),
            };
            let fast = cn_mobile_fast_path(&raw);
            let slow = via_library(&raw, "CN");
            assert_eq!(fast.as_deref(), slow.as_deref().ok(), "{raw:?}");
            assert_eq!(fast, Some(format!("+86{national}")));
        }
    }

    #[test]
    fn fast_path_accepts_unallocated_mobile_blocks() {
        // Documented divergence: shape-only check on the fast path.
        assert_eq!(to_e164("14012345678", "CN").as_deref(), Ok("+8614012345678"));
        assert!(via_library("14012345678", "CN").is_err());
    }

    fn full_width(c: char) -> char {
        c.to_digit(10).and_then(|d| char::from_u32(0xFF10 + d)).unwrap_or(c)
    }
}
