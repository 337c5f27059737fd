//! Deterministic demo data: a call-center export and a CRM export of the same
//! customers, calls and tickets, with drift, quality and format noise
//! injected on purpose, and the ground truth of every finding recon must
//! report (`ground_truth.jsonl`).
//!
//! Every injected defect touches its own rows, so the expected findings are
//! exact; everything else differs only in ways the spec's mapping absorbs
//! (phone formats, full-width digits, time zones, code lists, tolerances).

mod large;
mod write;

pub use large::{large, wide};

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::Result;

/// One expected finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Expected {
    pub entity: String,
    pub category: String,
    pub kind: String,
    pub side: String,
    pub key: String,
    pub field: Option<String>,
}

#[derive(Default)]
pub struct Truth(pub BTreeSet<Expected>);

impl Truth {
    /// Forgets the quality findings of a row that does not exist on `side`.
    fn drop_quality(&mut self, entity: &str, side: &str, key: &str) {
        self.0
            .retain(|x| !(x.category == "quality" && x.entity == entity && x.side == side && x.key == key));
    }

    fn add(&mut self, entity: &str, category: &str, kind: &str, side: &str, key: &str, field: Option<&str>) {
        self.0.insert(Expected {
            entity: entity.into(),
            category: category.into(),
            kind: kind.into(),
            side: side.into(),
            key: key.into(),
            field: field.map(String::from),
        });
    }
}

/// A table as rows of optional text cells, written by `write`.
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    fn new(columns: &[&'static str]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }
}

pub struct Config {
    pub seed: u64,
    pub customers: usize,
}

pub struct Generated {
    pub truth: Truth,
}

fn key1(name: &str, v: &str) -> String {
    let mut m = serde_json::Map::new();
    m.insert(name.into(), serde_json::Value::String(v.into()));
    serde_json::Value::Object(m).to_string()
}

fn call_key(call_id: &str, leg: u32) -> String {
    let mut m = serde_json::Map::new();
    m.insert("call_id".into(), serde_json::Value::String(call_id.into()));
    m.insert("leg".into(), serde_json::Value::String(leg.to_string()));
    serde_json::Value::Object(m).to_string()
}

/// Hands out distinct row indices so that injected defects never overlap.
struct Picker {
    free: Vec<usize>,
}

impl Picker {
    fn new(n: usize, rng: &mut ChaCha8Rng) -> Picker {
        let mut free: Vec<usize> = (0..n).collect();
        free.shuffle(rng);
        Picker { free }
    }
    fn take(&mut self, n: usize) -> Vec<usize> {
        let k = n.min(self.free.len());
        self.free.split_off(self.free.len() - k)
    }
    /// Like `take`, but only indices for which `ok` holds.
    fn take_where(&mut self, n: usize, ok: impl Fn(usize) -> bool) -> Vec<usize> {
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

fn mobile(rng: &mut ChaCha8Rng) -> String {
    const PREFIX: [&str; 8] = ["139", "138", "137", "186", "158", "150", "177", "199"];
    format!(
        "{}{:08}",
        PREFIX[rng.random_range(0..PREFIX.len())],
        rng.random_range(0..100_000_000u32)
    )
}

/// A valid 18-character resident ID (ISO 7064 MOD 11-2 check character).
fn resident_id(rng: &mut ChaCha8Rng) -> String {
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
fn card_number(rng: &mut ChaCha8Rng) -> String {
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

fn mask_id(id: &str) -> String {
    format!("{}********{}", &id[..6], &id[14..])
}

fn mask_card(card: &str) -> String {
    format!(
        "{}{}{}",
        &card[..6],
        "*".repeat(card.len() - 10),
        &card[card.len() - 4..]
    )
}

/// The national number written the way call-center agents type it.
fn messy_phone(national: &str, style: usize) -> String {
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

fn cents(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
}

const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"];

fn base_time() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 23)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn utc_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn shanghai(t: NaiveDateTime) -> NaiveDateTime {
    t + Duration::hours(8)
}

/// Generates the demo pair into `out` (callcenter/, crm/, ground_truth.jsonl).
pub fn generate(out: &Path, cfg: &Config) -> Result<Generated> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut truth = Truth::default();
    let n = cfg.customers.max(30);
    let k = (n / 30).max(1);
    let customers = customers(&mut rng, n, k, &mut truth);
    // Which call each ticket was opened for; those calls carry needs_ticket.
    let n_calls = customers.ids.len() * 3;
    let ticket_calls: Vec<usize> = (0..customers.ids.len()).map(|_| rng.random_range(0..n_calls)).collect();
    let ticketed: BTreeSet<usize> = ticket_calls.iter().copied().collect();
    let calls = calls(&mut rng, &customers.ids, &ticketed, k, &mut truth);
    let tickets = tickets(&mut rng, &customers.ids, &calls.ids, &ticket_calls, k, &mut truth);
    reference_truth(&customers.tables, &calls.tables, &tickets.tables, &mut truth);
    write::all(out, &customers.tables, &calls.tables, &tickets.tables, &truth)?;
    Ok(Generated { truth })
}

struct Built {
    ids: Vec<String>,
    tables: (Table, Table),
}

fn customers(rng: &mut ChaCha8Rng, n: usize, k: usize, truth: &mut Truth) -> Built {
    let e = "customer";
    let mut left = Table::new(&[
        "cust_no",
        "full_name",
        "caller_number",
        "balance",
        "state",
        "vip",
        "updated_at",
        "id_number",
        "card_no",
    ]);
    let mut right = Table::new(&[
        "External_Id__c",
        "Name",
        "Phone",
        "Balance__c",
        "StatusCode",
        "VIP__c",
        "LastModifiedDate",
        "IdNumber__c",
        "CardNo__c",
    ]);
    let mut pick = Picker::new(n, rng);
    let only_left: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let only_right: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let phone_diff: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let balance_diff: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let balance_near: BTreeSet<usize> = pick.take(k + 2).into_iter().collect();
    let status_diff: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let name_diff: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let dup_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let bad_balance_left: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let bad_balance_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let bad_phone_left: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let null_phone_left: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let negative: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let id_clear_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let id_wrong_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let id_other_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let card_clear_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let card_wrong_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let short_name: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("C{:06}", 100 + i);
        let key = key1("customer_id", &id);
        ids.push(id.clone());
        let mut name = format!(
            "{}{}{}",
            SURNAMES[rng.random_range(0..10)],
            GIVEN[rng.random_range(0..10)],
            GIVEN[rng.random_range(0..10)]
        );
        if short_name.contains(&i) {
            // A one-character name: below the `length` rule's minimum on both sides.
            name = SURNAMES[i % 10].to_string();
            truth.add(e, "quality", "length", "left", &key, Some("name"));
            truth.add(e, "quality", "length", "right", &key, Some("name"));
        }
        let phone = mobile(rng);
        let mut bal: i64 = rng.random_range(0..5_000_000);
        if negative.contains(&i) {
            bal = -rng.random_range(1..10_000);
            truth.add(e, "quality", "range", "left", &key, Some("balance"));
            truth.add(e, "quality", "range", "right", &key, Some("balance"));
        }
        let active = rng.random_bool(0.8);
        let vip = rng.random_bool(0.2);
        let updated = base_time() + Duration::seconds(rng.random_range(0..86_400));
        let resident = resident_id(rng);
        let card = card_number(rng);
        let mut l = vec![
            Some(id.clone()),
            Some(if i % 7 == 0 { format!(" {name} ") } else { name.clone() }),
            Some(messy_phone(&phone, i)),
            Some(cents(bal)),
            Some(if active { "1" } else { "0" }.to_string()),
            Some(if vip { "Y" } else { "N" }.to_string()),
            Some(utc_text(updated)),
            Some(resident.clone()),
            Some(if i % 5 == 0 {
                format!("{} {} {}", &card[..4], &card[4..8], &card[8..])
            } else {
                card.clone()
            }),
        ];
        let mut r = vec![
            Some(id.clone()),
            Some(name.clone()),
            Some(format!("+86{phone}")),
            Some(cents(bal)),
            Some(if active { "Active" } else { "Inactive" }.to_string()),
            Some(vip.to_string()),
            Some(utc_text(shanghai(updated))),
            Some(mask_id(&resident)),
            Some(mask_card(&card)),
        ];
        if id_clear_right.contains(&i) {
            r[7] = Some(resident.clone());
            truth.add(e, "masking", "unmasked", "right", &key, Some("id_number"));
        }
        if id_wrong_right.contains(&i) {
            r[7] = Some(format!("{}****{}", &resident[..10], &resident[14..]));
            truth.add(e, "masking", "wrong_mask", "right", &key, Some("id_number"));
        }
        if id_other_right.contains(&i) {
            r[7] = Some(mask_id(&resident_id(rng)));
            if r[7]
                .as_deref()
                .map(|m| m[14..] != resident[14..] || m[..6] != resident[..6])
                .unwrap_or(false)
            {
                truth.add(e, "masking", "inconsistent_mask", "right", &key, Some("id_number"));
                truth.add(e, "drift", "value_mismatch", "both", &key, Some("id_number"));
            }
        }
        if card_clear_right.contains(&i) {
            r[8] = Some(card.clone());
            truth.add(e, "masking", "unmasked", "right", &key, Some("card_no"));
        }
        if card_wrong_right.contains(&i) {
            r[8] = Some(format!(
                "{}{}{}",
                &card[..8],
                "*".repeat(card.len() - 12),
                &card[card.len() - 4..]
            ));
            truth.add(e, "masking", "wrong_mask", "right", &key, Some("card_no"));
        }
        if phone_diff.contains(&i) {
            r[2] = Some(format!("+86{}", mobile(rng)));
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("phone"));
        }
        if balance_diff.contains(&i) {
            r[3] = Some(cents(bal + 50));
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("balance"));
        }
        if balance_near.contains(&i) {
            r[3] = Some(cents(bal + 1)); // within abs = 0.01
        }
        if status_diff.contains(&i) {
            r[4] = Some(if active { "Inactive" } else { "Active" }.to_string());
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("status"));
        }
        if name_diff.contains(&i) {
            r[1] = Some(format!("{name}{}", GIVEN[(i + 3) % 10]));
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("name"));
        }
        if bad_balance_left.contains(&i) {
            l[3] = Some(format!("{},{:03}.00", 1 + i % 9, i % 1000));
            truth.add(e, "drift", "unconvertible", "left", &key, Some("balance"));
        }
        if bad_balance_right.contains(&i) {
            r[3] = Some("12O4.50".into());
            truth.add(e, "drift", "unconvertible", "right", &key, Some("balance"));
        }
        if bad_phone_left.contains(&i) {
            l[2] = Some("n/a".into());
            truth.add(e, "drift", "unconvertible", "left", &key, Some("phone"));
        }
        if null_phone_left.contains(&i) {
            l[2] = Some(String::new());
            truth.add(e, "quality", "not_null", "left", &key, Some("phone"));
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("phone"));
        }
        if !only_right.contains(&i) {
            left.rows.push(l);
        } else {
            truth.add(e, "drift", "missing_left", "left", &key, None);
        }
        if !only_left.contains(&i) {
            if dup_right.contains(&i) {
                right.rows.push(r.clone());
                truth.add(e, "drift", "duplicate_key", "right", &key, None);
            }
            right.rows.push(r);
        } else {
            truth.add(e, "drift", "missing_right", "right", &key, None);
        }
    }
    // A row exported without its id: reported, never joined.
    left.rows.push(vec![
        Some(String::new()),
        Some("匿名".into()),
        Some(mobile(rng)),
        Some("0.00".into()),
        Some("1".into()),
        Some("N".into()),
        Some(utc_text(base_time())),
        Some(resident_id(rng)),
        Some(card_number(rng)),
    ]);
    // An empty unquoted CSV cell is null: the key is null (and a null passes
    // the id's `pattern` rule; `null_key` reports the row).
    truth.add(e, "drift", "null_key", "left", r#"{"customer_id":null}"#, None);
    Built {
        ids,
        tables: (left, right),
    }
}

fn calls(rng: &mut ChaCha8Rng, customers: &[String], ticketed: &BTreeSet<usize>, k: usize, truth: &mut Truth) -> Built {
    let e = "interaction";
    let mut left = Table::new(&[
        "call_id",
        "leg",
        "direction",
        "started_at",
        "duration_s",
        "disposition",
        "agent_id",
        "queue",
        "needs_ticket",
        "ended_at",
        "notes",
    ]);
    let mut right = Table::new(&[
        "CallId",
        "Leg",
        "Direction",
        "StartTime",
        "DurationSeconds",
        "Result",
        "AgentCode",
        "Queue",
        "NeedsTicket__c",
        "EndTime",
        "Notes",
    ]);
    let n = customers.len() * 3;
    let mut pick = Picker::new(n, rng);
    let only_left: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let only_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let dup_left: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let transfer: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let dur_one: BTreeSet<usize> = pick.take(k + 2).into_iter().collect();
    let dur_minutes: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let start_off: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let disp_diff: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let bad_dur: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let pii_note: BTreeSet<usize> = pick.take(2 * k + 2).into_iter().collect();
    // Quality defects, the same on both sides (so they are not drift):
    // a call that ends before it starts, a negative duration, and a call
    // flagged as needing a ticket that never got one.
    let ends_early: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let negative: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let no_ticket: BTreeSet<usize> = pick.take_where(k + 1, |i| !ticketed.contains(&i)).into_iter().collect();
    const DISP: [(&str, &str); 3] = [("ANSWERED", "Connected"), ("NO_ANSWER", "Missed"), ("BUSY", "Busy")];
    const QUEUES: [&str; 3] = ["sales", "support", "billing"];
    let mut ids = Vec::new();
    for i in 0..n {
        let call_id = format!("CL{:07}", 5000 + i);
        ids.push(call_id.clone());
        let inbound = rng.random_bool(0.7);
        let start = base_time() + Duration::seconds(rng.random_range(0..86_400));
        let mut dur: i64 = rng.random_range(5..1200);
        let disp = rng.random_range(0..3);
        let agent = rng.random_range(1..40);
        let queue = QUEUES[rng.random_range(0..3)];
        let needs_ticket = ticketed.contains(&i) || no_ticket.contains(&i);
        if negative.contains(&i) {
            dur = -dur;
        }
        let mut end = start + Duration::seconds(dur);
        if ends_early.contains(&i) {
            end = start - Duration::seconds(30);
        }
        let legs = if transfer.contains(&i) { 2 } else { 1 };
        let note = if pii_note.contains(&i) {
            pii_note_text(rng, i)
        } else {
            CLEAN_NOTES[i % CLEAN_NOTES.len()].to_string()
        };
        for leg in 1..=legs {
            let key = call_key(&call_id, leg);
            if negative.contains(&i) {
                for side in ["left", "right"] {
                    truth.add(e, "quality", "range", side, &key, Some("duration_s"));
                }
            }
            if negative.contains(&i) || ends_early.contains(&i) {
                for side in ["left", "right"] {
                    truth.add(e, "quality", "expr", side, &key, None);
                }
            }
            let mut l = vec![
                Some(call_id.clone()),
                Some(leg.to_string()),
                Some(if inbound { "IN" } else { "OUT" }.to_string()),
                Some(utc_text(start)),
                Some(dur.to_string()),
                Some(DISP[disp].0.to_string()),
                Some(format!("a{agent:03} ")),
                Some(queue.to_string()),
                Some(if needs_ticket { "1" } else { "0" }.to_string()),
                Some(utc_text(end)),
                Some(if leg == 1 { note.clone() } else { String::new() }),
            ];
            let mut r = vec![
                Some(call_id.clone()),
                Some(leg.to_string()),
                Some(if inbound { "Inbound" } else { "Outbound" }.to_string()),
                Some(format!("{}+08:00", shanghai(start).format("%Y-%m-%dT%H:%M:%S"))),
                Some(dur.to_string()),
                Some(DISP[disp].1.to_string()),
                Some(format!("A{agent:03}")),
                Some(queue.to_string()),
                Some(needs_ticket.to_string()),
                Some(format!("{}+08:00", shanghai(end).format("%Y-%m-%dT%H:%M:%S"))),
                Some(crate::display::redact(&note)),
            ];
            if leg == 1 && pii_note.contains(&i) && !only_right.contains(&i) {
                truth.add(e, "masking", "pii_in_text", "left", &key, Some("notes"));
            }
            if leg == 2 {
                // The transfer's second leg never reached the CRM.
                left.rows.push(l);
                truth.add(e, "drift", "missing_right", "right", &key, None);
                truth.drop_quality(e, "right", &key);
                continue;
            }
            if dur_one.contains(&i) {
                r[4] = Some((dur + 1).to_string());
            }
            if dur_minutes.contains(&i) {
                r[4] = Some((dur + 180).to_string());
                truth.add(e, "drift", "value_mismatch", "both", &key, Some("duration_s"));
            }
            if start_off.contains(&i) {
                // The CRM's clock runs five minutes ahead: start and end both move.
                r[3] = Some(format!(
                    "{}+08:00",
                    shanghai(start + Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S")
                ));
                r[9] = Some(format!(
                    "{}+08:00",
                    shanghai(end + Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S")
                ));
                truth.add(e, "drift", "value_mismatch", "both", &key, Some("started_at"));
                truth.add(e, "drift", "value_mismatch", "both", &key, Some("ended_at"));
            }
            if disp_diff.contains(&i) {
                r[5] = Some(DISP[(disp + 1) % 3].1.to_string());
                truth.add(e, "drift", "value_mismatch", "both", &key, Some("disposition"));
            }
            if bad_dur.contains(&i) {
                l[4] = Some("n/a".into());
                truth.add(e, "drift", "unconvertible", "left", &key, Some("duration_s"));
            }
            if !only_right.contains(&i) {
                if dup_left.contains(&i) {
                    left.rows.push(l.clone());
                    truth.add(e, "drift", "duplicate_key", "left", &key, None);
                }
                left.rows.push(l);
            } else {
                truth.add(e, "drift", "missing_left", "left", &key, None);
                truth.drop_quality(e, "left", &key);
            }
            if !only_left.contains(&i) {
                right.rows.push(r);
            } else {
                truth.add(e, "drift", "missing_right", "right", &key, None);
                truth.drop_quality(e, "right", &key);
            }
        }
    }
    Built {
        ids,
        tables: (left, right),
    }
}

/// Agent notes without personal data, including look-alikes the scan must
/// leave alone (order numbers and timestamps that fail checksums).
const CLEAN_NOTES: [&str; 6] = [
    "客户咨询套餐资费，已解答。",
    "Customer asked about the November invoice; resolved.",
    "订单号20261124083015123 已处理",
    "回访时间 2026-11-24 10:00，工号10086100861",
    "Ref 12345678901 escalated to billing",
    "",
];

/// A note in which the agent wrote down personal data.
fn pii_note_text(rng: &mut ChaCha8Rng, i: usize) -> String {
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

fn spaced(digits: &str) -> String {
    digits
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn tickets(
    rng: &mut ChaCha8Rng,
    customers: &[String],
    calls: &[String],
    ticket_calls: &[usize],
    k: usize,
    truth: &mut Truth,
) -> Built {
    let e = "ticket";
    let mut left = Table::new(&["ticket_no", "call_id", "cust_no", "status", "priority", "created_at"]);
    let mut right = Table::new(&[
        "CaseNumber",
        "Origin_Call__c",
        "Contact_External__c",
        "Status",
        "Priority",
        "CreatedDate",
    ]);
    let n = customers.len();
    let mut pick = Picker::new(n, rng);
    let only_left: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let only_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let status_diff: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let prio_diff: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let created_off: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let bad_status: BTreeSet<usize> = pick.take(k).into_iter().collect();
    // Broken references (found by `references` rules, see `reference_truth`):
    // a call id that exists nowhere, on both sides; a customer that exists
    // nowhere, on both sides; and a CRM case pointing at a wrong contact.
    let ghost_call: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let ghost_customer: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let wrong_contact: BTreeSet<usize> = pick.take(k).into_iter().collect();
    const STATUS: [(&str, &str); 3] = [("待处理", "New"), ("处理中", "Working"), ("已关闭", "Closed")];
    const PRIO: [(&str, &str); 3] = [("高", "High"), ("中", "Medium"), ("低", "Low")];
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("T{:06}", 700 + i);
        let key = key1("ticket_id", &id);
        ids.push(id.clone());
        let call = if ghost_call.contains(&i) {
            format!("CL9{:06}", i)
        } else {
            calls[ticket_calls[i % ticket_calls.len()]].clone()
        };
        let cust = if ghost_customer.contains(&i) {
            format!("C9{:05}", i)
        } else {
            customers[rng.random_range(0..customers.len())].clone()
        };
        let s = rng.random_range(0..3);
        let p = rng.random_range(0..3);
        let created = base_time() + Duration::seconds(rng.random_range(0..86_400));
        let mut l = vec![
            Some(id.clone()),
            Some(call.clone()),
            Some(cust.clone()),
            Some(STATUS[s].0.into()),
            Some(PRIO[p].0.into()),
            Some(utc_text(created)),
        ];
        let mut r = vec![
            Some(id.clone()),
            Some(call.clone()),
            Some(cust.clone()),
            Some(STATUS[s].1.into()),
            Some(PRIO[p].1.into()),
            Some(shanghai(created).format("%Y/%m/%d %H:%M:%S").to_string()),
        ];
        if status_diff.contains(&i) {
            r[3] = Some(STATUS[(s + 1) % 3].1.into());
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("status"));
        }
        if prio_diff.contains(&i) {
            r[4] = Some(PRIO[(p + 1) % 3].1.into());
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("priority"));
        }
        if created_off.contains(&i) {
            r[5] = Some(
                shanghai(created + Duration::hours(1))
                    .format("%Y/%m/%d %H:%M:%S")
                    .to_string(),
            );
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("created_at"));
        }
        if bad_status.contains(&i) {
            l[3] = Some("已取消".into());
            truth.add(e, "drift", "unconvertible", "left", &key, Some("status"));
        }
        if wrong_contact.contains(&i) {
            r[2] = Some(format!("C8{:05}", i));
            truth.add(e, "drift", "value_mismatch", "both", &key, Some("customer_id"));
        }
        if !only_right.contains(&i) {
            left.rows.push(l);
        } else {
            truth.add(e, "drift", "missing_left", "left", &key, None);
        }
        if !only_left.contains(&i) {
            right.rows.push(r);
        } else {
            truth.add(e, "drift", "missing_right", "right", &key, None);
        }
    }
    Built {
        ids,
        tables: (left, right),
    }
}

/// Index of column `name` in `t`.
fn col(t: &Table, name: &str) -> usize {
    t.columns
        .iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| panic!("column {name}"))
}

fn cells<'a>(t: &'a Table, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    let c = col(t, name);
    t.rows.iter().filter_map(move |r| r[c].as_deref())
}

/// The `references` findings of the demo spec, from the tables as written
/// (the id columns are exported verbatim, so raw text is the mapped value):
///
/// - `ticket-call-exists`: every ticket, on each side, names a call that the
///   call center (left) has;
/// - `ticket-customer-exists`: every ticket names a customer on its own side;
/// - `call-has-ticket`: every call-center call with `needs_ticket` has a CRM
///   case (right).
fn reference_truth(customers: &(Table, Table), calls: &(Table, Table), tickets: &(Table, Table), truth: &mut Truth) {
    let left_calls: BTreeSet<&str> = cells(&calls.0, "call_id").collect();
    let cust: [BTreeSet<&str>; 2] = [
        cells(&customers.0, "cust_no").collect(),
        cells(&customers.1, "External_Id__c").collect(),
    ];
    let sides = [
        ("left", &tickets.0, ["ticket_no", "call_id", "cust_no"]),
        (
            "right",
            &tickets.1,
            ["CaseNumber", "Origin_Call__c", "Contact_External__c"],
        ),
    ];
    for (i, (side, t, [id, call, customer])) in sides.iter().enumerate() {
        let (id, call, customer) = (col(t, id), col(t, call), col(t, customer));
        for row in &t.rows {
            let key = key1("ticket_id", row[id].as_deref().unwrap_or_default());
            if let Some(c) = row[call].as_deref() {
                if !left_calls.contains(c) {
                    truth.add("ticket", "quality", "references", side, &key, Some("call_id"));
                }
            }
            if let Some(c) = row[customer].as_deref() {
                if !cust[i].contains(c) {
                    truth.add("ticket", "quality", "references", side, &key, Some("customer_id"));
                }
            }
        }
    }
    let crm_cases: BTreeSet<&str> = cells(&tickets.1, "Origin_Call__c").collect();
    let (id, leg, flag) = (
        col(&calls.0, "call_id"),
        col(&calls.0, "leg"),
        col(&calls.0, "needs_ticket"),
    );
    for row in &calls.0.rows {
        let call = row[id].as_deref().unwrap_or_default();
        if row[flag].as_deref() == Some("1") && !crm_cases.contains(call) {
            let leg: u32 = row[leg].as_deref().and_then(|l| l.parse().ok()).unwrap_or(1);
            truth.add(
                "interaction",
                "quality",
                "references",
                "left",
                &call_key(call, leg),
                Some("call_id"),
            );
        }
    }
}

/// Reads a ground-truth file written by `generate`.
pub fn read_truth(path: &Path) -> Result<BTreeSet<Expected>> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::error::Error::io(path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| crate::error::Error::Input {
                path: path.to_path_buf(),
                line: Some(i as u64 + 1),
                field: None,
                message: e.to_string(),
                hint: None,
            })
        })
        .collect()
}
