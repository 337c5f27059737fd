//! The ground truth of the demo: every finding recon must report, as
//! `Expected` rows, and the `references` findings read off the written tables.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::Table;
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
    pub(super) fn drop_quality(&mut self, entity: &str, side: &str, key: &str) {
        self.0
            .retain(|x| !(x.category == "quality" && x.entity == entity && x.side == side && x.key == key));
    }

    pub(super) fn add(&mut self, entity: &str, category: &str, kind: &str, side: &str, key: &str, field: Option<&str>) {
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

pub(super) fn key1(name: &str, v: &str) -> String {
    let mut m = serde_json::Map::new();
    m.insert(name.into(), serde_json::Value::String(v.into()));
    serde_json::Value::Object(m).to_string()
}

pub(super) fn call_key(call_id: &str, leg: u32) -> String {
    let mut m = serde_json::Map::new();
    m.insert("call_id".into(), serde_json::Value::String(call_id.into()));
    m.insert("leg".into(), serde_json::Value::String(leg.to_string()));
    serde_json::Value::Object(m).to_string()
}

/// Index of column `name` in `t`.
pub(super) fn col(t: &Table, name: &str) -> usize {
    t.columns
        .iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| panic!("column {name}"))
}

pub(super) fn cells<'a>(t: &'a Table, name: &str) -> impl Iterator<Item = &'a str> + 'a {
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
pub(super) fn references(
    customers: &(Table, Table),
    calls: &(Table, Table),
    tickets: &(Table, Table),
    truth: &mut Truth,
) {
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
