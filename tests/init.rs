//! `recon init`: a first spec inferred from two exports. On the demo's
//! customers (and a generated pair of another seed) it proposes the demo's
//! key, pairs every column the demo spec maps, finds the status code map,
//! the personal data and the CRM's masks; the spec passes `recon check`, is
//! the same on a rerun, and `recon run` with it finds the ground truth's
//! drift on those fields. Unrelated files get no key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use recon::generate::{generate, Config, Expected};

use crate::util::*;

type Table = toml::Table;

fn init(env: &Env, left: &Path, right: &Path, out: &str) -> (std::process::Output, PathBuf) {
    let spec = env.path().join(out);
    let o = env.recon(&[
        "init",
        left.to_str().unwrap(),
        right.to_str().unwrap(),
        "--output",
        spec.to_str().unwrap(),
    ]);
    (o, spec)
}

/// The proposed fields: left column → the field's table.
fn fields(spec: &Path) -> (Table, BTreeMap<String, Table>) {
    let doc: Table = toml::from_str(&std::fs::read_to_string(spec).unwrap()).unwrap();
    let entity = doc["entity"].as_array().unwrap()[0].as_table().unwrap().clone();
    let fields = entity["field"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let f = f.as_table().unwrap().clone();
            (f["left"].as_str().unwrap().to_string(), f)
        })
        .collect();
    (entity, fields)
}

/// The demo spec's customer fields: name → (left column, right column).
fn demo_customer_columns() -> BTreeMap<String, (String, String)> {
    let spec = recon::spec::load(&project_root().join("rules/callcenter-crm.toml")).unwrap();
    let e = spec.entity("customer").unwrap();
    e.fields
        .iter()
        .map(|f| (f.name.clone(), (f.columns[0].clone(), f.columns[1].clone())))
        .collect()
}

/// The ground truth's customer drift, in the proposed spec's names: its
/// fields and key named after the left columns.
fn truth_in(truth: &BTreeSet<Expected>, proposed: &BTreeMap<String, Table>) -> BTreeSet<Expected> {
    let demo = demo_customer_columns();
    let name_of = |demo_field: &str| -> String {
        let left = &demo[demo_field].0;
        proposed[left]["name"].as_str().unwrap().to_string()
    };
    let key_name = name_of("customer_id");
    truth
        .iter()
        .filter(|t| t.entity == "customer" && t.category == "drift")
        .map(|t| {
            let key: serde_json::Value = serde_json::from_str(&t.key).unwrap();
            let key = match key.get("customer_id") {
                Some(v) => {
                    let mut m = serde_json::Map::new();
                    m.insert(key_name.clone(), v.clone());
                    serde_json::Value::Object(m).to_string()
                }
                None => t.key.clone(),
            };
            Expected {
                entity: "customers".into(),
                key,
                field: t.field.as_deref().map(name_of),
                ..t.clone()
            }
        })
        .collect()
}

fn drift(run: &Path) -> BTreeSet<Expected> {
    finding_set(run).into_iter().filter(|f| f.category == "drift").collect()
}

/// Proposes a spec for the customers under `fixtures`, checks it, runs it,
/// and compares its drift with `truth`.
fn customers_end_to_end(env: &Env, fixtures: &Path, truth: &BTreeSet<Expected>, tag: &str) {
    let (o, spec) = init(
        env,
        &fixtures.join("callcenter/customers.csv"),
        &fixtures.join("crm/contacts.parquet"),
        &format!("{tag}.toml"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("sampled"), "the sample is stated: {}", stderr(&o));
    let (entity, proposed) = fields(&spec);
    // The key.
    let key = entity["key"].as_array().unwrap()[0].as_str().unwrap();
    assert_eq!(proposed["cust_no"]["name"].as_str(), Some(key));
    assert_eq!(proposed["cust_no"]["right"].as_str(), Some("External_Id__c"));
    // Every column the demo maps, paired with the demo's partner.
    for (name, (left, right)) in demo_customer_columns() {
        let f = proposed
            .get(&left)
            .unwrap_or_else(|| panic!("{name}: {left} not paired"));
        assert_eq!(f["right"].as_str(), Some(right.as_str()), "{name}");
    }
    // The status codes, the personal data and the CRM's masks.
    let map = proposed["state"]["map"].as_table().unwrap();
    assert_eq!(map["left"]["1"].as_str(), map["right"]["Active"].as_str());
    assert_eq!(map["left"]["0"].as_str(), map["right"]["Inactive"].as_str());
    assert_eq!(proposed["caller_number"]["pii"].as_str(), Some("cn_mobile"));
    assert_eq!(proposed["id_number"]["pii"].as_str(), Some("cn_resident_id"));
    assert_eq!(proposed["card_no"]["pii"].as_str(), Some("bank_card"));
    assert_eq!(proposed["id_number"]["mask"]["right"].as_str(), Some("cn_id"));
    assert_eq!(proposed["card_no"]["mask"]["right"].as_str(), Some("card"));
    assert_eq!(proposed["vip"]["type"].as_str(), Some("bool"));
    // A spec recon accepts, and the same one again.
    let c = env.recon(&["check", spec.to_str().unwrap()]);
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    let (again, spec2) = init(
        env,
        &fixtures.join("callcenter/customers.csv"),
        &fixtures.join("crm/contacts.parquet"),
        &format!("{tag}-again.toml"),
    );
    assert_eq!(code(&again), 0);
    assert_eq!(
        std::fs::read_to_string(&spec).unwrap(),
        std::fs::read_to_string(&spec2).unwrap()
    );
    // Its drift is the ground truth's on the fields it maps.
    let out = env.path().join(format!("{tag}-reports"));
    let o = env.run_in(&spec, &out, "i1", &[]);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    let want = truth_in(truth, &proposed);
    assert!(want.len() >= 20, "{}", want.len());
    assert_same(&drift(&out.join("i1")), &want);
}

#[test]
fn init_proposes_the_demo_customers_and_finds_their_drift() {
    let env = Env::new();
    let truth: BTreeSet<Expected> = std::fs::read_to_string(project_root().join("fixtures/ground_truth.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    customers_end_to_end(&env, &project_root().join("fixtures"), &truth, "demo");
}

#[test]
fn init_on_a_generated_pair_of_another_seed_holds_too() {
    let env = Env::new();
    let fixtures = env.path().join("fixtures");
    let g = generate(
        &fixtures,
        &Config {
            seed: 23,
            customers: 800,
        },
    )
    .unwrap();
    customers_end_to_end(&env, &fixtures, &g.truth.0, "seed23");
}

#[test]
fn unrelated_files_get_no_key_and_no_spec() {
    let env = Env::new();
    let root = project_root().join("fixtures");
    let (o, spec) = init(
        &env,
        &root.join("callcenter/customers.csv"),
        &root.join("crm/users.parquet"),
        "x.toml",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("no key found"), "{}", stderr(&o));
    assert!(!spec.exists());
    // A declared key that one side lacks is a usage error naming the file.
    let o = env.recon(&[
        "init",
        root.join("callcenter/customers.csv").to_str().unwrap(),
        root.join("crm/contacts.parquet").to_str().unwrap(),
        "--key",
        "cust_no=nope",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("contacts.parquet has no column `nope`"),
        "{}",
        stderr(&o)
    );
    // A missing input, and an output that exists.
    let o = env.recon(&[
        "init",
        "missing.csv",
        root.join("crm/contacts.parquet").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.csv"), "{}", stderr(&o));
    let taken = env.write("taken.toml", "keep me");
    let o = env.recon(&[
        "init",
        root.join("callcenter/customers.csv").to_str().unwrap(),
        root.join("crm/contacts.parquet").to_str().unwrap(),
        "--output",
        taken.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me");
}
