//! The `customer` entity: the call center's customer list (CSV) and the
//! CRM's contacts (Parquet), with drift, masking and quality defects
//! injected and recorded in the truth.

use std::collections::BTreeSet;

use chrono::Duration;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::fake::*;
use super::truth::{key1, Truth};
use super::{Built, Table};

pub(super) fn build(rng: &mut ChaCha8Rng, n: usize, k: usize, truth: &mut Truth) -> Built {
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
