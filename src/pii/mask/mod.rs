//! Mask styles, mask-shape audit and the display mask used in reports.
//!
//! All functions work on Unicode scalar values (`char`), never on bytes, so a
//! hostile multi-byte value cannot be split mid-character, and none of them
//! ever returns the clear value except [`MaskStyle::Clear`]'s `apply`.

use crate::pii::validate::Validator;

/// A masking policy for one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskStyle {
    /// Stored in clear.
    Clear,
    /// Everything but the last 4 characters replaced by `*`.
    KeepLast4,
    /// Mainland mobile: first 3 + `****` + last 4 of the national form.
    Phone,
    /// Payment card: first 6 + `*`… + last 4.
    Card,
    /// Resident ID: first 6 + `********` + last 4.
    CnId,
    /// Every character replaced by `*`.
    Full,
    /// Keyed HMAC token (see [`crate::pii::token::Tokenizer`]).
    Token,
    /// The field must not be stored at all.
    Absent,
}

const ALL_STYLES: &[MaskStyle] = &[
    MaskStyle::Clear,
    MaskStyle::KeepLast4,
    MaskStyle::Phone,
    MaskStyle::Card,
    MaskStyle::CnId,
    MaskStyle::Full,
    MaskStyle::Token,
    MaskStyle::Absent,
];

/// Every accepted mask style name, in declaration order.
pub const MASK_STYLE_NAMES: &[&str] = &[
    "clear",
    "keep_last4",
    "phone",
    "card",
    "cn_id",
    "full",
    "token",
    "absent",
];

/// A `mask` name that names no style. It lists the valid names but never
/// holds the input, only its length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mask style name ({chars} chars); expected one of: {}", MASK_STYLE_NAMES.join(", "))]
pub struct UnknownMaskStyle {
    pub chars: usize,
}

impl MaskStyle {
    /// Parse a style name (ASCII case-insensitive, surrounding whitespace
    /// ignored). The error lists the valid names but never echoes the input.
    pub fn parse(name: &str) -> Result<MaskStyle, UnknownMaskStyle> {
        let wanted = name.trim();
        ALL_STYLES
            .iter()
            .copied()
            .find(|s| s.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownMaskStyle {
                chars: name.chars().count(),
            })
    }

    /// The canonical configuration name.
    pub fn name(&self) -> &'static str {
        match self {
            MaskStyle::Clear => "clear",
            MaskStyle::KeepLast4 => "keep_last4",
            MaskStyle::Phone => "phone",
            MaskStyle::Card => "card",
            MaskStyle::CnId => "cn_id",
            MaskStyle::Full => "full",
            MaskStyle::Token => "token",
            MaskStyle::Absent => "absent",
        }
    }

    /// Apply the style to a clear value. Lengths are in `char`s.
    ///
    /// | style        | result                                                                                  | example                                   |
    /// |--------------|-----------------------------------------------------------------------------------------|-------------------------------------------|
    /// | `clear`      | unchanged                                                                               | `13912345678` → `13912345678`             |
    /// | `keep_last4` | all but the last 4 chars → `*`; values of ≤ 4 chars fully masked                       | `abcdef` → `**cdef`, `abc` → `***`        |
    /// | `phone`      | spaces/dashes removed, leading `+86`/`0086`/`86` stripped; if the result is 11 ASCII digits: first 3 + `****` + last 4; otherwise `keep_last4` of the original value | `+86 139-1234-5678` → `139****5678`        |
    /// | `card`       | spaces/dashes removed; if 13–19 ASCII digits: first 6 + `*` × (n − 10) + last 4; otherwise `keep_last4` of the original value | `6222021234567894` → `622202******7894`; 19 digits → 9 stars |
    /// | `cn_id`      | 18 chars (17 digits + digit/`X`/`x`): first 6 + `********` + last 4; 15 digits: first 6 + `*****` + last 4; otherwise `keep_last4` | `11010519491231002X` → `110105********002X` |
    /// | `full`       | every char → `*` (same length)                                                          | `abc` → `***`                             |
    /// | `token`      | `None`: a token needs a key, use [`crate::pii::token::Tokenizer::token`]               |                                           |
    /// | `absent`     | `None`: the value must not be stored                                                    |                                           |
    pub fn apply(&self, clear: &str) -> Option<String> {
        match self {
            MaskStyle::Clear => Some(clear.to_string()),
            MaskStyle::KeepLast4 => Some(keep_last4(clear)),
            MaskStyle::Phone => Some(match phone_national(clear) {
                Some(n) => {
                    let mut out = String::with_capacity(11);
                    out.push_str(&n[..3]);
                    out.push_str("****");
                    out.push_str(&n[7..]);
                    out
                }
                None => keep_last4(clear),
            }),
            MaskStyle::Card => Some(match card_digits(clear) {
                Some(d) => {
                    let n = d.len();
                    let mut out = String::with_capacity(n);
                    out.push_str(&d[..6]);
                    out.extend(std::iter::repeat_n('*', n - 10));
                    out.push_str(&d[n - 4..]);
                    out
                }
                None => keep_last4(clear),
            }),
            MaskStyle::CnId => Some(if is_id_like(clear) {
                let n = clear.len();
                let mut out = String::with_capacity(n);
                out.push_str(&clear[..6]);
                out.extend(std::iter::repeat_n('*', n - 10));
                out.push_str(&clear[n - 4..]);
                out
            } else {
                keep_last4(clear)
            }),
            MaskStyle::Full => Some("*".repeat(clear.chars().count())),
            MaskStyle::Token | MaskStyle::Absent => None,
        }
    }

    /// Does `observed` have this style's shape?
    ///
    /// * `clear`: any value.
    /// * `keep_last4`: ≤ 4 chars all `*`; otherwise `*` everywhere except the
    ///   last 4 chars, which are not `*`.
    /// * `phone`: `DDD****DDDD` (ASCII digits), or the `keep_last4` shape
    ///   of a value that is not a mobile number (see below).
    /// * `card`: 13–19 chars, 6 ASCII digits + `*`… + 4 ASCII digits, or the
    ///   `keep_last4` shape of a value that is not a card number.
    /// * `cn_id`: `DDDDDD********DDDC` (C = digit/`X`/`x`) or the 15-char
    ///   `DDDDDD*****DDDD`, or the `keep_last4` shape of a value that is not
    ///   a resident ID.
    /// * `full`: every char `*`.
    /// * `token`: 64 lowercase hex chars, or `tok_` + 32 lowercase hex chars.
    /// * `absent`: only the empty string (callers handle null themselves).
    ///
    /// `phone`, `card` and `cn_id` fall back to `keep_last4` for a value that
    /// is not of their kind, so that shape is accepted — unless the mask
    /// could stand for a value of the kind: then the policy would have shown
    /// more of it, and the mask is over-masked. A `keep_last4` mask is taken
    /// for one of the kind when its length is one the policy's own shape has
    /// and its visible last 4 chars could end such a value: `phone`: 11
    /// chars ending in 4 ASCII digits (`*******5678`); `card`: 13–19 chars
    /// ending in 4 ASCII digits; `cn_id`: 18 chars ending in 3 ASCII digits
    /// and a digit/`X`/`x`, or 15 chars ending in 4 ASCII digits
    /// (`**************8325`). The mask cannot tell such a value from one of
    /// another kind that happens to have that length (`phone` masks the
    /// 11-char landline `010-1234567` as `*******4567`); the audit assumes a
    /// field holds what its policy is for.
    ///
    /// The empty string has every shape except `token` (masking "" yields "").
    pub fn has_shape(&self, observed: &str) -> bool {
        match self {
            MaskStyle::Clear => true,
            MaskStyle::KeepLast4 => keep_last4_shape(observed),
            MaskStyle::Phone => phone_shape(observed) || self.fallback_shape(observed),
            MaskStyle::Card => card_shape(observed) || self.fallback_shape(observed),
            MaskStyle::CnId => id_shape(observed) || self.fallback_shape(observed),
            MaskStyle::Full => observed.chars().all(|c| c == '*'),
            MaskStyle::Token => is_token_shape(observed),
            MaskStyle::Absent => observed.is_empty(),
        }
    }

    /// The `keep_last4` shape of a value that cannot be of this style's kind
    /// (see [`MaskStyle::has_shape`]).
    fn fallback_shape(&self, observed: &str) -> bool {
        if !keep_last4_shape(observed) {
            return false;
        }
        // In the keep_last4 shape all but the last 4 chars are the one-byte
        // `*`, so an ASCII tail is the last 4 bytes (a multi-byte tail never
        // passes the digit tests below).
        let n = observed.chars().count();
        let b = observed.as_bytes();
        let tail = &b[b.len().saturating_sub(4)..];
        let digits = |t: &[u8]| t.iter().all(u8::is_ascii_digit);
        let of_kind = match self {
            MaskStyle::Phone => n == 11 && digits(tail),
            MaskStyle::Card => (13..=19).contains(&n) && digits(tail),
            MaskStyle::CnId => match n {
                18 => digits(&tail[..3]) && matches!(tail[3], b'0'..=b'9' | b'X' | b'x'),
                15 => digits(tail),
                _ => false,
            },
            _ => false,
        };
        !of_kind
    }

    /// The positions this style leaves visible in a mask of `n` chars:
    /// `(head, tail)`, the first `head` and the last `tail` chars. For
    /// `phone`, `card` and `cn_id` these are the positions of their own
    /// shape at the lengths it has (11; 13–19; 15 and 18), else those of
    /// `keep_last4`.
    fn visible_span(&self, n: usize) -> (usize, usize) {
        let kl4 = if n <= 4 { (0, 0) } else { (0, 4) };
        match self {
            MaskStyle::Clear => (n, 0),
            MaskStyle::KeepLast4 => kl4,
            MaskStyle::Phone if n == 11 => (3, 4),
            MaskStyle::Card if (13..=19).contains(&n) => (6, 4),
            MaskStyle::CnId if n == 15 || n == 18 => (6, 4),
            MaskStyle::Phone | MaskStyle::Card | MaskStyle::CnId => kl4,
            MaskStyle::Full | MaskStyle::Token | MaskStyle::Absent => (0, 0),
        }
    }

    /// How many chars this style leaves visible in a mask of `n` chars (what
    /// a `wrong_mask` is measured against): `clear`: n; `keep_last4`: 0 if
    /// n ≤ 4 else 4; `phone`: 7 if n = 11, `card`: 10 if n is 13–19,
    /// `cn_id`: 10 if n is 15 or 18, else as `keep_last4`; `full`, `token`,
    /// `absent`: 0. Unlike [`MaskStyle::revealed_chars`], `n` is the length
    /// of the mask, not of the clear value.
    pub fn visible_in_mask(&self, n: usize) -> usize {
        let (head, tail) = self.visible_span(n);
        head + tail
    }

    /// Upper bound of clear characters the style reveals for a value of `n`
    /// chars (used by [`display_mask`] to keep an already-masked value that
    /// reveals no more).
    ///
    /// `clear`: n; `keep_last4`: 0 if n ≤ 4 else 4; `phone`: 7 if n ≥ 11
    /// (separators/prefix may make the raw value longer than 11) else as
    /// `keep_last4`; `card`: 10 if n ≥ 13 else as `keep_last4`; `cn_id`: 10 if
    /// n is 15 or 18 else as `keep_last4`; `full`, `token`, `absent`: 0.
    pub fn revealed_chars(&self, n: usize) -> usize {
        let kl4 = if n <= 4 { 0 } else { 4 };
        match self {
            MaskStyle::Clear => n,
            MaskStyle::KeepLast4 => kl4,
            MaskStyle::Phone => {
                if n >= 11 {
                    7
                } else {
                    kl4
                }
            }
            MaskStyle::Card => {
                if n >= 13 {
                    10
                } else {
                    kl4
                }
            }
            MaskStyle::CnId => {
                if n == 15 || n == 18 {
                    10
                } else {
                    kl4
                }
            }
            MaskStyle::Full | MaskStyle::Token | MaskStyle::Absent => 0,
        }
    }
}

/// Mask audit of one observed value against its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskVerdict {
    /// Conforms to the policy.
    Ok,
    /// A clear, valid value where the policy needs a mask (or, for `absent`,
    /// any non-empty value).
    Unmasked,
    /// Masked, but not in the policy's shape: showing more than the policy,
    /// less, or other characters.
    WrongMask(Deviation),
}

/// How a wrong mask differs from the shape its policy would give a mask of
/// the same length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deviation {
    pub exposure: Exposure,
    /// Chars of the observed value.
    pub len: usize,
    /// Its visible (non-`*`) chars.
    pub visible: usize,
    /// Chars the policy leaves visible in a mask of `len` chars
    /// ([`MaskStyle::visible_in_mask`]).
    pub policy_visible: usize,
}

/// Where a wrong mask's visible chars sit, compared position by position
/// with the chars the policy leaves visible in a mask of that length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Under-masked: a char is visible where the policy shows `*` (the
    /// mask may still show fewer chars in all).
    More,
    /// Over-masked: chars are visible only where the policy shows them, and
    /// fewer of them.
    Less,
    /// Visible exactly where the policy shows chars, but not chars the
    /// policy would show there (letters, full-width digits).
    Other,
}

/// Audit one observed value against its policy. `validator` tells whether a
/// value "looks clear" (e.g. `CnMobile` for phones).
///
/// * `clear` → always `Ok`.
/// * `absent` → `Unmasked` for any non-empty value (null is the caller's job).
/// * other styles → `Ok` if [`MaskStyle::has_shape`]; else `Unmasked` if the
///   value contains no `*` and (no validator, or the validator accepts the
///   value with spaces and dashes removed); else `WrongMask` with its
///   [`Deviation`].
pub fn audit(observed: &str, policy: MaskStyle, validator: Option<Validator>) -> MaskVerdict {
    match policy {
        MaskStyle::Clear => MaskVerdict::Ok,
        MaskStyle::Absent => {
            if observed.is_empty() {
                MaskVerdict::Ok
            } else {
                MaskVerdict::Unmasked
            }
        }
        _ => {
            if policy.has_shape(observed) {
                MaskVerdict::Ok
            } else if !observed.contains('*') && validator.is_none_or(|v| v.is_valid(&strip_separators(observed))) {
                MaskVerdict::Unmasked
            } else {
                MaskVerdict::WrongMask(deviation(observed, policy))
            }
        }
    }
}

/// How `observed` differs from `policy`'s shape for a mask of its length.
fn deviation(observed: &str, policy: MaskStyle) -> Deviation {
    let len = observed.chars().count();
    let (head, tail) = policy.visible_span(len);
    let mut visible = 0;
    let mut shows_hidden = false;
    for (i, c) in observed.chars().enumerate() {
        if c != '*' {
            visible += 1;
            shows_hidden |= i >= head && i + tail < len;
        }
    }
    let policy_visible = head + tail;
    let exposure = if shows_hidden {
        Exposure::More
    } else if visible < policy_visible {
        Exposure::Less
    } else {
        Exposure::Other
    };
    Deviation {
        exposure,
        len,
        visible,
        policy_visible,
    }
}

/// Do the visible (non-`*`) characters of `masked` contradict `clear`?
/// `true` = contradiction (an `inconsistent_mask` finding).
///
/// Comparison is ASCII case-insensitive (`x` = `X`). `clear` is tried as-is,
/// with spaces/dashes removed, and additionally with a leading
/// `+86`/`0086`/`86` removed (the `phone` style works on the national form).
/// For a candidate of the same length as `masked` the comparison is
/// positional. Otherwise, if `masked` is `prefix` + one run of `*` + `suffix`,
/// it is consistent when the candidate starts with `prefix` and ends with
/// `suffix` (masks with a different star count). Returns `false` when `masked`
/// shows nothing (no visible chars) or is token-shaped (checking a token needs
/// the key), and `true` when no alignment is possible.
pub fn contradicts(masked: &str, clear: &str) -> bool {
    if is_token_shape(masked) || !masked.chars().any(|c| c != '*') {
        return false;
    }
    let stripped = strip_separators(clear);
    let national = strip_cn_prefix(&stripped);
    let candidates: [&str; 3] = [clear, &stripped, national];
    let m_len = masked.chars().count();
    let mut any_same_len = false;
    for cand in candidates {
        if cand.chars().count() == m_len {
            any_same_len = true;
            let consistent = masked
                .chars()
                .zip(cand.chars())
                .all(|(m, c)| m == '*' || m.eq_ignore_ascii_case(&c));
            if consistent {
                return false;
            }
        }
    }
    if any_same_len {
        return true;
    }
    // Different lengths: accept `prefix *+ suffix` masks.
    let Some(first_star) = masked.find('*') else {
        return true;
    };
    let prefix = &masked[..first_star];
    let rest = masked[first_star..].trim_start_matches('*');
    if rest.contains('*') {
        return true;
    }
    let suffix = rest;
    !candidates.iter().any(|cand| {
        cand.chars().count() >= prefix.chars().count() + suffix.chars().count()
            && starts_with_ci(cand, prefix)
            && ends_with_ci(cand, suffix)
    })
}

/// Display mask used in every report for a value of a personal-data field,
/// regardless of policy; never the raw value.
///
/// Style by validator: `CnMobile` → `phone`; `BankCard`/`Luhn` → `card`;
/// `CnResidentId`/`CnResidentIdOrLegacy` → `cn_id`; `Email` → first char +
/// `***@` + domain (no `@`: `keep_last4`); anything else → `keep_last4`.
/// A value already containing `*` is returned as-is only if it reveals no
/// more characters than the display mask would for a value of its length;
/// otherwise it is re-masked.
pub fn display_mask(value: &str, validator: Option<Validator>) -> String {
    let style = match validator {
        Some(Validator::CnMobile) => MaskStyle::Phone,
        Some(Validator::BankCard) | Some(Validator::Luhn) => MaskStyle::Card,
        Some(Validator::CnResidentId) | Some(Validator::CnResidentIdOrLegacy) => MaskStyle::CnId,
        Some(Validator::Email) => {
            let masked = email_mask(value);
            if value.contains('*') && visible_count(value) <= visible_count(&masked) {
                return value.to_string();
            }
            return masked;
        }
        _ => MaskStyle::KeepLast4,
    };
    if value.contains('*') && visible_count(value) <= style.revealed_chars(value.chars().count()) {
        return value.to_string();
    }
    style.apply(value).unwrap_or_else(|| "*".repeat(value.chars().count()))
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn visible_count(s: &str) -> usize {
    s.chars().filter(|&c| c != '*').count()
}

fn keep_last4(s: &str) -> String {
    let n = s.chars().count();
    if n <= 4 {
        return "*".repeat(n);
    }
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        out.push(if i < n - 4 { '*' } else { c });
    }
    out
}

fn keep_last4_shape(s: &str) -> bool {
    let n = s.chars().count();
    if n <= 4 {
        return s.chars().all(|c| c == '*');
    }
    s.chars()
        .enumerate()
        .all(|(i, c)| if i < n - 4 { c == '*' } else { c != '*' })
}

fn email_mask(value: &str) -> String {
    match value.rfind('@') {
        Some(at) => {
            let local = &value[..at];
            let domain = &value[at + 1..];
            let mut out = String::with_capacity(domain.len() + 8);
            if let Some(c) = local.chars().next() {
                out.push(c);
            }
            out.push_str("***@");
            out.push_str(domain);
            out
        }
        None => keep_last4(value),
    }
}

pub(crate) fn strip_separators(s: &str) -> String {
    s.chars().filter(|&c| c != ' ' && c != '-').collect()
}

/// Remove one leading `+86`, `0086` or `86` if what remains is 11 chars.
fn strip_cn_prefix(s: &str) -> &str {
    for p in ["+86", "0086", "86"] {
        if let Some(rest) = s.strip_prefix(p) {
            if rest.len() == 11 {
                return rest;
            }
        }
    }
    s
}

/// National 11-digit form of a phone value, if it has one.
fn phone_national(clear: &str) -> Option<String> {
    let stripped = strip_separators(clear);
    let national = strip_cn_prefix(&stripped);
    if national.len() == 11 && national.bytes().all(|b| b.is_ascii_digit()) {
        Some(national.to_string())
    } else {
        None
    }
}

fn card_digits(clear: &str) -> Option<String> {
    let stripped = strip_separators(clear);
    if (13..=19).contains(&stripped.len()) && stripped.bytes().all(|b| b.is_ascii_digit()) {
        Some(stripped)
    } else {
        None
    }
}

fn is_id_like(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        18 => b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x'),
        15 => b.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// `digits` ASCII digits, then `stars` '*', then `tail` ASCII digits (the very
/// last may be X/x when `x_last`). Byte-exact, so non-ASCII fails.
fn masked_pattern(s: &str, head: usize, stars: usize, tail: usize, x_last: bool) -> bool {
    let b = s.as_bytes();
    if b.len() != head + stars + tail {
        return false;
    }
    let (h, rest) = b.split_at(head);
    let (m, t) = rest.split_at(stars);
    h.iter().all(u8::is_ascii_digit)
        && m.iter().all(|&c| c == b'*')
        && t.iter()
            .enumerate()
            .all(|(i, &c)| c.is_ascii_digit() || (x_last && i + 1 == tail && (c == b'X' || c == b'x')))
}

fn phone_shape(s: &str) -> bool {
    masked_pattern(s, 3, 4, 4, false)
}

fn card_shape(s: &str) -> bool {
    let n = s.len();
    (13..=19).contains(&n) && masked_pattern(s, 6, n - 10, 4, false)
}

fn id_shape(s: &str) -> bool {
    masked_pattern(s, 6, 8, 4, true) || masked_pattern(s, 6, 5, 4, false)
}

fn is_lower_hex(b: &[u8]) -> bool {
    b.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// 64 lowercase hex chars, or `tok_` + 32 lowercase hex chars.
pub(crate) fn is_token_shape(s: &str) -> bool {
    let b = s.as_bytes();
    match b.strip_prefix(b"tok_") {
        Some(h) => h.len() == 32 && is_lower_hex(h),
        None => b.len() == 64 && is_lower_hex(b),
    }
}

fn starts_with_ci(s: &str, p: &str) -> bool {
    let mut sc = s.chars();
    p.chars()
        .all(|pc| sc.next().is_some_and(|c| c.eq_ignore_ascii_case(&pc)))
}

fn ends_with_ci(s: &str, p: &str) -> bool {
    let mut sc = s.chars().rev();
    p.chars()
        .rev()
        .all(|pc| sc.next().is_some_and(|c| c.eq_ignore_ascii_case(&pc)))
}

#[cfg(test)]
mod tests;
