//! The `interaction` entity: the call center's calls (CSV, one row per leg)
//! and the CRM's activities (NDJSON), with drift and personal data in
//! free-text notes injected and recorded in the truth.

use std::collections::BTreeSet;

use chrono::Duration;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::fake::*;
use super::truth::{call_key, Truth};
use super::{Built, Table};

pub(super) fn build(
    rng: &mut ChaCha8Rng,
    customers: &[String],
    ticketed: &BTreeSet<usize>,
    k: usize,
    truth: &mut Truth,
) -> Built {
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
