//! `references` rules across entities and sides: orphans on each side,
//! and a reference to a missing column skipped, not reported as orphans.

use std::collections::BTreeSet;

use super::{expect, quality_set, summary, HEAD};
use crate::util::*;

const ORDERS: &str = r#"
[[entity]]
name = "order"
key = ["order_id"]
left = { path = "orders_l.csv" }
right = { path = "orders_r.csv" }
severity = { value_mismatch = "info" }
  [[entity.field]]
  name = "order_id"
  [[entity.field]]
  name = "customer_id"
  normalize = ["empty_is_null"]
  [[entity.field]]
  name = "region"

  [[entity.rule]]
  id = "cust-same"
  check = "references"
  field = "customer_id"
  entity = "customer"
  [[entity.rule]]
  id = "cust-other"
  check = "references"
  field = "customer_id"
  entity = "customer"
  to = "customer_id"
  on = "other"
  side = "left"
  [[entity.rule]]
  id = "cust-in-cc"
  check = "references"
  field = "customer_id"
  entity = "customer"
  on = "left"
  side = "right"
  where = "customer_id != 'c2'"
  [[entity.rule]]
  id = "cust-region"
  check = "references"
  fields = ["customer_id", "region"]
  entity = "customer"
  to_fields = ["customer_id", "home_region"]

[[entity]]
name = "customer"
key = ["customer_id"]
left = { path = "cust_l.csv" }
right = { path = "cust_r.csv" }
severity = { missing_left = "info", missing_right = "info" }
  [[entity.field]]
  name = "customer_id"
  [[entity.field]]
  name = "home_region"
"#;

fn key(order: &str) -> String {
    format!("{{\"order_id\":\"{order}\"}}")
}

#[test]
fn references_across_entities_and_sides_with_orphans_on_each_side() {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{ORDERS}"));
    env.write("cust_l.csv", "customer_id,home_region\nc1,north\nc2,south\nc3,east\n");
    env.write("cust_r.csv", "customer_id,home_region\nc1,north\nc2,south\nc4,west\n");
    env.write(
        "orders_l.csv",
        "order_id,customer_id,region\no1,c1,north\no2,c3,east\no3,c4,west\no4,,south\no5,c9,north\n",
    );
    env.write(
        "orders_r.csv",
        "order_id,customer_id,region\no1,c1,north\no2,c3,east\no3,c4,west\no4,,south\no5,c2,north\n",
    );
    let out = env.run(&spec, "refs");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("refs");
    let want = expect(&[
        // same side: left customers c1 c2 c3, right customers c1 c2 c4; o4 is null
        ("cust-same", "left", &key("o3")),
        ("cust-same", "left", &key("o5")),
        ("cust-same", "right", &key("o2")),
        // left orders against right customers
        ("cust-other", "left", &key("o2")),
        ("cust-other", "left", &key("o5")),
        // right orders against left customers, o5 (c2) filtered out by `where`
        ("cust-in-cc", "right", &key("o3")),
        // composite: (customer, region) pairs
        ("cust-region", "left", &key("o3")),
        ("cust-region", "left", &key("o5")),
        ("cust-region", "right", &key("o2")),
        ("cust-region", "right", &key("o5")),
    ]);
    assert_eq!(quality_set(&run), want);
    let df = read_parquet(&run.join("findings.parquet"));
    let [rule, key_col, detail, field] = ["rule", "key", "detail", "field"].map(|c| strings(&df, c));
    let i = (0..df.height())
        .find(|&i| rule[i].as_deref() == Some("cust-in-cc"))
        .unwrap();
    assert_eq!(key_col[i], Some(key("o3")));
    assert_eq!(field[i].as_deref(), Some("customer_id"));
    assert_eq!(
        detail[i].as_deref(),
        Some("no `customer` row on the left side has customer_id = c4")
    );
    let s = summary(&run);
    assert_eq!(
        s["entities"]["order"]["quality"]["rules"]["cust-in-cc"]["rows_checked"]["right"],
        3
    );
}

#[test]
fn a_reference_to_a_missing_column_is_skipped_not_reported_as_orphans() {
    let env = Env::new();
    let spec = env.write("s.toml", format!("{HEAD}{ORDERS}"));
    env.write("cust_l.csv", "customer_id\nc1\n");
    env.write("cust_r.csv", "customer_id,home_region\nc1,north\n");
    env.write("orders_l.csv", "order_id,customer_id,region\no1,c1,north\n");
    env.write("orders_r.csv", "order_id,customer_id,region\no1,c1,north\n");
    let out = env.run(&spec, "skip");
    let run = env.reports().join("skip");
    assert!(run.exists(), "{}", stderr(&out));
    assert_eq!(quality_set(&run), BTreeSet::new());
    let s = summary(&run);
    let obs = &s["entities"]["order"]["quality"]["rules"]["cust-region"]["observed"]["left"];
    assert!(obs["skipped"].is_string(), "{obs}");
}
