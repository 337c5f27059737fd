//! The `ticket` entity: the call center's tickets (GBK CSV) and the CRM's
//! cases (UTF-8 CSV), with drift and broken references injected and
//! recorded in the truth.

use std::collections::BTreeSet;

use chrono::Duration;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::fake::*;
use super::truth::{key1, Truth};
use super::{Built, Table};

pub(super) fn build(
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
