//! Free-text PII scan.
//!
//! A single forward pass over the UTF-8 bytes of the text, without regexes
//! and without per-character allocation:
//!
//! * **pre-check**: a text with fewer than 11 digit candidates (ASCII digits
//!   plus `0xEF` lead bytes, an upper bound for full-width digits) and no `@`
//!   cannot contain any detectable identifier and returns immediately.
//! * **digit chains**: maximal digit runs (ASCII `0-9` and full-width
//!   U+FF10–U+FF19, decoded in place) joined by a single space or `-`.
//!   Every contiguous sub-sequence of groups with at most 19 digits is a
//!   candidate, so a candidate always starts and ends at a digit-run boundary:
//!   it is never preceded or followed by an ASCII/full-width digit (letters,
//!   CJK and punctuation next to it are fine).
//!   - `cn_mobile`: national `1[3-9]` + 9 digits as `[11]` or `[3,4,4]`
//!     groups, optionally after `86`/`0086` (own group or glued) or `+86`.
//!   - `cn_resident_id`: `[18]`, `[17]+X` or `[6,8,4]` groups, ISO 7064
//!     check, region and birth date (15-digit legacy IDs carry no checksum and
//!     are not scanned).
//!   - `bank_card`: `[13..19]`, groups of 4 with a 1–4 digit tail, or
//!     `[4,6,5]`/`[4,6,4]`; Luhn-valid and an issuer prefix/length that is
//!     plausible for a payment card (see `card_iin_plausible`).
//!   - separators within one candidate must be all spaces or all dashes.
//! * **IBAN**: at a digit run directly preceded by two upper-case ASCII
//!   letters (not themselves preceded by an ASCII letter/digit): the
//!   registered length for that country, alphanumeric upper-case, optional
//!   single spaces after every 4 characters, not followed by a letter/digit,
//!   mod-97 == 1.
//! * **email**: around each `@`, local part `[A-Za-z0-9._%+-]`, domain
//!   `[A-Za-z0-9.-]` with trailing `.`/`-` trimmed, validated like
//!   [`Validator::Email`].
//!
//! Overlapping candidates are resolved greedily: longer (in chars) wins, then
//! earlier start, then detector order. Offsets and lengths are in Unicode
//! scalar values of the original text; `masked` is [`display_mask`] of the
//! normalized value and never the raw text.

use std::collections::BTreeMap;

use crate::pii::mask::display_mask;
use crate::pii::validate::{
    iban_compact_ok, iban_length, is_cn_mobile_national, is_email_domain, is_email_local, luhn_ok, Validator,
};

/// Kind of identifier found in free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector {
    /// Mainland China mobile number.
    CnMobile,
    /// 18-character PRC resident ID.
    CnResidentId,
    /// Payment card number.
    BankCard,
    /// E-mail address.
    Email,
    /// International Bank Account Number.
    Iban,
}

impl Detector {
    /// Stable report name.
    pub fn name(&self) -> &'static str {
        match self {
            Detector::CnMobile => "cn_mobile",
            Detector::CnResidentId => "cn_resident_id",
            Detector::BankCard => "bank_card",
            Detector::Email => "email",
            Detector::Iban => "iban",
        }
    }
}

/// One detected identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Which detector matched.
    pub detector: Detector,
    /// Offset (in Unicode scalar values) of the match start in the original text.
    pub char_offset: usize,
    /// Length of the match in Unicode scalar values of the original text.
    pub char_len: usize,
    /// Display mask of the normalized value; never the raw value.
    pub masked: String,
}

/// Maximum digits in any digit-based candidate (19-digit cards), and so
/// the digits stored per group (a longer group is never part of one).
const MAX_CAND_DIGITS: usize = 19;

/// Scan free text for personal identifiers. Hits are sorted by offset and do
/// not overlap.
pub fn scan(text: &str) -> Vec<Hit> {
    let b = text.as_bytes();
    if !precheck(b) {
        return Vec::new();
    }
    let mut st = State {
        b,
        groups: Vec::new(),
        digits: Vec::new(),
        cands: Vec::new(),
    };
    let mut i = 0usize;
    let n = b.len();
    while i < n {
        // Hot loop: skip uninteresting bytes.
        while i < n && !INTERESTING[usize::from(b[i])] {
            i += 1;
        }
        if i >= n {
            break;
        }
        if b[i] == b'@' {
            st.email_at(i);
            i += 1;
        } else if digit_at(b, i).is_some() {
            i = st.chain_at(i);
        } else {
            i += 1;
        }
    }
    resolve(text, st.cands)
}

const INTERESTING: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t[b'@' as usize] = true;
    t[0xEF] = true;
    t
};

fn precheck(b: &[u8]) -> bool {
    let digitish = b.iter().filter(|&&c| c.is_ascii_digit() || c == 0xEF).count();
    digitish >= 11 || b.contains(&b'@')
}

/// ASCII or full-width digit at byte `i`: (ASCII digit value, byte width).
#[inline]
fn digit_at(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let c = *b.get(i)?;
    if c.is_ascii_digit() {
        return Some((c, 1));
    }
    if c == 0xEF && b.get(i + 1) == Some(&0xBC) {
        if let Some(&c2) = b.get(i + 2) {
            if (0x90..=0x99).contains(&c2) {
                return Some((b'0' + (c2 - 0x90), 3));
            }
        }
    }
    None
}

/// `X`, `x`, `Ｘ` (U+FF38) or `ｘ` (U+FF58) at byte `i`: byte width.
#[inline]
fn x_at(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i..)? {
        [b'X' | b'x', ..] => Some(1),
        [0xEF, 0xBC, 0xB8, ..] | [0xEF, 0xBD, 0x98, ..] => Some(3),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug)]
struct Group {
    /// Byte offset of the first digit.
    start: usize,
    /// Byte offset just past the last digit.
    end: usize,
    /// Index of the first digit in `State::digits`.
    dstart: usize,
    /// Number of digits (may exceed what is stored).
    dlen: usize,
    /// Separator before this group (`b' '`/`b'-'`), 0 for the first.
    sep_before: u8,
    /// Byte end of an `X` directly following the digits.
    x_end: Option<usize>,
}

#[derive(Debug)]
struct Cand {
    start: usize,
    end: usize,
    det: Detector,
    norm: [u8; 34],
    nlen: usize,
}

impl Cand {
    fn new(start: usize, end: usize, det: Detector, value: &[u8]) -> Cand {
        let mut norm = [0u8; 34];
        let nlen = value.len().min(norm.len());
        norm[..nlen].copy_from_slice(&value[..nlen]);
        Cand {
            start,
            end,
            det,
            norm,
            nlen,
        }
    }
}

struct State<'a> {
    b: &'a [u8],
    groups: Vec<Group>,
    digits: Vec<u8>,
    cands: Vec<Cand>,
}

impl State<'_> {
    /// Parse the digit chain starting at `start`, emit candidates, return the
    /// byte offset where scanning resumes.
    fn chain_at(&mut self, start: usize) -> usize {
        let b = self.b;
        self.groups.clear();
        self.digits.clear();
        let mut i = start;
        let mut sep_before = 0u8;
        loop {
            let gstart = i;
            let dstart = self.digits.len();
            let mut dlen = 0usize;
            while let Some((d, w)) = digit_at(b, i) {
                if dlen < MAX_CAND_DIGITS {
                    self.digits.push(d);
                }
                dlen += 1;
                i += w;
            }
            let x_end = x_at(b, i).map(|w| i + w);
            self.groups.push(Group {
                start: gstart,
                end: i,
                dstart,
                dlen,
                sep_before,
                x_end,
            });
            self.iban_at(gstart);
            if x_end.is_none() {
                if let Some(&s) = b.get(i) {
                    if (s == b' ' || s == b'-') && digit_at(b, i + 1).is_some() {
                        sep_before = s;
                        i += 1;
                        continue;
                    }
                }
            }
            break;
        }
        self.eval_chain();
        i
    }

    fn eval_chain(&mut self) {
        let m = self.groups.len();
        for s in 0..m {
            let mut total = 0usize;
            for e in s..m {
                total += self.groups[e].dlen;
                if total > MAX_CAND_DIGITS {
                    break;
                }
                self.eval_candidate(s, e, total);
            }
        }
    }

    fn eval_candidate(&mut self, s: usize, e: usize, total: usize) {
        let gs = &self.groups[s..=e];
        let first = gs[0];
        let last = gs[gs.len() - 1];
        let d0 = first.dstart;
        let digits = &self.digits[d0..d0 + total];
        let b = self.b;

        // ---- mobile ----
        if (11..=15).contains(&total) {
            if let Some((start, national)) = mobile_candidate(b, gs, digits) {
                self.cands
                    .push(Cand::new(start, last.end, Detector::CnMobile, national));
            }
        }

        // ---- resident ID ----
        let lens = GroupLens::new(gs);
        let seps_uniform = uniform_seps(&gs[1..]);
        if seps_uniform {
            let with_x = (total == 17 && (lens.is(&[17]) || lens.is(&[6, 8, 3]))) && last.x_end.is_some();
            let plain = total == 18 && (lens.is(&[18]) || lens.is(&[6, 8, 4]));
            if with_x || plain {
                let mut id = [0u8; 18];
                id[..total].copy_from_slice(digits);
                let mut end = last.end;
                if with_x {
                    id[17] = b'X';
                    if let Some(xe) = last.x_end {
                        end = xe;
                    }
                }
                let followed_by_digit = digit_at(b, end).is_some();
                if !followed_by_digit && std::str::from_utf8(&id).is_ok_and(|v| Validator::CnResidentId.is_valid(v)) {
                    self.cands
                        .push(Cand::new(first.start, end, Detector::CnResidentId, &id));
                }
            }

            // ---- bank card ----
            if (13..=19).contains(&total) && card_grouping_ok(&lens) && luhn_ok(digits) && card_iin_plausible(digits) {
                self.cands
                    .push(Cand::new(first.start, last.end, Detector::BankCard, digits));
            }
        }
    }

    /// IBAN whose check digits start the digit run at `gstart`.
    fn iban_at(&mut self, gstart: usize) {
        let b = self.b;
        if gstart < 2 || !b[gstart].is_ascii_digit() {
            return;
        }
        // Two upper-case letters: the registry lookup below checks them.
        let (c0, c1) = (b[gstart - 2], b[gstart - 1]);
        let s = gstart - 2;
        if s > 0 && b[s - 1].is_ascii_alphanumeric() {
            return;
        }
        let Some(len) = iban_length([c0, c1]) else {
            return;
        };
        let mut buf = [0u8; 34];
        buf[0] = c0;
        buf[1] = c1;
        let mut n = 2usize;
        let mut i = gstart;
        while n < len {
            match b.get(i) {
                Some(&c) if c.is_ascii_digit() || c.is_ascii_uppercase() => {
                    if let Some(slot) = buf.get_mut(n) {
                        *slot = c;
                    }
                    n += 1;
                    i += 1;
                }
                Some(&b' ')
                    if n % 4 == 0
                        && b.get(i + 1)
                            .is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) =>
                {
                    i += 1;
                }
                _ => return,
            }
        }
        if b.get(i).is_some_and(|c| c.is_ascii_alphanumeric()) || digit_at(b, i).is_some() {
            return;
        }
        if iban_compact_ok(&buf[..n]) {
            self.cands.push(Cand::new(s, i, Detector::Iban, &buf[..n]));
        }
    }

    /// E-mail around the `@` at byte `at`.
    fn email_at(&mut self, at: usize) {
        let b = self.b;
        let is_local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
        let mut l = at;
        while l > 0 && is_local(b[l - 1]) {
            l -= 1;
        }
        while l < at && b[l] == b'.' {
            l += 1;
        }
        if l == at {
            return;
        }
        let mut r = at + 1;
        while r < b.len() && (b[r].is_ascii_alphanumeric() || b[r] == b'.' || b[r] == b'-') {
            r += 1;
        }
        while r > at + 1 && (b[r - 1] == b'.' || b[r - 1] == b'-') {
            r -= 1;
        }
        if r - l <= 254 && is_email_local(&b[l..at]) && is_email_domain(&b[at + 1..r]) {
            self.cands.push(Cand::new(l, r, Detector::Email, &[]));
        }
    }
}

/// Group lengths of a candidate (at most 19 groups, since each has >= 1 digit).
struct GroupLens {
    lens: [usize; MAX_CAND_DIGITS],
    n: usize,
}

impl GroupLens {
    fn new(gs: &[Group]) -> GroupLens {
        let mut lens = [0usize; MAX_CAND_DIGITS];
        let n = gs.len().min(MAX_CAND_DIGITS);
        for (slot, g) in lens.iter_mut().zip(gs) {
            *slot = g.dlen;
        }
        GroupLens { lens, n }
    }
    fn as_slice(&self) -> &[usize] {
        &self.lens[..self.n]
    }
    fn is(&self, want: &[usize]) -> bool {
        self.as_slice() == want
    }
}

fn uniform_seps(rest: &[Group]) -> bool {
    match rest.first() {
        None => true,
        Some(g) => rest.iter().all(|x| x.sep_before == g.sep_before),
    }
}

fn card_grouping_ok(lens: &GroupLens) -> bool {
    let l = lens.as_slice();
    match l {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        [init @ .., tail] => init.iter().all(|&x| x == 4) && (1..=4).contains(tail),
        [] => false,
    }
}

/// Mobile candidate over the groups `gs` with concatenated `digits`:
/// (span start byte, national 11 digits).
fn mobile_candidate<'d>(b: &[u8], gs: &[Group], digits: &'d [u8]) -> Option<(usize, &'d [u8])> {
    let first = gs[0];
    let plus = first.start > 0 && b[first.start - 1] == b'+';
    let lens = GroupLens::new(gs);
    let l = lens.as_slice();
    // (prefix digits, national group lens, separators to check)
    let (prefix, national_groups): (usize, &[Group]) = match l {
        [11] => (0, gs),
        [13] if digits.starts_with(b"86") => (2, gs),
        [15] if digits.starts_with(b"0086") => (4, gs),
        [3, 4, 4] => (0, gs),
        [2, 11] | [2, 3, 4, 4] if digits.starts_with(b"86") => (2, &gs[1..]),
        [4, 11] | [4, 3, 4, 4] if digits.starts_with(b"0086") => (4, &gs[1..]),
        _ => return None,
    };
    // '+' only in front of "86"; "+0086" and "+139…" are not CN mobiles.
    if plus && prefix != 2 {
        return None;
    }
    if national_groups.len() > 1 && !uniform_seps(&national_groups[1..]) {
        return None;
    }
    let national = digits.get(prefix..)?;
    if !is_cn_mobile_national(national) {
        return None;
    }
    let start = if plus { first.start - 1 } else { first.start };
    Some((start, national))
}

/// Issuer prefix / length plausibility for payment cards. Keeps Luhn-valid
/// order numbers, timestamps (`20…`, `1…`) and the like out of the results.
///
/// | prefix                | lengths |
/// |-----------------------|---------|
/// | 2200–2204 (Mir)       | 16–19   |
/// | 2221–2720 (Mastercard)| 16      |
/// | 34, 37 (Amex)         | 15      |
/// | 3528–3589 (JCB)       | 16–19   |
/// | 300–305, 36, 38, 39 (Diners) | 14–16 |
/// | 4 (Visa)              | 13, 16, 19 |
/// | 51–55 (Mastercard)    | 16      |
/// | 50, 56–59 (Maestro)   | 13–19   |
/// | 60, 62, 64, 65 (Discover/UnionPay/RuPay) | 16–19 |
/// | 63, 67 (Maestro)      | 13–19   |
/// | 81 (UnionPay)         | 16–19   |
/// | 9 (CN domestic, e.g. 9558) | 16–19 |
fn card_iin_plausible(d: &[u8]) -> bool {
    if d.len() < 4 {
        return false;
    }
    let v = |i: usize| u32::from(d[i].wrapping_sub(b'0'));
    let p2 = v(0) * 10 + v(1);
    let p3 = p2 * 10 + v(2);
    let p4 = p3 * 10 + v(3);
    let n = d.len();
    let l16_19 = (16..=19).contains(&n);
    let l13_19 = (13..=19).contains(&n);
    let l14_16 = (14..=16).contains(&n);
    match p2 {
        22..=27 => ((2200..=2204).contains(&p4) && l16_19) || ((2221..=2720).contains(&p4) && n == 16),
        34 | 37 => n == 15,
        35 => (3528..=3589).contains(&p4) && l16_19,
        30 => (300..=305).contains(&p3) && l14_16,
        36 | 38 | 39 => l14_16,
        40..=49 => matches!(n, 13 | 16 | 19),
        51..=55 => n == 16,
        50 | 56..=59 => l13_19,
        60 | 62 | 64 | 65 => l16_19,
        63 | 67 => l13_19,
        81 => l16_19,
        90..=99 => l16_19,
        _ => false,
    }
}

fn is_char_start(c: u8) -> bool {
    (c & 0xC0) != 0x80
}

fn count_chars(b: &[u8]) -> usize {
    b.iter().filter(|&&c| is_char_start(c)).count()
}

fn resolve(text: &str, cands: Vec<Cand>) -> Vec<Hit> {
    if cands.is_empty() {
        return Vec::new();
    }
    let b = text.as_bytes();
    let mut order: Vec<(usize, usize)> = cands
        .iter()
        .enumerate()
        .map(|(idx, c)| (count_chars(b.get(c.start..c.end).unwrap_or(&[])), idx))
        .collect();
    order.sort_by(|&(la, ia), &(lb, ib)| {
        let (ca, cb) = (&cands[ia], &cands[ib]);
        lb.cmp(&la).then(ca.start.cmp(&cb.start)).then(ca.det.cmp(&cb.det))
    });
    // start -> (end, candidate index, char len)
    let mut chosen: BTreeMap<usize, (usize, usize, usize)> = BTreeMap::new();
    for (clen, idx) in order {
        let c = &cands[idx];
        let overlaps = chosen
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, &(end, _, _))| end > c.start);
        if !overlaps {
            chosen.insert(c.start, (c.end, idx, clen));
        }
    }
    let mut hits = Vec::with_capacity(chosen.len());
    let mut prev_byte = 0usize;
    let mut prev_char = 0usize;
    for (start, (end, idx, clen)) in chosen {
        let c = &cands[idx];
        prev_char += count_chars(b.get(prev_byte..start).unwrap_or(&[]));
        prev_byte = start;
        let masked = match c.det {
            Detector::Email => display_mask(text.get(start..end).unwrap_or(""), Some(Validator::Email)),
            det => {
                let norm = std::str::from_utf8(&c.norm[..c.nlen]).unwrap_or("");
                let v = match det {
                    Detector::CnMobile => Validator::CnMobile,
                    Detector::CnResidentId => Validator::CnResidentId,
                    Detector::BankCard => Validator::BankCard,
                    _ => Validator::Iban,
                };
                display_mask(norm, Some(v))
            }
        };
        hits.push(Hit {
            detector: c.det,
            char_offset: prev_char,
            char_len: clen,
            masked,
        });
    }
    hits
}

#[cfg(test)]
mod tests;
