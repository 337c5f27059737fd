//! The values the demo is made of: Chinese names, mobile numbers typed the
//! way agents type them, resident IDs and card numbers with valid check
//! digits and their masks, agent notes with and without personal data,
//! amounts and times; and `Picker`, which keeps injected defects apart.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Hands out distinct row indices so that injected defects never overlap.
pub(super) struct Picker {
    free: Vec<usize>,
}

impl Picker {
    pub(super) fn new(n: usize, rng: &mut ChaCha8Rng) -> Picker {
        let mut free: Vec<usize> = (0..n).collect();
        free.shuffle(rng);
        Picker { free }
    }
    pub(super) fn take(&mut self, n: usize) -> Vec<usize> {
        let k = n.min(self.free.len());
        self.free.split_off(self.free.len() - k)
    }
    /// Like `take`, but only indices for which `ok` holds.
    pub(super) fn take_where(&mut self, n: usize, ok: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = self.free.len();
        while out.len() < n && i > 0 {
            i -= 1;
            if ok(self.free[i]) {
                out.push(self.free.remove(i));
            }
        }
        out
    }
}

pub(super) fn mobile(rng: &mut ChaCha8Rng) -> String {
    const PREFIX: [&str; 8] = ["139", "138", "137", "186", "158", "150", "177", "199"];
    format!(
        "{}{:08}",
        PREFIX[rng.random_range(0..PREFIX.len())],
        rng.random_range(0..100_000_000u32)
    )
}

/// A valid 18-character resident ID (ISO 7064 MOD 11-2 check character).
pub(super) fn resident_id(rng: &mut ChaCha8Rng) -> String {
    const REGIONS: [&str; 5] = ["110105", "360426", "440113", "310104", "320102"];
    let region = REGIONS[rng.random_range(0..REGIONS.len())];
    let birth = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default() + Duration::days(rng.random_range(0..20_000));
    let body = format!("{region}{}{:03}", birth.format("%Y%m%d"), rng.random_range(0..1000));
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// A Luhn-valid UnionPay card number of 16 or 19 digits.
pub(super) fn card_number(rng: &mut ChaCha8Rng) -> String {
    let (prefix, len) = if rng.random_bool(0.5) {
        ("622202", 16)
    } else {
        ("621226", 19)
    };
    let mut digits: String = prefix.to_string();
    while digits.len() < len - 1 {
        digits.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 0 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    digits.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
    digits
}

pub(super) fn mask_id(id: &str) -> String {
    format!("{}********{}", &id[..6], &id[14..])
}

pub(super) fn mask_card(card: &str) -> String {
    format!(
        "{}{}{}",
        &card[..6],
        "*".repeat(card.len() - 10),
        &card[card.len() - 4..]
    )
}

/// The national number written the way call-center agents type it.
pub(super) fn messy_phone(national: &str, style: usize) -> String {
    let (a, b, c) = (&national[..3], &national[3..7], &national[7..]);
    match style % 6 {
        0 => national.to_string(),
        1 => format!("+86 {a} {b} {c}"),
        2 => format!("0086-{a}-{b}-{c}"),
        3 => national
            .chars()
            .map(|ch| char::from_u32(ch as u32 - '0' as u32 + 0xFF10).unwrap_or(ch))
            .collect(),
        4 => format!(" {national} "),
        _ => format!("+86-{national}"),
    }
}

pub(super) fn cents(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
}

pub(super) const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
pub(super) const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"];

pub(super) fn base_time() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 23)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

pub(super) fn utc_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub(super) fn shanghai(t: NaiveDateTime) -> NaiveDateTime {
    t + Duration::hours(8)
}

/// Agent notes without personal data, including look-alikes the scan must
/// leave alone (order numbers and timestamps that fail checksums).
pub(super) const CLEAN_NOTES: [&str; 6] = [
    "客户咨询套餐资费，已解答。",
    "Customer asked about the November invoice; resolved.",
    "订单号20261124083015123 已处理",
    "回访时间 2026-11-24 10:00，工号10086100861",
    "Ref 12345678901 escalated to billing",
    "",
];

/// A note in which the agent wrote down personal data.
pub(super) fn pii_note_text(rng: &mut ChaCha8Rng, i: usize) -> String {
    let phone = mobile(rng);
    match i % 5 {
        0 => format!("客户来电，电话{phone}。要求回电"),
        1 => format!(
            "Customer read card {} to agent, please verify",
            spaced(&card_number(rng))
        ),
        2 => format!("身份证号{}已核实", resident_id(rng)),
        3 => format!("联系电话{}，邮箱 li.{}@example.com", messy_phone(&phone, 3), i),
        _ => format!(
            "Callback requested at +86 {} {} {}",
            &phone[..3],
            &phone[3..7],
            &phone[7..]
        ),
    }
}

pub(super) fn spaced(digits: &str) -> String {
    digits
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
